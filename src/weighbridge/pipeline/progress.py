"""Turning bytes processed into the job's (phase, fraction) progress callbacks.

Invariants: fractions never go backwards and stay within 0..1; within a phase the
callback fires at most once per `REPORT_EVERY_BYTES` of work (plus at phase starts), so a
40 GB upload produces a few thousand updates, not millions.
"""

from __future__ import annotations

from collections.abc import Callable

REPORT_EVERY_BYTES = 8 * 1024 * 1024

ProgressCallback = Callable[[str, float], None]


class ProgressMeter:
    """Maps bytes done in the current phase onto a [start, end] slice of the job."""

    def __init__(self, callback: ProgressCallback) -> None:
        self._callback = callback
        self._phase = "VERIFYING"
        self._start = 0.0
        self._end = 0.0
        self._total = 1
        self._done = 0
        self._unreported = 0
        self._last = 0.0

    def phase(self, name: str, start: float, end: float, total_bytes: int) -> None:
        """Begin a phase that covers `start`..`end` of the job and `total_bytes` of work."""
        self._phase = name
        self._start = max(start, self._last)
        self._end = max(end, self._start)
        self._total = max(total_bytes, 1)
        self._done = 0
        self._unreported = 0
        self._emit(self._start)

    def advance(self, nbytes: int) -> None:
        self._done += nbytes
        self._unreported += nbytes
        if self._unreported >= REPORT_EVERY_BYTES:
            self._unreported = 0
            share = min(self._done / self._total, 1.0)
            self._emit(self._start + (self._end - self._start) * share)

    def finish(self) -> None:
        self._emit(1.0)

    def _emit(self, fraction: float) -> None:
        fraction = min(max(fraction, self._last), 1.0)
        self._last = fraction
        self._callback(self._phase, fraction)
