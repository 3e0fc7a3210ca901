"""Model export and deletion over HTTP: the tar download (with Range), content-addressed
storage shared between models, and deletes that never take a shared file away."""

from __future__ import annotations

import hashlib
import io
import tarfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import gale
from tests.builders import (
    json_bytes,
    members,
    safetensors_bytes,
    tar_bytes,
    tiny_model,
    tiny_tensors,
)
from tests.live_server import LiveServer


def import_files(api: httpx.Client, files: dict[str, bytes], name: str) -> dict[str, Any]:
    status = gale.upload(api, tar_bytes(members(files, top=name)), "tar", 2, name=name)
    assert status["status"] == "SUCCESS", status
    return dict(status["response"])


def run_job(api: httpx.Client, r: httpx.Response, action: str) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.json()["action"] == action
    return gale.wait_job(api, r.json()["dockStatusId"])


def export(api: httpx.Client, model_id: str) -> dict[str, Any]:
    status = run_job(api, api.post(f"/api/public/models/{model_id}/export"), "EXPORT")
    assert status["status"] == "SUCCESS", status
    return dict(status["response"])


def untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def object_files(server: LiveServer) -> list[Path]:
    root = server.data_dir / "blobs" / "objects"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_export_streams_a_tar_with_the_model_files(api: httpx.Client) -> None:
    files = tiny_model()
    model = import_files(api, files, "exported")
    info = export(api, model["modelId"])
    assert info["fileName"] == "exported.tar"
    r = api.get(info["downloadUrl"])
    assert r.status_code == 200
    assert r.headers["accept-ranges"] == "bytes"
    assert int(r.headers["content-length"]) == info["sizeBytes"] == len(r.content)
    got = untar(r.content)
    assert got == {f"exported/{k}": v for k, v in files.items()}


