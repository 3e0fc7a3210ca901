"""Against a live server: a Hugging Face cache snapshot (a folder of symlinks) imports as
the files it points to, and an upload left behind by a run whose chunk size or file
changed is aborted by the next run, as `weighbridge sessions list` shows; `sessions abort`
frees one by hand."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, folder_files, json_of, record_files
from tests.live_server import LiveServer
from weighbridge import Client

MiB = 1024 * 1024


class Interrupted(Exception):
    """Raised from a progress callback to stop an upload as Ctrl-C would."""


def _safetensors(path: Path, n: int, fill: bytes = b"\x01") -> None:
    header = json.dumps({"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + fill * n)


def _interrupted_upload(server: LiveServer, api_key: str, tmp_path: Path, path: Path) -> str:
    """Start importing `path` in 1 MiB chunks, as the CLI would, and stop after 2 MiB."""

    def stop(done: int, _total: int) -> None:
        if done >= 2 * MiB:
            raise Interrupted

    state = tmp_path / "xdg-state" / "weighbridge"  # where the CLI subprocess looks
    with Client(server.url, api_key, state_dir=state) as client, pytest.raises(Interrupted):
        client.import_model(path, chunk_size=MiB, parallel=1, progress=stop)
    (saved,) = (state / "uploads").glob("*.json")
    return str(json.loads(saved.read_text())["sessionId"])


def _open_ids(cli: Cli) -> set[str]:
    return {s["sessionId"] for s in json_of(cli("sessions", "list", "--json"))["sessions"]}


def test_a_hugging_face_snapshot_of_symlinks_imports(
    cli: Cli, minilm_dir: Path, tmp_path: Path
) -> None:
    snapshot = tmp_path / "hub" / "models--org--minilm" / "snapshots" / "0123abc"
    for source in minilm_dir.rglob("*"):
        if source.is_file():
            link = snapshot / source.relative_to(minilm_dir)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source.resolve())
    model = json_of(cli("import", str(snapshot), "--name", "minilm-from-cache", "--json"))
    assert model["status"] == "READY"
    assert record_files(model) == folder_files(minilm_dir)


def test_a_changed_chunk_size_aborts_the_earlier_session(
    cli: Cli, server: LiveServer, api_key: str, tmp_path: Path
) -> None:
    path = tmp_path / "weights.safetensors"
    _safetensors(path, 6 * MiB)
    old = _interrupted_upload(server, api_key, tmp_path, path)
    assert old in _open_ids(cli)

    model = json_of(cli("import", str(path), "--chunk-size", "2MiB", "--json"))
    assert model["status"] == "READY"
    assert old not in _open_ids(cli)
    aborted = json_of(cli("sessions", "list", "--status", "aborted", "--json"))["sessions"]
    assert old in {s["sessionId"] for s in aborted}


def test_a_changed_file_aborts_the_earlier_session(
    cli: Cli, server: LiveServer, api_key: str, tmp_path: Path
) -> None:
    path = tmp_path / "weights.safetensors"
    _safetensors(path, 6 * MiB)
    old = _interrupted_upload(server, api_key, tmp_path, path)
    _safetensors(path, 6 * MiB, fill=b"\x02")  # edited before the next run
    json_of(cli("import", str(path), "--chunk-size", "1MiB", "--json"))
    assert old not in _open_ids(cli)


def test_sessions_abort_frees_a_session(
    cli: Cli, server: LiveServer, api_key: str, tmp_path: Path
) -> None:
    path = tmp_path / "weights.safetensors"
    _safetensors(path, 6 * MiB)
    sid = _interrupted_upload(server, api_key, tmp_path, path)
    listed = cli("sessions", "list")
    assert listed.returncode == 0 and sid in listed.stdout
    assert json_of(cli("sessions", "abort", sid, "--json"))["status"] == "ABORTED"
    assert sid not in _open_ids(cli)
    missing = cli("sessions", "abort", "no-such-session", "--json")
    assert missing.returncode == 3 and json.loads(missing.stdout)["error"]["status"] == 404
