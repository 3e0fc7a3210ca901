"""Chunk planning and the parallel upload of a session's chunks.

`plan_chunks` picks the chunk size from the server's limits (64 MiB by default, grown so
the file fits in `maxChunks`, kept inside min/max chunk size). `upload_chunks` sends the
chunks with a pool of threads sharing one `Transport`, using the fast form
(`?chunkNumber=N`, raw body): each body is an iterator of <= 1 MiB pieces read from the
source with an explicit Content-Length, because httpx copies a large `bytes` body
quadratically and would hold it whole in memory. The sending thread first hashes the
range for `X-Chunk-Sha256`, so chunk hashing runs in parallel. A retried chunk re-reads
its range.
The first chunk that fails for good stops the others and its error is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from weighbridge.client.errors import LocalInputError
from weighbridge.client.hashing import range_sha256
from weighbridge.client.packing import ByteSource
from weighbridge.client.transport import Cancelled, Transport

MiB = 1024 * 1024
DEFAULT_CHUNK_SIZE = 64 * MiB
# The contract's defaults, used when the server does not publish its limits.
DEFAULT_MAX_CHUNKS = 10_000

ProgressCallback = Callable[[int, int], None]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


@dataclass(frozen=True)
class Limits:
    """The server's upload limits; None where the server did not say."""

    max_file_size: int | None = None
    max_chunks: int | None = None
    min_chunk_size: int | None = None
    max_chunk_size: int | None = None
    session_ttl_seconds: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Limits:
        def pick(*names: str) -> int | None:
            for name in names:
                if (value := _int_or_none(data.get(name))) is not None:
                    return value
            return None

        return cls(
            max_file_size=pick("maxFileSize", "maxFileSizeBytes"),
            max_chunks=pick("maxChunks", "maxTotalChunks"),
            min_chunk_size=pick("minChunkSize", "minChunkSizeBytes"),
            max_chunk_size=pick("maxChunkSize", "maxChunkSizeBytes"),
            session_ttl_seconds=pick("sessionTtlSeconds", "sessionLifetimeSeconds"),
        )


