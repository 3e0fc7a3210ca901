"""PEFT adapters: config fields reported, LoRA pairs and ranks checked, base model chosen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.builders import (
    ModelFiles,
    adapter_config,
    json_bytes,
    lora_tensors,
    members,
    nested_json,
    peft_adapter,
    tar_bytes,
)
from tests.unit.pipeline.conftest import Importer
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.result import AdapterInfo, ImportResult


def import_files(do_import: Importer, files: ModelFiles, **kwargs: Any) -> ImportResult:
    return do_import(tar_bytes(members(files, top="my-adapter")), "tar", **kwargs)


def expect(code: ErrorCode, run: Callable[[], object], *fragments: str) -> str:
    with pytest.raises(PipelineError) as caught:
        run()
    assert caught.value.code == code, caught.value.msg
    for fragment in fragments:
        assert fragment in caught.value.msg, caught.value.msg
    return caught.value.msg


def test_lora_adapter_is_reported(do_import: Importer) -> None:
    result = import_files(do_import, peft_adapter(r=4))
    assert result.is_adapter is True
    assert result.format == "safetensors"
    assert result.base_model == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
    assert result.adapter == AdapterInfo(
        peft_type="LORA",
        base_model_name_or_path="TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        task_type="CAUSAL_LM",
        r=4,
        lora_alpha=16.0,
        target_modules=["q_proj", "v_proj"],
    )
    # two modules × (A: 4×8 + B: 8×4) F32 elements
    assert result.dtypes == {"F32": 128} and result.parameter_count == 128
    assert {f.path for f in result.files} == {"adapter_config.json", "adapter_model.safetensors"}
    assert result.warnings == []


def test_request_base_model_wins(do_import: Importer) -> None:
    result = import_files(do_import, peft_adapter(), base_model="cm-1234")
    assert result.base_model == "cm-1234"
    assert result.adapter is not None
    assert result.adapter.base_model_name_or_path == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"


def test_unknown_base_model_is_a_warning(do_import: Importer) -> None:
    files = peft_adapter(config=adapter_config(base_model_name_or_path=None))
    result = import_files(do_import, files)
    assert result.base_model is None
    assert any("base model" in w for w in result.warnings)


def test_rank_mismatch(do_import: Importer) -> None:
    files = peft_adapter(r=4, tensors=lora_tensors(8))
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "lora_A.weight",
        "rank 8/8",
        "r=4",
    )


def test_rank_pattern_overrides_r(do_import: Importer) -> None:
    tensors = {**lora_tensors(4, ("q_proj",)), **lora_tensors(16, ("v_proj",))}
    config = adapter_config(4, rank_pattern={"v_proj": 16})
    assert (
        import_files(do_import, peft_adapter(4, config=config, tensors=tensors)).parameter_count > 0
    )
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, peft_adapter(4, tensors=tensors)),
        "v_proj",
        "r=4",
    )


def test_a_without_b(do_import: Importer) -> None:
    tensors = lora_tensors(4)
    del tensors["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"]
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, peft_adapter(4, tensors=tensors)),
        "v_proj.lora_A.weight",
        "no lora_B",
    )


def test_a_and_b_ranks_disagree(do_import: Importer) -> None:
    tensors = lora_tensors(4)
    tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"] = np.zeros(
        (8, 5), np.float32
    )
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, peft_adapter(4, tensors=tensors)),
        "q_proj",
        "rank 4/5",
    )


def test_embedding_lora_pairs(do_import: Importer) -> None:
    tensors = {
        "base_model.model.embed_tokens.lora_embedding_A": np.zeros((4, 100), np.float32),
        "base_model.model.embed_tokens.lora_embedding_B": np.zeros((8, 4), np.float32),
    }
    assert import_files(do_import, peft_adapter(4, tensors=tensors)).parameter_count == 432


def test_lora_config_with_no_lora_tensors(do_import: Importer) -> None:
    files = peft_adapter(4, tensors={"something.weight": np.zeros(3, np.float32)})
    expect(ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "no lora_A/lora_B")


def test_non_lora_adapter_is_checked_as_safetensors_only(do_import: Importer) -> None:
    config = {"peft_type": "IA3", "base_model_name_or_path": "gpt2", "target_modules": ["c_attn"]}
    files = peft_adapter(config=config, tensors={"x.ia3_l": np.ones((1, 8), np.float32)})
    result = import_files(do_import, files)
    assert (
        result.adapter is not None
        and result.adapter.peft_type == "IA3"
        and result.adapter.r is None
    )


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (b"{nope", "not valid JSON"),
        (b'"LORA"', "not a JSON object"),
        (json_bytes({"r": 4}), "no peft_type"),
        (json_bytes(adapter_config(r=0)), "r=0"),
        (json_bytes(adapter_config(r="8")), "r='8'"),
        (json_bytes(adapter_config(lora_alpha="x")), "lora_alpha"),
        (json_bytes(adapter_config(target_modules=[1])), "target_modules"),
    ],
)
def test_bad_adapter_config(do_import: Importer, config: bytes, fragment: str) -> None:
    files = {**peft_adapter(), "adapter_config.json": config}
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "adapter_config.json",
        fragment,
    )


def test_adapter_weights_are_checked_like_any_safetensors(do_import: Importer) -> None:
    files = peft_adapter()
    files["adapter_model.safetensors"] = files["adapter_model.safetensors"][:-1]
    expect(
        ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "adapter_model.safetensors"
    )


def test_missing_adapter_weights(do_import: Importer) -> None:
    files = {"adapter_config.json": json_bytes(adapter_config())}
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "no adapter_model.safetensors",
    )


def test_damaged_pickle_adapter_weights_are_invalid(do_import: Importer) -> None:
    files = {
        "adapter_config.json": json_bytes(adapter_config()),
        "adapter_model.bin": b"PK\x03\x04",
    }
    expect(ErrorCode.INVALID_MODEL, lambda: import_files(do_import, files), "adapter_model.bin")


@pytest.mark.parametrize(
    ("flag", "files", "fragment"),
    [
        (True, None, "isAdapter=true"),
        (False, "adapter", "isAdapter=false"),
    ],
)
def test_adapter_flag_must_agree(
    do_import: Importer, flag: bool, files: str | None, fragment: str
) -> None:
    from tests.builders import tiny_model

    content = peft_adapter() if files == "adapter" else tiny_model()
    expect(
        ErrorCode.ADAPTER_MISMATCH,
        lambda: import_files(do_import, content, is_adapter=flag),
        fragment,
    )
    assert import_files(do_import, content, is_adapter=not flag).is_adapter is (not flag)


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"peft_type": "LO\x00RA"}, ("peft_type", "control characters")),
        ({"task_type": "CAUSAL\x00LM"}, ("task_type", "control characters")),
        ({"base_model_name_or_path": "org/m\x00"}, ("base_model_name_or_path", "control")),
        ({"base_model_name_or_path": "o/" + "m" * 600}, ("602 characters long", "512 allowed")),
        ({"target_modules": ["q_proj", "v\x00proj"]}, ("target_modules entry", "control")),
        ({"target_modules": ["q_proj", "v" * 300]}, ("target_modules entry", "255 allowed")),
        ({"target_modules": ".*\n(q|v)_proj"}, ("target_modules", "control characters")),
        ({"target_modules": "q" * 5000}, ("target_modules", "4096 allowed")),
        ({"target_modules": ["m"] * 10_001}, ("10001 target_modules", "10000 allowed")),
    ],
)
def test_reported_adapter_strings_must_be_plain(
    do_import: Importer, overrides: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    files = peft_adapter(config=adapter_config(**overrides))
    message = expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "adapter_config.json",
        *fragments,
    )
    assert "\x00" not in message and "\n" not in message


def test_long_but_allowed_adapter_strings(do_import: Importer) -> None:
    base = "o/" + "m" * 510
    config = adapter_config(base_model_name_or_path=base, target_modules=["q_proj"] * 10_000)
    result = import_files(do_import, peft_adapter(config=config))
    assert result.base_model == base and result.adapter is not None


def test_adapter_config_nested_too_deeply(do_import: Importer) -> None:
    files = {**peft_adapter(), "adapter_config.json": nested_json(100_000, "peft_type")}
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: import_files(do_import, files),
        "adapter_config.json",
        "nested too deeply",
    )


def test_a_catastrophic_rank_pattern_is_not_evaluated() -> None:
    """rank_pattern keys are uploader-written regexes; "(a+)+$" would take exponential time
    against a long module name (evaluating it here would outlast the test timeout), so
    such a key turns the rank check off instead."""
    from weighbridge.pipeline.peft_check import _expected_rank

    module = "base_model.model." + "a" * 60 + "!"
    assert _expected_rank(module, 4, {"(a+)+$": 8}) is None
    assert _expected_rank("base_model.model.layers.0.q_proj", 4, {"q_proj": 8}) == 8
    assert _expected_rank("base_model.model.layers.0.k_proj", 4, {"q_proj": 8}) == 4
