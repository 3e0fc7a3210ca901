"""Running totals of one unpack checked against its limits, and what it noticed.

Shared by tar (`archive`) and zip (`zip_archive`). Invariants: every member is counted
and every unpacked byte added before it is written, so a bomb stops within one piece of
crossing a limit (LIMIT_EXCEEDED naming the member); declared sizes are never trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.result import UnpackLimits

# Below this much compressed input the ratio is not judged: tar headers and small JSON
# files compress far better than 200:1 and are harmless.
RATIO_GRACE_BYTES = 1024 * 1024


@dataclass
class UnpackReport:
    """What unpacking noticed besides the files themselves."""

    skipped: list[str] = field(default_factory=list)  # platform metadata, not kept

    def warnings(self) -> list[str]:
        if not self.skipped:
            return []
        example = self.skipped[0]
        return [
            (
                f"Skipped {len(self.skipped)} macOS metadata entries (e.g. {example!r}); "
                "they are not part of the model."
            )
        ]


class UnpackBudget:
    """Running totals checked against the limits as members are written."""

    def __init__(self, limits: UnpackLimits, file_name: str, compressed: Callable[[], int]) -> None:
        self.limits = limits
        self.file_name = file_name
        self._compressed = compressed
        self.members = 0
        self.unpacked_bytes = 0

    def count_member(self, member: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise PipelineError(
                ErrorCode.LIMIT_EXCEEDED,
                f"{self.file_name}: has more than the limit of {self.limits.max_members} "
                f"members (stopped at {member!r}); pack fewer files or ask the operator to raise "
                "the member limit.",
            )

    def add_bytes(self, nbytes: int, member: str) -> None:
        self.unpacked_bytes += nbytes
        if self.unpacked_bytes > self.limits.max_unpacked_bytes:
            raise PipelineError(
                ErrorCode.LIMIT_EXCEEDED,
                f"{self.file_name}: unpacks to more than the limit of "
                f"{self.limits.max_unpacked_bytes} bytes (reached while writing {member!r}); ask the operator to raise the "
                "unpacked size limit or split the model.",
            )
        compressed = max(self._compressed(), RATIO_GRACE_BYTES)
        if self.unpacked_bytes > self.limits.max_compression_ratio * compressed:
            raise PipelineError(
                ErrorCode.LIMIT_EXCEEDED,
                f"{self.file_name}: unpacks to more than {self.limits.max_compression_ratio:g} "
                f"times its compressed size (reached while writing {member!r}); this looks "
                "like a decompression bomb — model weights do not compress that well.",
            )
