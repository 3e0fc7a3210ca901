"""Export round trip on the real all-MiniLM-L6-v2 model, through the CLI: the tar holds
byte for byte the record's and the source folder's files, an interrupted download
resumes with Range/If-Range, and re-importing the tar gives the same file hashes. Then
list, show and delete."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli, folder_files, json_of, record_files
from tests.live_server import LiveServer
from weighbridge import Client
from weighbridge.client.download import part_path

INTERRUPT_AT_FRACTION = 0.4
JOB_TIMEOUT_SECONDS = 300.0


class Interrupted(Exception):
    """Raised from a progress callback to stop a download as Ctrl-C would."""


@pytest.fixture(scope="module")
def imported(
    server: LiveServer, api_key: str, minilm_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    state = tmp_path_factory.mktemp("state")
    with Client(server.url, api_key, state_dir=state) as client:
        outcome = client.import_model(minilm_dir, wait=False)
        final = client.wait_for_job(
            outcome.dock_status_id, poll_interval=0.2, timeout=JOB_TIMEOUT_SECONDS
        )
        return client.get_model(str(final["modelId"]))


def untar(archive: Path, into: Path) -> Path:
    """Unpack `archive` into `into`; return its one top-level folder."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    (top,) = into.iterdir()
    assert top.is_dir()
    return top


def test_export_gives_back_every_file_byte_for_byte(
    cli: Cli, imported: dict[str, Any], minilm_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "export.tar"
    done = json_of(cli("models", "export", imported["modelId"], "--output", str(out), "--json"))
    assert done["path"] == str(out) and done["sizeBytes"] == out.stat().st_size
    assert done["verifiedFiles"] == len(imported["files"])
    assert not part_path(out).exists()
    top = untar(out, tmp_path / "unpacked")
    assert top.name == imported["name"]
    exported = folder_files(top)
    assert exported == record_files(imported)
    assert exported == folder_files(minilm_dir)


def test_an_interrupted_export_download_resumes(
    cli: Cli, server: LiveServer, api_key: str, imported: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "export.tar"
    state = tmp_path / "xdg-state" / "weighbridge"  # where the CLI subprocess looks

    def stop_at_40_percent(done: int, total: int) -> None:
        if done >= INTERRUPT_AT_FRACTION * total:
            raise Interrupted

    with Client(server.url, api_key, state_dir=state) as client, pytest.raises(Interrupted):
        client.export_model(imported["modelId"], out, progress=stop_at_40_percent)
    kept = part_path(out).stat().st_size
    assert kept > 0 and not out.exists()

    result = cli("models", "export", imported["modelId"], "-o", str(out), "--json")
    done = json_of(result)
    assert 0 < done["resumedBytes"] <= kept  # continued from the partial file
    assert done["verifiedFiles"] == len(imported["files"])
    assert folder_files(untar(out, tmp_path / "unpacked")) == record_files(imported)


def test_reimporting_the_export_gives_the_same_file_hashes(
    cli: Cli, imported: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "export.tar"
    json_of(cli("models", "export", imported["modelId"], "-o", str(out), "--json"))
    again = json_of(cli("import", str(out), "--name", "minilm-again", "--json"))
    assert again["modelId"] != imported["modelId"]
    assert record_files(again) == record_files(imported)
    assert again["parameterCount"] == imported["parameterCount"]


def test_list_show_and_delete(
    cli: Cli, imported: dict[str, Any], minilm_dir: Path, tmp_path: Path
) -> None:
    extra = json_of(cli("import", str(minilm_dir), "--name", "to-delete", "--json"))
    page = json_of(cli("models", "list", "--name", "to-del", "--json"))
    assert [m["modelId"] for m in page["models"]] == [extra["modelId"]]
    assert page["total"] == 1
    names = [m["name"] for m in json_of(cli("models", "list", "--json"))["models"]]
    assert "to-delete" in names and imported["name"] in names
    adapters = json_of(cli("models", "list", "--adapter", "--name", "to-delete", "--json"))
    assert adapters["models"] == []
    table = cli("models", "list", "--format", "safetensors")
    assert table.returncode == 0 and extra["modelId"] in table.stdout

    deleted = json_of(cli("models", "delete", extra["modelId"], "--json"))
    assert (deleted["action"], deleted["status"]) == ("DELETE", "SUCCESS")
    gone = cli("models", "show", extra["modelId"], "--json")
    assert gone.returncode == 3 and '"NOT_FOUND"' in gone.stdout
    # The model that shared every file with the deleted one still exports whole.
    out = tmp_path / "survivor.tar"
    json_of(cli("models", "export", imported["modelId"], "-o", str(out), "--json"))
    assert folder_files(untar(out, tmp_path / "unpacked")) == record_files(imported)
