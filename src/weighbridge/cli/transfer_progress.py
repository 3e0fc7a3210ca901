"""The live display of `weighbridge import` on stderr: checksum, upload, then the job.

One rich `Progress` with three tasks, fed by the SDK's callbacks (which arrive from the
upload threads; rich's task updates take a lock). Byte tasks show size, rate and ETA;
the job task shows the server's phase and percentage.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from weighbridge.cli.sizes import format_size


class _BytesOnly(ProgressColumn):
    """Shows `inner` for byte-counting tasks and nothing for the job's percentage."""

    def __init__(self, inner: ProgressColumn) -> None:
        super().__init__()
        self.inner = inner

    def render(self, task: Task) -> RenderableType:
        return self.inner.render(task) if task.fields.get("bytes") else Text("")


class _Rate(ProgressColumn):
    """Bytes per second in binary units, like the sizes beside it (rich's is decimal)."""

    def render(self, task: Task) -> RenderableType:
        speed = task.finished_speed or task.speed
        return Text("?" if speed is None else f"{format_size(int(speed))}/s")


class ImportProgress:
    """Context manager; pass its methods as the SDK's progress callbacks."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            _BytesOnly(DownloadColumn(binary_units=True)),
            _BytesOnly(_Rate()),
            _BytesOnly(TimeRemainingColumn()),
            console=console,
        )
        self._hash: TaskID | None = None
        self._upload: TaskID | None = None
        self._job: TaskID | None = None
        self.dock_status_id: str | None = None

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def hashing(self, done: int, total: int) -> None:
        if self._hash is None:
            self._hash = self._progress.add_task("checksum", total=total, bytes=True)
        self._progress.update(self._hash, completed=done)

    def uploading(self, done: int, total: int) -> None:
        if self._upload is None:
            self._upload = self._progress.add_task("upload  ", total=total, bytes=True)
        self._progress.update(self._upload, completed=done)

    def job(self, status: dict[str, Any]) -> None:
        self.dock_status_id = str(status.get("_id") or status.get("dockStatusId") or "") or None
        percent = status.get("percentageComplete")
        phase = str(status.get("phase") or status.get("status") or "").lower()
        if self._job is None:
            self._job = self._progress.add_task("import  ", total=100)
        state = str(status.get("status", ""))
        completed = 100 if state == "SUCCESS" else percent if isinstance(percent, int) else 0
        self._progress.update(self._job, completed=completed, description=f"import   {phase}")
