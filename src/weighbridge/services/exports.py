"""Model export: a tar of the model's files, streamed from the store on demand.

Nothing is built ahead: the EXPORT job checks that every object is present, and the
download maps each requested byte range onto tar headers (in memory) and object bytes
(read from the store). Objects are immutable (named by their sha256), so a download
never mixes old and new bytes; if the model is deleted mid-download, reading the next
object fails and the connection is cut rather than sending wrong bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from weighbridge.db.tables import Job, Model
from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.services import jobs, registry
from weighbridge.storage import layout
from weighbridge.storage.base import BlobStore
from weighbridge.tar_layout import TarLayout, TarMember


@dataclass(frozen=True)
class ExportFile:
    key: str
    size: int


@dataclass(frozen=True)
class ExportTar:
    file_name: str
    etag: str
    layout: TarLayout[ExportFile]

    @property
    def size(self) -> int:
        return self.layout.size


def _safe_top(name: str) -> str:
    top = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return top or "model"


def describe(model: Model) -> ExportTar:
    top = _safe_top(model.name)
    members = [TarMember(f"{top}/{f.path}", f.size, ExportFile(layout.object_key(f.sha256),
                                                                f.size))
               for f in model.files]
    manifest = "\n".join(f"{f.path}\0{f.sha256}" for f in model.files)
    etag = '"' + hashlib.sha256(f"{top}\n{manifest}".encode()).hexdigest()[:32] + '"'
    return ExportTar(f"{top}.tar", etag, TarLayout(members))


def request(db: Session, account_id: str, model_id: str) -> Job:
    model = registry.get_ready(db, account_id, model_id)
    return jobs.create_for_model(db, account_id, model.id, jobs.Action.EXPORT)


def check_objects(store: BlobStore, model: Model) -> None:
    for f in model.files:
        key = layout.object_key(f.sha256)
        if not store.exists(key) or store.size(key) != f.size:
            raise WeighbridgeError(ErrorCode.INTERNAL, f"The stored bytes of {f.path} are "
                                   "missing or damaged; the model cannot be exported.")


def for_download(db: Session, account_id: str, dock_status_id: str) -> ExportTar:
    job = jobs.get_owned(db, account_id, dock_status_id)
    if job.action != jobs.Action.EXPORT or job.status != jobs.JobStatus.SUCCESS:
        raise WeighbridgeError(ErrorCode.NOT_FOUND, f"{dock_status_id} is not a finished "
                               "export; poll its dock status until SUCCESS first.")
    model = registry.find(db, job.model_id)
    if model is None or model.status != registry.READY:
        raise WeighbridgeError(ErrorCode.GONE, f"Model {job.model_id} was deleted after this "
                               "export; there is nothing to download.")
    return describe(model)


def stream(store: BlobStore, tar: ExportTar, offset: int, length: int) -> Iterator[bytes]:
    def read(f: ExportFile, start: int, count: int) -> Iterator[bytes]:
        return store.iter_range(f.key, start, count)
    return tar.layout.iter_range(offset, length, read)
