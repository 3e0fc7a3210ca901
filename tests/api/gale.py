"""A plain GALE client for the API tests: start, chunks (either form), complete, wait.

Deliberately independent of the SDK, so the server is tested as any client would use it.
"""

from __future__ import annotations

import hashlib
import io
import re
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


# ---------------------------------------------------------------------------------------
# Additions for the route-group tests: exact error shape, raw start, session helpers.

ERROR_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
ISO_MS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MODEL_ID_RE = re.compile(r"^cm-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DOCK_ID_RE = re.compile(r"^ds-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
START = "/api/public/files/session/start"


def error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert `r` is an error answer of DESIGN §2.7 with `status` (and `code`); return it.

    The shape is exactly {"errors": [{"code": "UPPER_SNAKE", "msg": "...", ...}, ...]}.
    """
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and list(body) == ["errors"], body
    errors = body["errors"]
    assert isinstance(errors, list) and errors, body
    for err in errors:
        assert isinstance(err, dict), body
        assert isinstance(err.get("code"), str) and ERROR_CODE_RE.match(err["code"]), body
        assert isinstance(err.get("msg"), str) and err["msg"].strip(), body
        assert "Traceback" not in err["msg"], body
    if code is not None:
        assert errors[0]["code"] == code, body
    return dict(errors[0])


def start_body(size: int = 100, n: int = 1, ext: str = "tar", **extra: Any) -> dict[str, Any]:
    """A valid start body; `extra` overrides or adds fields."""
    return {"fileContext": "model", "totalChunks": n, "fileExtension": ext,
            "fileName": f"model.{ext.lstrip('.')}", "fileSize": size, **extra}


def post_start(api: httpx.Client, body: Any, **headers: str) -> httpx.Response:
    return api.post(START, json=body, headers=headers)


def session_state(api: httpx.Client, sid: str) -> dict[str, Any]:
    r = api.get(f"/api/public/files/session/{sid}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def send(api: httpx.Client, sid: str, number: int, piece: bytes, form: str) -> httpx.Response:
    """Send one chunk in the `form` given: "raw" (octet-stream) or "multipart" (GALE)."""
    if form == "raw":
        return send_raw(api, sid, number, piece)
    assert form == "multipart", form
    return send_multipart(api, sid, number, piece)


def send_all(api: httpx.Client, sid: str, pieces: list[bytes], form: str = "raw") -> None:
    for i, piece in enumerate(pieces):
        r = send(api, sid, i, piece, form)
        assert r.status_code == 200, r.text


def complete_ok(api: httpx.Client, sid: str) -> dict[str, Any]:
    r = complete(api, sid)
    assert r.status_code == 200, r.text
    return dict(r.json())


def upload_session(api: httpx.Client, data: bytes, ext: str, n: int = 3, form: str = "raw",
                   **extra: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Upload `data` whole; return (start answer, complete answer, finished dock status)."""
    session = start(api, data, ext, n, **extra)
    send_all(api, session["sessionId"], split(data, n), form)
    done = complete_ok(api, session["sessionId"])
    return session, done, wait_job(api, done["dockStatusId"])


def get_model(api: httpx.Client, model_id: str) -> dict[str, Any]:
    r = api.get(f"/api/public/models/{model_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())
