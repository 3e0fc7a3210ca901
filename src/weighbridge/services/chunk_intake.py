"""Receiving one chunk: stream it to storage, verify it, then record it atomically.

The order is what makes a chunk all-or-nothing:
1. the session is checked (it exists, is the caller's, is OPEN);
2. the body is streamed to a fresh blob key (never the key of another upload of the same
   chunk) while its size is bounded and its sha256 computed; the event loop only
   gathers pieces, and writing and hashing run in two worker threads, one batch
   behind the reading;
3. the blob is committed (flushed and renamed into place);
4. one transaction, with the session row locked, checks the session is still OPEN and
   the file's size is not exceeded, then points the chunk row at the new blob;
5. only after that commit is the blob it replaced deleted.
A body cut off, a failed check, or a lost race at step 4 deletes the new blob, so an
interrupted or refused chunk never counts as received and never damages the chunk
that was there before.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
from anyio import to_thread

from weighbridge.db.engine import Database
from weighbridge.db.repos import sessions as repo
from weighbridge.db.tables import Chunk, UploadSession
from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.services import upload_sessions
from weighbridge.settings import Settings
from weighbridge.storage import layout
from weighbridge.storage.base import BlobStore, BlobWriter

# Pieces from the socket are gathered into a batch before one trip to the worker threads,
# and a request holds at most two batches (one in the threads, one being gathered).
# Bigger batches mean fewer trips: measured with 1, 2 and 4 MiB (1 GiB, 8 and 64 MiB
# chunks), 4 MiB was fastest or level everywhere, and smaller ones slowed a single
# upload most (8 MiB chunks: 397 -> 302 MiB/s with 2 MiB). So the batches of all uploads
# in flight share one budget: one or two uploads get 4 MiB batches, four get 2 MiB, and
# the server's memory stays bounded however many clients upload at once.
MAX_BATCH_BYTES = 4 * 1024 * 1024
MIN_BATCH_BYTES = 256 * 1024
BATCH_BUDGET_BYTES = 16 * 1024 * 1024


@dataclass
class ChunkMeta:
    """What the request says about its chunk. With multipart, fields may arrive after the
    file part, so the intake asks again once the body has been read."""

    chunk_number: int | None = None
    expected_sha256: str | None = None
    session_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkReceipt:
    session_id: str
    chunk_number: int
    size: int
    sha256: str


def _check_number(session: UploadSession, number: int | None) -> int:
    if number is None:
        raise WeighbridgeError(ErrorCode.INVALID_CHUNK_NUMBER, "chunkNumber is missing; send it "
                               "as a form field or as ?chunkNumber=N.", field="chunkNumber")
    if not 0 <= number < session.total_chunks:
        raise WeighbridgeError(ErrorCode.INVALID_CHUNK_NUMBER, f"chunkNumber {number} is out of "
                               f"range: this session takes chunks 0 to {session.total_chunks - 1}.",
                               field="chunkNumber")
    return number


def _check_size(session: UploadSession, number: int, size: int, min_size: int) -> None:
    if size == 0:
        raise WeighbridgeError(ErrorCode.EMPTY_CHUNK, f"Chunk {number} is empty; every chunk "
                               "must hold at least one byte.")
    last = session.total_chunks - 1
    if number < last and size < min_size:
        raise WeighbridgeError(ErrorCode.INVALID_FIELD, f"Chunk {number} has {size} bytes; "
                               f"every chunk but the last must hold at least {min_size} bytes "
                               "(see GET /api/public/limits).", field="chunkSize")
    if session.chunk_size is None:
        return
    want = session.chunk_size if number < last else session.file_size - session.chunk_size * last
    if size != want:
        raise WeighbridgeError(ErrorCode.INVALID_FIELD, f"Chunk {number} has {size} bytes but "
                               f"this session's chunkSize makes it exactly {want} bytes.",
                               field="chunkSize")


class _IdleDeadline:
    """The idle timeout of one chunk body: a single cancel scope whose deadline moves on as
    bytes arrive, instead of a timeout scope per piece (that cost ~10 % of the event loop).

    The deadline is moved at most every `slack` seconds, so a client is cut off between
    `seconds` and `seconds + slack` after its last byte: never early."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.slack = min(1.0, seconds / 4)
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        self.scope = anyio.CancelScope(deadline=now + seconds + self.slack)
        self._refresh_at = now + self.slack

    def progress(self) -> None:
        now = self._loop.time()
        if now >= self._refresh_at:
            self.scope.deadline = now + self.seconds + self.slack
            self._refresh_at = now + self.slack

    def check(self) -> None:
        if self.scope.cancelled_caught:
            raise WeighbridgeError(ErrorCode.CHUNK_TIMEOUT, f"No bytes arrived for "
                                   f"{self.seconds:g} seconds in the middle of the chunk; it was "
                                   "dropped. Send it again.")


