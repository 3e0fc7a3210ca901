"""POST /api/public/files/session/{sessionId}: one chunk, in either form (DESIGN §2.2)."""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.gale import (
    complete,
    complete_ok,
    error,
    send,
    send_all,
    send_multipart,
    send_raw,
    session_state,
    sha256,
    split,
    start,
    wait_job,
)

FORMS = ["raw", "multipart"]


def chunk_url(sid: str) -> str:
    return f"/api/public/files/session/{sid}"


def multipart_body(parts: list[tuple[str, bytes, bool]]) -> tuple[bytes, str]:
    """A hand-made multipart body: (name, value, is_file) parts in the order given."""
    boundary = f"b-{uuid.uuid4().hex}"
    out = b""
    for name, value, is_file in parts:
        out += f"--{boundary}\r\n".encode()
        if is_file:
            out += (f'Content-Disposition: form-data; name="{name}"; filename="blob"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n").encode()
        else:
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def received(api: httpx.Client, sid: str) -> dict[int, dict[str, Any]]:
    return {c["chunkNumber"]: c for c in session_state(api, sid)["receivedChunks"]}


@pytest.mark.parametrize("form", FORMS)
def test_chunk_answer_has_number_and_session(api: httpx.Client, form: str) -> None:
    data = b"x" * 30
    sid = start(api, data, "tar", 3)["sessionId"]
    r = send(api, sid, 2, data[20:], form)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["chunkNumber"] == 2 and type(body["chunkNumber"]) is int, body
    assert body["sessionId"] == sid
    assert received(api, sid)[2]["size"] == 10


def test_chunks_out_of_order_and_in_parallel_make_the_right_file(api: httpx.Client,
                                                                 tiny_tar: bytes) -> None:
    n = 16
    pieces = split(tiny_tar, n)
    assert len(pieces) == n
    sid = start(api, tiny_tar, "tar", n)["sessionId"]
    order = list(range(n))
    random.Random(7).shuffle(order)

    def put(i: int) -> httpx.Response:
        return send(api, sid, i, pieces[i], FORMS[i % 2])

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(put, order))
    assert [r.status_code for r in answers] == [200] * n, [r.text for r in answers]
    state = session_state(api, sid)
    assert [c["chunkNumber"] for c in state["receivedChunks"]] == list(range(n))
    assert [c["sha256"] for c in state["receivedChunks"]] == [sha256(p) for p in pieces]
    assert state["receivedBytes"] == len(tiny_tar)
    job = wait_job(api, complete_ok(api, sid)["dockStatusId"])
    assert job["status"] == "SUCCESS", job
    assert job["response"]["sha256"] == sha256(tiny_tar)


@pytest.mark.parametrize("form", FORMS)
def test_chunk_sent_again_replaces_the_first(api: httpx.Client, tiny_tar: bytes,
                                             form: str) -> None:
    pieces = split(tiny_tar, 4)
    sid = start(api, tiny_tar, "tar", 4)["sessionId"]
    wrong = bytes(255 - b for b in pieces[1])
    assert len(wrong) == len(pieces[1]) and wrong != pieces[1]
    assert send(api, sid, 1, wrong, form).status_code == 200
    assert received(api, sid)[1]["sha256"] == sha256(wrong)
    send_all(api, sid, pieces, form)
    state = session_state(api, sid)
    assert state["receivedBytes"] == len(tiny_tar)
    assert received(api, sid)[1]["sha256"] == sha256(pieces[1])
    job = wait_job(api, complete_ok(api, sid)["dockStatusId"])
    assert job["status"] == "SUCCESS", job
    assert job["response"]["sha256"] == sha256(tiny_tar)


def test_chunk_sent_again_with_another_size_replaces_the_first(api: httpx.Client) -> None:
    data = b"0123456789"
    sid = start(api, data, "tar", 2)["sessionId"]
    assert send_raw(api, sid, 0, b"01").status_code == 200
    assert send_raw(api, sid, 0, data[:5]).status_code == 200
    assert send_raw(api, sid, 1, data[5:]).status_code == 200
    state = session_state(api, sid)
    assert state["receivedBytes"] == 10
    assert [c["size"] for c in state["receivedChunks"]] == [5, 5]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("number", ["-1", "3", "4", "abc", "1.5", "", " ", "0x1", "1e0"])
def test_chunk_number_out_of_range_or_not_a_whole_number_is_400(api: httpx.Client, form: str,
                                                                number: str) -> None:
    data = b"x" * 30
    sid = start(api, data, "tar", 3)["sessionId"]
    if form == "raw":
        r = api.post(chunk_url(sid), params={"chunkNumber": number}, content=data[:10],
                     headers={"Content-Type": "application/octet-stream"})
    else:
        r = send_multipart(api, sid, number, data[:10])
    err = error(r, 400)
    assert "chunkNumber" in err["msg"], err
    assert session_state(api, sid)["receivedChunks"] == []


