"""Plain-file sessions (DESIGN §2.8): stored as sent, downloadable with Range."""

from __future__ import annotations

import hashlib

import httpx

from tests.api import gale


def plain_upload(api: httpx.Client, data: bytes, n: int, context: str = "dataset"
                 ) -> httpx.Response:
    r = api.post("/api/public/files/session/start", json={
        "fileContext": context, "totalChunks": n, "fileExtension": ".CSV",
        "fileName": "rows.csv", "fileSize": len(data)})
    assert r.status_code == 200, r.text
    sid = r.json()["sessionId"]
    for i, piece in enumerate(gale.split(data, n)):
        assert gale.send_multipart(api, sid, i, piece).status_code == 200
    return gale.complete(api, sid)


def test_a_plain_file_is_stored_without_validation_and_downloads_whole(
        api: httpx.Client) -> None:
    data = hashlib.shake_256(b"rows").digest(300_001)  # not a model in any format
    r = plain_upload(api, data, 4)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fileId"].startswith("file-") and body["size"] == len(data)
    assert "dockStatusId" not in body
    got = api.get(body["url"])
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-length"] == str(len(data))
    sid = body["sessionId"]
    assert gale.complete(api, sid).json()["fileId"] == body["fileId"]  # idempotent


def test_plain_file_ranges_cross_chunk_boundaries(api: httpx.Client) -> None:
    data = bytes(range(256)) * 1000
    url = plain_upload(api, data, 3).json()["url"]
    boundary = -(-len(data) // 3)
    r = api.get(url, headers={"Range": f"bytes={boundary - 10}-{boundary + 9}"})
    assert r.status_code == 206 and r.content == data[boundary - 10:boundary + 10]
    r = api.get(url, headers={"Range": "bytes=5-"})
    assert r.content == data[5:]


def test_plain_files_belong_to_their_account(api: httpx.Client, other_api: httpx.Client
                                             ) -> None:
    url = plain_upload(api, b"secret,rows\n" * 10, 1).json()["url"]
    r = other_api.get(url)
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] == "NOT_FOUND"
    assert httpx.get(url).status_code == 401


def test_bad_plain_contexts_and_extensions_are_400(api: httpx.Client) -> None:
    for context, ext in (("my context", "csv"), ("dataset", "c/sv"), ("dataset", "")):
        r = api.post("/api/public/files/session/start", json={
            "fileContext": context, "totalChunks": 1, "fileExtension": ext,
            "fileName": "f.csv", "fileSize": 3})
        assert r.status_code == 400, (context, ext, r.text)
