"""The client commands: options reach the SDK, results and errors are rendered with the
right stream and exit code. The SDK is replaced by a stub; no server is involved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.cli.conftest import MODEL, StubClient
from weighbridge.cli.exit_codes import ExitCode
from weighbridge.client import (
    ApiError,
    ImportFailed,
    TransportError,
    WeighbridgeClientError,
)


def test_import_prints_the_model_on_stdout(run: Any, tmp_path: Path) -> None:
    result = run("import", str(tmp_path), "--name", "mini", "--chunk-size", "8M", "--parallel", "2")
    assert result.exit_code == 0, result.output
    assert "all-MiniLM-L6-v2" in result.stdout and "22,713,728" in result.stdout
    assert "cm-1" in result.stdout and "BertModel" in result.stdout
    assert "Imported" in result.stderr and "Imported" not in result.stdout
    (_, (path, kwargs)) = StubClient.calls[1]
    assert path == tmp_path
    assert kwargs["name"] == "mini" and kwargs["chunk_size"] == 8 * 1024 * 1024
    assert kwargs["parallel"] == 2 and kwargs["wait"] is True and kwargs["is_adapter"] is None
    assert kwargs["resume"] is True
    assert StubClient.calls[0] == ("init", ("http://127.0.0.1:8080", "k"))


def test_import_json_prints_only_the_model(run: Any, tmp_path: Path) -> None:
    result = run("import", str(tmp_path), "--json", "--adapter", "--base-model", "b")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == MODEL
    kwargs = StubClient.calls[1][1][1]
    assert kwargs["is_adapter"] is True and kwargs["base_model"] == "b"


def test_import_no_resume_asks_for_a_fresh_upload(run: Any, tmp_path: Path) -> None:
    result = run("import", str(tmp_path), "--no-resume")
    assert result.exit_code == 0, result.output
    assert StubClient.calls[1][1][1]["resume"] is False


def test_import_no_wait_prints_the_ids(run: Any, tmp_path: Path) -> None:
    result = run("import", str(tmp_path), "--no-wait", "--json")
    assert json.loads(result.stdout) == {
        "sessionId": "s-1",
        "dockStatusId": "ds-1",
        "modelId": "cm-1",
    }


def test_a_failed_import_exits_1_with_the_reason(run: Any, tmp_path: Path) -> None:
    StubClient.raises = ImportFailed(
        "INVALID_MODEL", "tensor x is truncated", {"_id": "ds-1", "modelId": "cm-1"}
    )
    result = run("import", str(tmp_path), "--json")
    assert result.exit_code == ExitCode.IMPORT_FAILED
    assert json.loads(result.stdout) == {
        "error": {
            "code": "INVALID_MODEL",
            "msg": "tensor x is truncated",
            "dockStatusId": "ds-1",
            "modelId": "cm-1",
        }
    }
    assert "INVALID_MODEL" in result.stderr and "tensor x is truncated" in result.stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ApiError(409, "SESSION_COMPLETED", "already completed"), ExitCode.API_ERROR),
        (ApiError(401, "UNAUTHORIZED", "bad key"), ExitCode.USAGE),
        (TransportError("Could not reach it.", 6), ExitCode.CONNECTION),
    ],
)
def test_errors_map_to_the_exit_code_table(
    run: Any, tmp_path: Path, error: WeighbridgeClientError, code: ExitCode
) -> None:
    StubClient.raises = error
    result = run("import", str(tmp_path))
    assert result.exit_code == code
    assert result.stdout == ""
    assert str(error.code) in result.stderr


def test_a_missing_key_is_a_usage_error(run: Any, tmp_path: Path) -> None:
    result = run("models", "list", env={"WEIGHBRIDGE_API_KEY": ""})
    assert result.exit_code == ExitCode.USAGE
    assert "WEIGHBRIDGE_API_KEY" in result.stderr
    assert StubClient.calls == []


def test_a_bad_chunk_size_is_a_usage_error(run: Any, tmp_path: Path) -> None:
    result = run("import", str(tmp_path), "--chunk-size", "lots")
    assert result.exit_code == 2
    assert StubClient.calls == []


@pytest.mark.parametrize("host", ["not-a-url", "127.0.0.1:8080", "https://"])
def test_a_host_that_is_no_url_is_a_usage_error_before_any_request(run: Any, host: str) -> None:
    result = run("models", "list", "--host", host)
    assert result.exit_code == ExitCode.USAGE
    assert "INVALID_HOST" in result.stderr and "http://127.0.0.1:8080" in result.stderr
    assert StubClient.calls == []  # no client was even built, so nothing was retried
    as_json = run("models", "list", "--host", host, "--json")
    assert json.loads(as_json.stdout)["error"]["code"] == "INVALID_HOST"


def test_host_comes_from_the_environment(run: Any) -> None:
    run("models", "list", env={"WEIGHBRIDGE_HOST": "http://wb:9", "WEIGHBRIDGE_API_KEY": "z"})
    assert StubClient.calls[0] == ("init", ("http://wb:9", "z"))


def test_models_list_and_show(run: Any) -> None:
    listed = run("models", "list", "--limit", "5", "--json")
    assert json.loads(listed.stdout) == {"models": [MODEL], "total": 1, "limit": 5, "offset": 0}
    assert StubClient.calls[1] == (
        "list_models",
        (5, 0, {"name": None, "is_adapter": None, "format": None, "status": None}),
    )
    table = run("models", "list")
    assert "cm-1" in table.stdout and "22,713,728" in table.stdout
    shown = run("models", "show", "cm-1", "--json")
    assert json.loads(shown.stdout) == MODEL
    StubClient.raises = ApiError(404, "NOT_FOUND", "Model cm-9 not found.")
    missing = run("models", "show", "cm-9", "--json")
    assert missing.exit_code == ExitCode.API_ERROR
    assert json.loads(missing.stdout)["error"]["code"] == "NOT_FOUND"


def test_status_shows_the_job(run: Any) -> None:
    human = run("status", "ds-1")
    assert human.exit_code == 0
    assert "FAILED" in human.stdout and "bad tensor" in human.stdout
    assert json.loads(run("status", "ds-1", "--json").stdout)["status"] == "FAILED"
