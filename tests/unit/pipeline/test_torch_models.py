"""PyTorch checkpoints in uploads: the "pytorch" format, pickles beside other weights,
PEFT adapter_model.bin, and progress during the scan. Hand-built, no torch needed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.builders import (
    CONFIG,
    TINY_DTYPES,
    TINY_TORCH,
    TINY_TORCH_DTYPES,
    ModelFiles,
    PickleWriter,
    TorchTensor,
    adapter_config,
    call_pickle,
    json_bytes,
    members,
    tar_bytes,
    tiny_gguf,
    tiny_model,
    torch_legacy_bytes,
    torch_zip_bytes,
)
from tests.unit.pipeline.conftest import Importer, Progress, tree
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.result import ImportResult

TOKENIZER = {"tokenizer.json": json_bytes({"version": "1.0"})}
EVIL = call_pickle("os", "system", "echo pwned")
TRAINING_ARGS = (
    PickleWriter()
    .glob("transformers.training_args", "TrainingArguments")
    .op(b")\x81}")
    .text("output_dir")
    .text("out")
    .op(b"sb")
    .stop()
)


def import_files(do_import: Importer, files: ModelFiles, **kwargs: object) -> ImportResult:
    return do_import(tar_bytes(members(files, top="my-model")), "tar", **kwargs)  # type: ignore[arg-type]


def expect(code: ErrorCode, run: Callable[[], object], *fragments: str) -> str:
    with pytest.raises(PipelineError) as caught:
        run()
    assert caught.value.code == code, caught.value.msg
    for fragment in fragments:
        assert fragment in caught.value.msg, caught.value.msg
    return caught.value.msg


def torch_model(weights: bytes, name: str = "pytorch_model.bin") -> ModelFiles:
    return {"config.json": json_bytes(CONFIG), name: weights, **TOKENIZER}


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_pytorch_model(do_import: Importer, fmt: str) -> None:
    weights = torch_zip_bytes(TINY_TORCH) if fmt == "zip" else torch_legacy_bytes(TINY_TORCH)
    result = import_files(do_import, torch_model(weights))
    assert (result.format, result.is_adapter, result.architecture) == (
        "pytorch",
        False,
        "TinyForTesting",
    )
    assert result.dtypes == TINY_TORCH_DTYPES and result.parameter_count == 34
    assert result.warnings == []
    assert {f.path for f in result.files} == {"config.json", "pytorch_model.bin", "tokenizer.json"}


def test_other_checkpoint_names_are_weights_too(do_import: Importer) -> None:
    result = import_files(do_import, torch_model(torch_zip_bytes(TINY_TORCH), "model.pt"))
    assert result.format == "pytorch" and result.dtypes == TINY_TORCH_DTYPES


def sharded_torch() -> tuple[ModelFiles, dict[str, str]]:
    shards = {
        "pytorch_model-00001-of-00002.bin": TINY_TORCH[:2],
        "pytorch_model-00002-of-00002.bin": TINY_TORCH[2:],
    }
    files = {name: torch_zip_bytes(tensors) for name, tensors in shards.items()}
    weight_map = {t.name: name for name, tensors in shards.items() for t in tensors}
    index = json_bytes({"metadata": {}, "weight_map": weight_map})
    return {**torch_model(b""), **files, "pytorch_model.bin.index.json": index}, weight_map


def test_sharded_pytorch_model(do_import: Importer) -> None:
    files, _ = sharded_torch()
    del files["pytorch_model.bin"]
    result = import_files(do_import, files)
    assert result.format == "pytorch" and result.dtypes == TINY_TORCH_DTYPES


def test_sharded_pytorch_missing_shard(do_import: Importer) -> None:
    files, _ = sharded_torch()
    del files["pytorch_model.bin"], files["pytorch_model-00002-of-00002.bin"]
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "pytorch_model.bin.index.json",
        "pytorch_model-00002-of-00002.bin",
    )


def test_sharded_pytorch_stray_shard(do_import: Importer) -> None:
    files, _ = sharded_torch()
    del files["pytorch_model.bin"]
    files["pytorch_model-00003-of-00003.bin"] = torch_zip_bytes([TorchTensor("x", (1,))])
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "pytorch_model-00003-of-00003.bin",
        "not named",
    )


def test_sharded_pytorch_tensor_not_in_its_shard(do_import: Importer) -> None:
    files, weight_map = sharded_torch()
    del files["pytorch_model.bin"]
    weight_map["encoder.weight"] = "pytorch_model-00002-of-00002.bin"
    files["pytorch_model.bin.index.json"] = json_bytes({"weight_map": weight_map})
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "'encoder.weight'",
        "does not contain it",
    )


def test_pytorch_shards_without_index(do_import: Importer) -> None:
    files, _ = sharded_torch()
    del files["pytorch_model.bin"], files["pytorch_model.bin.index.json"]
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "pytorch_model.bin.index.json is missing",
    )


def test_pytorch_model_without_tensors(do_import: Importer) -> None:
    files = torch_model(PickleWriter().op(b"}").stop())
    expect(ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "holds no tensors")


def test_trainer_files_alone_are_not_weights(do_import: Importer) -> None:
    files = {"config.json": json_bytes(CONFIG), "optimizer.pt": torch_zip_bytes(TINY_TORCH)}
    expect(ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "no model weights")


def test_safetensors_win_over_pickles_which_are_still_scanned(do_import: Importer) -> None:
    files = {**tiny_model(), "pytorch_model.bin": torch_legacy_bytes(TINY_TORCH)}
    result = import_files(do_import, files)
    assert result.format == "safetensors" and result.dtypes == TINY_DTYPES
    assert "pytorch_model.bin" in {f.path for f in result.files}


@pytest.mark.parametrize(
    "where", ["pytorch_model.bin", "optimizer.pt", "extras/deep/evil.pkl", "onnx/raw.bin"]
)
def test_unsafe_pickle_anywhere_fails_the_import(
    do_import: Importer, where: str, tmp_path: Path, staging: Path
) -> None:
    marker = tmp_path / "pwned"
    evil = call_pickle("os", "system", f"touch {marker}")
    before = tree(tmp_path)
    expect(
        ErrorCode.UNSAFE_PICKLE,
        lambda: import_files(do_import, {**tiny_model(), where: evil}),
        where,
        "os.system",
    )
    assert not marker.exists()  # scanned, never run
    assert {p for p in tree(tmp_path) - before if not p.startswith("job/staging")} == set()


def test_training_args_must_be_removed(do_import: Importer) -> None:
    files = {**tiny_model(), "training_args.bin": torch_zip_bytes([], data_pkl=TRAINING_ARGS)}
    expect(
        ErrorCode.UNSAFE_PICKLE,
        lambda: import_files(do_import, files),
        "training_args.bin",
        "transformers.training_args.TrainingArguments",
        "remove the file",
    )


def test_protocol_0_pickle_in_a_bin_without_magic(do_import: Importer) -> None:
    files = {**tiny_model(), "weights.bin": b"cos\nsystem\n(S'echo'\ntR."}
    expect(ErrorCode.UNSAFE_PICKLE, lambda: import_files(do_import, files), "weights.bin")


def test_pickles_next_to_gguf(do_import: Importer) -> None:
    plain = PickleWriter().op(b"}").text("step").number(3).op(b"s").stop()
    result = import_files(do_import, {"m.gguf": tiny_gguf(), "optimizer.pt": plain})
    assert result.format == "gguf"
    files = {"m.gguf": tiny_gguf(), "extra.pt": EVIL}
    expect(ErrorCode.UNSAFE_PICKLE, lambda: import_files(do_import, files), "extra.pt")


def lora_torch(r: int, b_rank: int | None = None) -> list[TorchTensor]:
    prefix = "base_model.model.model.layers.0.self_attn"
    return [
        TorchTensor(f"{prefix}.{m}.lora_{side}.weight", shape)
        for m in ("q_proj", "v_proj")
        for side, shape in (("A", (r, 8)), ("B", (8, b_rank or r)))
    ]


def test_peft_adapter_bin(do_import: Importer) -> None:
    files = {
        "adapter_config.json": json_bytes(adapter_config(4)),
        "adapter_model.bin": torch_zip_bytes(lora_torch(4)),
    }
    result = import_files(do_import, files, is_adapter=True)
    assert (result.format, result.is_adapter) == ("pytorch", True)
    assert result.dtypes == {"F32": 2 * (4 * 8 + 8 * 4)}
    assert result.adapter is not None and result.adapter.r == 4


def test_peft_adapter_bin_rank_mismatch(do_import: Importer) -> None:
    files = {
        "adapter_config.json": json_bytes(adapter_config(4)),
        "adapter_model.bin": torch_zip_bytes(lora_torch(4, b_rank=2)),
    }
    expect(
        ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "adapter_model.bin", "r=4"
    )


def test_peft_adapter_bin_unsafe(do_import: Importer) -> None:
    files = {"adapter_config.json": json_bytes(adapter_config(4)), "adapter_model.bin": EVIL}
    expect(ErrorCode.UNSAFE_PICKLE, lambda: import_files(do_import, files), "adapter_model.bin")


@pytest.mark.parametrize("fmt", ["legacy", "pickle"])
def test_progress_moves_during_a_long_scan(
    do_import: Importer, progress: Progress, fmt: str
) -> None:
    if fmt == "legacy":  # 4 storages of 6 MiB, skipped record by record
        weights = torch_legacy_bytes([TorchTensor(f"t{n}", (3 << 19,)) for n in range(4)])
    else:  # a 24 MiB pickle, read opcode by opcode: a list of 24 byte strings of 1 MiB
        one = b"B" + (1 << 20).to_bytes(4, "little") + bytes(1 << 20)  # BINBYTES
        weights = PickleWriter().op(b"]").mark().raw(one * 24).op(b"e").stop()
    files = {
        **tiny_model(),
        "model.pt" if fmt == "legacy" else "state.pkl": weights,
    }
    import_files(do_import, files)
    validating = [f for phase, f in progress.calls if phase == "VALIDATING"]
    # Phase start (0.9) and finish (1.0) aside, the scan itself reported at least twice.
    during = validating[1:-1]
    assert len(during) >= 2 and all(0.9 < f <= 1.0 for f in during), progress.calls
    assert during[0] < 1.0 and validating == sorted(validating)
