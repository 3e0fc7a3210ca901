"""The IMPORT job: feed a completed session's chunks through the pipeline, then register.

The staging directory is local scratch space owned by this job id; a retried job starts
by wiping it, so a crash half way leaves nothing that a later attempt would trust. The
model's files move into the content-addressed store inside the transaction that
registers the model (services/registry.py), and the job is marked SUCCESS in that same
transaction.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from weighbridge.db.repos import sessions as sessions_repo
from weighbridge.db.tables import Chunk, UploadSession
from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.jobs.context import JobContext, LeaseLost
from weighbridge.pipeline.result import ImportRequest, UnpackLimits
from weighbridge.pipeline.run import run_import
from weighbridge.services import jobs, registry
from weighbridge.storage import layout
from weighbridge.storage.base import BlobStore


def _chunk_bytes(store: BlobStore, chunks: Sequence[Chunk]) -> Iterator[bytes]:
    for chunk in chunks:
        yield from store.iter_bytes(chunk.blob_key)


def _request(session: UploadSession, ctx: JobContext) -> ImportRequest:
    s = ctx.settings
    return ImportRequest(
        file_name=session.file_name, file_extension=session.file_extension,
        total_bytes=session.file_size, expected_sha256=session.sha256,
        is_adapter=session.is_adapter, base_model=session.base_model,
        limits=UnpackLimits(max_unpacked_bytes=s.max_unpacked_bytes,
                            max_members=s.max_archive_members,
                            max_compression_ratio=s.max_compression_ratio),
    )


def run(ctx: JobContext) -> None:
    with ctx.database.transaction() as db:
        session = sessions_repo.get(db, ctx.job.session_id or "")
        if session is None:
            raise WeighbridgeError(ErrorCode.INTERNAL, "The job's upload session is gone.")
        chunks = sessions_repo.chunks(db, session.id)
    staging = layout.staging_dir(ctx.settings.data_dir, ctx.job.id)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        ctx.progress("VERIFYING", 0.0, force=True)
        result = run_import(_chunk_bytes(ctx.store, chunks), _request(session, ctx), staging,
                            ctx.progress)
        ctx.progress("REGISTERING", 1.0, force=True)
        with ctx.database.transaction() as db:
            registry.register(db, ctx.store, session, result, staging / "model")
            if not jobs.finish(db, ctx.job.id, ctx.owner):
                raise LeaseLost(ctx.job.id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def release_chunks(ctx: JobContext) -> None:
    """Free the upload's chunks (and any staging a crashed attempt left) once the job has
    ended, whatever the outcome."""
    shutil.rmtree(layout.staging_dir(ctx.settings.data_dir, ctx.job.id), ignore_errors=True)
    session_id = ctx.job.session_id
    if not session_id:
        return
    with ctx.database.transaction() as db:
        sessions_repo.delete_chunks(db, session_id)
    ctx.store.delete_prefix(layout.session_prefix(session_id))
    with ctx.database.transaction() as db:
        session = sessions_repo.get(db, session_id)
        if session is not None:
            session.freed_on = datetime.now(UTC)
