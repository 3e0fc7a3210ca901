"""DirectFile: the bytes that arrive are the bytes on disk, whatever the sizes, whether
the file system takes direct I/O or refuses it half way."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from weighbridge.storage import direct_file
from weighbridge.storage.direct_file import ALIGN, BUFFER_BYTES, BufferPool, DirectFile

SIZES = [1, ALIGN - 1, ALIGN, ALIGN + 1, BUFFER_BYTES - 1, BUFFER_BYTES, BUFFER_BYTES + 1,
         3 * BUFFER_BYTES + 12345]


def pieces_of(data: bytes, seed: int) -> list[bytes]:
    """Cut `data` into pieces of irregular sizes, as a socket hands them over."""
    rng = random.Random(seed)
    out, at = [], 0
    while at < len(data):
        n = rng.choice([1, 7, 4096, 65536, 256000, 1 << 20, 3 << 20])
        out.append(data[at:at + n])
        at += n
    return out


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("size", SIZES)
def test_what_is_written_is_what_is_read(tmp_path: Path, size: int, direct: bool) -> None:
    data = random.Random(size).randbytes(size)
    path = tmp_path / "blob"
    f = DirectFile(path, BufferPool() if direct else None)
    for piece in pieces_of(data, size):
        f.write(memoryview(piece))
    assert f.size == size
    f.finish()
    assert path.read_bytes() == data


def test_an_unaligned_tail_after_whole_buffers(tmp_path: Path) -> None:
    data = os.urandom(2 * BUFFER_BYTES + ALIGN + 10)
    path = tmp_path / "blob"
    f = DirectFile(path, BufferPool())
    f.write(data)
    f.finish()
    assert path.read_bytes() == data


def test_a_file_system_that_refuses_direct_writes_half_way(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """O_DIRECT accepted at open, then EINVAL on a write after some bytes went through:
    the file goes on through the page cache without losing or repeating a byte."""
    real_pwrite = os.pwrite
    calls: list[int] = []

    def pwrite(fd: int, data: memoryview, offset: int) -> int:
        calls.append(len(data))
        if len(calls) == 2:  # a short write: one block of the buffer
            return real_pwrite(fd, data[:ALIGN], offset)
        if len(calls) == 3:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(direct_file.os, "pwrite", pwrite)
    data = os.urandom(3 * BUFFER_BYTES + 99)
    path = tmp_path / "blob"
    f = DirectFile(path, BufferPool())
    for piece in pieces_of(data, 1):
        f.write(piece)
    f.finish()
    assert len(calls) > 3
    assert path.read_bytes() == data


def test_a_file_system_that_refuses_o_direct_at_open(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def open_(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(direct_file.os, "open", open_)
    data = os.urandom(BUFFER_BYTES + 5)
    path = tmp_path / "blob"
    f = DirectFile(path, BufferPool())
    f.write(data)
    f.finish()
    assert path.read_bytes() == data


def test_other_open_errors_are_not_hidden(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        DirectFile(tmp_path / "missing-dir" / "blob", BufferPool())


def test_close_twice_and_after_finish(tmp_path: Path) -> None:
    f = DirectFile(tmp_path / "blob", BufferPool())
    f.write(b"x" * 10)
    f.close()
    f.close()
    g = DirectFile(tmp_path / "blob2", BufferPool())
    g.write(b"y")
    g.finish()
    g.close()
    assert (tmp_path / "blob2").read_bytes() == b"y"
