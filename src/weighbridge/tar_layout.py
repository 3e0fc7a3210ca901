"""An uncompressed tar laid out in memory, so any byte range of it can be served on demand.

Used wherever weighbridge sends a tar it never writes whole: the server's model export
(bytes read from the blob store). The layout is computed once from the members' names
and sizes; headers are `tarfile.TarInfo.tobuf` output, so the bytes are exactly what
`tarfile` (PAX format) would write for the same members:

    header | data of member 1 | zero padding to 512 | header | data of member 2 | ...
    two zero blocks | zero padding to the 10240-byte record

Members carry fixed mtime/uid/gid/mode, so the same members always give the same bytes
(which makes resumable downloads with an ETag possible).
"""

from __future__ import annotations

import bisect
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

S = TypeVar("S")
PIECE_BYTES = 1024 * 1024
FILE_MODE = 0o644
DIR_MODE = 0o755


@dataclass(frozen=True)
class TarMember(Generic[S]):
    name: str       # path inside the tar, "/"-separated
    size: int       # 0 for a directory
    source: S | None  # where the data comes from; None for a directory


@dataclass(frozen=True)
class _Data(Generic[S]):
    source: S
    size: int


def _header(member: TarMember[S]) -> bytes:
    info = tarfile.TarInfo(member.name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    if member.source is None:
        info.type, info.mode = tarfile.DIRTYPE, DIR_MODE
    else:
        info.type, info.mode, info.size = tarfile.REGTYPE, FILE_MODE, member.size
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


class TarLayout(Generic[S]):
    def __init__(self, members: Sequence[TarMember[S]]) -> None:
        self._starts: list[int] = []
        self._segments: list[bytes | _Data[S]] = []
        pending = bytearray()  # consecutive in-memory bytes become one segment
        offset = 0

        def flush() -> None:
            if pending:
                self._starts.append(offset - len(pending))
                self._segments.append(bytes(pending))
                pending.clear()

        for member in members:
            header = _header(member)
            pending += header
            offset += len(header)
            if member.source is not None and member.size > 0:
                flush()
                self._starts.append(offset)
                self._segments.append(_Data(member.source, member.size))
                offset += member.size
                pending += bytes(-member.size % tarfile.BLOCKSIZE)
                offset += -member.size % tarfile.BLOCKSIZE
        pending += bytes(2 * tarfile.BLOCKSIZE)
        offset += 2 * tarfile.BLOCKSIZE
        pending += bytes(-offset % tarfile.RECORDSIZE)
        offset += -offset % tarfile.RECORDSIZE
        flush()
        self.size = offset

    def iter_range(self, offset: int, length: int,
                   read: Callable[[S, int, int], Iterator[bytes]]) -> Iterator[bytes]:
        """The bytes [offset, offset+length) in pieces; member data comes from `read`."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(f"range {offset}+{length} outside 0..{self.size}")
        pos, end = offset, offset + length
        index = bisect.bisect_right(self._starts, pos) - 1
        while pos < end:
            seg_start, segment = self._starts[index], self._segments[index]
            lo = pos - seg_start
            if isinstance(segment, bytes):
                hi = min(len(segment), end - seg_start)
                for cut in range(lo, hi, PIECE_BYTES):
                    yield segment[cut: min(cut + PIECE_BYTES, hi)]
            else:
                hi = min(segment.size, end - seg_start)
                yield from read(segment.source, lo, hi - lo)
            pos = seg_start + hi
            index += 1
