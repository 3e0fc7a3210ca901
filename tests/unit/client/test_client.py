"""The whole import flow of `Client` against an in-memory server: start, chunks,
complete, wait; resume after an interruption; job failure; the plain calls."""

from __future__ import annotations

import hashlib
import json
import random
import tarfile
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

import weighbridge
from tests.unit.client.fake_server import FakeServer, error
from weighbridge import ApiError, Client, ImportFailed, RetryPolicy, WeighbridgeClientError
from weighbridge.client.packing import FolderTar

MiB = 1024 * 1024


def _client(server: FakeServer, tmp_path: Path, attempts: int = 3) -> Client:
    return Client(
        "http://wb.test",
        "key",
        retry=RetryPolicy(max_attempts=attempts, sleep=lambda _: None),
        state_dir=tmp_path / "state",
        http_transport=server.transport(),
    )


def _weights(tmp_path: Path, size: int = 3 * MiB + 11) -> tuple[Path, bytes]:
    data = random.Random(size).randbytes(size)
    path = tmp_path / "tiny.safetensors"
    path.write_bytes(data)
    return path, data


def test_import_of_a_file_uploads_completes_and_waits(tmp_path: Path) -> None:
    server = FakeServer(limits={"maxChunks": 100, "minChunkSize": 1, "maxChunkSize": 10 * MiB})
    path, data = _weights(tmp_path)
    progress: list[tuple[int, int]] = []
    statuses: list[str] = []
    with _client(server, tmp_path) as client:
        outcome = client.import_model(
            path,
            name="tiny",
            chunk_size=MiB,
            progress=lambda d, t: progress.append((d, t)),
            on_status=lambda s: statuses.append(s["status"]),
            poll_interval=0.01,
        )
    (session_id,) = server.sessions
    start = server.sessions[session_id]["body"]
    assert start == {
        "fileContext": "model",
        "totalChunks": 4,
        "fileExtension": "safetensors",
        "fileName": "tiny.safetensors",
        "fileSize": len(data),
        "isAdapter": False,
        "sha256": hashlib.sha256(data).hexdigest(),
        "chunkSize": MiB,
        "name": "tiny",
    }
    assert server.uploaded(session_id) == data
    assert outcome.model == {"_id": "cm-1", "modelId": "cm-1", "name": "m"}
    assert (outcome.dock_status_id, outcome.model_id) == (f"ds-{session_id}", "cm-1")
    assert statuses == ["IN_PROGRESS", "SUCCESS"]
    assert progress[-1] == (len(data), len(data)) or max(progress)[0] == len(data)
    assert not list((tmp_path / "state" / "uploads").glob("*.json"))  # nothing left to resume


def test_a_folder_is_sent_as_its_tar(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(random.Random(1).randbytes(2 * MiB))
    server = FakeServer()
    with _client(server, tmp_path) as client:
        client.import_model(folder, chunk_size=MiB, poll_interval=0.01)
    (session_id,) = server.sessions
    body = server.sessions[session_id]["body"]
    assert (body["fileName"], body["fileExtension"]) == ("my-model.tar", "tar")
    expected = b"".join(FolderTar(folder).iter_range(0, FolderTar(folder).size))
    assert server.uploaded(session_id) == expected
    assert body["sha256"] == hashlib.sha256(expected).hexdigest()
    assert all(h["X-Chunk-Sha256"] for h in server.chunk_headers)


def test_an_adapter_folder_is_flagged_and_carries_its_base_model(tmp_path: Path) -> None:
    folder = tmp_path / "lora"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "x"}))
    server = FakeServer()
    with _client(server, tmp_path) as client:
        client.import_model(folder, base_model="org/base", wait=False)
    (session,) = server.sessions.values()
    assert session["body"]["isAdapter"] is True
    assert session["body"]["baseModel"] == "org/base"


def test_an_interrupted_upload_resumes_with_the_missing_chunks_only(tmp_path: Path) -> None:
    server = FakeServer()
    path, data = _weights(tmp_path, 4 * MiB)

    def down_after_two(request: httpx.Request) -> httpx.Response | None:
        number = request.url.params.get("chunkNumber")
        if number is not None and int(number) >= 2:
            return error(503, "INTERNAL", "down")
        return None

    server.fail = down_after_two
    with _client(server, tmp_path, attempts=2) as client, pytest.raises(ApiError):
        client.import_model(path, chunk_size=MiB, parallel=1)
    assert [n for _, n in server.chunk_posts] == [0, 1]

    server.fail = None
    with _client(server, tmp_path) as client:
        outcome = client.import_model(path, chunk_size=MiB, parallel=1, poll_interval=0.01)
    assert len(server.sessions) == 1  # the same session, continued
    assert [n for _, n in server.chunk_posts] == [0, 1, 2, 3]
    assert outcome.resumed_chunks == 2
    assert server.uploaded(outcome.session_id) == data


