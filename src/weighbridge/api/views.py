"""Turning service results (table rows) into response bodies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from weighbridge.api.schemas import (
    CompleteResponse,
    DockStatusResponse,
    FileCompleteResponse,
    FileRecord,
    JobError,
    ModelResponse,
    ReceivedChunk,
    SessionStateResponse,
    SessionSummary,
    iso_ms,
)
from weighbridge.db.tables import Chunk, Job, Model, StoredFile, UploadSession
from weighbridge.services import upload_sessions
from weighbridge.services.exports import ExportTar


def model_view(row: Model) -> ModelResponse:
    return ModelResponse(
        id_=row.id, modelId=row.id, name=row.name, status=row.status, isAdapter=row.is_adapter,
        baseModel=row.base_model, format=row.format, architecture=row.architecture,
        modelType=row.model_type, parameterCount=row.parameter_count,
        dtypes={str(k): int(v) for k, v in row.dtypes.items()}, sizeBytes=row.size_bytes,
        sha256=row.sha256,
        files=[FileRecord(path=f.path, size=f.size, sha256=f.sha256) for f in row.files],
        adapter=row.adapter, warnings=[str(w) for w in row.warnings],
        createdOn=iso_ms(row.created_on) or "",
    )


def file_complete_view(row: StoredFile, base_url: str) -> FileCompleteResponse:
    return FileCompleteResponse(fileId=row.id, sessionId=row.session_id, fileName=row.file_name,
                                size=row.size,
                                url=f"{base_url.rstrip('/')}/api/public/files/{row.id}")


def complete_view(job: Job) -> CompleteResponse:
    return CompleteResponse(dock_status_id=job.id, dockStatusId=job.id, modelId=job.model_id,
                            action=job.action, status=job.status)


def _job_response(job: Job, model: Model | None, tar: ExportTar | None, base_url: str
                  ) -> dict[str, Any] | None:
    if job.status != "SUCCESS":
        return None
    if job.action == "EXPORT" and tar is not None:
        return {"downloadUrl": f"{base_url.rstrip('/')}/api/public/exports/{job.id}/download",
                "fileName": tar.file_name, "sizeBytes": tar.size, "sha256": None}
    if job.action == "IMPORT" and model is not None:
        return model_view(model).model_dump(by_alias=True)
    return None


def dock_status_view(job: Job, model: Model | None, tar: ExportTar | None, base_url: str
                     ) -> DockStatusResponse:
    return DockStatusResponse(
        id_=job.id, dockStatusId=job.id, modelId=job.model_id, action=job.action,
        status=job.status, phase=job.phase, percentageComplete=job.percentage,
        createdOn=iso_ms(job.created_on) or "", updatedOn=iso_ms(job.updated_on) or "",
        error=JobError(code=job.error_code, msg=job.error_msg or "")
        if job.error_code else None,
        response=_job_response(job, model, tar, base_url),
    )


def session_summary_view(row: UploadSession, received_bytes: int) -> SessionSummary:
    return SessionSummary(
        sessionId=row.id, status=upload_sessions.status_of(row), fileContext=row.file_context,
        fileName=row.file_name, fileSize=row.file_size, totalChunks=row.total_chunks,
        receivedBytes=received_bytes, modelId=row.model_id,
        createdOn=iso_ms(row.created_on) or "", expirationDate=iso_ms(row.expires_on) or "")


def session_view(row: UploadSession, chunks: Sequence[Chunk]) -> SessionStateResponse:
    return SessionStateResponse(
        sessionId=row.id, status=upload_sessions.status_of(row), fileName=row.file_name,
        fileExtension=row.file_extension, fileSize=row.file_size, totalChunks=row.total_chunks,
        chunkSize=row.chunk_size, modelId=row.model_id,
        expirationDate=iso_ms(row.expires_on) or "",
        receivedChunks=[ReceivedChunk(chunkNumber=c.chunk_number, size=c.size, sha256=c.sha256)
                        for c in chunks],
        receivedBytes=sum(c.size for c in chunks), dockStatusId=row.job_id,
    )
