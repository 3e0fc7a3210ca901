"""The `models` commands: filters reach the SDK, pages and jobs are rendered on the right
stream, export reports what it wrote, and failures map to the exit code table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.unit.cli.conftest import StubClient
from weighbridge.cli.exit_codes import ExitCode
from weighbridge.client import (
    ApiError,
    DownloadError,
    JobFailed,
    LocalInputError,
    TransportError,
)


def test_list_sends_the_filters(run: Any) -> None:
    result = run(
        "models", "list", "--name", "mini", "--no-adapter", "--format", "gguf",
        "--status", "ready", "--offset", "3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert StubClient.calls[1] == (
        "list_models",
        (50, 3, {"name": "mini", "is_adapter": False, "format": "gguf", "status": "READY"}),
    )
    adapters = run("models", "list", "--adapter")
    assert adapters.exit_code == 0
    assert StubClient.calls[-1][1][2]["is_adapter"] is True


def test_an_unknown_format_is_a_usage_error(run: Any) -> None:
    result = run("models", "list", "--format", "onnx")
    assert result.exit_code == ExitCode.USAGE
    assert [c for c in StubClient.calls if c[0] == "list_models"] == []


def test_list_says_where_the_page_lies_on_stderr(run: Any) -> None:
    StubClient.total = 120
    result = run("models", "list", "--limit", "1", "--offset", "50")
    assert "cm-1" in result.stdout and "of 120" not in result.stdout
    assert "Models 51–51 of 120; more with --offset 51" in result.stderr
    StubClient.total = 1
    assert "Models" not in run("models", "list").stderr  # one page is all there is


def test_an_empty_list_says_so_on_stderr_only(run: Any) -> None:
    StubClient.models, StubClient.total = [], 0
    plain = run("models", "list")
    assert plain.stdout == "" and "No models yet" in plain.stderr
    filtered = run("models", "list", "--name", "x")
    assert filtered.stdout == "" and "No models match" in filtered.stderr
    as_json = run("models", "list", "--json")
    assert json.loads(as_json.stdout)["models"] == []


def test_delete_prints_the_job(run: Any) -> None:
    human = run("models", "delete", "cm-1")
    assert human.exit_code == 0, human.output
    assert "Deleted cm-1" in human.stderr
    assert "DELETE" in human.stdout and "SUCCESS" in human.stdout and "ds-2" in human.stdout
    as_json = run("models", "delete", "cm-1", "--json")
    assert json.loads(as_json.stdout)["action"] == "DELETE"


def test_a_failed_delete_job_exits_1(run: Any) -> None:
    StubClient.raises = JobFailed("MODEL_BUSY", "An export is running.", {"_id": "ds-2"})
    result = run("models", "delete", "cm-1", "--json")
    assert result.exit_code == ExitCode.JOB_FAILED
    error = json.loads(result.stdout)["error"]
    assert (error["code"], error["dockStatusId"]) == ("MODEL_BUSY", "ds-2")
    StubClient.raises = ApiError(404, "NOT_FOUND", "Model cm-9 not found.")
    assert run("models", "delete", "cm-9").exit_code == ExitCode.API_ERROR


def test_an_interrupted_delete_says_the_job_goes_on(run: Any) -> None:
    StubClient.raises = KeyboardInterrupt()
    result = run("models", "delete", "cm-1")
    assert result.exit_code == ExitCode.INTERRUPTED
    assert "weighbridge status ds-2" in result.stderr


def test_export_writes_and_reports_the_file(run: Any, tmp_path: Path) -> None:
    out = tmp_path / "m.tar"
    result = run("models", "export", "cm-1", "--output", str(out))
    assert result.exit_code == 0, result.output
    (_, (model_id, output, kwargs)) = StubClient.calls[1]
    assert (model_id, output) == ("cm-1", out)
    assert kwargs["resume"] is True and kwargs["verify"] is True
    assert str(out) in result.stdout and "2 files match" in result.stdout
    assert "Exported cm-1" in result.stderr and "Resumed" not in result.stderr
    StubClient.resumed_bytes = 4
    resumed = run("models", "export", "cm-1", "-o", str(out), "--no-resume", "--no-verify")
    assert "Resumed: 4 B were already downloaded" in resumed.stderr
    kwargs = StubClient.calls[-1][1][2]
    assert kwargs["resume"] is False and kwargs["verify"] is False


def test_export_refuses_an_existing_output_unless_forced(run: Any, tmp_path: Path) -> None:
    out = str(tmp_path / "m.tar")
    StubClient.raises = LocalInputError(f"{out} already exists; choose another.", "OUTPUT_EXISTS")
    refused = run("models", "export", "cm-1", "-o", out)
    assert refused.exit_code == ExitCode.USAGE and refused.stdout == ""
    assert "OUTPUT_EXISTS" in refused.stderr and "--force" in refused.stderr
    assert StubClient.calls[-1][1][2]["overwrite"] is False
    as_json = run("models", "export", "cm-1", "-o", out, "--json")
    assert json.loads(as_json.stdout)["error"]["code"] == "OUTPUT_EXISTS"
    StubClient.raises = None
    forced = run("models", "export", "cm-1", "-o", out, "--force")
    assert forced.exit_code == 0, forced.output
    assert StubClient.calls[-1][1][2]["overwrite"] is True


def test_export_json(run: Any, tmp_path: Path) -> None:
    result = run("models", "export", "cm-1", "-o", str(tmp_path / "m.tar"), "--json")
    assert json.loads(result.stdout) == {
        "modelId": "cm-1",
        "dockStatusId": "ds-3",
        "path": str(tmp_path / "m.tar"),
        "sizeBytes": 10,
        "resumedBytes": 0,
        "verifiedFiles": 2,
    }


def test_export_needs_an_output(run: Any) -> None:
    result = run("models", "export", "cm-1")
    assert result.exit_code == ExitCode.USAGE
    assert [c for c in StubClient.calls if c[0] == "export_model"] == []


def test_export_failures_and_interrupts(run: Any, tmp_path: Path) -> None:
    out = str(tmp_path / "m.tar")
    cases = [
        (DownloadError("EXPORT_MISMATCH", "config.json differs"), ExitCode.API_ERROR),
        (TransportError("kept failing; run again to resume", 6), ExitCode.CONNECTION),
        # A download the server kept answering 500: its error, not a connection failure.
        (ApiError(500, "INTERNAL", "The export blob is unreadable."), ExitCode.API_ERROR),
        (JobFailed("EXPORT_FAILED", "disk", {"_id": "ds-3"}), ExitCode.JOB_FAILED),
    ]
    for error, code in cases:
        StubClient.raises = error
        result = run("models", "export", "cm-1", "-o", out)
        assert result.exit_code == code, (error, result.output)
        assert error.code in result.stderr and result.stdout == ""
    StubClient.raises = KeyboardInterrupt()
    interrupted = run("models", "export", "cm-1", "-o", out, "--json")
    assert interrupted.exit_code == ExitCode.INTERRUPTED
    assert json.loads(interrupted.stdout)["error"]["code"] == "INTERRUPTED"
    assert "resume the download" in interrupted.stderr
