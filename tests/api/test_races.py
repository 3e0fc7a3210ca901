"""Concurrency: racing uploads of one chunk, and a complete racing a chunk upload.

Plain-file sessions are used because their download returns exactly the stored chunks,
which makes "one whole chunk, never a mix" directly observable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.api import gale

SIZE = 2 * 1024 * 1024


def start_plain(api: httpx.Client, size: int, n: int) -> str:
    r = api.post("/api/public/files/session/start", json={
        "fileContext": "race", "totalChunks": n, "fileExtension": "bin",
        "fileName": "race.bin", "fileSize": size})
    assert r.status_code == 200, r.text
    return str(r.json()["sessionId"])


def slow_body(data: bytes, started: threading.Event, release: threading.Event
              ) -> Iterator[bytes]:
    yield data[:1024]
    started.set()
    assert release.wait(30)
    yield data[1024:]


def test_simultaneous_uploads_of_one_chunk_leave_one_whole_chunk(api: httpx.Client) -> None:
    variants = [bytes([i]) * SIZE for i in range(4)]
    for _ in range(5):
        sid = start_plain(api, SIZE, 1)
        with ThreadPoolExecutor(len(variants)) as pool:
            answers = list(pool.map(lambda d, s=sid: gale.send_raw(api, s, 0, d), variants))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        state = api.get(f"/api/public/files/session/{sid}").json()
        assert [c["chunkNumber"] for c in state["receivedChunks"]] == [0]
        body = gale.complete(api, sid).json()
        stored = api.get(body["url"]).content
        assert stored in variants  # exactly one upload's bytes, whole
        assert state["receivedChunks"][0]["sha256"] == gale.sha256(stored)


def test_complete_during_a_chunk_upload_never_uses_the_half_written_chunk(
        api: httpx.Client) -> None:
    old, new = b"o" * SIZE, b"n" * SIZE
    sid = start_plain(api, 2 * SIZE, 2)
    assert gale.send_raw(api, sid, 0, old).status_code == 200
    assert gale.send_raw(api, sid, 1, old).status_code == 200
    started, release = threading.Event(), threading.Event()
    result: dict[str, httpx.Response] = {}

    def replace_chunk_1() -> None:
        result["r"] = api.post(f"/api/public/files/session/{sid}", params={"chunkNumber": 1},
                               content=slow_body(new, started, release),
                               headers={"Content-Type": "application/octet-stream",
                                        "Content-Length": str(SIZE)})

    uploader = threading.Thread(target=replace_chunk_1)
    uploader.start()
    assert started.wait(30)
    time.sleep(0.2)  # let the server read the first piece; correctness does not depend on it
    done = gale.complete(api, sid)
    release.set()
    uploader.join(30)
    assert done.status_code == 200, done.text
    assert result["r"].status_code == 409, result["r"].text
    assert result["r"].json()["errors"][0]["code"] == "SESSION_COMPLETED"
    assert api.get(done.json()["url"]).content == old + old


def test_a_chunk_missing_at_complete_can_still_arrive_and_complete_then_succeeds(
        api: httpx.Client) -> None:
    sid = start_plain(api, 2 * SIZE, 2)
    assert gale.send_raw(api, sid, 0, b"a" * SIZE).status_code == 200
    started, release = threading.Event(), threading.Event()
    result: dict[str, httpx.Response] = {}

    def send_chunk_1() -> None:
        result["r"] = api.post(f"/api/public/files/session/{sid}", params={"chunkNumber": 1},
                               content=slow_body(b"b" * SIZE, started, release),
                               headers={"Content-Type": "application/octet-stream",
                                        "Content-Length": str(SIZE)})

    uploader = threading.Thread(target=send_chunk_1)
    uploader.start()
    assert started.wait(30)
    early = gale.complete(api, sid)
    release.set()
    uploader.join(30)
    assert early.status_code == 409 and early.json()["errors"][0]["missingChunks"] == [1]
    assert result["r"].status_code == 200
    done = gale.complete(api, sid)
    assert done.status_code == 200
    assert api.get(done.json()["url"]).content == b"a" * SIZE + b"b" * SIZE