def test_chunk_number_missing_is_400_in_both_forms(api: httpx.Client) -> None:
    sid = start(api, b"x" * 30, "tar", 3)["sessionId"]
    r = api.post(chunk_url(sid), content=b"x" * 10,
                 headers={"Content-Type": "application/octet-stream"})
    assert "chunkNumber" in error(r, 400)["msg"]
    r = api.post(chunk_url(sid), files={"file": ("blob", b"x" * 10, "application/octet-stream")})
    assert "chunkNumber" in error(r, 400)["msg"]
    assert session_state(api, sid)["receivedChunks"] == []


@pytest.mark.parametrize("form", FORMS)
def test_empty_chunk_is_400(api: httpx.Client, form: str) -> None:
    sid = start(api, b"x" * 30, "tar", 3)["sessionId"]
    error(send(api, sid, 0, b"", form), 400)
    assert session_state(api, sid)["receivedChunks"] == []


@pytest.mark.parametrize("ctype", ["text/plain", "application/json",
                                   "application/x-www-form-urlencoded", "image/png"])
def test_unsupported_content_type_is_415(api: httpx.Client, ctype: str) -> None:
    sid = start(api, b"x" * 30, "tar", 3)["sessionId"]
    r = api.post(chunk_url(sid), params={"chunkNumber": 0}, content=b"x" * 10,
                 headers={"Content-Type": ctype})
    error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert session_state(api, sid)["receivedChunks"] == []


def test_multipart_without_a_file_part_is_400(api: httpx.Client) -> None:
    sid = start(api, b"x" * 30, "tar", 3)["sessionId"]
    body, ctype = multipart_body([("chunkNumber", b"0", False)])
    err = error(api.post(chunk_url(sid), content=body, headers={"Content-Type": ctype}), 400)
    assert "file" in err["msg"], err
    body, ctype = multipart_body([("chunkNumber", b"0", False), ("data", b"x" * 10, True)])
    error(api.post(chunk_url(sid), content=body, headers={"Content-Type": ctype}), 400)
    assert session_state(api, sid)["receivedChunks"] == []


