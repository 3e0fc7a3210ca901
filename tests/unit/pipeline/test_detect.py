"""Layout detection: HF models (single and sharded), warnings, and what is refused."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from tests.builders import (
    CONFIG,
    TINY_DTYPES,
    TINY_GGUF_DTYPES,
    GgufTensorSpec,
    ModelFiles,
    gguf_bytes,
    json_bytes,
    members,
    nested_json,
    safetensors_bytes,
    sharded_model,
    tar_bytes,
    tiny_gguf,
    tiny_model,
)
from tests.unit.pipeline.conftest import Importer
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.json_files import MAX_JSON_FILE_BYTES
from weighbridge.pipeline.result import ImportResult

TORCH_ZIP_MAGIC = b"PK\x03\x04" + bytes(60)


def import_files(do_import: Importer, files: ModelFiles, **kwargs: object) -> ImportResult:
    return do_import(tar_bytes(members(files)), "tar", **kwargs)  # type: ignore[arg-type]


def expect(code: ErrorCode, run: Callable[[], object], *fragments: str) -> str:
    with pytest.raises(PipelineError) as caught:
        run()
    assert caught.value.code == code, caught.value.msg
    for fragment in fragments:
        assert fragment in caught.value.msg, caught.value.msg
    return caught.value.msg


def test_single_file_model(do_import: Importer) -> None:
    result = import_files(do_import, tiny_model())
    assert (result.format, result.is_adapter, result.base_model) == ("safetensors", False, None)
    assert (result.architecture, result.model_type) == ("TinyForTesting", "tiny")
    assert result.dtypes == TINY_DTYPES and result.parameter_count == 34
    assert result.warnings == []
    assert result.adapter is None


def test_missing_config_and_tokenizer_are_warnings(do_import: Importer) -> None:
    result = import_files(do_import, tiny_model(config=None, tokenizer=False))
    assert result.architecture is None and result.model_type is None
    assert any("config.json" in w for w in result.warnings)
    assert any(w.startswith("No tokenizer files found; ") for w in result.warnings)


@pytest.mark.parametrize(
    "tokenizer_file", ["tokenizer.model", "vocab.txt", "tokenizer_config.json"]
)
def test_any_tokenizer_file_silences_the_warning(do_import: Importer, tokenizer_file: str) -> None:
    files = {**tiny_model(tokenizer=False), tokenizer_file: b"x"}
    assert import_files(do_import, files).warnings == []


def test_config_without_architectures(do_import: Importer) -> None:
    files = {**tiny_model(), "config.json": json_bytes({"model_type": "bert"})}
    result = import_files(do_import, files)
    assert (result.architecture, result.model_type) == (None, "bert")


@pytest.mark.parametrize("config", [b"{broken", b"[1]", b"\xff\xfe"])
def test_invalid_config_json(do_import: Importer, config: bytes) -> None:
    files = {**tiny_model(), "config.json": config}
    expect(ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "config.json")


def test_invalid_weights_name_the_file(do_import: Importer) -> None:
    files = {**tiny_model(), "model.safetensors": tiny_model()["model.safetensors"][:-4]}
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "model.safetensors",
        "truncated",
    )


def test_sharded_model(do_import: Importer) -> None:
    files, _ = sharded_model(2)
    result = import_files(do_import, files)
    assert result.dtypes == TINY_DTYPES
    assert result.architecture == "TinyForTesting"
    assert result.warnings == []


def test_sharded_missing_shard(do_import: Importer) -> None:
    files, _ = sharded_model(2)
    del files["model-00002-of-00002.safetensors"]
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "model-00002-of-00002.safetensors",
        "not in the upload",
    )


def test_sharded_tensor_not_in_its_shard(do_import: Importer) -> None:
    files, weight_map = sharded_model(2)
    tensor = next(t for t, shard in weight_map.items() if shard.startswith("model-00001"))
    weight_map[tensor] = "model-00002-of-00002.safetensors"
    files["model.safetensors.index.json"] = json_bytes({"weight_map": weight_map})
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        repr(tensor),
        "does not contain",
    )


def test_sharded_unreferenced_shard(do_import: Importer) -> None:
    files, _ = sharded_model(2)
    files["model-00003-of-00003.safetensors"] = safetensors_bytes({"x": np.zeros(1, np.float32)})
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "model-00003-of-00003.safetensors",
        "not named in",
    )


def test_sharded_extra_unlisted_tensor_is_a_warning(do_import: Importer) -> None:
    files, weight_map = sharded_model(2)
    del weight_map["head.bias"]
    files["model.safetensors.index.json"] = json_bytes({"weight_map": weight_map})
    result = import_files(do_import, files)
    assert any("'head.bias'" in w for w in result.warnings)
    assert result.parameter_count == 34  # every tensor stored is counted


def test_sharded_duplicate_tensor_across_shards(do_import: Importer) -> None:
    files, _ = sharded_model(2)
    files["model-00002-of-00002.safetensors"] = safetensors_bytes(
        {"encoder.weight": np.zeros((4, 6), np.float32), "head.bias": np.zeros(6, np.float16)}
    )
    expect(ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "'head.bias'", "both")


@pytest.mark.parametrize(
    "index",
    [
        b"not json",
        json.dumps({"weight_map": [1]}).encode(),
        json.dumps({"weight_map": {"a": 3}}).encode(),
    ],
)
def test_sharded_bad_index(do_import: Importer, index: bytes) -> None:
    files, _ = sharded_model(2)
    files["model.safetensors.index.json"] = index
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "model.safetensors.index.json",
    )


def test_shards_without_index(do_import: Importer) -> None:
    files, _ = sharded_model(2)
    del files["model.safetensors.index.json"]
    expect(ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "index.json is missing")


def test_no_weights_at_all(do_import: Importer) -> None:
    files = {"config.json": json_bytes(CONFIG), "README.md": b"hello"}
    expect(ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "no model weights")


def test_weights_only_in_a_subfolder(do_import: Importer) -> None:
    files = {"a/model.safetensors": tiny_model()["model.safetensors"], "b/config.json": b"{}"}
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "a/model.safetensors",
        "subfolders",
    )


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "weights.ckpt"])
def test_damaged_pickle_weights_are_invalid(do_import: Importer, name: str) -> None:
    files = {"config.json": json_bytes(CONFIG), name: TORCH_ZIP_MAGIC}
    expect(ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), name, "damaged")


def test_damaged_pickle_next_to_safetensors_is_invalid(do_import: Importer) -> None:
    files = {**tiny_model(), "training_args.bin": b"\x80\x04" + bytes(10)}
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "training_args.bin",
        "opcode",
    )


def test_non_pickle_bin_is_just_a_file(do_import: Importer) -> None:
    files = {**tiny_model(), "onnx/weights.bin": b"\x00\x01raw floats"}
    result = import_files(do_import, files)
    assert "onnx/weights.bin" in {f.path for f in result.files}


def test_gguf_in_an_archive(do_import: Importer) -> None:
    result = import_files(do_import, {"model.Q4_0.gguf": tiny_gguf(), "README.md": b"hi"})
    assert (result.format, result.architecture, result.is_adapter) == ("gguf", "llama", False)
    assert result.dtypes == TINY_GGUF_DTYPES


def test_broken_gguf_in_an_archive(do_import: Importer) -> None:
    files = {"model.Q4_0.gguf": tiny_gguf()[:-10]}
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "model.Q4_0.gguf",
        "truncated",
    )


def test_split_gguf_counts_every_part(do_import: Importer) -> None:
    parts = {
        f"m-0000{n + 1}-of-00002.gguf": gguf_bytes(
            {"general.architecture": "llama", "split.no": ("u8", n), "split.count": ("u8", 2)},
            [GgufTensorSpec(f"t{n}", (32, 2), "F32")],
        )
        for n in range(2)
    }
    assert import_files(do_import, parts).dtypes == {"F32": 128}


def test_several_unrelated_ggufs_are_refused(do_import: Importer) -> None:
    files = {"m.Q4_0.gguf": tiny_gguf(), "m.Q8_0.gguf": tiny_gguf()}
    expect(
        ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "m.Q4_0.gguf", "one model"
    )


def test_damaged_pickle_next_to_gguf_is_invalid(do_import: Importer) -> None:
    files = {"m.gguf": tiny_gguf(), "extra.pt": b"PK\x03\x04"}
    expect(ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "extra.pt")


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("config.json", {**tiny_model(), "config.json": nested_json(100_000, "architectures")}),
        (
            "model.safetensors.index.json",
            {**sharded_model(2)[0], "model.safetensors.index.json": nested_json(100_000)},
        ),
    ],
)
def test_json_nested_too_deeply(do_import: Importer, name: str, files: ModelFiles) -> None:
    message = expect(
        ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "nested too deeply"
    )
    assert message.startswith(f"{name} ")


def test_config_json_too_large_to_read(do_import: Importer) -> None:
    padded = b"{}" + b" " * (MAX_JSON_FILE_BYTES - 1)
    files = {**tiny_model(), "config.json": padded}
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        f"config.json is {MAX_JSON_FILE_BYTES + 1} bytes",
    )


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ({"architectures": ["Bert\u0000Model"]}, ("architectures[0]", "control characters")),
        ({"model_type": "be\u0000rt"}, ("model_type", "control characters")),
        ({"model_type": "bert\u001b[31m"}, ("model_type", "control characters")),
        ({"architectures": ["X" * 256]}, ("architectures[0]", "256 characters long")),
        ({"model_type": "m" * 1000}, ("model_type", "1000 characters long")),
    ],
)
def test_reported_config_strings_must_be_plain(
    do_import: Importer, config: dict[str, object], fragments: tuple[str, ...]
) -> None:
    files = {**tiny_model(), "config.json": json_bytes(config)}  # json.dumps writes NUL as \u0000
    message = expect(
        ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "config.json", *fragments
    )
    assert "\x00" not in message


def test_names_differing_only_by_case_are_refused(do_import: Importer) -> None:
    files = {**tiny_model(), "Model.safetensors": tiny_model()["model.safetensors"]}
    expect(
        ErrorCode.UNSAFE_ARCHIVE,
        lambda: import_files(do_import, files),
        "'model.safetensors'",
        "'Model.safetensors'",
        "case",
    )