class _HashingWriter:
    """Hashes and writes batches of pieces in two worker threads, side by side, while the
    event loop gathers the next batch.

    Without the overlap a single upload alternates between reading the socket, hashing
    and writing, and the client waits during each. Hashing is CPU work and writing is
    mostly waiting for the disk (direct I/O), so the two run side by side on the same
    batch rather than one after the other: measured, that took a sequential 1 GiB upload
    from ~1.94 s to ~1.72 s here. A request holds at most two batches (one in the
    threads, one being gathered). `settle()` must be awaited before the writer is
    committed or discarded, so no thread still uses it.
    """

    def __init__(self, writer: BlobWriter) -> None:
        self.writer = writer
        self.hasher = hashlib.sha256()
        self._tasks: list[asyncio.Task[None]] = []

    def _hash_all(self, pieces: list[bytes | memoryview]) -> None:
        for piece in pieces:
            self.hasher.update(piece)

    def _write_all(self, pieces: list[bytes | memoryview]) -> None:
        for piece in pieces:
            self.writer.write(piece)

    async def submit(self, pieces: list[bytes | memoryview]) -> None:
        """Wait for the previous batch (raising its error), then start this one."""
        await self.flush()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(to_thread.run_sync(self._hash_all, pieces)),
                       loop.create_task(to_thread.run_sync(self._write_all, pieces))]

    async def flush(self) -> None:
        """Wait for the batch in the threads and raise its error. Shielded: cancelling the
        request does not cancel the threads' work, `settle()` waits for it."""
        for task in self._tasks:
            await asyncio.shield(task)
        self._tasks = []

    async def settle(self) -> None:
        """Wait until no batch is in the threads, whatever happened to it."""
        tasks, self._tasks = self._tasks, []
        if tasks:
            with anyio.CancelScope(shield=True):
                await asyncio.wait(tasks)
            for task in tasks:
                if not task.cancelled():
                    task.exception()  # retrieved: it is reported (or superseded) elsewhere


class _BatchBudget:
    """The batch size for each upload, so that the batches of all uploads being read stay
    near BATCH_BUDGET_BYTES together. Only the event loop's thread uses it."""

    def __init__(self) -> None:
        self.readers = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        self.readers += 1
        try:
            yield
        finally:
            self.readers -= 1

    def batch_bytes(self) -> int:
        share = BATCH_BUDGET_BYTES // (2 * max(1, self.readers))
        return max(MIN_BATCH_BYTES, min(MAX_BATCH_BYTES, share))