def test_a_broken_resume_state_is_healed(tmp_path: Path) -> None:
    server = FakeServer()
    path, data = _weights(tmp_path, 2 * MiB)
    server.fail = lambda r: error(503, "X", "down") if "chunkNumber" in r.url.params else None
    with _client(server, tmp_path, attempts=1) as client, pytest.raises(ApiError):
        client.import_model(path, chunk_size=MiB)
    (state_file,) = (tmp_path / "state" / "uploads").glob("*.json")
    state_file.write_text("{not json")

    server.fail = None
    with _client(server, tmp_path) as client:
        outcome = client.import_model(path, chunk_size=MiB, poll_interval=0.01)
    assert len(server.sessions) == 2  # could not resume, so started afresh
    assert server.uploaded(outcome.session_id) == data
    assert not state_file.exists()


def test_a_failed_job_raises_import_failed_with_its_code(tmp_path: Path) -> None:
    server = FakeServer()
    server.job_error = {"code": "INVALID_MODEL", "msg": "tensor x is truncated"}
    path, _ = _weights(tmp_path, 100)
    with _client(server, tmp_path) as client, pytest.raises(ImportFailed) as err:
        client.import_model(path, poll_interval=0.01)
    assert (err.value.code, err.value.msg) == ("INVALID_MODEL", "tensor x is truncated")
    assert err.value.dock_status["status"] == "FAILED"


def test_no_wait_returns_the_ids(tmp_path: Path) -> None:
    server = FakeServer()
    path, _ = _weights(tmp_path, 100)
    with _client(server, tmp_path) as client:
        outcome = client.import_model(path, wait=False)
    assert outcome.model is None and outcome.dock_status_id.startswith("ds-")
    assert server.polls == {}


