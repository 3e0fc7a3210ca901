"""Reading JSON from an upload: config files, shard indexes and safetensors headers.

Owns how untrusted JSON bytes become Python values, so that every JSON failure is an
INVALID_MODEL naming the file, never a stray exception. Invariants:
- invalid UTF-8, invalid JSON, a duplicate key (where refused) and nesting deeper than
  the parser can follow (`[[[[…` a hundred thousand deep, which makes `json.loads`
  raise RecursionError) are INVALID_MODEL naming the file and saying what to do;
- a JSON file read whole has a size cap (judged before a byte is read, so a 2 GB
  config.json never reaches memory): `MAX_JSON_FILE_BYTES` for config files, which are
  a few kilobytes, and a larger one for shard indexes (see `shard_index`);
- a JSON value quoted in a message goes through `shown`, which bounds its depth and
  length: a hostile value can be large and nested, and a message must be neither.
"""

from __future__ import annotations

import json
import reprlib
from pathlib import Path
from typing import Any

from weighbridge.errors import ErrorCode, PipelineError

MAX_JSON_FILE_BYTES = 16 * 1024 * 1024

_SHOWN = reprlib.Repr()
_SHOWN.maxlevel = 3
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = 8
_SHOWN.maxstring = _SHOWN.maxother = 80


def shown(value: Any) -> str:
    """`repr(value)`, cut short: at most three levels and a few items of each."""
    return _SHOWN.repr(value)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {shown(key)} appears twice")
        result[key] = value
    return result


def parse_json(raw: bytes, label: str, fix: str, unique_keys: bool = False) -> Any:
    """Parse `raw`, described in messages as `label` ("config.json", "x: the header").

    `fix` ends each message ("save the model again with save_pretrained").
    `unique_keys` refuses an object that repeats a key, which `json` would resolve
    silently by keeping the last value.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PipelineError(
            ErrorCode.INVALID_MODEL, f"{label} is not valid UTF-8; {fix}."
        ) from None
    hook = _no_duplicate_keys if unique_keys else None
    try:
        return json.loads(text, object_pairs_hook=hook)
    except RecursionError:
        # The C parser recurses per level of nesting; no real file comes close.
        raise PipelineError(
            ErrorCode.INVALID_MODEL,
            f"{label} is nested too deeply (arrays or objects inside each other hundreds "
            f"of levels deep), which no real model file does; {fix}.",
        ) from None
    except ValueError as exc:  # JSONDecodeError, a duplicate key
        raise PipelineError(
            ErrorCode.INVALID_MODEL, f"{label} is not valid JSON ({exc}); {fix}."
        ) from None


def read_json_object(
    path: Path, name: str, fix: str, max_bytes: int = MAX_JSON_FILE_BYTES
) -> dict[str, Any]:
    """Read the JSON object in `path` (shown to people as `name`), at most `max_bytes`."""
    size = path.stat().st_size
    if size > max_bytes:
        raise PipelineError(
            ErrorCode.INVALID_MODEL,
            f"{name} is {size} bytes, more than the {max_bytes} bytes a JSON file of a "
            f"model may have here (real ones are far smaller); {fix}.",
        )
    # The file is ours (written in staging), so its size cannot change under us.
    value = parse_json(path.read_bytes(), name, fix)
    if not isinstance(value, dict):
        raise PipelineError(ErrorCode.INVALID_MODEL, f"{name} is not a JSON object; {fix}.")
    return value