class ChunkIntake:
    def __init__(self, database: Database, store: BlobStore, settings: Settings) -> None:
        self._db = database
        self._store = store
        self._settings = settings
        self._budget = _BatchBudget()

    def _load(self, account_id: str, session_id: str, number: int | None) -> UploadSession:
        with self._db.transaction() as db:
            session = upload_sessions.get_owned(db, account_id, session_id)
            upload_sessions.require_open(session)
            if number is not None:
                _check_number(session, number)
            return session

    async def receive(self, account_id: str, session_id: str,
                      body: AsyncIterator[bytes | memoryview],
                      meta: Callable[[], ChunkMeta]) -> ChunkReceipt:
        early = meta()
        session = await to_thread.run_sync(self._load, account_id, session_id, early.chunk_number)
        limit = min(session.file_size, self._settings.max_chunk_size_bytes)
        key = layout.chunk_key(session.id)
        writer = await to_thread.run_sync(self._store.writer, key)
        committed = False
        sink = _HashingWriter(writer)
        try:
            batch: list[bytes | memoryview] = []
            batch_bytes = received = 0
            idle = _IdleDeadline(self._settings.chunk_idle_timeout_seconds)
            with idle.scope, self._budget.reading():
                batch_limit = self._budget.batch_bytes()
                async for piece in body:
                    received += len(piece)
                    if received > limit:
                        raise WeighbridgeError(ErrorCode.TOO_LARGE, f"The chunk is larger than "
                                               f"{limit} bytes (the file's size or the server's "
                                               "maximum chunk size); send smaller chunks.")
                    batch.append(piece)
                    batch_bytes += len(piece)
                    if batch_bytes >= batch_limit:
                        await sink.submit(batch)
                        batch, batch_bytes = [], 0
                        batch_limit = self._budget.batch_bytes()
                    idle.progress()
            idle.check()
            if batch:
                await sink.submit(batch)
            await sink.flush()

            final = meta()
            number = _check_number(session, final.chunk_number)
            upload_sessions.check_metadata(session, final.session_fields)
            _check_size(session, number, received, self._settings.min_chunk_size_bytes)
            digest = sink.hasher.hexdigest()
            if final.expected_sha256 and final.expected_sha256.strip().lower() != digest:
                raise WeighbridgeError(ErrorCode.CHUNK_CHECKSUM_MISMATCH, f"Chunk {number} has "
                                       f"sha256 {digest}, not the {final.expected_sha256} sent in "
                                       "X-Chunk-Sha256; it was not stored. Send it again.")
            await to_thread.run_sync(writer.commit)
            committed = True
            receipt = ChunkReceipt(session.id, number, received, digest)
            replaced = await to_thread.run_sync(self._record, account_id, receipt, key)
        except BaseException as exc:
            # Covers refusals, a client that hung up mid-body, and task cancellation.
            await sink.settle()
            await to_thread.run_sync(self._discard, writer, key, committed)
            if isinstance(exc, WeighbridgeError) and exc.code == ErrorCode.INTERNAL:
                # A complete or an abort may have freed the session's storage under this
                # upload; then the session's state, not the storage, is the answer.
                await to_thread.run_sync(self._load, account_id, session_id, None)
            raise
        if replaced and replaced != key:
            await to_thread.run_sync(self._store.delete, replaced)
        return receipt

    def _discard(self, writer: BlobWriter, key: str, committed: bool) -> None:
        writer.cancel()
        if committed:
            self._store.delete(key)

    def _record(self, account_id: str, receipt: ChunkReceipt, key: str) -> str | None:
        """Point the chunk row at `key`; returns the blob key it replaced, if any."""
        with self._db.transaction() as db:
            session = upload_sessions.get_owned(db, account_id, receipt.session_id, lock=True)
            upload_sessions.require_open(session)
            earlier = repo.get_chunk(db, session.id, receipt.chunk_number)
            others = repo.received_bytes(db, session.id) - (earlier.size if earlier else 0)
            if others + receipt.size > session.file_size:
                raise WeighbridgeError(ErrorCode.TOO_LARGE, f"Chunk {receipt.chunk_number} "
                                       f"would bring the received total to "
                                       f"{others + receipt.size} bytes, past fileSize "
                                       f"{session.file_size}; check your chunk boundaries.")
            replaced = earlier.blob_key if earlier else None
            repo.put_chunk(db, Chunk(session_id=session.id, chunk_number=receipt.chunk_number,
                                     blob_key=key, size=receipt.size, sha256=receipt.sha256,
                                     received_on=datetime.now(UTC)))
            return replaced
