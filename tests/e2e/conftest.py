"""End-to-end helpers: the `weighbridge` CLI run as a real subprocess against a live
server, with its own state folder, and the file hashes the tests compare."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer

CLI_TIMEOUT_SECONDS = 300  # a bound, not a speed claim: a hung CLI fails the test
Cli = Callable[..., subprocess.CompletedProcess[str]]
FileHashes = dict[str, tuple[int, str]]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while piece := fh.read(1024 * 1024):
            digest.update(piece)
    return digest.hexdigest()


def folder_files(folder: Path) -> FileHashes:
    """path (relative, "/"-separated) → (size, sha256) of every file under `folder`."""
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_size, file_sha256(p))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def record_files(model: dict[str, Any]) -> FileHashes:
    return {f["path"]: (f["size"], f["sha256"]) for f in model["files"]}


@pytest.fixture
def cli(server: LiveServer, api_key: str, tmp_path: Path) -> Cli:
    """Run `weighbridge ARGS...` as a subprocess; `parse_json=True` also decodes stdout."""
    env = {
        **os.environ,
        "WEIGHBRIDGE_HOST": server.url,
        "WEIGHBRIDGE_API_KEY": api_key,
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "COLUMNS": "200",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "weighbridge", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
            check=False,
        )

    return run


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}"
    return json.loads(result.stdout)
