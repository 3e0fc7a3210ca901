"""GGUF header checks: offsets against the file size, types, alignment, hostile counts."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.builders import TINY_GGUF_DTYPES, GgufTensorSpec, gguf_bytes, tiny_gguf
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.gguf_check import check_gguf

NAME = "model.gguf"


def check(tmp_path: Path, data: bytes) -> object:
    path = tmp_path / NAME
    path.write_bytes(data)
    return check_gguf(path, NAME)


def refused(tmp_path: Path, data: bytes, *fragments: str) -> None:
    with pytest.raises(PipelineError) as caught:
        check(tmp_path, data)
    assert caught.value.code == ErrorCode.INVALID_MODEL
    assert caught.value.msg.startswith(f"{NAME}: ")
    for fragment in fragments:
        assert fragment in caught.value.msg, caught.value.msg


def test_summary(tmp_path: Path) -> None:
    summary = check_gguf(_write(tmp_path, tiny_gguf()), NAME)
    assert summary.version == 3
    assert summary.architecture == "llama"
    assert summary.metadata["general.name"] == "tiny"
    assert "tokenizer.ggml.tokens" not in summary.metadata  # big arrays are skipped
    assert summary.dtypes == TINY_GGUF_DTYPES
    assert summary.parameter_count == 4480


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / NAME
    path.write_bytes(data)
    return path


def test_version_2_is_accepted(tmp_path: Path) -> None:
    data = gguf_bytes({"general.architecture": "gpt2"}, [GgufTensorSpec("w", (4,))], version=2)
    assert check_gguf(_write(tmp_path, data), NAME).version == 2


def test_custom_alignment(tmp_path: Path) -> None:
    specs = [GgufTensorSpec("a", (3,)), GgufTensorSpec("b", (5,))]
    data = gguf_bytes({"general.alignment": 64}, specs, alignment=64)
    assert check_gguf(_write(tmp_path, data), NAME).dtypes == {"F32": 8}


def test_not_gguf(tmp_path: Path) -> None:
    refused(tmp_path, b"GGML" + bytes(40), "does not start with 'GGUF'")


def test_unsupported_version(tmp_path: Path) -> None:
    refused(tmp_path, gguf_bytes({}, [], version=1), "version 1")


def test_truncated_header(tmp_path: Path) -> None:
    refused(tmp_path, tiny_gguf()[:100], "truncated", "file ends at 100")


def test_truncated_tensor_data(tmp_path: Path) -> None:
    refused(tmp_path, tiny_gguf()[:-1], "tensor 'output_norm.weight'", "ends at byte")


def test_absurd_counts(tmp_path: Path) -> None:
    refused(tmp_path, gguf_bytes({}, [], tensor_count=2**60), "more than the file can hold")


def test_absurd_string_length(tmp_path: Path) -> None:
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**62) + b"x" * 32
    refused(tmp_path, data, "metadata key #0", "file ends")


def test_absurd_array_count(tmp_path: Path) -> None:
    key = struct.pack("<Q", 1) + b"k"
    data = (
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + key + struct.pack("<IIQ", 9, 8, 2**40) + bytes(64)
    )
    refused(tmp_path, data, "'k'", "more than the file can hold")


def test_unknown_metadata_type(tmp_path: Path) -> None:
    key = struct.pack("<Q", 1) + b"k"
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + key + struct.pack("<I", 77) + bytes(64)
    refused(tmp_path, data, "'k'", "unknown type 77")


def test_unknown_tensor_type(tmp_path: Path) -> None:
    refused(
        tmp_path,
        gguf_bytes({}, [GgufTensorSpec("w", (4,), type_id=99)]),
        "tensor 'w'",
        "unknown ggml type 99",
    )


def test_too_many_dimensions(tmp_path: Path) -> None:
    refused(
        tmp_path,
        gguf_bytes({}, [GgufTensorSpec("w", (1, 1, 1, 1, 2))]),
        "tensor 'w'",
        "5 dimensions",
    )


def test_row_not_a_whole_number_of_blocks(tmp_path: Path) -> None:
    refused(
        tmp_path,
        gguf_bytes({}, [GgufTensorSpec("w", (48, 2), "Q4_0")]),
        "tensor 'w'",
        "block size 32",
    )


def test_misaligned_offset(tmp_path: Path) -> None:
    specs = [GgufTensorSpec("a", (4,)), GgufTensorSpec("b", (4,), offset=20)]
    refused(tmp_path, gguf_bytes({}, specs), "tensor 'b'", "alignment 32")


def test_overlapping_tensors(tmp_path: Path) -> None:
    specs = [GgufTensorSpec("a", (64,)), GgufTensorSpec("b", (8,), offset=32)]
    refused(tmp_path, gguf_bytes({}, specs), "overlaps")


def test_duplicate_tensor_names(tmp_path: Path) -> None:
    refused(
        tmp_path,
        gguf_bytes({}, [GgufTensorSpec("w", (8,)), GgufTensorSpec("w", (8,))]),
        "'w' appears twice",
    )


def test_bad_alignment(tmp_path: Path) -> None:
    refused(tmp_path, gguf_bytes({"general.alignment": 24}, [], alignment=24), "power of two")


@pytest.mark.parametrize(
    ("architecture", "fragment"),
    [("lla\x00ma", "control characters"), ("x" * 256, "256 characters long")],
)
def test_reported_architecture_must_be_plain(
    tmp_path: Path, architecture: str, fragment: str
) -> None:
    refused(tmp_path, tiny_gguf(architecture), "general.architecture", fragment)
