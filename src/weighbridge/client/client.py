"""`Client`: the SDK's one entry point, a typed wrapper over the weighbridge HTTP API.

It owns the import flow (read limits → plan chunks → hash → start or resume a session →
upload missing chunks in parallel → complete → wait for the job) and the plain calls
around it. It never prints: progress and job status reach the caller through callbacks,
and every failure is one of the exceptions in `weighbridge.client.errors`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from weighbridge.client.errors import ApiError, ImportFailed, WeighbridgeClientError
from weighbridge.client.importer import ImportOutcome, UploadRequest, upload_model
from weighbridge.client.packing import open_source
from weighbridge.client.resume import ResumeStore, default_state_dir
from weighbridge.client.transport import RetryPolicy, Transport
from weighbridge.client.uploader import Limits, ProgressCallback

API = "/api/public"
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
StatusCallback = Callable[[dict[str, Any]], None]


class Client:
    """A weighbridge server at `host` (e.g. "http://127.0.0.1:8080"), used with `api_key`.

    Thread-safe; close it (or use it as a context manager) to release its connections.
    """

    def __init__(
        self,
        host: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_attempts: int = 6,
        retry: RetryPolicy | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise WeighbridgeClientError("MISSING_API_KEY", "An API key is required.")
        if "://" not in host:
            host = "http://" + host
        self._transport = Transport(
            host,
            api_key,
            timeout=timeout,
            retry=retry or RetryPolicy(max_attempts=max_attempts),
            http_transport=http_transport,
        )
        self._resume = ResumeStore(Path(state_dir) if state_dir else default_state_dir())

    @property
    def host(self) -> str:
        return self._transport.base_url

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- plain calls ---------------------------------------------------------------

    def limits(self) -> Limits:
        """The server's upload limits; empty `Limits` if the server does not publish them."""
        try:
            data = self._transport.get_json(f"{API}/limits")
        except ApiError as exc:
            if exc.status in (404, 405):
                return Limits()
            raise
        return Limits.from_json(data) if isinstance(data, Mapping) else Limits()

    def get_session(self, session_id: str) -> dict[str, Any]:
        return _as_dict(self._transport.get_json(f"{API}/files/session/{session_id}"))

    def abort_session(self, session_id: str) -> dict[str, Any]:
        response = self._transport.request("DELETE", f"{API}/files/session/{session_id}")
        return _as_dict(self._transport.decode(response)) if response.content else {}

    def dock_status(self, dock_status_id: str) -> dict[str, Any]:
        return _as_dict(self._transport.get_json(f"{API}/dock-status/{dock_status_id}"))

    def list_models(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        data = self._transport.get_json(f"{API}/models", params={"limit": limit, "offset": offset})
        if isinstance(data, Mapping):  # a page object; the list is under one of these
            data = next((data[k] for k in ("models", "items", "data", "results") if k in data), [])
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    def get_model(self, model_id: str) -> dict[str, Any]:
        return _as_dict(self._transport.get_json(f"{API}/models/{model_id}"))

    def delete_model(self, model_id: str) -> dict[str, Any]:
        """Start deleting a model; answers the delete job's dock status."""
        response = self._transport.request("DELETE", f"{API}/models/{model_id}")
        return _as_dict(self._transport.decode(response)) if response.content else {}

    def wait_for_job(
        self,
        dock_status_id: str,
        *,
        poll_interval: float = 1.0,
        timeout: float | None = None,
        on_status: StatusCallback | None = None,
    ) -> dict[str, Any]:
        """Poll a job until SUCCESS (its status is returned) or FAILED (`ImportFailed`)."""
        waited = 0.0
        delay = min(0.2, poll_interval)
        while True:
            status = self.dock_status(dock_status_id)
            if on_status is not None:
                on_status(status)
            state = str(status.get("status", "")).upper()
            if state == "SUCCESS":
                return status
            if state == "FAILED":
                raw_error = status.get("error")
                error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
                raise ImportFailed(
                    str(error.get("code") or "JOB_FAILED"),
                    str(error.get("msg") or f"Job {dock_status_id} failed without a reason."),
                    status,
                )
            if timeout is not None and waited >= timeout:
                raise WeighbridgeClientError(
                    "WAIT_TIMEOUT",
                    f"Job {dock_status_id} is still {state or 'running'} after {timeout:g} s; "
                    f"check it later with `weighbridge status {dock_status_id}`.",
                )
            threading.Event().wait(delay)
            waited += delay
            delay = min(poll_interval, delay * 1.5)  # quick first looks, then steady

    # -- import --------------------------------------------------------------------

    def import_model(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        is_adapter: bool | None = None,
        base_model: str | None = None,
        chunk_size: int | None = None,
        parallel: int = 4,
        wait: bool = True,
        progress: ProgressCallback | None = None,
        poll_interval: float = 1.0,
        hash_progress: ProgressCallback | None = None,
        on_status: StatusCallback | None = None,
        resume: bool = True,
    ) -> ImportOutcome:
        """Upload a model folder, archive or weights file and (by default) wait for it.

        `is_adapter=None` guesses from the input (adapter_config.json present).
        `progress(bytes_done, bytes_total)` follows the upload, `hash_progress` the
        checksum pass before it, `on_status(dock_status)` each poll while waiting.
        An interrupted upload of the same input to the same server is resumed: chunks
        the server already holds are not sent again.
        """
        source = open_source(path)
        request = UploadRequest(
            name=name,
            is_adapter=source.looks_like_adapter() if is_adapter is None else is_adapter,
            base_model=base_model,
            chunk_size=chunk_size,
            parallel=parallel,
            resume=resume,
        )
        outcome = upload_model(
            self._transport,
            self._resume,
            source,
            self.limits(),
            request,
            progress,
            hash_progress,
        )
        if not wait:
            return outcome
        final = self.wait_for_job(
            outcome.dock_status_id, poll_interval=poll_interval, on_status=on_status
        )
        model = final.get("response")
        model_id = outcome.model_id or final.get("modelId")
        if not isinstance(model, dict) and model_id:
            model = self.get_model(str(model_id))
        return replace(outcome, model=model, dock_status=final, model_id=model_id)


def _as_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError(200, "BAD_RESPONSE", "The server answered with an unexpected shape.", data)
    return data
