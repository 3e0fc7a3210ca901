"""GET and DELETE /api/public/files/session/{sessionId}: state, abort, expiry (DESIGN §2.5)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.gale import (
    ISO_MS_RE,
    complete,
    complete_ok,
    error,
    send_all,
    send_multipart,
    send_raw,
    session_state,
    sha256,
    split,
    start,
    wait_job,
)
from tests.live_server import LiveServer

EXPIRY_WAIT_SECONDS = 60.0


def session_url(sid: str) -> str:
    return f"/api/public/files/session/{sid}"


def test_state_of_a_new_session(api: httpx.Client) -> None:
    s = start(api, b"x" * 30, "tar.gz", 3)
    state = session_state(api, s["sessionId"])
    assert state["sessionId"] == s["sessionId"]
    assert state["status"] == "OPEN"
    assert state["totalChunks"] == 3 and type(state["totalChunks"]) is int
    assert state["fileSize"] == 30 and type(state["fileSize"]) is int
    assert state["expirationDate"] == s["expirationDate"]
    assert ISO_MS_RE.match(state["expirationDate"])
    assert state["receivedChunks"] == []
    assert state["receivedBytes"] == 0
    assert state["modelId"] == s["modelId"]


def test_state_shows_received_chunks_and_bytes(api: httpx.Client) -> None:
    data = bytes(range(256)) * 4
    pieces = split(data, 4)
    sid = start(api, data, "tar", 4)["sessionId"]
    assert send_raw(api, sid, 3, pieces[3]).status_code == 200
    assert send_multipart(api, sid, 1, pieces[1]).status_code == 200
    state = session_state(api, sid)
    assert state["receivedChunks"] == [
        {"chunkNumber": 1, "size": len(pieces[1]), "sha256": sha256(pieces[1])},
        {"chunkNumber": 3, "size": len(pieces[3]), "sha256": sha256(pieces[3])},
    ]
    assert state["receivedBytes"] == len(pieces[1]) + len(pieces[3])
    assert state["status"] == "OPEN"


def test_state_after_complete_is_completed(api: httpx.Client, tiny_tar: bytes) -> None:
    sid = start(api, tiny_tar, "tar", 2)["sessionId"]
    send_all(api, sid, split(tiny_tar, 2))
    done = complete_ok(api, sid)
    state = session_state(api, sid)
    assert state["status"] == "COMPLETED"
    assert state["dockStatusId"] == done["dockStatusId"]
    wait_job(api, done["dockStatusId"])


def test_abort_then_chunk_and_complete_are_410(api: httpx.Client) -> None:
    data = b"x" * 30
    sid = start(api, data, "tar", 3)["sessionId"]
    assert send_raw(api, sid, 0, data[:10]).status_code == 200
    r = api.delete(session_url(sid))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ABORTED"
    state = session_state(api, sid)
    assert state["status"] == "ABORTED"
    assert state["receivedChunks"] == [] and state["receivedBytes"] == 0
    error(send_raw(api, sid, 1, data[10:20]), 410, "SESSION_ABORTED")
    error(send_multipart(api, sid, 1, data[10:20]), 410, "SESSION_ABORTED")
    error(complete(api, sid), 410, "SESSION_ABORTED")


def test_abort_after_complete_is_409(api: httpx.Client, tiny_tar: bytes) -> None:
    sid = start(api, tiny_tar, "tar", 1)["sessionId"]
    send_all(api, sid, [tiny_tar])
    done = complete_ok(api, sid)
    error(api.delete(session_url(sid)), 409, "SESSION_COMPLETED")
    wait_job(api, done["dockStatusId"])


def test_unknown_session_is_404(api: httpx.Client) -> None:
    error(api.get(session_url("00000000-0000-4000-8000-000000000000")), 404, "NOT_FOUND")
    error(api.delete(session_url("00000000-0000-4000-8000-000000000000")), 404, "NOT_FOUND")


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose sessions expire one second after start."""
    data_dir: Path = tmp_path_factory.mktemp("short-lived") / "data"
    srv = LiveServer(data_dir, env={"WEIGHBRIDGE_SESSION_TTL_SECONDS": "1"}).start()
    yield srv
    srv.stop()


def test_expired_session_answers_410(short_lived: LiveServer) -> None:
    key = short_lived.create_key("expiry", account="expiry")
    with httpx.Client(base_url=short_lived.url, headers={"X-api-key": key}, timeout=30) as api:
        data = b"x" * 20
        sid = start(api, data, "tar", 2)["sessionId"]
        deadline = time.monotonic() + EXPIRY_WAIT_SECONDS
        while session_state(api, sid)["status"] != "EXPIRED":
            assert time.monotonic() < deadline, "the session never expired"
            time.sleep(0.2)
        error(send_raw(api, sid, 0, data[:10]), 410, "SESSION_EXPIRED")
        error(complete(api, sid), 410, "SESSION_EXPIRED")
