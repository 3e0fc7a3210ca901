"""`weighbridge import` as people run it: a subprocess on the real all-MiniLM-L6-v2 folder."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Cli, folder_files, json_of, record_files

PARAMETERS = 22_713_728


def test_import_prints_the_model(cli: Cli, minilm_dir: Path) -> None:
    result = cli("import", str(minilm_dir))
    assert result.returncode == 0, result.stderr
    assert f"{PARAMETERS:,}" in result.stdout  # "22,713,728"
    assert "BertModel" in result.stdout and "safetensors" in result.stdout
    assert "Imported" in result.stderr and "Imported" not in result.stdout


def test_import_json_is_the_model_record(cli: Cli, minilm_dir: Path) -> None:
    model = json_of(cli("import", str(minilm_dir), "--json"))
    assert model["parameterCount"] == PARAMETERS
    assert model["status"] == "READY"
    assert record_files(model) == folder_files(minilm_dir)
    shown = json_of(cli("models", "show", model["modelId"], "--json"))
    assert shown["sha256"] == model["sha256"]
