"""X-api-key on every route (401) and account scoping (404 for another account's things)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.gale import (
    complete,
    complete_ok,
    error,
    send_multipart,
    send_raw,
    session_state,
    split,
    start,
    start_body,
    upload_session,
    wait_job,
)
from tests.live_server import LiveServer


@dataclass
class Owned:
    """Things that belong to the `api_key` account: an open session, a job and a model."""

    open_sid: str
    done_sid: str
    dock_id: str
    model_id: str
    failed_dock_id: str
    export_dock_id: str
    download_url: str


@pytest.fixture(scope="module")
def owned(server: LiveServer, api_key: str, tiny_tar: bytes) -> Owned:
    with httpx.Client(base_url=server.url, headers={"X-api-key": api_key}, timeout=60) as api:
        open_sid = start(api, b"x" * 20, "tar", 2)["sessionId"]
        assert send_raw(api, open_sid, 0, b"x" * 10).status_code == 200
        session, done, job = upload_session(api, tiny_tar, "tar", 2)
        assert job["status"] == "SUCCESS", job
        _, failed, failed_job = upload_session(api, b"not a tar at all" * 40, "tar", 1)
        assert failed_job["status"] == "FAILED", failed_job
        r = api.post(f"/api/public/models/{session['modelId']}/export")
        assert r.status_code == 200, r.text
        exported = wait_job(api, r.json()["dockStatusId"])
        assert exported["status"] == "SUCCESS", exported
        return Owned(open_sid, session["sessionId"], done["dockStatusId"], session["modelId"],
                     failed["dockStatusId"], exported["_id"],
                     exported["response"]["downloadUrl"])


def routes(o: Owned) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, request kwargs) for every route of the public API."""
    session = f"/api/public/files/session/{o.open_sid}"
    return [
        ("POST", "/api/public/files/session/start", {"json": start_body()}),
        ("POST", session, {"params": {"chunkNumber": 1}, "content": b"y" * 10,
                           "headers": {"Content-Type": "application/octet-stream"}}),
        ("POST", session, {"data": {"chunkNumber": "1"},
                           "files": {"file": ("blob", b"y" * 10, "application/octet-stream")}}),
        ("POST", f"{session}/complete", {}),
        ("GET", session, {}),
        ("DELETE", session, {}),
        ("GET", f"/api/public/dock-status/{o.dock_id}", {}),
        ("GET", "/api/public/models", {}),
        ("GET", f"/api/public/models/{o.model_id}", {}),
        ("DELETE", f"/api/public/models/{o.model_id}", {}),
        ("POST", f"/api/public/models/{o.model_id}/export", {}),
        ("GET", f"/api/public/exports/{o.export_dock_id}/download", {}),
        ("GET", "/api/public/limits", {}),
    ]


ROUTE_IDS = ["start", "chunk-raw", "chunk-multipart", "complete", "session-get",
             "session-delete", "dock-status", "models-list", "model-get", "model-delete",
             "model-export", "export-download", "limits"]


@pytest.mark.parametrize("index", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
@pytest.mark.parametrize("key", [None, "", "wb_not-a-real-key", "X" * 5000],
                         ids=["missing", "empty", "unknown", "huge"])
def test_every_route_needs_a_valid_key(server: LiveServer, api: httpx.Client, owned: Owned,
                                       index: int, key: str | None) -> None:
    method, path, kwargs = routes(owned)[index]
    headers = dict(kwargs.pop("headers", {}))
    if key is not None:
        headers["X-api-key"] = key
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        r = anonymous.request(method, path, headers=headers, **kwargs)
    error(r, 401, "UNAUTHORIZED")
    # Nothing happened to the owner's open session or model.
    state = session_state(api, owned.open_sid)
    assert state["status"] == "OPEN"
    assert [c["chunkNumber"] for c in state["receivedChunks"]] == [0]
    assert api.get(f"/api/public/models/{owned.model_id}").json()["status"] == "READY"


def test_another_accounts_session_does_not_exist(api: httpx.Client, other_api: httpx.Client,
                                                 owned: Owned) -> None:
    sid = owned.open_sid
    url = f"/api/public/files/session/{sid}"
    error(other_api.get(url), 404, "NOT_FOUND")
    error(other_api.delete(url), 404, "NOT_FOUND")
    error(send_raw(other_api, sid, 1, b"z" * 10), 404, "NOT_FOUND")
    error(send_multipart(other_api, sid, 1, b"z" * 10), 404, "NOT_FOUND")
    error(complete(other_api, sid), 404, "NOT_FOUND")
    error(complete(other_api, owned.done_sid), 404, "NOT_FOUND")
    state = session_state(api, sid)
    assert state["status"] == "OPEN"
    assert [c["chunkNumber"] for c in state["receivedChunks"]] == [0]


def test_another_accounts_job_does_not_exist(other_api: httpx.Client, owned: Owned) -> None:
    for dock_id in (owned.dock_id, owned.failed_dock_id, owned.export_dock_id):
        error(other_api.get(f"/api/public/dock-status/{dock_id}"), 404, "NOT_FOUND")


def test_another_accounts_export_cannot_be_downloaded(api: httpx.Client,
                                                      other_api: httpx.Client,
                                                      owned: Owned) -> None:
    error(other_api.get(owned.download_url), 404, "NOT_FOUND")
    error(other_api.get(f"/api/public/exports/{owned.export_dock_id}/download"), 404,
          "NOT_FOUND")
    assert api.get(owned.download_url).status_code == 200


def test_another_accounts_model_does_not_exist(api: httpx.Client, other_api: httpx.Client,
                                               owned: Owned) -> None:
    error(other_api.get(f"/api/public/models/{owned.model_id}"), 404, "NOT_FOUND")
    error(other_api.delete(f"/api/public/models/{owned.model_id}"), 404, "NOT_FOUND")
    error(other_api.post(f"/api/public/models/{owned.model_id}/export"), 404, "NOT_FOUND")
    r = other_api.get("/api/public/models", params={"limit": 500})
    assert r.status_code == 200, r.text
    assert owned.model_id not in {m["modelId"] for m in r.json()["models"]}
    assert r.json()["total"] == len(r.json()["models"])
    # The owner still sees it.
    assert api.get(f"/api/public/models/{owned.model_id}").status_code == 200


def test_a_second_key_of_the_same_account_sees_the_same_things(server: LiveServer,
                                                               owned: Owned) -> None:
    key = server.create_key("second", account="tests")
    with httpx.Client(base_url=server.url, headers={"X-api-key": key}, timeout=60) as api:
        assert api.get(f"/api/public/models/{owned.model_id}").status_code == 200
        assert api.get(f"/api/public/dock-status/{owned.dock_id}").status_code == 200
        assert session_state(api, owned.open_sid)["status"] == "OPEN"


def test_other_account_works_on_its_own_things(other_api: httpx.Client, tiny_tar: bytes) -> None:
    sid = start(other_api, tiny_tar, "tar", 2)["sessionId"]
    for i, piece in enumerate(split(tiny_tar, 2)):
        assert send_raw(other_api, sid, i, piece).status_code == 200
    job = wait_job(other_api, complete_ok(other_api, sid)["dockStatusId"])
    assert job["status"] == "SUCCESS", job
