"""safetensors header rules: every refusal names the file, the tensor and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.builders import (
    TINY_DTYPES,
    nested_json,
    raw_safetensors,
    safetensors_bytes,
    tiny_tensors,
)
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.safetensors_check import DTYPE_BITS, check_safetensors

NAME = "model.safetensors"


def check(tmp_path: Path, data: bytes) -> Any:
    path = tmp_path / NAME
    path.write_bytes(data)
    return check_safetensors(path, NAME)


def refused(tmp_path: Path, data: bytes, *fragments: str) -> str:
    with pytest.raises(PipelineError) as caught:
        check(tmp_path, data)
    assert caught.value.code == ErrorCode.INVALID_MODEL
    assert caught.value.msg.startswith(f"{NAME}: ")
    for fragment in fragments:
        assert fragment in caught.value.msg
    return caught.value.msg


def entry(
    dtype: str = "F32", shape: list[int] | None = None, offsets: list[int] | None = None
) -> dict[str, Any]:
    return {
        "dtype": dtype,
        "shape": [2] if shape is None else shape,
        "data_offsets": offsets or [0, 8],
    }


def test_real_file_summary(tmp_path: Path) -> None:
    summary = check(tmp_path, safetensors_bytes(tiny_tensors(), metadata={"format": "pt"}))
    assert summary.dtypes == TINY_DTYPES
    assert summary.parameter_count == 34
    assert summary.metadata == {"format": "pt"}
    assert summary.tensors["encoder.weight"].shape == (4, 6)


def test_all_reference_dtypes_are_known(tmp_path: Path) -> None:
    tensors: dict[str, np.ndarray[Any, Any]] = {
        "f64": np.zeros(2, np.float64),
        "f16": np.zeros(2, np.float16),
        "i8": np.zeros(3, np.int8),
        "u16": np.zeros(2, np.uint16),
        "u32": np.zeros(2, np.uint32),
        "u64": np.zeros(1, np.uint64),
        "b": np.zeros(5, np.bool_),
        "i16": np.zeros(2, np.int16),
        "empty": np.zeros((0, 3), np.float32),
    }
    summary = check(tmp_path, safetensors_bytes(tensors))
    assert set(summary.dtypes) <= set(DTYPE_BITS)
    assert summary.dtypes["BOOL"] == 5
    assert summary.dtypes["F32"] == 0


@pytest.mark.parametrize("header", [{}, {"__metadata__": {"format": "pt"}}])
def test_a_header_without_tensors_is_refused(tmp_path: Path, header: dict[str, Any]) -> None:
    # The reference loader reads it as an empty model; importing one is always a mistake.
    refused(tmp_path, raw_safetensors(header), "has no tensors")


def test_file_shorter_than_the_length_prefix(tmp_path: Path) -> None:
    refused(tmp_path, b"\x10\x00\x00", "too short", "truncated")


def test_header_length_beyond_file(tmp_path: Path) -> None:
    refused(tmp_path, raw_safetensors({}, declared_len=500), "header of 500 bytes", "truncated")


def test_header_length_absurd(tmp_path: Path) -> None:
    refused(tmp_path, raw_safetensors(b"{}", declared_len=200_000_000), "200000000")


def test_header_length_zero(tmp_path: Path) -> None:
    refused(tmp_path, raw_safetensors(b"", declared_len=0), "header of 0 bytes")


def test_header_not_json(tmp_path: Path) -> None:
    refused(tmp_path, raw_safetensors(b"{not json"), "not valid JSON")


def test_header_not_utf8(tmp_path: Path) -> None:
    refused(tmp_path, raw_safetensors(b'{"\xff": 1}'), "not valid UTF-8")


def test_header_not_an_object(tmp_path: Path) -> None:
    refused(tmp_path, raw_safetensors(b"[1, 2]"), "not a JSON object")


def test_duplicate_tensor_names(tmp_path: Path) -> None:
    header = b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}'
    refused(tmp_path, raw_safetensors(header, b"\x00"), "'a' appears twice")


def test_metadata_must_map_strings_to_strings(tmp_path: Path) -> None:
    refused(tmp_path, raw_safetensors({"__metadata__": {"epoch": 3}}), "__metadata__")


def test_unknown_dtype(tmp_path: Path) -> None:
    refused(
        tmp_path,
        raw_safetensors({"w": entry("F128")}, bytes(8)),
        "tensor 'w'",
        "unknown dtype 'F128'",
    )


@pytest.mark.parametrize("shape", [[-1, 2], [2.0], "2", [True]])
def test_bad_shape(tmp_path: Path, shape: Any) -> None:
    refused(
        tmp_path,
        raw_safetensors({"w": {**entry(), "shape": shape}}, bytes(8)),
        "tensor 'w'",
        "shape",
    )


@pytest.mark.parametrize("offsets", [[0], [0, 8, 9], [-1, 7], ["0", "8"], None])
def test_bad_offsets(tmp_path: Path, offsets: Any) -> None:
    refused(
        tmp_path,
        raw_safetensors({"w": {**entry(), "data_offsets": offsets}}, bytes(8)),
        "tensor 'w'",
        "data_offsets",
    )


def test_offsets_backwards(tmp_path: Path) -> None:
    refused(
        tmp_path, raw_safetensors({"w": entry(offsets=[8, 0])}, bytes(8)), "end before they begin"
    )


def test_tensor_beyond_data_area_is_truncation(tmp_path: Path) -> None:
    msg = refused(
        tmp_path,
        raw_safetensors({"w": entry(shape=[1000], offsets=[0, 4000])}, bytes(96)),
        "tensor 'w'",
        "ends at byte 4000",
        "only 96 bytes",
        "truncated",
    )
    assert "re-export" in msg


def test_truncated_real_file(tmp_path: Path) -> None:
    data = safetensors_bytes(tiny_tensors())
    refused(tmp_path, data[:-10], "truncated")


def test_byte_length_must_match_shape_and_dtype(tmp_path: Path) -> None:
    refused(
        tmp_path,
        raw_safetensors({"w": entry(shape=[3], offsets=[0, 8])}, bytes(8)),
        "tensor 'w'",
        "12 bytes",
        "span 8 bytes",
    )


def test_sub_byte_dtype_must_fill_whole_bytes(tmp_path: Path) -> None:
    refused(
        tmp_path,
        raw_safetensors({"w": entry("F4", shape=[3], offsets=[0, 2])}, bytes(2)),
        "do not fill whole bytes",
    )
    assert check(
        tmp_path, raw_safetensors({"w": entry("F4", shape=[4], offsets=[0, 2])}, bytes(2))
    ).dtypes == {"F4": 4}


def test_overlapping_tensors(tmp_path: Path) -> None:
    header = {"a": entry(offsets=[0, 8]), "b": entry(offsets=[4, 12])}
    refused(tmp_path, raw_safetensors(header, bytes(12)), "overlaps", "'a'", "'b'")


def test_gap_between_tensors(tmp_path: Path) -> None:
    header = {"a": entry(offsets=[0, 8]), "b": entry(offsets=[12, 20])}
    refused(tmp_path, raw_safetensors(header, bytes(20)), "gap of 4", "'b'")


def test_data_area_not_fully_covered(tmp_path: Path) -> None:
    refused(
        tmp_path,
        raw_safetensors({"a": entry()}, bytes(12)),
        "data area of 12 bytes",
        "cover only 8",
    )


def test_zero_size_tensors_may_share_an_offset(tmp_path: Path) -> None:
    header = {
        "a": entry(shape=[0], offsets=[0, 0]),
        "b": entry(shape=[0], offsets=[0, 0]),
        "c": entry(),
    }
    assert check(tmp_path, raw_safetensors(header, bytes(8))).dtypes == {"F32": 2}


def test_header_nested_too_deeply(tmp_path: Path) -> None:
    # {"a": [[[…]]]} a hundred thousand deep made json.loads raise RecursionError.
    refused(tmp_path, raw_safetensors(nested_json(100_000)), "nested too deeply")


def test_a_deep_or_huge_value_is_shown_short(tmp_path: Path) -> None:
    deep = (
        b'{"t": {"dtype": "F32", "shape": '
        + b"[" * 200
        + b"]" * 200
        + b', "data_offsets": [0, 0]}}'
    )
    assert "shape [[[" in refused(tmp_path, raw_safetensors(deep), "tensor 't' has shape")
    wide = {"t": entry(shape=[-1] * 1_000_000)}
    assert len(refused(tmp_path, raw_safetensors(wide), "tensor 't' has shape")) < 400
