"""A server killed (SIGKILL) mid-import or mid-upload, then started again on its data dir.

DESIGN §3: a restart never leaves a job IN_PROGRESS for ever; §4: a killed server loses
at most the chunks in flight and the session can be resumed. Each test runs its own
server with a short job lease, so a job whose runner died is picked up again quickly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.gale import (
    complete_ok,
    send_all,
    send_raw,
    session_state,
    sha256,
    split,
    start,
)
from tests.live_server import LiveServer

LEASE_SECONDS = 5
AFTER_RESTART_WAIT_SECONDS = 300.0  # generous: lease expiry, poll interval, a full import
CHUNKS = 8


@pytest.fixture
def crashable(tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path / "data", env={"WEIGHBRIDGE_JOB_LEASE_SECONDS": str(LEASE_SECONDS)})
    yield srv.start()
    srv.stop()


def client(srv: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={"X-api-key": key}, timeout=60)


def job_status(api: httpx.Client, dock_id: str) -> dict[str, Any]:
    r = api.get(f"/api/public/dock-status/{dock_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_until_ended(api: httpx.Client, dock_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + AFTER_RESTART_WAIT_SECONDS
    while time.monotonic() < deadline:
        job = job_status(api, dock_id)
        if job["status"] != "IN_PROGRESS":
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {dock_id} still IN_PROGRESS {AFTER_RESTART_WAIT_SECONDS}s after "
                         f"the restart: {job}")


def check_ended_cleanly(api: httpx.Client, job: dict[str, Any], data: bytes) -> None:
    assert job["status"] in ("SUCCESS", "FAILED"), job
    model = api.get(f"/api/public/models/{job['modelId']}")
    if job["status"] == "SUCCESS":
        assert job["percentageComplete"] == 100
        assert model.status_code == 200, model.text
        assert model.json()["sha256"] == sha256(data)
        assert model.json()["parameterCount"] == 22_713_728
        assert job["response"] == model.json()
    else:
        assert isinstance(job["error"]["code"], str) and job["error"]["msg"], job
        assert model.status_code == 404, model.text


def test_kill_while_the_import_job_runs(crashable: LiveServer, minilm_tar: bytes) -> None:
    key = crashable.create_key("crash", account="crash")
    with client(crashable, key) as api:
        sid = start(api, minilm_tar, "tar", CHUNKS)["sessionId"]
        send_all(api, sid, split(minilm_tar, CHUNKS))
        dock_id = complete_ok(api, sid)["dockStatusId"]
        # Kill as soon as a runner has claimed the job (its phase leaves QUEUED).
        deadline = time.monotonic() + 60
        while True:
            job = job_status(api, dock_id)
            assert job["status"] == "IN_PROGRESS", (
                f"the job ended before it could be interrupted: {job}")
            if job["phase"] != "QUEUED":
                break
            assert time.monotonic() < deadline, "no runner claimed the job"
            time.sleep(0.005)
    crashable.kill()
    crashable.start()
    with client(crashable, key) as api:
        check_ended_cleanly(api, wait_until_ended(api, dock_id), minilm_tar)
        assert session_state(api, sid)["status"] == "COMPLETED"


def test_kill_right_after_complete(crashable: LiveServer, tiny_tar: bytes) -> None:
    key = crashable.create_key("crash", account="crash")
    with client(crashable, key) as api:
        sid = start(api, tiny_tar, "tar", 2)["sessionId"]
        send_all(api, sid, split(tiny_tar, 2))
        dock_id = complete_ok(api, sid)["dockStatusId"]
    crashable.kill()
    crashable.start()
    with client(crashable, key) as api:
        job = wait_until_ended(api, dock_id)
        assert job["status"] in ("SUCCESS", "FAILED"), job
        if job["status"] == "SUCCESS":
            assert job["response"]["sha256"] == sha256(tiny_tar)
        # Completing again still answers the same job.
        assert complete_ok(api, sid)["dockStatusId"] == dock_id


def test_upload_resumes_after_a_kill(crashable: LiveServer, tiny_tar: bytes) -> None:
    key = crashable.create_key("crash", account="crash")
    pieces = split(tiny_tar, 4)
    with client(crashable, key) as api:
        sid = start(api, tiny_tar, "tar", 4)["sessionId"]
        for i in (0, 2):
            assert send_raw(api, sid, i, pieces[i]).status_code == 200
    crashable.kill()
    crashable.start()
    with client(crashable, key) as api:
        state = session_state(api, sid)
        assert state["status"] == "OPEN"
        assert [(c["chunkNumber"], c["sha256"]) for c in state["receivedChunks"]] == [
            (0, sha256(pieces[0])), (2, sha256(pieces[2]))]
        for i in (1, 3):
            assert send_raw(api, sid, i, pieces[i]).status_code == 200
        job = wait_until_ended(api, complete_ok(api, sid)["dockStatusId"])
        assert job["status"] == "SUCCESS", job
        assert job["response"]["sha256"] == sha256(tiny_tar)
