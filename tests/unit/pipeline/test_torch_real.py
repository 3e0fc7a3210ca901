"""The scanner against real `torch.save` output, both formats (skipped without torch).

Counts must equal sum(t.numel()) from torch itself; hostile objects saved by torch.save
(which pickles without running anything) must be refused, and never run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.builders import CONFIG, json_bytes, members, tar_bytes, tiny_model
from tests.unit.pipeline.conftest import Importer
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.torch_check import check_torch_file

torch: Any = pytest.importorskip(
    "torch",
    reason="torch is not installed (pip install torch==2.13.0); the real torch.save tests need it",
)

FORMATS = {"zip": True, "legacy": False}  # → _use_new_zipfile_serialization
SAFETENSORS_NAMES = {
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
    "float64": "F64",
    "complex64": "C64",
    "uint16": "U16",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
}


class Payload:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (self.command,)


@dataclass
class FakeTrainingArguments:
    output_dir: str = "out"
    learning_rate: float = 5e-5


def state_dict() -> dict[str, Any]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Embedding(10, 4), torch.nn.Linear(4, 3), torch.nn.LayerNorm(3)
    )
    tensors: dict[str, Any] = dict(model.state_dict())  # an OrderedDict with _metadata
    for name in SAFETENSORS_NAMES:
        tensors[f"extra.{name}"] = torch.zeros(5, dtype=getattr(torch, name))
    tensors["extra.view"] = tensors["1.weight"][1:]  # shares the Linear's storage
    tensors["extra.transposed"] = tensors["1.weight"].t()
    tensors["extra.param"] = torch.nn.Parameter(torch.ones(2, 2))
    return tensors


def torch_counts(tensors: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for tensor in tensors.values():
        dtype = SAFETENSORS_NAMES[str(tensor.dtype).removeprefix("torch.")]
        counts[dtype] = counts.get(dtype, 0) + tensor.numel()
    return counts


def save(tmp_path: Path, value: object, fmt: str, name: str = "pytorch_model.bin") -> Path:
    path = tmp_path / name
    torch.save(value, path, _use_new_zipfile_serialization=FORMATS[fmt])
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_counts_match_torch(tmp_path: Path, fmt: str) -> None:
    tensors = state_dict()
    summary = check_torch_file(save(tmp_path, tensors, fmt), "pytorch_model.bin")
    assert summary is not None and summary.kind == fmt
    assert summary.dtypes == torch_counts(tensors)
    assert sum(summary.dtypes.values()) == sum(t.numel() for t in tensors.values())
    assert summary.shapes == {name: tuple(t.shape) for name, t in tensors.items()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_real_model_import(do_import: Importer, tmp_path: Path, fmt: str) -> None:
    tensors = state_dict()
    files = {
        "config.json": json_bytes(CONFIG),
        "pytorch_model.bin": save(tmp_path, tensors, fmt).read_bytes(),
    }
    result = do_import(tar_bytes(members(files)), "tar")
    assert result.format == "pytorch"
    assert result.parameter_count == sum(t.numel() for t in tensors.values())


@pytest.mark.parametrize("fmt", FORMATS)
def test_optimizer_state_is_plain_data(tmp_path: Path, fmt: str) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    summary = check_torch_file(save(tmp_path, optimizer.state_dict(), fmt, "optimizer.pt"), "o")
    assert summary is not None and summary.tensor_count == 6  # (step, exp_avg, exp_avg_sq) × 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_malicious_object_saved_by_torch(tmp_path: Path, fmt: str) -> None:
    marker = tmp_path / "pwned"
    path = save(tmp_path, {"weight": torch.ones(2), "evil": Payload(f"touch {marker}")}, fmt)
    with pytest.raises(PipelineError) as caught:
        check_torch_file(path, "pytorch_model.bin")
    assert caught.value.code == ErrorCode.UNSAFE_PICKLE
    assert f"{os.system.__module__}.system" in caught.value.msg
    assert not marker.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_training_arguments_next_to_safetensors(
    do_import: Importer, tmp_path: Path, fmt: str
) -> None:
    args = save(tmp_path, FakeTrainingArguments(), fmt, "training_args.bin").read_bytes()
    files = {**tiny_model(), "training_args.bin": args}
    with pytest.raises(PipelineError) as caught:
        do_import(tar_bytes(members(files)), "tar")
    assert caught.value.code == ErrorCode.UNSAFE_PICKLE
    assert f"{__name__}.FakeTrainingArguments" in caught.value.msg
    assert "training_args.bin" in caught.value.msg and "remove the file" in caught.value.msg
