"""Expiry and abort free storage: the sweeper deletes chunks of sessions that ended."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import gale
from tests.live_server import LiveServer

TTL_SECONDS = 3


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path_factory.mktemp("sweep") / "data", env={
        "WEIGHBRIDGE_SESSION_TTL_SECONDS": str(TTL_SECONDS),
        "WEIGHBRIDGE_SWEEP_INTERVAL_SECONDS": "0.3"}).start()
    yield srv
    srv.stop()


@pytest.fixture
def fast_api(fast_server: LiveServer) -> Iterator[httpx.Client]:
    key = fast_server.create_key("sweep")
    with httpx.Client(base_url=fast_server.url, headers={"X-api-key": key}, timeout=30) as c:
        yield c


def session_files(server: LiveServer, sid: str) -> list[Path]:
    folder = server.data_dir / "blobs" / "sessions" / sid
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def wait_until(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.1)
    return False


def test_expired_session_refuses_chunks_and_its_storage_is_freed(
        fast_server: LiveServer, fast_api: httpx.Client) -> None:
    data = b"x" * 1000
    sid = gale.start(fast_api, data, "safetensors", 2)["sessionId"]
    assert gale.send_raw(fast_api, sid, 0, data[:500]).status_code == 200
    assert len(session_files(fast_server, sid)) == 1

    assert wait_until(lambda: fast_api.get(f"/api/public/files/session/{sid}").json()["status"]
                      == "EXPIRED", TTL_SECONDS + 10)
    r = gale.send_raw(fast_api, sid, 1, data[500:])
    assert r.status_code == 410, r.text
    assert r.json()["errors"][0]["code"] == "SESSION_EXPIRED"
    assert gale.complete(fast_api, sid).status_code == 410
    assert wait_until(lambda: not session_files(fast_server, sid), 10)
    assert fast_api.get(f"/api/public/files/session/{sid}").json()["receivedChunks"] == []


def test_abort_frees_chunks_at_once(fast_server: LiveServer, fast_api: httpx.Client) -> None:
    data = b"y" * 1000
    sid = gale.start(fast_api, data, "safetensors", 2)["sessionId"]
    assert gale.send_raw(fast_api, sid, 0, data[:500]).status_code == 200
    assert session_files(fast_server, sid)
    r = fast_api.delete(f"/api/public/files/session/{sid}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ABORTED"
    assert not session_files(fast_server, sid)
    r = gale.send_raw(fast_api, sid, 1, data[500:])
    assert r.status_code == 410
    assert r.json()["errors"][0]["code"] == "SESSION_ABORTED"
