"""The live display of `weighbridge import` and `models export` on stderr.

One rich `Progress` whose tasks are fed by the SDK's callbacks (which arrive from the
upload threads; rich's task updates take a lock): an import shows checksum, upload, then
the import job; an export shows the export job, then the download. Byte tasks show size,
rate and ETA; a job task shows the server's phase and percentage.

A byte task is created at the count of its first report, so a resumed transfer starts
its bar at the bytes already moved (the SDK reports those first).
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


class TransferProgress:
    """Context manager; pass its methods as the SDK's progress callbacks.

    `job_label` names the server job the display follows ("import" or "export").
    """

    def __init__(self, console: Console, job_label: str = "import") -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            _BytesOnly(DownloadColumn(binary_units=True)),
            _BytesOnly(_Rate()),
            _BytesOnly(TimeRemainingColumn()),
            console=console,
        )
        self._job_label = f"{job_label:<8}"
        self._bytes: dict[str, TaskID] = {}
        self._job: TaskID | None = None
        self.dock_status_id: str | None = None
        self._started = False

    def __enter__(self) -> Self:
        return self

    def _start(self) -> None:
        # Started at the first task, so a command that fails before showing anything
        # leaves no empty display (rich prints one line even for no tasks).
        if not self._started:
            self._started = True
            self._progress.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started:
            self._progress.stop()

    @property
    def tasks(self) -> list[Task]:
        return self._progress.tasks

    def _bytes_task(self, label: str, done: int, total: int) -> None:
        task = self._bytes.get(label)
        if task is None:
            self._start()
            self._bytes[label] = self._progress.add_task(
                f"{label:<8}", total=total, completed=done, bytes=True
            )
        else:
            self._progress.update(task, completed=done, total=total)

    def hashing(self, done: int, total: int) -> None:
        self._bytes_task("checksum", done, total)

    def uploading(self, done: int, total: int) -> None:
        self._bytes_task("upload", done, total)

    def downloading(self, done: int, total: int) -> None:
        self._bytes_task("download", done, total)

    def verifying(self, done: int, total: int) -> None:
        self._bytes_task("verify", done, total)

    def job(self, status: dict[str, Any]) -> None:
        self.dock_status_id = str(status.get("_id") or status.get("dockStatusId") or "") or None
        percent = status.get("percentageComplete")
        phase = str(status.get("phase") or status.get("status") or "").lower()
        if self._job is None:
            self._start()
            self._job = self._progress.add_task(self._job_label, total=100)
        state = str(status.get("status", ""))
        completed = 100 if state == "SUCCESS" else percent if isinstance(percent, int) else 0
        self._progress.update(
            self._job, completed=completed, description=f"{self._job_label} {phase}"
        )
