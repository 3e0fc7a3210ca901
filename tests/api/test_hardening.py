"""Hostile requests found by an attacker: each gets a clear 4xx and nothing stored suffers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.api import gale
from tests.builders import members, tar_bytes, tiny_model
from tests.live_server import LiveServer

START = "/api/public/files/session/start"


def code_of(r: httpx.Response) -> str:
    return str(r.json()["errors"][0]["code"])


def plain_start(api: httpx.Client, name: str, size: int, n: int = 1, **extra: object) -> str:
    r = api.post(START, json={"fileContext": "dataset", "totalChunks": n, "fileExtension": "txt",
                              "fileName": name, "fileSize": size, **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["sessionId"])


def test_a_huge_json_body_is_refused_before_it_is_read(server: LiveServer) -> None:
    big = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    for key in ("bogus", server.create_key("big")):
        r = httpx.post(server.url + START, content=big, timeout=30,
                       headers={"X-api-key": key, "Content-Type": "application/json"})
        assert r.status_code == 413 and code_of(r) == "TOO_LARGE", r.text

    def pieces() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"x": "'
        for _ in range(64):
            yield b"a" * 65536
        yield b'"}'

    r = httpx.post(server.url + START, content=pieces(), timeout=30,
                   headers={"X-api-key": "bogus", "Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert httpx.get(server.url + "/healthz").status_code == 200


@pytest.mark.parametrize("name", ["模型.txt", 'q"uote.txt', "pct%20.txt", "x\u00e9.txt"])
def test_any_file_name_downloads_with_an_encoded_content_disposition(api: httpx.Client,
                                                                     name: str) -> None:
    sid = plain_start(api, name, 3)
    assert gale.send_raw(api, sid, 0, b"abc").status_code == 200
    url = gale.complete(api, sid).json()["url"]
    r = api.get(url)
    assert r.status_code == 200 and r.content == b"abc"
    disposition = r.headers["content-disposition"]
    assert "filename*=UTF-8''" in disposition
    assert disposition.encode("latin-1").isascii()


@pytest.mark.parametrize("name", ["cr\rlf.txt", "del\x7f.txt", "ctl\x01.txt", "nul\x00.txt"])
def test_file_names_with_control_characters_are_400(api: httpx.Client, name: str) -> None:
    r = api.post(START, json={"fileContext": "dataset", "totalChunks": 1,
                              "fileExtension": "txt", "fileName": name, "fileSize": 3})
    assert r.status_code == 400 and code_of(r) == "INVALID_FIELD", r.text


@pytest.mark.parametrize("field", ["name", "baseModel"])
def test_nul_in_text_fields_is_400(api: httpx.Client, field: str) -> None:
    body = {"fileContext": "model", "totalChunks": 1, "fileExtension": "tar",
            "fileName": "m.tar", "fileSize": 3, field: "a\u0000b"}
    r = api.post(START, json=body)
    assert r.status_code == 400 and field in r.json()["errors"][0]["msg"], r.text
    assert api.get("/api/public/models", params={"name": "\x00"}).status_code == 400


def test_a_reused_idempotency_key_with_other_values_is_409(api: httpx.Client) -> None:
    body = {"fileContext": "model", "totalChunks": 1, "fileExtension": "tar",
            "fileName": "m.tar", "fileSize": 10}
    first = api.post(START, json=body, headers={"Idempotency-Key": "k-reuse"})
    again = api.post(START, json=body, headers={"Idempotency-Key": "k-reuse"})
    assert first.json()["sessionId"] == again.json()["sessionId"]
    other = api.post(START, json={**body, "fileSize": 11}, headers={"Idempotency-Key": "k-reuse"})
    assert other.status_code == 409 and code_of(other) == "IDEMPOTENCY_MISMATCH", other.text


def test_sha256_on_a_plain_file_is_refused_rather_than_silently_ignored(
        api: httpx.Client) -> None:
    r = api.post(START, json={"fileContext": "dataset", "totalChunks": 1, "fileExtension": "txt",
                              "fileName": "a.txt", "fileSize": 3, "sha256": "0" * 64})
    assert r.status_code == 400 and "X-Chunk-Sha256" in r.json()["errors"][0]["msg"]


def slow_chunk(api: httpx.Client, sid: str, data: bytes, started: threading.Event,
               release: threading.Event, out: dict[str, httpx.Response]) -> threading.Thread:
    def body() -> Iterator[bytes]:
        yield data[:5]
        started.set()
        assert release.wait(30)
        yield data[5:]

    def send() -> None:
        out["r"] = api.post(f"/api/public/files/session/{sid}", params={"chunkNumber": 0},
                            content=body(), headers={"Content-Type": "application/octet-stream",
                                                     "Content-Length": str(len(data))})

    thread = threading.Thread(target=send)
    thread.start()
    assert started.wait(30)
    return thread


def test_a_chunk_in_flight_when_the_session_is_aborted_gets_410(api: httpx.Client) -> None:
    sid = plain_start(api, "a.txt", 10)
    started, release, out = threading.Event(), threading.Event(), {}
    thread = slow_chunk(api, sid, b"0123456789", started, release, out)
    assert api.delete(f"/api/public/files/session/{sid}").status_code == 200
    release.set()
    thread.join(30)
    assert out["r"].status_code == 410 and code_of(out["r"]) == "SESSION_ABORTED", out["r"].text


def test_a_chunk_in_flight_while_its_session_is_imported_gets_409(api: httpx.Client) -> None:
    data = tar_bytes(members(tiny_model(), top="race"))
    session = gale.start(api, data, "tar", 1)
    sid = session["sessionId"]
    assert gale.send_raw(api, sid, 0, data).status_code == 200
    started, release, out = threading.Event(), threading.Event(), {}
    thread = slow_chunk(api, sid, data, started, release, out)
    done = gale.complete(api, sid)
    assert gale.wait_job(api, done.json()["dockStatusId"])["status"] == "SUCCESS"
    release.set()
    thread.join(30)
    assert out["r"].status_code == 409, out["r"].text
    assert code_of(out["r"]) == "SESSION_COMPLETED"


def test_multipart_bodies_must_be_whole_and_unambiguous(api: httpx.Client) -> None:
    sid = plain_start(api, "m.txt", 5)
    url = f"/api/public/files/session/{sid}"
    head = b'--B\r\nContent-Disposition: form-data; name="chunkNumber"\r\n\r\n0\r\n'
    file_part = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n01234'
    mp = {"Content-Type": "multipart/form-data; boundary=B"}
    r = api.post(url, content=head + file_part, headers=mp)  # no closing boundary
    assert r.status_code == 400, r.text
    r = api.post(url, content=head + head + file_part + b"\r\n--B--\r\n", headers=mp)
    assert r.status_code == 400 and "twice" in r.json()["errors"][0]["msg"], r.text
    r = api.post(url + "?chunkNumber=0", content=head + file_part + b"\r\n--B--\r\n", headers=mp)
    assert r.status_code == 400, r.text
    long = {"Content-Type": "multipart/form-data; boundary=" + "b" * 300}
    assert api.post(url, content=b"--", headers=long).status_code == 400
    assert api.get(f"/api/public/files/session/{sid}").json()["receivedChunks"] == []
    r = api.post(url, content=head + file_part + b"\r\n--B--\r\n", headers=mp)
    assert r.status_code == 200, r.text


def test_a_malformed_chunk_checksum_is_refused_before_the_body(api: httpx.Client) -> None:
    sid = plain_start(api, "c.txt", 3)
    r = api.post(f"/api/public/files/session/{sid}", params={"chunkNumber": 0}, content=b"abc",
                 headers={"Content-Type": "application/octet-stream",
                          "X-Chunk-Sha256": "xyz" * 1000})
    assert r.status_code == 400 and code_of(r) == "INVALID_FIELD"
    assert len(r.text) < 1000


def test_absurd_ranges_and_unsatisfiable_ones(api: httpx.Client) -> None:
    sid = plain_start(api, "r.txt", 3)
    assert gale.send_raw(api, sid, 0, b"abc").status_code == 200
    url = gale.complete(api, sid).json()["url"]
    r = api.get(url, headers={"Range": "bytes=0-" + "9" * 5000})
    assert r.status_code == 200 and r.content == b"abc"  # an unreadable Range is ignored
    r = api.get(url, headers={"Range": "bytes=3-"})
    assert r.status_code == 416 and r.headers["content-range"] == "bytes */3"


def test_sessions_can_be_listed_to_find_and_abort_stale_ones(api: httpx.Client,
                                                             other_api: httpx.Client) -> None:
    sid = plain_start(api, "stale.txt", 10, n=2)
    assert gale.send_raw(api, sid, 0, b"01234").status_code == 200
    listed = api.get("/api/public/files/session", params={"status": "OPEN"}).json()["sessions"]
    mine = [s for s in listed if s["sessionId"] == sid]
    assert mine and mine[0]["receivedBytes"] == 5 and mine[0]["status"] == "OPEN"
    theirs = other_api.get("/api/public/files/session").json()["sessions"]
    assert sid not in {s["sessionId"] for s in theirs}
    assert api.delete(f"/api/public/files/session/{sid}").status_code == 200
    aborted = api.get("/api/public/files/session", params={"status": "ABORTED"}).json()
    assert sid in {s["sessionId"] for s in aborted["sessions"]}


def test_a_client_hanging_up_mid_chunk_is_not_logged_as_a_server_error(
        server: LiveServer, api: httpx.Client, api_key: str) -> None:
    sid = plain_start(api, "gone.txt", 100)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall((f"POST /api/public/files/session/{sid}?chunkNumber=0 HTTP/1.1\r\n"
                      f"Host: x\r\nX-api-key: {api_key}\r\nContent-Length: 100\r\n"
                      "Content-Type: application/octet-stream\r\n\r\n").encode() + b"z" * 10)
    assert api.get(f"/api/public/files/session/{sid}").json()["receivedChunks"] == []
    assert "ClientDisconnect" not in server.log()
