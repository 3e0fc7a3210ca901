"""The `sessions` commands: list the open ones (or any state) and abort one; data on
stdout, hints on stderr, failures mapped to the exit code table."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.cli.conftest import SESSION, StubClient
from weighbridge.cli.exit_codes import ExitCode
from weighbridge.client import ApiError


def test_list_shows_the_open_sessions(run: Any) -> None:
    result = run("sessions", "list")
    assert result.exit_code == 0, result.output
    assert StubClient.calls[1] == ("list_sessions", ("OPEN", 100, 0))
    assert SESSION["sessionId"] in result.stdout  # whole, to be copied into `abort`
    assert "all-MiniLM-L6-v2.tar" in result.stdout and "OPEN" in result.stdout
    assert "32.0 MiB" in result.stdout and "2026-12-04 10:00:00" in result.stdout
    assert "weighbridge sessions abort" in result.stderr


def test_list_json_and_other_states(run: Any) -> None:
    as_json = run("sessions", "list", "--json")
    assert json.loads(as_json.stdout) == {"sessions": [SESSION]}
    run("sessions", "list", "--status", "EXPIRED", "--limit", "5", "--offset", "2")
    run("sessions", "list", "--status", "all")
    listed = [args for name, args in StubClient.calls if name == "list_sessions"]
    assert listed[-2:] == [("EXPIRED", 5, 2), (None, 100, 0)]


def test_no_sessions_is_said_on_stderr_only(run: Any) -> None:
    StubClient.sessions = []
    result = run("sessions", "list")
    assert result.exit_code == 0 and result.stdout == ""
    assert "No open upload sessions" in result.stderr


def test_abort_reports_the_aborted_session(run: Any) -> None:
    result = run("sessions", "abort", "s-9")
    assert result.exit_code == 0, result.output
    assert StubClient.calls[1] == ("abort_session", "s-9")
    assert "Aborted s-9" in result.stderr
    assert "ABORTED" in result.stdout and "s-9" in result.stdout
    as_json = json.loads(run("sessions", "abort", "s-9", "--json").stdout)
    assert (as_json["sessionId"], as_json["status"]) == ("s-9", "ABORTED")


def test_abort_failures_map_to_exit_codes(run: Any) -> None:
    StubClient.raises = ApiError(409, "SESSION_COMPLETED", "The session is completed.")
    result = run("sessions", "abort", "s-9", "--json")
    assert result.exit_code == ExitCode.API_ERROR
    assert json.loads(result.stdout)["error"]["code"] == "SESSION_COMPLETED"
    assert "SESSION_COMPLETED" in result.stderr