@dataclass(frozen=True)
class ChunkPlan:
    """How a file of `file_size` bytes is cut: all chunks `chunk_size` but the last."""

    file_size: int
    chunk_size: int

    @property
    def total_chunks(self) -> int:
        return -(-self.file_size // self.chunk_size)

    def chunk_range(self, number: int) -> tuple[int, int]:
        """(offset, length) of chunk `number`."""
        if not 0 <= number < self.total_chunks:
            raise IndexError(number)
        offset = number * self.chunk_size
        return offset, min(self.chunk_size, self.file_size - offset)


def plan_chunks(file_size: int, limits: Limits, chunk_size: int | None = None) -> ChunkPlan:
    """Cut `file_size` bytes into chunks the server accepts; `chunk_size` if one is asked."""
    if file_size < 1:
        raise LocalInputError("There is nothing to upload: the file is empty.")
    if limits.max_file_size is not None and file_size > limits.max_file_size:
        raise LocalInputError(
            f"The upload is {file_size:,} bytes but the server accepts at most "
            f"{limits.max_file_size:,} bytes per file.",
            "TOO_LARGE",
        )
    max_chunks = limits.max_chunks or DEFAULT_MAX_CHUNKS
    low = limits.min_chunk_size or 1
    high = limits.max_chunk_size or file_size
    if chunk_size is None:
        size = max(DEFAULT_CHUNK_SIZE, -(-file_size // max_chunks))
        size = -(-size // MiB) * MiB  # whole MiB, so chunk offsets stay page aligned
        size = min(max(size, low), max(high, low))
    else:
        if chunk_size < 1:
            raise LocalInputError("The chunk size must be at least 1 byte.", "INVALID_CHUNK_SIZE")
        if chunk_size < low and chunk_size < file_size:
            raise LocalInputError(
                f"Chunk size {chunk_size:,} is below the server's minimum of {low:,} bytes.",
                "INVALID_CHUNK_SIZE",
            )
        if limits.max_chunk_size is not None and chunk_size > limits.max_chunk_size:
            raise LocalInputError(
                f"Chunk size {chunk_size:,} is above the server's maximum of "
                f"{limits.max_chunk_size:,} bytes.",
                "INVALID_CHUNK_SIZE",
            )
        size = chunk_size
    plan = ChunkPlan(file_size, min(size, file_size))
    if plan.total_chunks > max_chunks:
        raise LocalInputError(
            f"{file_size:,} bytes in chunks of {plan.chunk_size:,} make {plan.total_chunks:,} "
            f"chunks, but the server takes at most {max_chunks:,}; use a larger chunk size.",
            "INVALID_CHUNK_SIZE",
        )
    return plan


class ProgressTracker:
    """Bytes sent so far across all upload threads, reported to one callback."""

    def __init__(self, total: int, callback: ProgressCallback | None, done: int = 0) -> None:
        self.total = total
        self.done = done
        self._callback = callback
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        # Negative counts take back the bytes of an attempt that will be re-sent.
        with self._lock:
            self.done += count
            done = self.done
            if self._callback is not None:
                self._callback(done, self.total)


def _chunk_body(
    source: ByteSource, offset: int, length: int, tracker: ProgressTracker, stop: threading.Event
) -> Callable[[], Iterable[bytes]]:
    """A body factory for one chunk: each call re-reads the range from the start."""
    sent_by_last_attempt = 0

    def pieces() -> Iterator[bytes]:
        nonlocal sent_by_last_attempt
        for piece in source.iter_range(offset, length):
            if stop.is_set():
                raise Cancelled()
            yield piece
            sent_by_last_attempt += len(piece)
            tracker.add(len(piece))

    def factory() -> Iterable[bytes]:
        nonlocal sent_by_last_attempt
        if sent_by_last_attempt:
            tracker.add(-sent_by_last_attempt)
            sent_by_last_attempt = 0
        return pieces()

    return factory


def upload_chunk(
    transport: Transport,
    session_id: str,
    source: ByteSource,
    plan: ChunkPlan,
    number: int,
    tracker: ProgressTracker,
    stop: threading.Event,
) -> None:
    if stop.is_set():
        raise Cancelled()
    offset, length = plan.chunk_range(number)
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(length),
        # A first read of the range; the server refuses the chunk if the bytes differ.
        "X-Chunk-Sha256": range_sha256(source, offset, length),
    }
    try:
        transport.request(
            "POST",
            f"/api/public/files/session/{session_id}",
            params={"chunkNumber": number},
            body=_chunk_body(source, offset, length, tracker, stop),
            headers=headers,
            cancel=stop,
        )
    except BaseException:
        stop.set()  # at once, so no other thread starts a chunk before the caller reacts
        raise


def upload_chunks(
    transport: Transport,
    session_id: str,
    source: ByteSource,
    plan: ChunkPlan,
    numbers: Sequence[int],
    tracker: ProgressTracker,
    parallel: int = 4,
) -> None:
    """Send chunks `numbers` with `parallel` threads; raise the first lasting failure."""
    if parallel < 1:
        raise LocalInputError("parallel must be at least 1.")
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=min(parallel, max(1, len(numbers))))
    futures: list[Future[None]] = []
    try:
        for n in numbers:
            futures.append(
                pool.submit(upload_chunk, transport, session_id, source, plan, n, tracker, stop)
            )
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:  # in chunk order, so the error reported is deterministic
            if future in done and not future.cancelled():
                error = future.exception()
                if error is not None and not isinstance(error, Cancelled):
                    raise error
    finally:
        # On failure or Ctrl-C: running chunks stop at their next piece, queued ones never
        # start, and no thread outlives this call.
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
