"""Chunk planning, and the parallel upload's bodies, checksums, progress and failures."""

from __future__ import annotations

import hashlib
import random
import threading
from pathlib import Path

import httpx
import pytest

from tests.unit.client.fake_server import FakeServer, error
from weighbridge.client.errors import ApiError, LocalInputError
from weighbridge.client.hashing import range_sha256, source_sha256
from weighbridge.client.packing import PIECE_SIZE, FileSource
from weighbridge.client.transport import RetryPolicy, Transport
from weighbridge.client.uploader import (
    DEFAULT_CHUNK_SIZE,
    ChunkPlan,
    Limits,
    MiB,
    ProgressTracker,
    plan_chunks,
    upload_chunks,
)

GiB = 1024 * MiB


def test_default_plan_is_64_mib() -> None:
    plan = plan_chunks(200 * MiB, Limits())
    assert (plan.chunk_size, plan.total_chunks) == (DEFAULT_CHUNK_SIZE, 4)
    assert plan.chunk_range(3) == (192 * MiB, 8 * MiB)


def test_a_small_file_is_one_chunk_of_its_size() -> None:
    plan = plan_chunks(1000, Limits())
    assert (plan.chunk_size, plan.total_chunks) == (1000, 1)
    assert plan.chunk_range(0) == (0, 1000)


def test_chunks_grow_to_fit_max_chunks_in_whole_mib() -> None:
    plan = plan_chunks(10 * GiB + 1, Limits(max_chunks=100))
    assert plan.total_chunks <= 100
    assert plan.chunk_size % MiB == 0
    assert plan.chunk_size > DEFAULT_CHUNK_SIZE


def test_default_respects_min_and_max_chunk_size() -> None:
    assert plan_chunks(GiB, Limits(max_chunk_size=16 * MiB)).chunk_size == 16 * MiB
    assert plan_chunks(GiB, Limits(min_chunk_size=128 * MiB)).chunk_size == 128 * MiB


def test_explicit_chunk_size_is_used_and_checked() -> None:
    assert plan_chunks(100 * MiB, Limits(), 8 * MiB).total_chunks == 13
    with pytest.raises(LocalInputError, match="below the server's minimum"):
        plan_chunks(100 * MiB, Limits(min_chunk_size=5 * MiB), MiB)
    with pytest.raises(LocalInputError, match="above the server's maximum"):
        plan_chunks(100 * MiB, Limits(max_chunk_size=5 * MiB), 8 * MiB)
    with pytest.raises(LocalInputError, match="larger chunk size"):
        plan_chunks(100 * MiB, Limits(max_chunks=10), MiB)


def test_too_large_or_empty_files_are_refused_before_upload() -> None:
    with pytest.raises(LocalInputError) as err:
        plan_chunks(2 * GiB, Limits(max_file_size=GiB))
    assert err.value.code == "TOO_LARGE"
    with pytest.raises(LocalInputError):
        plan_chunks(0, Limits())


def test_limits_from_the_servers_json_tolerate_missing_fields() -> None:
    limits = Limits.from_json({"maxFileSize": 5, "maxChunks": 7, "sessionLifetimeSeconds": 60})
    assert limits == Limits(max_file_size=5, max_chunks=7, session_ttl_seconds=60)
    assert Limits.from_json({"maxChunks": "many", "minChunkSize": True}) == Limits()


def test_hashes_of_the_whole_source_and_of_a_range(tmp_path: Path) -> None:
    data = random.Random(0).randbytes(3 * PIECE_SIZE + 17)
    (tmp_path / "w.gguf").write_bytes(data)
    source = FileSource(tmp_path / "w.gguf")
    seen: list[int] = []
    assert source_sha256(source, lambda d, t: seen.append(d)) == hashlib.sha256(data).hexdigest()
    assert seen[-1] == len(data)
    middle = data[PIECE_SIZE - 5 : 2 * PIECE_SIZE + 9]
    assert range_sha256(source, PIECE_SIZE - 5, len(middle)) == hashlib.sha256(middle).hexdigest()


def _setup(tmp_path: Path, server: FakeServer, size: int) -> tuple[Transport, FileSource, bytes]:
    data = random.Random(size).randbytes(size)
    (tmp_path / "w.safetensors").write_bytes(data)
    policy = RetryPolicy(max_attempts=3, sleep=lambda _: None)
    transport = Transport(
        "http://wb.test", "key", timeout=5, retry=policy, http_transport=server.transport()
    )
    return transport, FileSource(tmp_path / "w.safetensors"), data


def test_parallel_upload_sends_every_chunk_streamed_and_checksummed(tmp_path: Path) -> None:
    server = FakeServer()
    server.sessions["s"] = {"body": {}, "status": "OPEN"}
    server.chunks["s"] = {}
    transport, source, data = _setup(tmp_path, server, 5 * PIECE_SIZE + 3)
    plan = ChunkPlan(len(data), 2 * PIECE_SIZE)
    seen: list[tuple[int, int]] = []
    threads: set[str] = set()

    def progress(done: int, total: int) -> None:
        threads.add(threading.current_thread().name)
        seen.append((done, total))

    tracker = ProgressTracker(len(data), progress)
    upload_chunks(transport, "s", source, plan, range(3), tracker, 3)
    assert server.uploaded("s") == data
    assert seen[-1] == (len(data), len(data)) or max(d for d, _ in seen) == len(data)
    assert tracker.done == len(data)
    assert sorted(n for _, n in server.chunk_posts) == [0, 1, 2]


def test_a_retried_chunk_is_reread_and_progress_is_not_double_counted(tmp_path: Path) -> None:
    server = FakeServer()
    server.sessions["s"] = {"body": {}, "status": "OPEN"}
    server.chunks["s"] = {}
    failures = {"left": 1}

    def flaky(request: httpx.Request) -> httpx.Response | None:
        if request.url.params.get("chunkNumber") == "1" and failures["left"]:
            failures["left"] -= 1
            request.read()
            return error(503, "INTERNAL", "try again")
        return None

    server.fail = flaky
    transport, source, data = _setup(tmp_path, server, 3 * PIECE_SIZE)
    plan = ChunkPlan(len(data), PIECE_SIZE + 1)
    tracker = ProgressTracker(len(data), None)
    upload_chunks(transport, "s", source, plan, range(3), tracker, 2)
    assert server.uploaded("s") == data
    assert tracker.done == len(data)


def test_a_refused_chunk_stops_the_upload_with_the_servers_error(tmp_path: Path) -> None:
    server = FakeServer()
    server.sessions["s"] = {"body": {}, "status": "OPEN"}
    server.chunks["s"] = {}

    def expired(request: httpx.Request) -> httpx.Response | None:
        if request.url.params.get("chunkNumber") == "2":
            return error(410, "SESSION_EXPIRED", "The session expired; start a new upload.")
        return None

    server.fail = expired
    transport, source, data = _setup(tmp_path, server, 40 * 1024)
    plan = ChunkPlan(len(data), 1024)
    tracker = ProgressTracker(len(data), None)
    with pytest.raises(ApiError) as err:
        upload_chunks(transport, "s", source, plan, range(40), tracker, 1)
    assert err.value.code == "SESSION_EXPIRED"
    assert [n for _, n in server.chunk_posts] == [0, 1]  # nothing was sent after the refusal
    assert threading.active_count() < 10  # no upload thread outlives the call