def test_range_requests_resume_in_the_middle_of_the_tar(api: httpx.Client) -> None:
    model = import_files(api, tiny_model(), "ranged")
    info = export(api, model["modelId"])
    full = api.get(info["downloadUrl"])
    etag = full.headers["etag"]
    middle = len(full.content) // 2 + 7
    r = api.get(info["downloadUrl"], headers={"Range": f"bytes={middle}-", "If-Range": etag})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {middle}-{len(full.content) - 1}/" \
                                         f"{len(full.content)}"
    assert full.content[:middle] + r.content == full.content
    r = api.get(info["downloadUrl"], headers={"Range": "bytes=100-611"})
    assert r.status_code == 206 and r.content == full.content[100:612]
    r = api.get(info["downloadUrl"], headers={"Range": "bytes=-10"})
    assert r.content == full.content[-10:]
    stale = api.get(info["downloadUrl"], headers={"Range": "bytes=10-", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == full.content
    r = api.get(info["downloadUrl"], headers={"Range": f"bytes={len(full.content)}-"})
    assert r.status_code == 416
    assert r.json()["errors"][0]["code"] == "RANGE_NOT_SATISFIABLE"


def test_export_then_reimport_gives_the_same_file_hashes(api: httpx.Client,
                                                         minilm_tar: bytes) -> None:
    status = gale.upload(api, minilm_tar, "tar", 3, name="minilm-roundtrip")
    model = status["response"]
    info = export(api, model["modelId"])
    exported = api.get(info["downloadUrl"]).content
    again = gale.upload(api, exported, "tar", 2)
    assert again["status"] == "SUCCESS", again
    assert again["response"]["files"] == model["files"]
    assert again["response"]["parameterCount"] == 22_713_728


def test_identical_files_are_stored_once_and_outlive_one_model(
        server: LiveServer, api: httpx.Client) -> None:
    nonce = uuid.uuid4().hex  # content no other test has stored
    shared = json_bytes({"architectures": ["SharedArch"], "model_type": "shared", "n": nonce})
    first = {"config.json": shared,
             "model.safetensors": safetensors_bytes(tiny_tensors(seed=int(nonce[:8], 16))),
             "tokenizer.json": json_bytes({"version": nonce})}
    second = dict(first)
    second["extra.txt"] = b"only in the second model"
    before = set(object_files(server))
    a = import_files(api, first, "share-a")
    b = import_files(api, second, "share-b")
    added = set(object_files(server)) - before
    # second adds only its one new file: everything else is stored once for both models
    assert len(added) == len(first) + 1
    sha_shared = hashlib.sha256(shared).hexdigest()
    assert any(p.name == sha_shared for p in added)

    status = run_job(api, api.delete(f"/api/public/models/{a['modelId']}"), "DELETE")
    assert status["status"] == "SUCCESS", status
    assert api.get(f"/api/public/models/{a['modelId']}").status_code == 404
    assert any(p.name == sha_shared for p in object_files(server))
    info = export(api, b["modelId"])
    assert untar(api.get(info["downloadUrl"]).content) == {f"share-b/{k}": v
                                                          for k, v in second.items()}

    status = run_job(api, api.delete(f"/api/public/models/{b['modelId']}"), "DELETE")
    assert status["status"] == "SUCCESS"
    assert set(object_files(server)) - before == set()


def test_delete_during_a_download_never_sends_wrong_bytes(api: httpx.Client) -> None:
    files = tiny_model()
    files["big.bin"] = hashlib.shake_256(b"big").digest(24 * 1024 * 1024)
    model = import_files(api, files, "doomed")
    info = export(api, model["modelId"])
    expected = api.get(info["downloadUrl"]).content
    received = bytearray()
    failed = False
    try:
        with api.stream("GET", info["downloadUrl"]) as r:
            pieces = r.iter_raw(64 * 1024)
            received += next(pieces)
            status = run_job(api, api.delete(f"/api/public/models/{model['modelId']}"), "DELETE")
            assert status["status"] == "SUCCESS"
            for piece in pieces:
                received += piece
    except httpx.HTTPError:
        failed = True
    assert bytes(received) == expected[:len(received)]
    assert failed or bytes(received) == expected
    r = api.get(info["downloadUrl"])
    assert r.status_code == 410, r.text



def test_models_list_filters_and_pages(api: httpx.Client, other_api: httpx.Client) -> None:
    for i in range(3):
        import_files(api, tiny_model(), f"pager-{i}")
    r = api.get("/api/public/models", params={"name": "pager-", "limit": 2})
    body = r.json()
    assert r.status_code == 200 and body["total"] == 3 and len(body["models"]) == 2
    rest = api.get("/api/public/models", params={"name": "pager-", "limit": 2, "offset": 2})
    names = {m["name"] for m in body["models"] + rest.json()["models"]}
    assert names == {"pager-0", "pager-1", "pager-2"}
    assert api.get("/api/public/models", params={"name": "pager-", "isAdapter": "true"}
                   ).json()["total"] == 0
    assert api.get("/api/public/models", params={"name": "pager-", "format": "safetensors"}
                   ).json()["total"] == 3
    assert api.get("/api/public/models", params={"format": "onnx"}).status_code == 400
    assert other_api.get("/api/public/models", params={"name": "pager-"}).json()["total"] == 0


@pytest.mark.parametrize("route", ["export", "delete"])
def test_export_and_delete_of_unknown_or_foreign_models_are_404(
        api: httpx.Client, other_api: httpx.Client, route: str) -> None:
    model = import_files(api, tiny_model(), f"mine-{route}")
    call = (lambda c, mid: c.post(f"/api/public/models/{mid}/export")) if route == "export" \
        else (lambda c, mid: c.delete(f"/api/public/models/{mid}"))
    assert call(other_api, model["modelId"]).status_code == 404
    assert call(api, "cm-00000000-0000-0000-0000-000000000000").status_code == 404
    assert api.get(f"/api/public/models/{model['modelId']}").status_code == 200
