"""The progress display: byte bars start where a resumed transfer stands; the export
display follows the job, then the download."""

from __future__ import annotations

import io

from rich.console import Console

from weighbridge.cli.transfer_progress import TransferProgress


def _display(job_label: str = "import") -> TransferProgress:
    return TransferProgress(Console(file=io.StringIO(), force_terminal=False), job_label)


def test_a_resumed_upload_starts_at_the_held_bytes() -> None:
    display = _display()
    with display:
        display.uploading(600, 1000)
        (task,) = display.tasks
        assert (task.completed, task.total) == (600, 1000)
        display.uploading(700, 1000)
        assert task.completed == 700


def test_export_shows_the_job_then_the_download() -> None:
    display = _display("export")
    with display:
        display.job(
            {"_id": "ds-1", "status": "IN_PROGRESS", "phase": "PACKING", "percentageComplete": 40}
        )
        display.job({"_id": "ds-1", "status": "SUCCESS"})
        display.downloading(0, 50)
        display.downloading(50, 50)
    job, download = display.tasks
    assert job.description.split() == ["export", "success"] and job.completed == 100
    assert (download.completed, download.total) == (50, 50)
    assert display.dock_status_id == "ds-1"


def test_a_display_that_showed_nothing_leaves_nothing() -> None:
    out = io.StringIO()
    with TransferProgress(Console(file=out, force_terminal=False), "delete"):
        pass
    assert out.getvalue() == ""
