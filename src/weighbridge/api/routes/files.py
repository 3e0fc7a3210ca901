"""Plain-file download (DESIGN §2.8): the url that complete answers for a plain file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import StreamingResponse

from weighbridge.api.byte_ranges import ranged_response, requested_range
from weighbridge.api.deps import Resources, account_id, resources
from weighbridge.services import plain_files

router = APIRouter(prefix="/api/public/files", tags=["files"])


@router.get("/{file_id}")
def download_file(file_id: str, account: Annotated[str, Depends(account_id)],
                  res: Annotated[Resources, Depends(resources)], request: Request
                  ) -> StreamingResponse:
    with res.database.transaction() as db:
        download = plain_files.for_download(db, account, file_id)
    size = download.file.size
    rng = requested_range(request, size, download.etag)
    return ranged_response(plain_files.stream(res.store, download, rng.start, rng.length), rng,
                           size, download.etag, download.file.file_name,
                           "application/octet-stream")
