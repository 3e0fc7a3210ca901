"""The rule for strings an upload puts into the model record, such as its architecture.

Owns what a reported string may be. Architecture, model type, base model, PEFT type,
task type and target modules are copied from files the uploader wrote into the
record, its database row and every client's output. Invariants, each failure an
INVALID_MODEL naming the file and the field:
- no control characters (C0, U+0000 to U+001F, and DEL): never legitimate in a class,
  repository or module name, and NUL cannot even be stored in a PostgreSQL text column;
- at most the field's limit of characters (`NAME_CHARS`, `BASE_MODEL_CHARS`, which
  match the record's columns), so a value that fits the record is never cut short.
"""

from __future__ import annotations

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.json_files import shown

NAME_CHARS = 255  # architecture, model type, PEFT and task type, a target module
BASE_MODEL_CHARS = 512  # a Hub repository id or a local path


def reported(value: str, file_name: str, field: str, max_chars: int = NAME_CHARS) -> str:
    """Return `value` if it may be reported as `field` of `file_name`, else refuse it."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise PipelineError(
            ErrorCode.INVALID_MODEL,
            f"{file_name}: {field} {shown(value)} contains control characters, which no "
            f"real {field} has; fix {field} in {file_name} and upload again.",
        )
    if len(value) > max_chars:
        raise PipelineError(
            ErrorCode.INVALID_MODEL,
            f"{file_name}: {field} is {len(value)} characters long ({shown(value)}), more "
            f"than the {max_chars} allowed; fix {field} in {file_name} and upload again.",
        )
    return value
