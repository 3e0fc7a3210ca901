"""BlobStore on the local file system, under one root directory.

    <root>/sessions/<sessionId>/chunk-<uploadId>
    <root>/models/<modelId>/...
    <root>/**/.part-<uuid>      a write in progress; renamed into place on commit

Writes go to a temporary name in the destination's own directory and are renamed into
place with `os.replace`, so a reader sees either the old blob or the whole new one. On
commit the data is flushed with `fdatasync` and dropped from the page cache: measured
on these machines, that keeps sustained ingest fast past a few GiB (buffered writes hit
the kernel's dirty-page wall) and makes an acknowledged chunk durable.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.storage.base import READ_PIECE_BYTES
from weighbridge.storage.direct_file import BufferPool, DirectFile

PART_PREFIX = ".part-"
SPACE_CHECK_EVERY_BYTES = 16 * 1024 * 1024


def translate_os_error(exc: OSError, what: str) -> WeighbridgeError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return WeighbridgeError(
            ErrorCode.OUT_OF_STORAGE,
            f"The server ran out of storage while {what}; nothing was kept. "
            "Retry once space has been freed.",
        )
    return WeighbridgeError(ErrorCode.INTERNAL, f"Storage failed while {what}.")


def _check_free_space(directory: Path, min_free_bytes: int, incoming: int) -> None:
    st = os.statvfs(directory)
    if st.f_bavail * st.f_frsize < min_free_bytes + incoming:
        raise OSError(errno.ENOSPC, "below the configured free-space reserve")


class LocalBlobWriter:
    def __init__(self, path: Path, min_free_bytes: int, buffers: BufferPool | None) -> None:
        self._path = path
        self._tmp = path.parent / f"{PART_PREFIX}{uuid.uuid4().hex}"
        self._done = False
        self._bytes_written = 0
        self._min_free = min_free_bytes
        self._next_space_check = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _check_free_space(path.parent, self._min_free, 0)
            self._file = DirectFile(self._tmp, buffers)
        except OSError as exc:
            raise translate_os_error(exc, "opening a file") from exc

    @property
    def bytes_written(self) -> int:
        return self._bytes_written

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        try:
            if self._min_free and self._bytes_written >= self._next_space_check:
                _check_free_space(self._path.parent, self._min_free, len(view))
                self._next_space_check = self._bytes_written + SPACE_CHECK_EVERY_BYTES
            self._file.write(view)
            self._bytes_written += len(view)
        except OSError as exc:
            self.cancel()
            raise translate_os_error(exc, "writing") from exc

    def commit(self) -> None:
        try:
            self._done = True
            self._file.finish()
            os.replace(self._tmp, self._path)
        except OSError as exc:
            self.cancel()
            raise translate_os_error(exc, "saving") from exc

    def cancel(self) -> None:
        self._done = True
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None or not self._done:
            self.cancel()


class LocalBlobStore:
    def __init__(self, root: Path, min_free_bytes: int = 0, direct_io: bool = True) -> None:
        self.root = root
        self._min_free = min_free_bytes
        self._buffers = BufferPool() if direct_io else None
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"invalid blob key {key!r}")
        return self.root.joinpath(*parts)

    def writer(self, key: str) -> LocalBlobWriter:
        return LocalBlobWriter(self._path(key), self._min_free, self._buffers)

    def iter_bytes(self, key: str, piece_bytes: int = READ_PIECE_BYTES) -> Iterator[bytes]:
        with open(self._path(key), "rb", buffering=0) as f:
            while piece := f.read(piece_bytes):
                yield piece

    def iter_range(self, key: str, offset: int, length: int,
                   piece_bytes: int = READ_PIECE_BYTES) -> Iterator[bytes]:
        with open(self._path(key), "rb", buffering=0) as f:
            f.seek(offset)
            while length > 0:
                piece = f.read(min(piece_bytes, length))
                if not piece:
                    raise OSError(errno.EIO, f"blob {key} is shorter than expected")
                length -= len(piece)
                yield piece

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def list_prefix(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(
            f"{prefix}/{p.relative_to(base).as_posix()}"
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(PART_PREFIX)
        )

    def put_file(self, local_path: Path, key: str) -> None:
        dest = self._path(key)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            # Staging lives on the same file system (data_dir), so this is a rename.
            os.replace(local_path, dest)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise translate_os_error(exc, "storing a file") from exc
            shutil.move(str(local_path), str(dest))
