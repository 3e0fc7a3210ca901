"""Checksums of what is uploaded: the whole file's sha256 and each chunk's, in one read.

The session's start needs the whole file's sha256 before the first chunk is sent, and
every chunk carries its own sha256 in `X-Chunk-Sha256`. Both come from one streaming
pass over the source, chunk by chunk, so a file is read from disk once for hashing and
once for sending, and never held in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from weighbridge.client.packing import ByteSource
from weighbridge.client.uploader import ChunkPlan

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Digests:
    """Hex sha256 of the whole source and of each chunk of `plan`, by chunk number."""

    sha256: str
    chunk_sha256: list[str]


def hash_source(
    source: ByteSource, plan: ChunkPlan, progress: ProgressCallback | None = None
) -> Digests:
    whole = hashlib.sha256()
    chunk_digests: list[str] = []
    done = 0
    for number in range(plan.total_chunks):
        offset, length = plan.chunk_range(number)
        chunk = hashlib.sha256()
        for piece in source.iter_range(offset, length):
            # hashlib drops the GIL on large updates, so upload threads keep running.
            whole.update(piece)
            chunk.update(piece)
            done += len(piece)
            if progress is not None:
                progress(done, plan.file_size)
        chunk_digests.append(chunk.hexdigest())
    return Digests(whole.hexdigest(), chunk_digests)
