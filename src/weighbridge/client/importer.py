"""The upload half of an import: one session from start (or resume) to complete.

`upload_model` plans the chunks, hashes the source, finds a session to fill (the one an
interrupted run of the same upload left open, else a new one), sends the chunks the
server does not hold yet, and completes the session, which starts the import job.
Waiting for the job is `Client`'s business. Every call here is safe to repeat, so a
crash at any point leaves something the next run can pick up.

A saved session that is not resumed (`resume=False`, the server cannot continue it, or
the same local path now gives another upload because the file or the chunk plan
changed) is aborted before a new one starts: an open session holds server storage and
counts against the account's open sessions.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from weighbridge.client.errors import ApiError, TransportError
from weighbridge.client.hashing import source_sha256
from weighbridge.client.packing import ByteSource
from weighbridge.client.resume import ResumeStore, UploadState, state_key
from weighbridge.client.transport import Transport
from weighbridge.client.uploader import (
    ChunkPlan,
    Limits,
    ProgressCallback,
    ProgressTracker,
    plan_chunks,
    upload_chunks,
)

SESSION = "/api/public/files/session"


@dataclass(frozen=True)
class ImportOutcome:
    """What `import_model` did. `model` and `dock_status` are set when it waited."""

    session_id: str
    dock_status_id: str
    model_id: str | None
    sha256: str
    file_size: int
    total_chunks: int
    resumed_chunks: int = 0
    model: dict[str, Any] | None = None
    dock_status: dict[str, Any] | None = None


@dataclass(frozen=True)
class UploadRequest:
    """The caller's choices for one upload."""

    name: str | None
    is_adapter: bool
    base_model: str | None
    chunk_size: int | None
    parallel: int
    resume: bool
    origin: str | None = None  # the local path uploaded, resolved; None: not tracked


def upload_model(
    transport: Transport,
    store: ResumeStore,
    source: ByteSource,
    limits: Limits,
    request: UploadRequest,
    progress: ProgressCallback | None = None,
    hash_progress: ProgressCallback | None = None,
) -> ImportOutcome:
    plan = plan_chunks(source.size, limits, request.chunk_size)
    sha256 = source_sha256(source, hash_progress)
    start_body: dict[str, Any] = {
        "fileContext": "model",
        "totalChunks": plan.total_chunks,
        "fileExtension": source.file_extension,
        "fileName": source.file_name,
        "fileSize": source.size,
        "isAdapter": request.is_adapter,
        "sha256": sha256,
        "chunkSize": plan.chunk_size,
    }
    if request.base_model:
        start_body["baseModel"] = request.base_model
    if request.name:
        start_body["name"] = request.name
    key = state_key(host=transport.base_url, **start_body)
    # Only one process at a time may continue (and save) an upload's session; a second,
    # concurrent import of the same input gets a session of its own.
    with store.claim(key) as owned:
        input_key = None
        if owned and request.origin is not None:
            input_key = state_key(kind="input", host=transport.base_url, path=request.origin)
            _replace_earlier_upload(transport, store, input_key, key)
        session_id, held = _open_session(
            transport, store, key, start_body, plan, owned=owned, resume=request.resume
        )
        missing = [n for n in range(plan.total_chunks) if n not in held]
        done = sum(plan.chunk_range(n)[1] for n in held)
        tracker = ProgressTracker(source.size, progress, done)
        if progress is not None:
            progress(done, source.size)
        upload_chunks(transport, session_id, source, plan, missing, tracker, request.parallel)
        completed = _complete(transport, session_id, source, plan, tracker, request.parallel)
        if owned:
            store.delete(key)
            if input_key is not None and store.last_upload_of(input_key) == key:
                store.set_last_upload(input_key, None)
    model_id = completed.get("modelId")
    return ImportOutcome(
        session_id=session_id,
        dock_status_id=str(completed.get("dockStatusId") or completed.get("dock-statusId") or ""),
        model_id=str(model_id) if model_id else None,
        sha256=sha256,
        file_size=source.size,
        total_chunks=plan.total_chunks,
        resumed_chunks=len(held),
    )


