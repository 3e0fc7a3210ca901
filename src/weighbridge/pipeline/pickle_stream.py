"""Reading a pickle stream for the scanner: bounded reads, byte positions, progress.

`pickletools` trusts the lengths a pickle declares (`read(n)`, `readline()`); a hostile
pickle could declare an 8-EiB string. `BoundedReader` owns those reads. Invariants:
- no read asks the underlying file for more than what is left of the stream or more
  than `MAX_VALUE_BYTES` (→ LIMIT_EXCEEDED before anything is read), so memory stays
  bounded whatever the pickle declares;
- `position` is the stream offset of the next byte, for messages that name it;
- every byte consumed or skipped is reported to `on_bytes` (in batches of about 1 MiB),
  so the job's progress keeps moving while a large file is scanned.
It also words the two scanner refusals, which name the file and the byte offset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from weighbridge.errors import ErrorCode, PipelineError

MAX_VALUE_BYTES = 64 * 1024 * 1024
_PROGRESS_EVERY_BYTES = 1024 * 1024


class BoundedReader:
    """The file-like object pickletools reads: refuses huge reads, reports progress.

    pickletools trusts the lengths a pickle declares (`read(n)`, `readline()`); this caps
    them by what is left of the stream and by MAX_VALUE_BYTES before reading anything.
    """

    def __init__(
        self, raw: BinaryIO, size: int, name: str, on_bytes: Callable[[int], None] | None = None
    ) -> None:
        self._raw = raw
        self.size = size
        self.name = name
        self.position = 0
        self._on_bytes = on_bytes
        self._unreported = 0

    def _too_big(self, n: int) -> PipelineError:
        return PipelineError(
            ErrorCode.LIMIT_EXCEEDED,
            f"{self.name} holds a pickled value of {n} bytes at byte {self.position}, more than "
            f"the {MAX_VALUE_BYTES} bytes the pickle scanner accepts; convert the file to "
            "safetensors or remove it.",
        )

    def _took(self, data: bytes) -> bytes:
        self.position += len(data)
        self._unreported += len(data)
        if self._unreported >= _PROGRESS_EVERY_BYTES:
            self.flush_progress()
        return data

    def flush_progress(self) -> None:
        if self._on_bytes is not None and self._unreported:
            self._on_bytes(self._unreported)
        self._unreported = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > MAX_VALUE_BYTES:
            raise self._too_big(n)
        # Fewer bytes than asked makes pickletools report a truncated pickle.
        return self._took(self._raw.read(min(n, self.size - self.position)))

    def readline(self, _limit: int = -1) -> bytes:
        line = self._raw.readline(min(MAX_VALUE_BYTES, self.size - self.position) + 1)
        if len(line) > MAX_VALUE_BYTES:
            raise self._too_big(len(line))
        return self._took(line)

    def tell(self) -> int:
        return self.position

    def skip(self, n: int) -> None:
        """Move past `n` bytes of non-pickle data (legacy storage records) unread."""
        self._raw.seek(n, 1)
        self.position += n
        self._unreported += n
        self.flush_progress()


def unsafe(name: str, what: str, position: int | None) -> PipelineError:
    return PipelineError(
        ErrorCode.UNSAFE_PICKLE,
        f"{name} is a pickle that {what} (at byte {position}), which a plain tensor checkpoint "
        "does not need and which can run code when the file is loaded; remove the file if the "
        "model does not need it (training_args.bin and optimizer or scheduler states are not "
        "needed to serve it), or convert the weights to safetensors (save_pretrained with "
        "safe_serialization=True), and upload again.",
    )


def invalid(name: str, problem: str, position: int | None) -> PipelineError:
    return PipelineError(
        ErrorCode.INVALID_MODEL,
        f"{name} is not a valid pickle ({problem} at byte {position}); the file is damaged or "
        "is not a PyTorch checkpoint — save it again with torch.save or remove it.",
    )
