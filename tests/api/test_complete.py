"""POST /api/public/files/session/{sessionId}/complete (DESIGN §2.3)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.gale import (
    DOCK_ID_RE,
    complete,
    complete_ok,
    error,
    send_all,
    send_raw,
    session_state,
    sha256,
    split,
    start,
    wait_job,
)


def complete_url(sid: str) -> str:
    return f"/api/public/files/session/{sid}/complete"


def test_complete_starts_the_import_and_answers_both_id_spellings(api: httpx.Client,
                                                                  tiny_tar: bytes) -> None:
    session = start(api, tiny_tar, "tar", 3)
    send_all(api, session["sessionId"], split(tiny_tar, 3))
    r = complete(api, session["sessionId"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"dock-statusId", "dockStatusId", "modelId", "jobType", "action",
            "status"} <= set(body), body
    assert isinstance(body["dockStatusId"], str) and DOCK_ID_RE.match(body["dockStatusId"])
    assert body["dock-statusId"] == body["dockStatusId"]
    assert body["modelId"] == session["modelId"]
    assert body["jobType"] == "MODELS"
    assert body["action"] == "IMPORT"
    assert body["status"] == "IN_PROGRESS"
    assert session_state(api, session["sessionId"])["status"] == "COMPLETED"
    assert session_state(api, session["sessionId"])["dockStatusId"] == body["dockStatusId"]
    assert wait_job(api, body["dockStatusId"])["status"] == "SUCCESS"


def test_complete_with_chunks_missing_is_409_listing_them(api: httpx.Client,
                                                          tiny_tar: bytes) -> None:
    pieces = split(tiny_tar, 5)
    sid = start(api, tiny_tar, "tar", 5)["sessionId"]
    err = error(complete(api, sid), 409, "UPLOAD_INCOMPLETE")
    assert err["missingChunks"] == [0, 1, 2, 3, 4]
    for i in (0, 2, 4):
        assert send_raw(api, sid, i, pieces[i]).status_code == 200
    err = error(complete(api, sid), 409, "UPLOAD_INCOMPLETE")
    assert err["missingChunks"] == [1, 3]
    assert all(type(n) is int for n in err["missingChunks"])
    assert session_state(api, sid)["status"] == "OPEN"
    for i in (1, 3):
        assert send_raw(api, sid, i, pieces[i]).status_code == 200
    assert wait_job(api, complete_ok(api, sid)["dockStatusId"])["status"] == "SUCCESS"


def test_complete_twice_answers_the_same_job(api: httpx.Client, tiny_tar: bytes) -> None:
    sid = start(api, tiny_tar, "tar", 2)["sessionId"]
    send_all(api, sid, split(tiny_tar, 2))
    first = complete_ok(api, sid)
    second = complete_ok(api, sid)
    assert second["dockStatusId"] == first["dockStatusId"]
    assert second["dock-statusId"] == first["dockStatusId"]
    assert second["modelId"] == first["modelId"]
    wait_job(api, first["dockStatusId"])
    third = complete_ok(api, sid)  # after the job ended, too
    assert third["dockStatusId"] == first["dockStatusId"]


def test_complete_when_sizes_do_not_add_up_is_409(api: httpx.Client) -> None:
    sid = start(api, b"x" * 10, "tar", 2)["sessionId"]
    assert send_raw(api, sid, 0, b"x" * 3).status_code == 200
    assert send_raw(api, sid, 1, b"x" * 3).status_code == 200
    err = error(complete(api, sid), 409)
    assert err["code"] == "SIZE_MISMATCH"
    assert "10" in err["msg"] and "6" in err["msg"], err
    assert session_state(api, sid)["status"] == "OPEN"


def test_complete_body_with_matching_session_fields_is_accepted(api: httpx.Client,
                                                                 tiny_tar: bytes) -> None:
    sid = start(api, tiny_tar, "tar", 2)["sessionId"]
    send_all(api, sid, split(tiny_tar, 2))
    r = api.post(complete_url(sid), json={
        "fileContext": "model", "totalChunks": 2, "fileExtension": "tar",
        "fileName": "model.tar", "fileSize": len(tiny_tar)})
    assert r.status_code == 200, r.text
    assert wait_job(api, r.json()["dockStatusId"])["status"] == "SUCCESS"


@pytest.mark.parametrize(("field", "value"), [
    ("fileContext", "dataset"), ("totalChunks", 3), ("fileExtension", "zip"),
    ("fileName", "other.tar"), ("fileSize", 1),
])
def test_complete_body_with_other_session_fields_is_400(api: httpx.Client, tiny_tar: bytes,
                                                        field: str, value: Any) -> None:
    sid = start(api, tiny_tar, "tar", 2)["sessionId"]
    send_all(api, sid, split(tiny_tar, 2))
    err = error(api.post(complete_url(sid), json={field: value}), 400)
    assert field in err["msg"], err
    assert session_state(api, sid)["status"] == "OPEN"


@pytest.mark.parametrize("raw", [b"{oops", b"[]", b'"x"'])
def test_complete_body_that_is_not_a_json_object_is_400(api: httpx.Client, raw: bytes) -> None:
    sid = start(api, b"x" * 10, "tar", 1)["sessionId"]
    assert send_raw(api, sid, 0, b"x" * 10).status_code == 200
    error(api.post(complete_url(sid), content=raw,
                   headers={"Content-Type": "application/json"}), 400)
    assert session_state(api, sid)["status"] == "OPEN"


def test_complete_with_an_empty_json_object_is_accepted(api: httpx.Client,
                                                        tiny_tar: bytes) -> None:
    sid = start(api, tiny_tar, "tar", 1)["sessionId"]
    send_all(api, sid, [tiny_tar])
    r = api.post(complete_url(sid), json={})
    assert r.status_code == 200, r.text


def test_parallel_completes_answer_one_job(api: httpx.Client, tiny_tar: bytes) -> None:
    sid = start(api, tiny_tar, "tar", 2)["sessionId"]
    send_all(api, sid, split(tiny_tar, 2))
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: complete(api, sid), range(8)))
    assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers]
    ids = {r.json()["dockStatusId"] for r in answers}
    assert len(ids) == 1, ids
    assert wait_job(api, ids.pop())["status"] == "SUCCESS"


@pytest.mark.parametrize("attempt", range(5))
def test_last_chunk_racing_complete_is_all_or_nothing(api: httpx.Client, tiny_tar: bytes,
                                                      attempt: int) -> None:
    pieces = split(tiny_tar, 3)
    sid = start(api, tiny_tar, "tar", 3)["sessionId"]
    send_all(api, sid, pieces[:2])
    with ThreadPoolExecutor(max_workers=2) as pool:
        chunk = pool.submit(send_raw, api, sid, 2, pieces[2])
        done = pool.submit(complete, api, sid)
        chunk_r, done_r = chunk.result(), done.result()
    if done_r.status_code == 200:
        # complete saw the chunk, so the chunk was recorded before it; the job has it all.
        assert chunk_r.status_code == 200, chunk_r.text
        job = wait_job(api, done_r.json()["dockStatusId"])
    else:
        assert error(done_r, 409, "UPLOAD_INCOMPLETE")["missingChunks"] == [2]
        if chunk_r.status_code != 200:  # refused because complete won: impossible here
            raise AssertionError(f"both refused: {chunk_r.text} / {done_r.text}")
        job = wait_job(api, complete_ok(api, sid)["dockStatusId"])
    assert job["status"] == "SUCCESS", job
    assert job["response"]["sha256"] == sha256(tiny_tar)
