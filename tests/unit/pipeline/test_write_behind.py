"""WriteBehind: every byte written in order, errors raised, never a stuck producer."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest

from weighbridge.pipeline import write_behind
from weighbridge.pipeline.write_behind import WriteBehind


def test_pieces_are_written_in_order_and_reused_buffers_are_copied(tmp_path: Path) -> None:
    target = tmp_path / "out"
    buffer = bytearray(b"a" * 1000)
    expected = b""
    with open(target, "wb") as f:
        behind = WriteBehind(f, depth=2)
        for i in range(50):
            buffer[:] = bytes([65 + i % 26]) * 1000
            behind.write(memoryview(buffer))  # the caller reuses its buffer at once
            expected += bytes(buffer)
            behind.write(b"|")
            expected += b"|"
        behind.close()
    assert target.read_bytes() == expected


class FailingFile(io.BytesIO):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after

    def write(self, data: object) -> int:
        if self.tell() >= self.fail_after:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


def test_a_write_error_reaches_the_producer_and_close() -> None:
    behind = WriteBehind(FailingFile(fail_after=10), depth=1)
    with pytest.raises(OSError) as raised:
        for _ in range(1000):  # would block for ever if the thread stopped draining
            behind.write(b"x" * 10)
        behind.close()
    assert raised.value.errno == errno.ENOSPC


def test_large_writes_are_flushed_to_disk_as_they_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushes: list[int] = []
    monkeypatch.setattr(write_behind, "FLUSH_EVERY_BYTES", 100)
    real = os.fdatasync

    def recording(fd: int) -> None:
        flushes.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", recording)
    with open(tmp_path / "out", "wb") as f:
        behind = WriteBehind(f)
        for _ in range(10):
            behind.write(b"y" * 50)
        behind.close()
    assert len(flushes) == 5
    assert (tmp_path / "out").read_bytes() == b"y" * 500
