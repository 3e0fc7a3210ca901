"""A plain GALE client for the API tests: start, chunks (either form), complete, wait.

Deliberately independent of the SDK, so the server is tested as any client would use it.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx

JOB_WAIT_SECONDS = 120.0


def tar_folder(folder: Path, top: str | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(folder, arcname=top or folder.name)
    return buf.getvalue()


def split(data: bytes, n: int) -> list[bytes]:
    size = -(-len(data) // n)
    return [data[i:i + size] for i in range(0, len(data), size)]


def start(api: httpx.Client, data: bytes, ext: str, n: int, **extra: Any) -> dict[str, Any]:
    body = {"fileContext": "model", "totalChunks": n, "fileExtension": ext,
            "fileName": f"model.{ext.lstrip('.')}", "fileSize": len(data), **extra}
    r = api.post("/api/public/files/session/start", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def send_raw(api: httpx.Client, sid: str, number: int, piece: bytes,
             sha256: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/octet-stream"}
    if sha256:
        headers["X-Chunk-Sha256"] = sha256
    return api.post(f"/api/public/files/session/{sid}", params={"chunkNumber": number},
                    content=piece, headers=headers)


def send_multipart(api: httpx.Client, sid: str, number: int | str, piece: bytes,
                   **fields: Any) -> httpx.Response:
    data = {"chunkNumber": str(number), **{k: str(v) for k, v in fields.items()}}
    return api.post(f"/api/public/files/session/{sid}", data=data,
                    files={"file": ("blob", piece, "application/octet-stream")})


def complete(api: httpx.Client, sid: str) -> httpx.Response:
    return api.post(f"/api/public/files/session/{sid}/complete")


def wait_job(api: httpx.Client, dock_status_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_WAIT_SECONDS
    while time.monotonic() < deadline:
        r = api.get(f"/api/public/dock-status/{dock_status_id}")
        assert r.status_code == 200, r.text
        status = r.json()
        if status["status"] != "IN_PROGRESS":
            return dict(status)
        time.sleep(0.1)
    raise AssertionError(f"job {dock_status_id} still IN_PROGRESS after {JOB_WAIT_SECONDS}s")


def upload(api: httpx.Client, data: bytes, ext: str, n: int = 3, form: str = "raw",
           **extra: Any) -> dict[str, Any]:
    """Upload `data` whole and return the finished dock status."""
    session = start(api, data, ext, n, **extra)
    for i, piece in enumerate(split(data, n)):
        r = (send_raw(api, session["sessionId"], i, piece) if form == "raw"
             else send_multipart(api, session["sessionId"], i, piece))
        assert r.status_code == 200, r.text
    r = complete(api, session["sessionId"])
    assert r.status_code == 200, r.text
    return wait_job(api, r.json()["dockStatusId"])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
