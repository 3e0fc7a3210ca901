"""Upload JSON is parsed into INVALID_MODEL on every failure, within a size cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.builders import nested_json
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.json_files import (
    MAX_JSON_FILE_BYTES,
    parse_json,
    read_json_object,
    shown,
)

FIX = "fix it"


def refused(raw: bytes, *fragments: str, unique_keys: bool = False) -> str:
    with pytest.raises(PipelineError) as caught:
        parse_json(raw, "config.json", FIX, unique_keys)
    assert caught.value.code == ErrorCode.INVALID_MODEL
    assert caught.value.msg.startswith("config.json ")
    assert caught.value.msg.endswith(f"; {FIX}.")
    for fragment in fragments:
        assert fragment in caught.value.msg, caught.value.msg
    return caught.value.msg


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_nesting_too_deep_for_the_parser(depth: int) -> None:
    refused(nested_json(depth), "nested too deeply")


def test_deep_objects_too() -> None:
    refused(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply")


def test_moderate_nesting_parses() -> None:
    assert parse_json(nested_json(50), "config.json", FIX) == {"a": _nest(50)}


def _nest(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [(b"{nope", "not valid JSON"), (b'{"\xff": 1}', "not valid UTF-8"), (b"", "not valid JSON")],
)
def test_broken_json(raw: bytes, fragment: str) -> None:
    refused(raw, fragment)


def test_duplicate_keys_only_when_asked() -> None:
    assert parse_json(b'{"a": 1, "a": 2}', "config.json", FIX) == {"a": 2}
    refused(b'{"a": 1, "a": 2}', "'a' appears twice", unique_keys=True)


def test_read_json_object(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b'{"model_type": "bert"}')
    assert read_json_object(path, "config.json", FIX) == {"model_type": "bert"}
    path.write_bytes(b"[1]")
    with pytest.raises(PipelineError, match="not a JSON object") as caught:
        read_json_object(path, "config.json", FIX)
    assert caught.value.code == ErrorCode.INVALID_MODEL


def test_a_huge_file_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.json"
    with path.open("wb") as handle:  # sparse: 2 GiB on paper, nothing on disk
        os.truncate(handle.fileno(), 2 * 1024**3)

    def no_reading(self: Path) -> bytes:
        raise AssertionError("the file was read")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    with pytest.raises(PipelineError) as caught:
        read_json_object(path, "config.json", FIX)
    assert caught.value.code == ErrorCode.INVALID_MODEL
    assert f"config.json is {2 * 1024**3} bytes, more than the {MAX_JSON_FILE_BYTES}" in (
        caught.value.msg
    )


def test_the_cap_is_inclusive(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    path.write_bytes(b"{}" + b" " * 98)
    assert read_json_object(path, "index.json", FIX, max_bytes=100) == {}
    path.write_bytes(b"{}" + b" " * 99)
    with pytest.raises(PipelineError, match="101 bytes, more than the 100"):
        read_json_object(path, "index.json", FIX, max_bytes=100)


def test_shown_values_are_bounded() -> None:
    assert shown([2, -1]) == "[2, -1]"
    assert shown("Bert\x00Model") == "'Bert\\x00Model'"
    assert len(shown(list(range(1_000_000)))) < 100
    assert len(shown("x" * 1_000_000)) < 100
    deep = _nest(900)
    assert len(shown(deep)) < 50  # and no RecursionError
