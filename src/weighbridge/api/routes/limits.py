"""The server's upload limits, so clients can plan chunks without guessing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from weighbridge.api.deps import Resources, account_id, resources
from weighbridge.api.schemas import LimitsResponse
from weighbridge.services.upload_sessions import EXTENSIONS

router = APIRouter(prefix="/api/public", tags=["limits"])


@router.get("/limits", dependencies=[Depends(account_id)])
def limits(res: Annotated[Resources, Depends(resources)]) -> LimitsResponse:
    s = res.settings
    return LimitsResponse(maxFileSize=s.max_file_size_bytes, maxChunks=s.max_chunks,
                          minChunkSize=s.min_chunk_size_bytes,
                          maxChunkSize=s.max_chunk_size_bytes,
                          sessionLifetimeSeconds=s.session_ttl_seconds,
                          fileExtensions=sorted(EXTENSIONS))
