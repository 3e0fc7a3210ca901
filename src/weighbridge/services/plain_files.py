"""Plain files (DESIGN §2.8): uploads whose fileContext is not `model`.

Such a file is stored without model validation, and without copying: its bytes are the
completed session's chunks, kept in order, and a download maps the requested byte range
onto them. Chunks of a completed session never change (chunk uploads are refused once
the session is COMPLETED), so the file is immutable and its id works as an ETag.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from weighbridge import ids
from weighbridge.db.repos import files as repo
from weighbridge.db.repos import sessions as sessions_repo
from weighbridge.db.tables import StoredFile, UploadSession
from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.storage.base import BlobStore


@dataclass(frozen=True)
class Part:
    key: str
    size: int


@dataclass(frozen=True)
class PlainDownload:
    file: StoredFile
    parts: Sequence[Part]

    @property
    def etag(self) -> str:
        return f'"{self.file.id}"'


def create(db: Session, session: UploadSession) -> StoredFile:
    row = StoredFile(id=ids.new_file_id(), account_id=session.account_id,
                     session_id=session.id, file_name=session.file_name,
                     file_context=session.file_context, size=session.file_size,
                     created_on=datetime.now(UTC))
    repo.add(db, row)
    return row


def of_session(db: Session, session_id: str) -> StoredFile:
    row = repo.by_session(db, session_id)
    if row is None:
        raise WeighbridgeError(ErrorCode.INTERNAL, "The completed session has no file.")
    return row


def for_download(db: Session, account_id: str, file_id: str) -> PlainDownload:
    row = repo.get_for_account(db, account_id, file_id) if ids.is_file_id(file_id) else None
    if row is None:
        raise WeighbridgeError(ErrorCode.NOT_FOUND, f"File {file_id} not found; use the fileId "
                               "that complete answered.")
    chunks = sessions_repo.chunks(db, row.session_id)
    return PlainDownload(row, [Part(c.blob_key, c.size) for c in chunks])


def stream(store: BlobStore, download: PlainDownload, offset: int, length: int
           ) -> Iterator[bytes]:
    starts = []
    position = 0
    for part in download.parts:
        starts.append(position)
        position += part.size
    index = bisect.bisect_right(starts, offset) - 1
    end = offset + length
    while offset < end:
        part = download.parts[index]
        lo = offset - starts[index]
        count = min(part.size - lo, end - offset)
        yield from store.iter_range(part.key, lo, count)
        offset += count
        index += 1
