"""Request and response bodies of the public API (DESIGN §2), with GALE's field names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator


def iso_ms(moment: datetime | None) -> str | None:
    """GALE's timestamp style: ISO-8601 UTC with milliseconds and a Z."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class StartSessionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # JSON numbers only: a size sent as a string is a client bug worth naming.
    fileContext: str = Field(max_length=64)
    totalChunks: StrictInt
    fileExtension: str = Field(max_length=32)
    fileName: str = Field(max_length=1024)
    fileSize: StrictInt
    isAdapter: bool | None = None
    sha256: str | None = Field(default=None, max_length=128)
    chunkSize: StrictInt | None = None
    baseModel: str | None = Field(default=None, max_length=512)
    name: str | None = Field(default=None, min_length=1, max_length=255)

    @field_validator("isAdapter", mode="before")
    @classmethod
    def _gale_bool(cls, v: Any) -> Any:
        # GALE documents isAdapter as "True"/"False" strings; accept those and real booleans.
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):
            return v.strip().lower() == "true"
        if v is not None and not isinstance(v, bool):
            raise ValueError('must be true or false (or the strings "True"/"False")')
        return v

    @field_validator("sha256")
    @classmethod
    def _lower(cls, v: str | None) -> str | None:
        return v.strip().lower() if v else v


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fileContext: str | None = None
    totalChunks: int | None = None
    fileExtension: str | None = None
    fileName: str | None = None
    fileSize: int | None = None


class StartSessionResponse(_Out):
    sessionId: str
    expirationDate: str
    modelId: str
    totalChunks: int
    fileSize: int


class ChunkResponse(_Out):
    chunkNumber: int
    sessionId: str
    size: int
    sha256: str


class CompleteResponse(_Out):
    dock_status_id: str = Field(alias="dock-statusId")
    dockStatusId: str
    modelId: str
    jobType: str = "MODELS"
    action: str
    status: str


class FileCompleteResponse(_Out):
    fileId: str
    url: str
    sessionId: str
    fileName: str
    size: int


class ReceivedChunk(_Out):
    chunkNumber: int
    size: int
    sha256: str


class SessionStateResponse(_Out):
    sessionId: str
    status: str
    fileName: str
    fileExtension: str
    fileSize: int
    totalChunks: int
    chunkSize: int | None
    modelId: str
    expirationDate: str
    receivedChunks: list[ReceivedChunk]
    receivedBytes: int
    dockStatusId: str | None


class SessionSummary(_Out):
    sessionId: str
    status: str
    fileContext: str
    fileName: str
    fileSize: int
    totalChunks: int
    receivedBytes: int
    modelId: str
    createdOn: str
    expirationDate: str


class SessionListResponse(_Out):
    sessions: list[SessionSummary]
    limit: int
    offset: int


class FileRecord(_Out):
    path: str
    size: int
    sha256: str


class ModelResponse(_Out):
    id_: str = Field(alias="_id")
    modelId: str
    name: str
    status: str
    isAdapter: bool
    baseModel: str | None
    format: str
    architecture: str | None
    modelType: str | None
    parameterCount: int
    dtypes: dict[str, int]
    sizeBytes: int
    sha256: str
    files: list[FileRecord]
    adapter: dict[str, Any] | None = None
    warnings: list[str]
    createdOn: str


class ModelListResponse(_Out):
    models: list[ModelResponse]
    total: int
    limit: int
    offset: int


class JobError(_Out):
    code: str
    msg: str


class DockStatusResponse(_Out):
    id_: str = Field(alias="_id")
    dockStatusId: str
    modelId: str
    jobType: str = "MODELS"
    action: str
    status: str
    phase: str
    percentageComplete: int
    createdOn: str
    updatedOn: str
    error: JobError | None = None
    response: dict[str, Any] | None = None


class LimitsResponse(_Out):
    maxFileSize: int
    maxChunks: int
    minChunkSize: int
    maxChunkSize: int
    sessionLifetimeSeconds: int
    fileExtensions: list[str]
