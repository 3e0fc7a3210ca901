"""Out of storage, dead clients and session caps: refused cleanly, nothing half-kept."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import gale
from tests.live_server import LiveServer

IDLE_SECONDS = 1


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path_factory.mktemp("strict") / "data", env={
        "WEIGHBRIDGE_CHUNK_IDLE_TIMEOUT_SECONDS": str(IDLE_SECONDS),
        "WEIGHBRIDGE_MAX_OPEN_SESSIONS_PER_ACCOUNT": "2"}).start()
    yield srv
    srv.stop()


def client(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-api-key": key}, timeout=30)


def stored_files(server: LiveServer, sid: str) -> list[Path]:
    folder = server.data_dir / "blobs" / "sessions" / sid
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_open_sessions_per_account_are_capped(strict_server: LiveServer) -> None:
    with client(strict_server, strict_server.create_key("cap")) as api:
        first = gale.start(api, b"a" * 10, "safetensors", 1)["sessionId"]
        gale.start(api, b"a" * 10, "safetensors", 1)
        r = api.post("/api/public/files/session/start", json={
            "fileContext": "model", "totalChunks": 1, "fileExtension": "safetensors",
            "fileName": "m.safetensors", "fileSize": 10})
        assert r.status_code == 429, r.text
        assert r.json()["errors"][0]["code"] == "TOO_MANY_SESSIONS"
        assert api.delete(f"/api/public/files/session/{first}").status_code == 200
        gale.start(api, b"a" * 10, "safetensors", 1)


def test_a_client_that_stalls_mid_chunk_is_cut_off_and_holds_nothing(
        strict_server: LiveServer) -> None:
    key = strict_server.create_key("stall")
    with client(strict_server, key) as api:
        sid = gale.start(api, b"z" * 1000, "safetensors", 1)["sessionId"]
    with socket.create_connection(("127.0.0.1", strict_server.port)) as sock:
        sock.sendall((f"POST /api/public/files/session/{sid}?chunkNumber=0 HTTP/1.1\r\n"
                      f"Host: 127.0.0.1\r\nX-api-key: {key}\r\n"
                      "Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n"
                      ).encode() + b"z" * 300)
        sock.settimeout(IDLE_SECONDS + 20)
        answer = ""
        while "CHUNK_TIMEOUT" not in answer and (piece := sock.recv(4096)):
            answer += piece.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 408"), answer
    assert "CHUNK_TIMEOUT" in answer
    with client(strict_server, key) as api:
        state = api.get(f"/api/public/files/session/{sid}").json()
    assert state["receivedChunks"] == []
    assert stored_files(strict_server, sid) == []


def test_out_of_storage_answers_507_keeps_nothing_and_the_session_goes_on(
        tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # A free-space reserve larger than any disk: every chunk write finds the disk "full".
    full = LiveServer(data_dir, env={"WEIGHBRIDGE_MIN_FREE_BYTES": str(2**62)}).start()
    try:
        key = full.create_key("space")
        with client(full, key) as api:
            sid = gale.start(api, b"q" * 2000, "safetensors", 2)["sessionId"]
            assert gale.send_raw(api, sid, 0, b"q" * 1000).status_code == 507
            r = gale.send_raw(api, sid, 0, b"q" * 1000)
            assert r.status_code == 507
            assert r.json()["errors"][0]["code"] == "OUT_OF_STORAGE"
            assert api.get(f"/api/public/files/session/{sid}").json()["receivedChunks"] == []
        assert stored_files(full, sid) == []
    finally:
        full.stop()

    # Space is free again: the same session takes its chunks.
    roomy = LiveServer(data_dir, env={"WEIGHBRIDGE_MIN_FREE_BYTES": "0"}).start()
    try:
        with client(roomy, key) as api:
            for i in range(2):
                assert gale.send_raw(api, sid, i, b"q" * 1000).status_code == 200
            state = api.get(f"/api/public/files/session/{sid}").json()
            assert state["receivedBytes"] == 2000
    finally:
        roomy.stop()



def test_the_minimum_chunk_size_applies_to_every_chunk_but_the_last(tmp_path: Path) -> None:
    srv = LiveServer(tmp_path / "data", env={"WEIGHBRIDGE_MIN_CHUNK_SIZE_BYTES": "100"}).start()
    try:
        with client(srv, srv.create_key("min")) as api:
            assert api.get("/api/public/limits").json()["minChunkSize"] == 100
            sid = gale.start(api, b"m" * 150, "safetensors", 2)["sessionId"]
            r = gale.send_raw(api, sid, 0, b"m" * 50)
            assert r.status_code == 400 and "at least 100" in r.json()["errors"][0]["msg"]
            assert gale.send_raw(api, sid, 0, b"m" * 100).status_code == 200
            assert gale.send_raw(api, sid, 1, b"m" * 50).status_code == 200  # the last one
    finally:
        srv.stop()