def test_chunks_the_server_lost_are_sent_again_at_complete(tmp_path: Path) -> None:
    server = FakeServer()
    path, data = _weights(tmp_path, 3 * MiB)
    dropped = {"done": False}

    def lose_chunk_one(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/complete") and not dropped["done"]:
            dropped["done"] = True
            for chunks in server.chunks.values():
                chunks.pop(1, None)
        return None

    server.fail = lose_chunk_one
    with _client(server, tmp_path) as client:
        outcome = client.import_model(path, chunk_size=MiB, parallel=1, poll_interval=0.01)
    assert [n for _, n in server.chunk_posts] == [0, 1, 2, 1]
    assert server.uploaded(outcome.session_id) == data


def test_a_start_whose_answer_was_lost_is_retried_with_the_same_key(tmp_path: Path) -> None:
    server = FakeServer()
    lost = {"yet": False}

    def lose_first_start_answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/start") and not lost["yet"]:
            lost["yet"] = True
            with server.lock:
                server._route(request)  # the server did start a session...
            return error(502, "BAD_GATEWAY", "...but its answer was lost")
        return None

    server.fail = lose_first_start_answer
    path, _ = _weights(tmp_path, 100)
    with _client(server, tmp_path) as client:
        client.import_model(path, wait=False)
    assert len(server.sessions) == 1


def test_plain_calls(tmp_path: Path) -> None:
    models = [{"modelId": "cm-1"}, {"modelId": "cm-2"}]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/public/models":
            assert request.url.params["limit"] == "2"
            return httpx.Response(200, json={"models": models, "total": 2})
        if request.url.path == "/api/public/models/cm-1":
            return httpx.Response(200, json=models[0])
        if request.url.path == "/api/public/limits":
            return httpx.Response(200, json={"maxChunks": 9, "fileExtensions": ["tar"]})
        if request.method == "DELETE":
            return httpx.Response(200, json={"sessionId": "s", "status": "ABORTED"})
        return error(404, "NOT_FOUND", "Model cm-9 not found.")

    client = Client("http://wb.test", "key", http_transport=httpx.MockTransport(handler))
    assert client.host == "http://wb.test"
    assert client.list_models(limit=2).models == models
    assert client.get_model("cm-1") == models[0]
    assert client.limits().max_chunks == 9
    assert client.abort_session("s")["status"] == "ABORTED"
    with pytest.raises(ApiError) as err:
        client.get_model("cm-9")
    assert (err.value.status, err.value.code) == (404, "NOT_FOUND")
    client.close()


@pytest.mark.parametrize(
    "host", ["not-a-url", "localhost:8080", "http://", "ftp://wb.test", "http://wb:port", ""]
)
def test_a_host_that_is_no_server_url_is_refused_before_any_request(host: str) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with pytest.raises(WeighbridgeClientError) as err:
        Client(host, "key", http_transport=httpx.MockTransport(record))
    assert err.value.code == "INVALID_HOST"
    assert "http://127.0.0.1:8080" in err.value.msg
    assert sent == []


@pytest.mark.parametrize("host", ["http://127.0.0.1:8080", "https://wb.example.com/base/"])
def test_http_and_https_urls_are_accepted(host: str) -> None:
    with Client(host, "key") as client:
        assert client.host == host.rstrip("/")


def test_the_package_surface() -> None:
    assert weighbridge.__version__ == "0.1.0"
    for name in (
        "Client",
        "ApiError",
        "ImportFailed",
        "TransportError",
        "WeighbridgeClientError",
        "ImportOutcome",
    ):
        assert getattr(weighbridge, name).__name__ == name
    assert issubclass(weighbridge.ApiError, weighbridge.WeighbridgeClientError)


def test_a_tar_archive_can_be_imported_as_is(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    archive = tmp_path / "m.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(folder, arcname="m")
    server = FakeServer()
    with _client(server, tmp_path) as client:
        client.import_model(archive, wait=False)
    (session_id,) = server.sessions
    body: dict[str, Any] = server.sessions[session_id]["body"]
    assert (body["fileExtension"], body["isAdapter"]) == ("tar", True)
    assert server.uploaded(session_id) == archive.read_bytes()


def test_concurrent_imports_of_the_same_file_use_separate_sessions(tmp_path: Path) -> None:
    server = FakeServer()
    path, data = _weights(tmp_path, 2 * MiB)
    inside = threading.Barrier(2, timeout=10)

    def both_start_before_any_chunk(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/start"):
            inside.wait()  # the second import starts while the first holds its session
        return None

    server.fail = both_start_before_any_chunk
    outcomes: list[Any] = []

    def run() -> None:
        with _client(server, tmp_path) as client:
            outcomes.append(client.import_model(path, chunk_size=MiB, poll_interval=0.01))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 2 and len(server.sessions) == 2
    assert all(server.uploaded(o.session_id) == data for o in outcomes)


def _interrupt_after_two_chunks(server: FakeServer, tmp_path: Path, path: Path) -> None:
    def down_after_two(request: httpx.Request) -> httpx.Response | None:
        number = request.url.params.get("chunkNumber")
        if number is not None and int(number) >= 2:
            return error(503, "INTERNAL", "down")
        return None

    server.fail = down_after_two
    with _client(server, tmp_path, attempts=1) as client, pytest.raises(ApiError):
        client.import_model(path, chunk_size=MiB, parallel=1)
    server.fail = None


def test_a_resumed_upload_reports_the_held_bytes_first(tmp_path: Path) -> None:
    server = FakeServer()
    path, data = _weights(tmp_path, 4 * MiB)
    _interrupt_after_two_chunks(server, tmp_path, path)
    progress: list[tuple[int, int]] = []
    with _client(server, tmp_path) as client:
        client.import_model(
            path, chunk_size=MiB, parallel=1, progress=lambda d, t: progress.append((d, t))
        )
    assert progress[0] == (2 * MiB, len(data))  # the bar starts at what the server holds
    assert min(d for d, _ in progress) == 2 * MiB
    assert progress[-1] == (len(data), len(data))


def test_no_resume_starts_afresh_and_aborts_the_old_session(tmp_path: Path) -> None:
    server = FakeServer()
    path, data = _weights(tmp_path, 4 * MiB)
    _interrupt_after_two_chunks(server, tmp_path, path)
    (old_session,) = server.sessions
    aborted: list[str] = []

    def record_abort(request: httpx.Request) -> httpx.Response | None:
        if request.method == "DELETE":
            aborted.append(request.url.path.rsplit("/", 1)[1])
            return httpx.Response(200, json={"status": "ABORTED"})
        return None

    server.fail = record_abort
    progress: list[int] = []
    with _client(server, tmp_path) as client:
        outcome = client.import_model(
            path, chunk_size=MiB, parallel=1, resume=False, progress=lambda d, _: progress.append(d)
        )
    assert aborted == [old_session]
    assert outcome.session_id != old_session and outcome.resumed_chunks == 0
    assert [n for s, n in server.chunk_posts if s == outcome.session_id] == [0, 1, 2, 3]
    assert progress[0] == 0
    assert server.uploaded(outcome.session_id) == data
    assert not list((tmp_path / "state" / "uploads").glob("*.json"))


def test_a_no_resume_upload_can_itself_be_resumed(tmp_path: Path) -> None:
    server = FakeServer()
    path, data = _weights(tmp_path, 4 * MiB)

    def down_after_two(request: httpx.Request) -> httpx.Response | None:
        number = request.url.params.get("chunkNumber")
        return error(503, "X", "down") if number is not None and int(number) >= 2 else None

    server.fail = down_after_two
    with _client(server, tmp_path, attempts=1) as client, pytest.raises(ApiError):
        client.import_model(path, chunk_size=MiB, parallel=1, resume=False)
    server.fail = None
    with _client(server, tmp_path) as client:
        outcome = client.import_model(path, chunk_size=MiB, parallel=1)
    assert len(server.sessions) == 1 and outcome.resumed_chunks == 2
    assert server.uploaded(outcome.session_id) == data