def test_multipart_without_boundary_or_malformed_is_400(api: httpx.Client) -> None:
    sid = start(api, b"x" * 30, "tar", 3)["sessionId"]
    r = api.post(chunk_url(sid), content=b"whatever",
                 headers={"Content-Type": "multipart/form-data"})
    error(r, 400)
    r = api.post(chunk_url(sid), content=b"this is not multipart at all",
                 headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    error(r, 400)
    assert session_state(api, sid)["receivedChunks"] == []


def test_multipart_fields_may_come_after_the_file(api: httpx.Client) -> None:
    sid = start(api, b"x" * 30, "tar", 3)["sessionId"]
    body, ctype = multipart_body([("file", b"y" * 10, True), ("chunkNumber", b"1", False)])
    r = api.post(chunk_url(sid), content=body, headers={"Content-Type": ctype})
    assert r.status_code == 200, r.text
    assert r.json()["chunkNumber"] == 1
    assert received(api, sid)[1]["sha256"] == sha256(b"y" * 10)


def test_multipart_with_two_file_parts_is_400(api: httpx.Client) -> None:
    sid = start(api, b"x" * 30, "tar", 3)["sessionId"]
    body, ctype = multipart_body([("chunkNumber", b"0", False), ("file", b"a" * 10, True),
                                  ("file", b"b" * 10, True)])
    error(api.post(chunk_url(sid), content=body, headers={"Content-Type": ctype}), 400)
    assert session_state(api, sid)["receivedChunks"] == []


def test_gale_metadata_fields_matching_the_session_are_accepted(api: httpx.Client) -> None:
    data = b"x" * 30
    sid = start(api, data, "tar", 3)["sessionId"]
    r = send_multipart(api, sid, 0, data[:10], fileContext="model", totalChunks=3,
                       fileExtension=".TAR", fileName="model.tar", fileSize=30)
    assert r.status_code == 200, r.text
    assert list(received(api, sid)) == [0]


@pytest.mark.parametrize(("field", "value"), [
    ("fileContext", "dataset"), ("totalChunks", 4), ("totalChunks", "three"),
    ("fileExtension", "zip"), ("fileName", "other.tar"), ("fileSize", 31),
])
def test_gale_metadata_fields_not_matching_the_session_are_400(api: httpx.Client, field: str,
                                                               value: Any) -> None:
    data = b"x" * 30
    sid = start(api, data, "tar", 3)["sessionId"]
    err = error(send_multipart(api, sid, 0, data[:10], **{field: value}), 400)
    assert field in err["msg"], err
    assert session_state(api, sid)["receivedChunks"] == []


@pytest.mark.parametrize("form", FORMS)
def test_chunk_sha256_header_is_verified(api: httpx.Client, form: str) -> None:
    data = b"abcdefghij" * 3
    sid = start(api, data, "tar", 3)["sessionId"]
    piece = data[:10]

    def post(digest: str) -> httpx.Response:
        if form == "raw":
            return send_raw(api, sid, 0, piece, sha256=digest)
        return api.post(chunk_url(sid), data={"chunkNumber": "0"},
                        files={"file": ("blob", piece, "application/octet-stream")},
                        headers={"X-Chunk-Sha256": digest})

    err = error(post(sha256(b"something else")), 400)
    assert "sha256" in err["msg"].lower(), err
    assert session_state(api, sid)["receivedChunks"] == []
    r = post(sha256(piece).upper())
    assert r.status_code == 200, r.text
    assert received(api, sid)[0]["sha256"] == sha256(piece)


def test_refused_chunk_leaves_the_earlier_copy_intact(api: httpx.Client) -> None:
    data = b"abcdefghij" * 3
    sid = start(api, data, "tar", 3)["sessionId"]
    assert send_raw(api, sid, 0, data[:10]).status_code == 200
    error(send_raw(api, sid, 0, b"z" * 10, sha256=sha256(b"not z")), 400)
    error(send_raw(api, sid, 0, b""), 400)
    assert received(api, sid)[0]["sha256"] == sha256(data[:10])
    assert session_state(api, sid)["receivedBytes"] == 10


def test_with_chunk_size_every_chunk_but_the_last_has_exactly_that_size(
        api: httpx.Client) -> None:
    data = bytes(range(100))
    sid = start(api, data, "tar", 3, chunkSize=40)["sessionId"]
    err = error(send_raw(api, sid, 0, data[:39]), 400)
    assert "chunkSize" in err["msg"] or "40" in err["msg"], err
    error(send_raw(api, sid, 1, data[:41]), 400)
    error(send_raw(api, sid, 2, data[80:99]), 400)  # the last chunk must be 20 bytes
    assert session_state(api, sid)["receivedChunks"] == []
    for i, piece in enumerate([data[:40], data[40:80], data[80:]]):
        assert send_raw(api, sid, i, piece).status_code == 200
    assert session_state(api, sid)["receivedBytes"] == 100


@pytest.mark.parametrize("form", FORMS)
def test_chunk_larger_than_the_file_is_413(api: httpx.Client, form: str) -> None:
    sid = start(api, b"x" * 10, "tar", 2)["sessionId"]
    error(send(api, sid, 0, b"x" * 11, form), 413, "TOO_LARGE")
    assert session_state(api, sid)["receivedChunks"] == []


def test_chunk_pushing_the_total_past_file_size_is_413(api: httpx.Client) -> None:
    sid = start(api, b"x" * 10, "tar", 2)["sessionId"]
    assert send_raw(api, sid, 0, b"x" * 8).status_code == 200
    error(send_raw(api, sid, 1, b"y" * 8), 413, "TOO_LARGE")
    state = session_state(api, sid)
    assert [c["chunkNumber"] for c in state["receivedChunks"]] == [0]
    assert state["receivedBytes"] == 8
    # Replacing chunk 0 by a smaller one makes room again.
    assert send_raw(api, sid, 0, b"x" * 2).status_code == 200
    assert send_raw(api, sid, 1, b"y" * 8).status_code == 200
    assert session_state(api, sid)["receivedBytes"] == 10


@pytest.mark.parametrize("form", FORMS)
def test_chunk_after_complete_is_409(api: httpx.Client, tiny_tar: bytes, form: str) -> None:
    sid = start(api, tiny_tar, "tar", 2)["sessionId"]
    send_all(api, sid, split(tiny_tar, 2))
    complete_ok(api, sid)
    error(send(api, sid, 0, split(tiny_tar, 2)[0], form), 409, "SESSION_COMPLETED")


@pytest.mark.parametrize("sid", [str(uuid.uuid4()), "not-a-session", "0"])
def test_chunk_for_an_unknown_session_is_404(api: httpx.Client, sid: str) -> None:
    error(send_raw(api, sid, 0, b"x"), 404, "NOT_FOUND")
    error(complete(api, sid), 404, "NOT_FOUND")


def test_same_chunk_sent_in_parallel_keeps_exactly_one_copy(api: httpx.Client) -> None:
    data = b"x" * 4000
    sid = start(api, data, "tar", 2)["sessionId"]
    variants = [bytes([65 + i]) * 2000 for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda v: send_raw(api, sid, 0, v), variants))
    assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers]
    state = session_state(api, sid)
    assert [c["chunkNumber"] for c in state["receivedChunks"]] == [0]
    assert state["receivedChunks"][0]["sha256"] in {sha256(v) for v in variants}
    assert state["receivedBytes"] == 2000
