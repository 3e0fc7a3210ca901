"""`Client`: the SDK's one entry point, a typed wrapper over the weighbridge HTTP API.

It owns the import flow (read limits → plan chunks → hash → start or resume a session →
upload missing chunks in parallel → complete → wait for the job), the export flow
(request → wait for the job → resumable download → check against the model record), and
the plain calls around them. It never prints: progress and job status reach the caller
through callbacks, and every failure is one of the exceptions in
`weighbridge.client.errors`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from weighbridge.client import jobs, listing
from weighbridge.client.errors import ApiError, WeighbridgeClientError
from weighbridge.client.exporter import ExportOutcome, check_output, export_to
from weighbridge.client.importer import ImportOutcome, UploadRequest, upload_model
from weighbridge.client.jobs import StatusCallback
from weighbridge.client.listing import ModelPage
from weighbridge.client.packing import open_source
from weighbridge.client.resume import DownloadStore, ResumeStore, default_state_dir
from weighbridge.client.transport import RetryPolicy, Transport, server_url
from weighbridge.client.uploader import Limits, ProgressCallback

API = "/api/public"
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


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
        self._transport = Transport(
            server_url(host),
            api_key,
            timeout=timeout,
            retry=retry or RetryPolicy(max_attempts=max_attempts),
            http_transport=http_transport,
        )
        state = Path(state_dir) if state_dir else default_state_dir()
        self._resume = ResumeStore(state)
        self._downloads = DownloadStore(state)

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

    def list_sessions(
        self, status: str | None = "OPEN", *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The account's upload sessions, newest first; `status=None` lists them all.

        The server allows a limited number of OPEN sessions per account (100 by default);
        abort the ones no upload will finish with `abort_session`.
        """
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status.upper()
        return listing.sessions(self._transport.get_json(f"{API}/files/session", params=params))

    def abort_session(self, session_id: str) -> dict[str, Any]:
        response = self._transport.request("DELETE", f"{API}/files/session/{session_id}")
        return _as_dict(self._transport.decode(response)) if response.content else {}

    def dock_status(self, dock_status_id: str) -> dict[str, Any]:
        return _as_dict(self._transport.get_json(f"{API}/dock-status/{dock_status_id}"))

    def list_models(
        self,
        limit: int = 50,
        offset: int = 0,
        *,
        name: str | None = None,
        is_adapter: bool | None = None,
        format: str | None = None,
        status: str | None = None,
    ) -> ModelPage:
        """One page of the account's models, filtered (`name` matches any part of it)."""
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if name:
            params["name"] = name
        if is_adapter is not None:
            params["isAdapter"] = "true" if is_adapter else "false"
        if format:
            params["format"] = format
        if status:
            params["status"] = status
        data = self._transport.get_json(f"{API}/models", params=params)
        return listing.model_page(data, limit, offset)

    def get_model(self, model_id: str) -> dict[str, Any]:
        return _as_dict(self._transport.get_json(f"{API}/models/{model_id}"))

    def delete_model(
        self,
        model_id: str,
        *,
        wait: bool = True,
        poll_interval: float = 1.0,
        on_status: StatusCallback | None = None,
    ) -> dict[str, Any]:
        """Delete a model; answers the delete job's dock status (final, if `wait`).

        Raises `JobFailed` if the delete job fails.
        """
        response = self._transport.request("DELETE", f"{API}/models/{model_id}")
        status = _as_dict(self._transport.decode(response))
        if not wait:
            return status
        return jobs.settle(
            self.dock_status, status, poll_interval=poll_interval, on_status=on_status
        )

    def export_model(
        self,
        model_id: str,
        output_path: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        resume: bool = True,
        verify: bool = True,
        verify_progress: ProgressCallback | None = None,
        on_status: StatusCallback | None = None,
        poll_interval: float = 1.0,
        overwrite: bool = False,
    ) -> ExportOutcome:
        """Export a model as an uncompressed tar to `output_path` (a file, or a folder).

        Asks the server for the export, waits for it (`on_status` on each poll), then
        downloads it into `<output>.part`, reporting `progress(bytes_done, bytes_total)`.
        An interrupted download of the same model to the same path is resumed unless
        `resume=False`. With `verify`, the tar's files are checked against the model
        record (`verify_progress` follows that pass) before the file is put in place.
        An existing file at the output is refused (`LocalInputError` OUTPUT_EXISTS)
        unless `overwrite`.
        """
        check_output(Path(output_path), overwrite=overwrite)
        record = self.get_model(model_id) if verify else None
        response = self._transport.request("POST", f"{API}/models/{model_id}/export")
        status = _as_dict(self._transport.decode(response))
        final = jobs.settle(
            self.dock_status, status, poll_interval=poll_interval, on_status=on_status
        )
        return export_to(
            self._transport,
            self._downloads,
            final,
            model_id,
            Path(output_path),
            record=record,
            resume=resume,
            progress=progress,
            verify_progress=verify_progress,
            overwrite=overwrite,
        )

    def wait_for_job(
        self,
        dock_status_id: str,
        *,
        poll_interval: float = 1.0,
        timeout: float | None = None,
        on_status: StatusCallback | None = None,
    ) -> dict[str, Any]:
        """Poll a job until SUCCESS (its status is returned) or FAILED (`JobFailed`; an
        import's is `ImportFailed`)."""
        return jobs.wait_for_job(
            self.dock_status,
            dock_status_id,
            poll_interval=poll_interval,
            timeout=timeout,
            on_status=on_status,
        )

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
        the server already holds are not sent again. A session left by an earlier
        upload from the same path that cannot be resumed (the file or the chunk size
        changed, or `resume=False`) is aborted first.
        """
        source = open_source(path)
        request = UploadRequest(
            name=name,
            is_adapter=source.looks_like_adapter() if is_adapter is None else is_adapter,
            base_model=base_model,
            chunk_size=chunk_size,
            parallel=parallel,
            resume=resume,
            origin=str(Path(path).resolve()),
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
