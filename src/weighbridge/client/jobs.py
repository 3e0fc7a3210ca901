"""Waiting for server jobs (import, export, delete): a dock status polled until it ends.

A job answer (from complete, export or delete) may already be final; otherwise its dock
status is polled, quickly at first and then every `poll_interval` seconds, until SUCCESS
(returned) or FAILED (raised as `JobFailed`, or `ImportFailed` for an import, carrying the
job's error code and message). Every status seen goes to the caller's `on_status`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from weighbridge.client.errors import ApiError, ImportFailed, JobFailed, WeighbridgeClientError

StatusCallback = Callable[[dict[str, Any]], None]
GetStatus = Callable[[str], dict[str, Any]]


def job_id(status: dict[str, Any]) -> str | None:
    """The dock status id of a job answer (GALE spells it three ways)."""
    found = status.get("_id") or status.get("dockStatusId") or status.get("dock-statusId")
    return str(found) if found else None


def job_failed(status: dict[str, Any]) -> JobFailed:
    raw_error = status.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    action = str(status.get("action") or "IMPORT").upper()
    kind = ImportFailed if action == "IMPORT" else JobFailed
    return kind(
        str(error.get("code") or "JOB_FAILED"),
        str(
            error.get("msg")
            or f"The {action.lower()} job {job_id(status) or '?'} failed without a reason."
        ),
        status,
    )


def wait_for_job(
    get_status: GetStatus,
    dock_status_id: str,
    *,
    poll_interval: float = 1.0,
    timeout: float | None = None,
    on_status: StatusCallback | None = None,
) -> dict[str, Any]:
    """Poll `get_status(dock_status_id)` until the job ends; see the module docstring."""
    waited = 0.0
    delay = min(0.2, poll_interval)
    while True:
        status = get_status(dock_status_id)
        if on_status is not None:
            on_status(status)
        state = str(status.get("status", "")).upper()
        if state == "SUCCESS":
            return status
        if state == "FAILED":
            raise job_failed(status)
        if timeout is not None and waited >= timeout:
            raise WeighbridgeClientError(
                "WAIT_TIMEOUT",
                f"Job {dock_status_id} is still {state or 'running'} after {timeout:g} s; "
                f"check it later with `weighbridge status {dock_status_id}`.",
            )
        threading.Event().wait(delay)
        waited += delay
        delay = min(poll_interval, delay * 1.5)  # quick first looks, then steady


def settle(
    get_status: GetStatus,
    answer: dict[str, Any],
    *,
    poll_interval: float = 1.0,
    on_status: StatusCallback | None = None,
) -> dict[str, Any]:
    """The final dock status of the job that `answer` (a job's first answer) started."""
    state = str(answer.get("status", "")).upper()
    if state in ("SUCCESS", "FAILED"):
        if on_status is not None:
            on_status(answer)
        if state == "FAILED":
            raise job_failed(answer)
        return answer
    dock_status_id = job_id(answer)
    if dock_status_id is None:
        raise ApiError(200, "BAD_RESPONSE", "The server's job answer carries no id.", answer)
    return wait_for_job(
        get_status, dock_status_id, poll_interval=poll_interval, on_status=on_status
    )
