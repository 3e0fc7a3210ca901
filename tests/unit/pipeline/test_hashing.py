"""The one pass over the upload: hashing, counting, peeking, draining, size guard."""

from __future__ import annotations

import hashlib

import pytest

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.hashing import HashingReader, verify_upload

DATA = bytes(range(256)) * 40


def one_byte_pieces(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_reads_across_pieces_and_hashes_everything() -> None:
    reader = HashingReader([DATA[:100], b"", DATA[100:5000], DATA[5000:]], len(DATA))
    got = reader.read(10) + reader.read(200)
    reader.drain()
    assert got == DATA[:10] + DATA[10:100]  # a read stops at a piece boundary
    assert reader.exhausted
    assert reader.bytes_read == len(DATA)
    assert reader.sha256_hex() == hashlib.sha256(DATA).hexdigest()


def test_readinto_and_iter_pieces_see_the_bytes_in_order() -> None:
    reader = HashingReader([DATA[:3000], DATA[3000:]], len(DATA))
    buffer = bytearray(1000)
    n = reader.readinto(buffer)
    rest = b"".join(bytes(p) for p in reader.iter_pieces())
    assert bytes(buffer[:n]) + rest == DATA


def test_peek_joins_tiny_pieces_without_consuming() -> None:
    reader = HashingReader(one_byte_pieces(DATA[:20]), 20)
    assert reader.peek_prefix(6) == DATA[:6]
    assert reader.read(100) == DATA[:6]
    assert b"".join(iter(lambda: reader.read(7), b"")) == DATA[6:20]


def test_peek_on_empty_source() -> None:
    reader = HashingReader([], 0)
    assert reader.peek_prefix(6) == b""
    assert reader.read(5) == b""
    assert reader.exhausted


def test_a_source_longer_than_declared_stops_at_once() -> None:
    delivered: list[int] = []

    def source() -> object:
        for number in range(100):
            delivered.append(number)
            yield b"x" * 10

    reader = HashingReader(source(), 25)  # type: ignore[arg-type]
    with pytest.raises(PipelineError) as caught:
        reader.drain()
    assert caught.value.code == ErrorCode.SIZE_MISMATCH
    assert len(delivered) == 3  # the overflowing piece is the last one pulled


def test_on_read_is_told_each_piece() -> None:
    seen: list[int] = []
    reader = HashingReader([b"ab", b"cde"], 5, on_read=seen.append)
    reader.drain()
    assert seen == [2, 3]


def test_source_os_error_is_internal_not_corrupt() -> None:
    def source() -> object:
        yield b"abc"
        raise OSError(5, "Input/output error")

    reader = HashingReader(source(), 10)  # type: ignore[arg-type]
    with pytest.raises(PipelineError) as caught:
        reader.drain()
    assert caught.value.code == ErrorCode.INTERNAL


def test_verify_upload_size_then_checksum() -> None:
    reader = HashingReader([DATA], len(DATA))
    reader.drain()
    verify_upload(reader, len(DATA), hashlib.sha256(DATA).hexdigest().upper())
    with pytest.raises(PipelineError) as caught:
        verify_upload(reader, len(DATA) + 1, None)
    assert caught.value.code == ErrorCode.SIZE_MISMATCH
    with pytest.raises(PipelineError) as caught:
        verify_upload(reader, len(DATA), "0" * 64)
    assert caught.value.code == ErrorCode.CHECKSUM_MISMATCH
    assert hashlib.sha256(DATA).hexdigest() in caught.value.msg
