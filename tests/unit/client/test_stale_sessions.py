"""Sessions an upload will never continue are aborted, not left to hold server storage and
count against the account's open sessions: after the file or the chunk size changed
between runs, with `resume=False`, or when the server cannot continue them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest

from tests.unit.client.fake_server import FakeServer, error
from weighbridge import ApiError, Client, RetryPolicy

MiB = 1024 * 1024


def _client(server: FakeServer, tmp_path: Path, attempts: int = 3) -> Client:
    return Client(
        "http://wb.test",
        "key",
        retry=RetryPolicy(max_attempts=attempts, sleep=lambda _: None),
        state_dir=tmp_path / "state",
        http_transport=server.transport(),
    )


def _write(path: Path, seed: int, size: int = 4 * MiB) -> bytes:
    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return data


def _interrupted_upload(server: FakeServer, tmp_path: Path, path: Path, chunk: int) -> str:
    """An upload of `path` stopped after its first two chunks; its session's id."""

    def down_after_two(request: httpx.Request) -> httpx.Response | None:
        number = request.url.params.get("chunkNumber")
        return error(503, "X", "down") if number is not None and int(number) >= 2 else None

    server.fail = down_after_two
    with _client(server, tmp_path, attempts=1) as client, pytest.raises(ApiError):
        client.import_model(path, chunk_size=chunk, parallel=1)
    server.fail = None
    (session_id,) = [s for s, v in server.sessions.items() if v["status"] == "OPEN"]
    return session_id


def _state_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "state" / "uploads").rglob("*.json"))


def test_a_changed_file_aborts_the_session_its_earlier_upload_left(tmp_path: Path) -> None:
    server = FakeServer()
    path = tmp_path / "w.safetensors"
    _write(path, seed=1)
    old = _interrupted_upload(server, tmp_path, path, MiB)
    data = _write(path, seed=2)  # edited between the runs: the saved state no longer fits

    with _client(server, tmp_path) as client:
        outcome = client.import_model(path, chunk_size=MiB, parallel=1, poll_interval=0.01)
    assert server.aborted == [old] and server.sessions[old]["status"] == "ABORTED"
    assert server.chunks[old] == {}  # its chunks are freed
    assert outcome.session_id != old and outcome.resumed_chunks == 0
    assert server.uploaded(outcome.session_id) == data
    assert _state_files(tmp_path) == []  # neither the old state nor the index is left


def test_a_changed_chunk_size_aborts_the_earlier_session(tmp_path: Path) -> None:
    server = FakeServer()
    path = tmp_path / "w.safetensors"
    data = _write(path, seed=1)
    old = _interrupted_upload(server, tmp_path, path, MiB)

    with _client(server, tmp_path) as client:
        outcome = client.import_model(path, chunk_size=2 * MiB, parallel=1, poll_interval=0.01)
    assert server.aborted == [old]
    assert server.uploaded(outcome.session_id) == data
    assert _state_files(tmp_path) == []


def test_the_replacing_upload_is_itself_resumed_and_aborts_nothing_more(tmp_path: Path) -> None:
    server = FakeServer()
    path = tmp_path / "w.safetensors"
    _write(path, seed=1, size=8 * MiB)
    first = _interrupted_upload(server, tmp_path, path, MiB)
    second = _interrupted_upload(server, tmp_path, path, 2 * MiB)  # aborts `first`
    assert server.aborted == [first]
    (index,) = (tmp_path / "state" / "uploads" / "inputs").glob("*.json")
    assert set(json.loads(index.read_text())) == {"version", "uploadKey"}

    with _client(server, tmp_path) as client:
        outcome = client.import_model(path, chunk_size=2 * MiB, parallel=1, poll_interval=0.01)
    assert outcome.session_id == second and outcome.resumed_chunks == 2
    assert server.aborted == [first]


def test_other_paths_keep_their_sessions(tmp_path: Path) -> None:
    server = FakeServer()
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    _write(a, seed=1)
    _write(b, seed=2)
    kept = _interrupted_upload(server, tmp_path, a, MiB)
    with _client(server, tmp_path) as client:
        client.import_model(b, chunk_size=2 * MiB, poll_interval=0.01)
    assert server.aborted == [] and server.sessions[kept]["status"] == "OPEN"


@pytest.mark.parametrize("answer", [404, 409, 410, "unreachable"])
def test_an_abort_that_fails_harmlessly_does_not_stop_the_import(
    tmp_path: Path, answer: int | str
) -> None:
    server = FakeServer()
    path = tmp_path / "w.safetensors"
    _write(path, seed=1)
    old = _interrupted_upload(server, tmp_path, path, MiB)
    data = _write(path, seed=2)

    def refuse_abort(request: httpx.Request) -> httpx.Response | None:
        if request.method != "DELETE":
            return None
        if answer == "unreachable":
            raise httpx.ConnectError("connection refused", request=request)
        return error(int(answer), "X", "no")

    server.fail = refuse_abort
    with _client(server, tmp_path) as client:
        outcome = client.import_model(path, chunk_size=MiB, poll_interval=0.01)
    assert outcome.session_id != old and server.uploaded(outcome.session_id) == data


def test_an_abort_refused_for_another_reason_is_raised(tmp_path: Path) -> None:
    server = FakeServer()
    path = tmp_path / "w.safetensors"
    _write(path, seed=1)
    _interrupted_upload(server, tmp_path, path, MiB)
    _write(path, seed=2)
    server.fail = lambda r: error(403, "FORBIDDEN", "no") if r.method == "DELETE" else None
    with _client(server, tmp_path) as client, pytest.raises(ApiError) as err:
        client.import_model(path, chunk_size=MiB)
    assert err.value.status == 403
    assert len(server.sessions) == 1  # nothing new was started


def test_a_saved_session_the_server_cannot_continue_is_aborted(tmp_path: Path) -> None:
    server = FakeServer()
    path = tmp_path / "w.safetensors"
    data = _write(path, seed=1)
    old = _interrupted_upload(server, tmp_path, path, MiB)
    server.sessions[old]["body"]["totalChunks"] = 9  # e.g. a server that re-planned it

    with _client(server, tmp_path) as client:
        outcome = client.import_model(path, chunk_size=MiB, poll_interval=0.01)
    assert server.aborted == [old] and outcome.session_id != old
    assert server.uploaded(outcome.session_id) == data


def test_list_sessions_asks_for_the_open_ones_by_default(tmp_path: Path) -> None:
    sent: list[httpx.URL] = []
    session = {"sessionId": "s-1", "status": "OPEN", "fileName": "w.tar", "fileSize": 9}

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url)
        return httpx.Response(200, json={"sessions": [session, "junk"], "limit": 100})

    with Client("http://wb.test", "key", http_transport=httpx.MockTransport(handler)) as client:
        assert client.list_sessions() == [session]
        client.list_sessions(None, limit=5, offset=10)
        client.list_sessions("expired")
    assert sent[0].path == "/api/public/files/session"
    assert dict(sent[0].params) == {"limit": "100", "offset": "0", "status": "OPEN"}
    assert dict(sent[1].params) == {"limit": "5", "offset": "10"}
    assert sent[2].params["status"] == "EXPIRED"
