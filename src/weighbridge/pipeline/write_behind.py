"""Writing a file's pieces in a helper thread, a bounded number of pieces behind.

Why: in an import, reading the upload, hashing it and writing the unpacked file each
cost about as much as the others (profiled on a 1 GiB safetensors upload). In one
thread they add up; with the write in a second thread they overlap, because both
hashlib and file writes release the GIL.

Every `FLUSH_EVERY_BYTES` the thread also flushes what it wrote to disk and drops it from
the page cache: measured here (PERF-NOTES), buffered writes slow down several-fold once
a few GiB are dirty, while flushing as we go keeps writing near disk speed.

Invariants: at most `depth` pieces wait in the queue (bounded memory); pieces are
immutable when queued (a writable buffer is copied, since its owner may reuse it);
`close()` returns only when every queued piece is written or an error has stopped the
writing, and raises that first error; the thread never outlives `close()`.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import BinaryIO

DEFAULT_DEPTH = 2
FLUSH_EVERY_BYTES = 256 * 1024 * 1024


class WriteBehind:
    def __init__(self, file: BinaryIO, depth: int = DEFAULT_DEPTH) -> None:
        self._file = file
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=depth)
        self._error: OSError | None = None
        self._written = self._flushed = 0
        self._thread = threading.Thread(target=self._run, name="write-behind", daemon=True)
        self._thread.start()

    def write(self, data: bytes | memoryview) -> None:
        if self._error is not None:
            raise self._error
        if isinstance(data, memoryview) and not data.readonly:
            data = bytes(data)
        self._queue.put(data)

    def _run(self) -> None:
        while (piece := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._file.write(piece)
                    self._written += len(piece)
                    if self._written - self._flushed >= FLUSH_EVERY_BYTES:
                        self._flush_to_disk()
                except OSError as exc:
                    # Keep draining so a producer blocked on a full queue wakes up.
                    self._error = exc

    def _flush_to_disk(self) -> None:
        self._file.flush()
        fd = self._file.fileno()
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, self._written, os.POSIX_FADV_DONTNEED)
        self._flushed = self._written

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
