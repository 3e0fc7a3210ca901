"""One conformance suite for every BlobStore: the same tests, unchanged, for each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from weighbridge.storage.base import BlobStore
from weighbridge.storage.local import LocalBlobStore
from weighbridge.storage.s3 import PART_BYTES, S3BlobStore, make_client


@pytest.fixture(params=["local", "local-buffered", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param.startswith("local"):
        yield LocalBlobStore(tmp_path / "blobs", direct_io=request.param == "local")
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    client = make_client(endpoint, "us-east-1")
    bucket = f"wb-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    yield S3BlobStore(client, bucket, prefix="tenant")


def read(store: BlobStore, key: str) -> bytes:
    return b"".join(store.iter_bytes(key, 7))


def test_a_committed_blob_is_visible_whole(store: BlobStore) -> None:
    with store.writer("sessions/s1/chunk-a") as w:
        w.write(b"hello ")
        w.write(memoryview(b"world"))
        assert not store.exists("sessions/s1/chunk-a")  # nothing before commit
        w.commit()
    assert store.exists("sessions/s1/chunk-a")
    assert store.size("sessions/s1/chunk-a") == 11
    assert read(store, "sessions/s1/chunk-a") == b"hello world"


def test_a_cancelled_or_failed_writer_leaves_nothing(store: BlobStore) -> None:
    w = store.writer("sessions/s1/chunk-b")
    w.write(b"x" * 10)
    w.cancel()
    w.cancel()  # twice is fine
    assert not store.exists("sessions/s1/chunk-b")
    with pytest.raises(RuntimeError), store.writer("sessions/s1/chunk-c") as w2:
        w2.write(b"y" * 10)
        raise RuntimeError("the request failed half way")
    assert not store.exists("sessions/s1/chunk-c")
    assert store.list_prefix("sessions/s1") == []


def test_a_large_blob_in_many_pieces_round_trips(store: BlobStore) -> None:
    data = bytes(range(256)) * ((2 * PART_BYTES + 12345) // 256)
    with store.writer("objects/sha256/ab/big") as w:
        for i in range(0, len(data), 1_000_003):
            w.write(data[i:i + 1_000_003])
        w.commit()
    assert store.size("objects/sha256/ab/big") == len(data)
    assert b"".join(store.iter_bytes("objects/sha256/ab/big")) == data
    got = b"".join(store.iter_range("objects/sha256/ab/big", PART_BYTES - 5, 100))
    assert got == data[PART_BYTES - 5:PART_BYTES + 95]


def test_a_new_blob_replaces_the_old_under_the_same_key(store: BlobStore) -> None:
    for content in (b"first", b"second!"):
        with store.writer("objects/sha256/cd/k") as w:
            w.write(content)
            w.commit()
    assert read(store, "objects/sha256/cd/k") == b"second!"


def test_listing_and_deleting(store: BlobStore) -> None:
    for name in ("a", "b", "c"):
        with store.writer(f"sessions/s2/chunk-{name}") as w:
            w.write(name.encode())
            w.commit()
    with store.writer("sessions/s3/chunk-z") as w:
        w.write(b"z")
        w.commit()
    assert store.list_prefix("sessions/s2") == [f"sessions/s2/chunk-{n}" for n in "abc"]
    store.delete("sessions/s2/chunk-b")
    store.delete("sessions/s2/chunk-b")  # a missing key is not an error
    assert store.list_prefix("sessions/s2") == ["sessions/s2/chunk-a", "sessions/s2/chunk-c"]
    store.delete_prefix("sessions/s2")
    assert store.list_prefix("sessions/s2") == []
    assert store.exists("sessions/s3/chunk-z")  # a neighbouring prefix is untouched


def test_put_file_moves_a_local_file_into_the_store(store: BlobStore, tmp_path: Path) -> None:
    local = tmp_path / "staged.bin"
    local.write_bytes(b"model bytes" * 1000)
    store.put_file(local, "objects/sha256/ef/staged")
    assert not local.exists()
    assert read(store, "objects/sha256/ef/staged") == b"model bytes" * 1000


def test_keys_that_climb_out_are_refused(store: BlobStore) -> None:
    for key in ("../x", "sessions/../../x", "", "a//b"):
        with pytest.raises(ValueError):
            store.writer(key)