def _open_session(
    transport: Transport,
    store: ResumeStore,
    key: str,
    start_body: dict[str, Any],
    plan: ChunkPlan,
    *,
    owned: bool,
    resume: bool,
) -> tuple[str, set[int]]:
    """A session for this upload and the chunks it already holds (resumed or new).

    Only the owner of the upload's lock (`owned`) reads or writes its saved state. A saved
    session that is not continued (without `resume`, or one the server cannot continue)
    is aborted and its state replaced by the new session's.
    """
    state = store.load(key) if owned else None
    if state is not None and state.session_id:
        held = _held_chunks(transport, state.session_id, plan) if resume else None
        if held is not None:
            return state.session_id, held
        _abort_quietly(transport, state.session_id)
        state = None
    if state is None or not resume:
        # (A saved state without a session id is a start whose answer was lost; resuming
        # reuses its Idempotency-Key, so the server answers with that same session.)
        state = UploadState(idempotency_key=str(uuid.uuid4()))
        if owned:
            store.save(key, state)  # before start, so a lost answer is retried with this key
    response = transport.request(
        "POST",
        f"{SESSION}/start",
        json=start_body,
        headers={"Idempotency-Key": state.idempotency_key},
    )
    started = transport.decode(response)
    if not isinstance(started, dict) or not started.get("sessionId"):
        raise ApiError(
            response.status_code, "BAD_RESPONSE", "Start answered no sessionId.", started
        )
    session_id = str(started["sessionId"])
    if owned:
        state.session_id = session_id
        store.save(key, state)
    return session_id, set()


def _replace_earlier_upload(
    transport: Transport, store: ResumeStore, input_key: str, key: str
) -> None:
    """Abort the session an earlier upload of the same input left, if that upload is not
    this one (the file or the chunk plan changed since), and make this one the input's."""
    earlier = store.last_upload_of(input_key)
    if earlier is not None and earlier != key:
        with store.claim(earlier) as owned:  # not owned: another process is uploading it
            state = store.load(earlier) if owned else None
            if state is not None and state.session_id:
                _abort_quietly(transport, state.session_id)
            if owned:
                store.delete(earlier)
    store.set_last_upload(input_key, key)


def _abort_quietly(transport: Transport, session_id: str) -> None:
    """Abort a replaced session. Gone (404, 410) or finished meanwhile (409) is as good; if
    the server cannot be reached the session expires on its own, so go on anyway."""
    try:
        transport.request("DELETE", f"{SESSION}/{session_id}")
    except TransportError:
        pass
    except ApiError as exc:
        if exc.status not in (404, 409, 410):
            raise


def _held_chunks(transport: Transport, session_id: str, plan: ChunkPlan) -> set[int] | None:
    """Chunks an earlier session holds whole; None if that session cannot be continued."""
    try:
        session = transport.get_json(f"{SESSION}/{session_id}")
    except ApiError as exc:
        if exc.status in (404, 410):
            return None
        raise
    if not isinstance(session, dict):
        return None
    status = str(session.get("status", "OPEN")).upper()
    if status not in ("OPEN", "COMPLETED"):
        return None
    if session.get("totalChunks", plan.total_chunks) != plan.total_chunks:
        return None
    if status == "COMPLETED":
        return set(range(plan.total_chunks))  # completing again answers the same job
    return received_chunks(session.get("receivedChunks"), plan)


def _complete(
    transport: Transport,
    session_id: str,
    source: ByteSource,
    plan: ChunkPlan,
    tracker: ProgressTracker,
    parallel: int,
) -> dict[str, Any]:
    path = f"{SESSION}/{session_id}/complete"
    try:
        return _json_object(transport, transport.request("POST", path))
    except ApiError as exc:
        missing = _missing_chunks(exc.body)
        if exc.status != 409 or not missing:
            raise
    # The server lost chunks it had acknowledged (a crash, say): send those once more.
    numbers = sorted({n for n in missing if 0 <= n < plan.total_chunks})
    upload_chunks(transport, session_id, source, plan, numbers, tracker, parallel)
    return _json_object(transport, transport.request("POST", path))


def _missing_chunks(body: Any) -> list[int]:
    if not isinstance(body, dict):
        return []
    found: Any = body.get("missingChunks")
    errors = body.get("errors")
    if found is None and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        found = errors[0].get("missingChunks")
    return [n for n in found if isinstance(n, int)] if isinstance(found, list) else []


def _json_object(transport: Transport, response: Any) -> dict[str, Any]:
    data = transport.decode(response)
    if not isinstance(data, dict):
        raise ApiError(response.status_code, "BAD_RESPONSE", "Expected a JSON object.", data)
    return data


def received_chunks(raw: Any, plan: ChunkPlan) -> set[int]:
    """Chunk numbers the server holds at their planned size, from any reasonable shape.

    Accepts `[0, 1]`, `[{"chunkNumber": 0, "size": 5}]` or `{"0": 5}`; a chunk whose size
    differs from the plan is sent again. Contents need no check: the resume key includes
    the whole file's sha256 and the chunk plan, and the server verified each chunk's sha256
    when it arrived.
    """
    pairs: list[tuple[Any, Any]] = []
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, Mapping):
                pairs.append((item.get("chunkNumber", item.get("number")), item.get("size")))
            else:
                pairs.append((item, None))
    held: set[int] = set()
    for number, size in pairs:
        try:
            n = int(number)
        except (TypeError, ValueError):
            continue
        if 0 <= n < plan.total_chunks and (size is None or size == plan.chunk_range(n)[1]):
            held.add(n)
    return held
