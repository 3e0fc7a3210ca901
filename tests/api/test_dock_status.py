"""GET /api/public/dock-status/{dockStatusId}: the import job's state (DESIGN §2.4)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.gale import (
    DOCK_ID_RE,
    ISO_MS_RE,
    error,
    get_model,
    sha256,
    upload_session,
)
from tests.builders import members, tar_bytes


def check_common(job: dict[str, Any], dock_id: str, model_id: str) -> None:
    assert job["_id"] == dock_id
    assert DOCK_ID_RE.match(job["_id"])
    assert job["modelId"] == model_id
    assert job["jobType"] == "MODELS"
    assert job["action"] == "IMPORT"
    assert type(job["percentageComplete"]) is int and 0 <= job["percentageComplete"] <= 100
    assert isinstance(job["phase"], str) and job["phase"]
    assert ISO_MS_RE.match(job["createdOn"]), job
    assert ISO_MS_RE.match(job["updatedOn"]), job
    assert job["createdOn"] <= job["updatedOn"]


def test_successful_job_has_percentage_100_and_the_model_as_response(
        api: httpx.Client, tiny_tar: bytes) -> None:
    session, done, job = upload_session(api, tiny_tar, "tar", 2)
    check_common(job, done["dockStatusId"], session["modelId"])
    assert job["status"] == "SUCCESS"
    assert job["percentageComplete"] == 100
    assert job.get("error") is None
    assert job["response"] == get_model(api, session["modelId"])
    assert job["response"]["sha256"] == sha256(tiny_tar)


def test_failed_job_has_an_error_and_no_response(api: httpx.Client) -> None:
    bad = tar_bytes(members({"README.md": b"no weights here"}, top="empty"))
    session, done, job = upload_session(api, bad, "tar", 1)
    check_common(job, done["dockStatusId"], session["modelId"])
    assert job["status"] == "FAILED"
    assert set(job["error"]) >= {"code", "msg"}
    assert job["error"]["code"] == "INVALID_MODEL"
    assert isinstance(job["error"]["msg"], str) and job["error"]["msg"].strip()
    assert job.get("response") is None
    error(api.get(f"/api/public/models/{session['modelId']}"), 404, "NOT_FOUND")


def test_job_status_is_stable_once_ended(api: httpx.Client, tiny_tar: bytes) -> None:
    _, done, job = upload_session(api, tiny_tar, "tar", 1)
    r = api.get(f"/api/public/dock-status/{done['dockStatusId']}")
    assert r.status_code == 200, r.text
    assert r.json() == job


@pytest.mark.parametrize("dock_id", ["ds-00000000-0000-4000-8000-000000000000", "ds-nope",
                                     "cm-00000000-0000-4000-8000-000000000000", "x"])
def test_unknown_job_is_404(api: httpx.Client, dock_id: str) -> None:
    error(api.get(f"/api/public/dock-status/{dock_id}"), 404, "NOT_FOUND")
