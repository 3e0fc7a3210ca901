"""Making and parsing ids: upload sessions (plain uuid), models (`cm-`), dock statuses (`ds-`).

This is the only module that knows the id formats; everything else treats ids as opaque
strings once `parse_*` has accepted them.
"""

from __future__ import annotations

import uuid

MODEL_PREFIX = "cm-"
DOCK_STATUS_PREFIX = "ds-"
FILE_PREFIX = "file-"


def new_session_id() -> str:
    return str(uuid.uuid4())


def new_model_id() -> str:
    return MODEL_PREFIX + str(uuid.uuid4())


def new_dock_status_id() -> str:
    return DOCK_STATUS_PREFIX + str(uuid.uuid4())


def new_file_id() -> str:
    return FILE_PREFIX + str(uuid.uuid4())


def new_account_id() -> str:
    return "acct-" + uuid.uuid4().hex[:12]


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def is_session_id(text: str) -> bool:
    return _is_uuid(text)


def is_model_id(text: str) -> bool:
    return text.startswith(MODEL_PREFIX) and _is_uuid(text[len(MODEL_PREFIX):])


def is_dock_status_id(text: str) -> bool:
    return text.startswith(DOCK_STATUS_PREFIX) and _is_uuid(text[len(DOCK_STATUS_PREFIX):])


def is_file_id(text: str) -> bool:
    return text.startswith(FILE_PREFIX) and _is_uuid(text[len(FILE_PREFIX):])
