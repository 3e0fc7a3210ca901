"""Upload-session routes: start, chunk, complete, state, abort (DESIGN §2.1–§2.3, §2.5)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request

from weighbridge.api.chunk_body import ChunkBody
from weighbridge.api.deps import Resources, account_id, resources
from weighbridge.api.schemas import (
    ChunkResponse,
    CompleteRequest,
    CompleteResponse,
    FileCompleteResponse,
    SessionListResponse,
    SessionStateResponse,
    StartSessionRequest,
    StartSessionResponse,
    iso_ms,
)
from weighbridge.api.views import (
    complete_view,
    file_complete_view,
    session_summary_view,
    session_view,
)
from weighbridge.db.tables import StoredFile
from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.services import upload_sessions

router = APIRouter(prefix="/api/public/files/session", tags=["sessions"])

Account = Annotated[str, Depends(account_id)]
Res = Annotated[Resources, Depends(resources)]


@router.post("/start")
def start(body: StartSessionRequest, account: Account, res: Res,
          idempotency_key: Annotated[str | None, Header(max_length=255)] = None
          ) -> StartSessionResponse:
    spec = upload_sessions.StartSpec(
        file_context=body.fileContext, total_chunks=body.totalChunks,
        file_extension=body.fileExtension, file_name=body.fileName, file_size=body.fileSize,
        is_adapter=body.isAdapter, sha256=body.sha256, chunk_size=body.chunkSize,
        base_model=body.baseModel, name=body.name)
    with res.database.transaction() as db:
        row = upload_sessions.start(db, res.settings, account, spec, idempotency_key)
    return StartSessionResponse(sessionId=row.id, expirationDate=iso_ms(row.expires_on) or "",
                                modelId=row.model_id, totalChunks=row.total_chunks,
                                fileSize=row.file_size)


@router.post("/{session_id}")
async def upload_chunk(session_id: str, request: Request, account: Account, res: Res
                       ) -> ChunkResponse:
    body = ChunkBody(request)
    receipt = await res.intake.receive(account, session_id, body.file_bytes(), body.meta)
    return ChunkResponse(chunkNumber=receipt.chunk_number, sessionId=receipt.session_id,
                         size=receipt.size, sha256=receipt.sha256)


async def _complete_fields(request: Request) -> dict[str, Any]:
    raw = await request.body()  # size-capped by api/body_limit.py
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise WeighbridgeError(ErrorCode.INVALID_FIELD, "The complete body is not valid JSON; "
                               "send nothing or the session's fields as JSON.") from exc
    if not isinstance(data, dict):
        raise WeighbridgeError(ErrorCode.INVALID_FIELD, "The complete body must be a JSON object.")
    return CompleteRequest.model_validate(data).model_dump(exclude_none=True)


@router.post("/{session_id}/complete")
def complete(session_id: str, account: Account, res: Res, request: Request,
             fields: Annotated[dict[str, Any], Depends(_complete_fields)]
             ) -> CompleteResponse | FileCompleteResponse:
    with res.database.transaction() as db:
        outcome = upload_sessions.complete(db, account, session_id, fields)
    if isinstance(outcome, StoredFile):
        return file_complete_view(outcome, str(request.base_url))
    res.runner.wake()
    return complete_view(outcome)


@router.get("")
def list_sessions(
    account: Account, res: Res,
    status: Annotated[Literal["OPEN", "COMPLETED", "EXPIRED", "ABORTED"] | None,
                      Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> SessionListResponse:
    with res.database.transaction() as db:
        rows = upload_sessions.list_owned(db, account, status, limit, offset)
        body = [session_summary_view(row, received) for row, received in rows]
    return SessionListResponse(sessions=body, limit=limit, offset=offset)


@router.get("/{session_id}")
def session_state(session_id: str, account: Account, res: Res) -> SessionStateResponse:
    with res.database.transaction() as db:
        row, chunks = upload_sessions.state(db, account, session_id)
    return session_view(row, chunks)


@router.delete("/{session_id}")
def abort(session_id: str, account: Account, res: Res) -> SessionStateResponse:
    with res.database.transaction() as db:
        row = upload_sessions.abort(db, account, session_id)
    upload_sessions.free_chunks(res.store, row.id)
    return session_view(row, [])
