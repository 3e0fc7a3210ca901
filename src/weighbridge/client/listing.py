"""Lists of the account's things, read from the server's answers: a page of models, the
upload sessions.

The server answers `{"models": [...], "total", "limit", "offset"}` and
`{"sessions": [...], "limit", "offset"}`; a list may also come bare, or under `items`,
`data` or `results`. Entries that are not JSON objects are dropped, never raised on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SESSION_STATUSES = ("OPEN", "COMPLETED", "EXPIRED", "ABORTED")


@dataclass(frozen=True)
class ModelPage:
    """One page of `list_models`: the models and where the page lies in the whole list."""

    models: list[dict[str, Any]]
    total: int | None
    limit: int
    offset: int

    def to_dict(self) -> dict[str, Any]:
        """The server's shape: `{"models", "total", "limit", "offset"}`."""
        return {
            "models": self.models,
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
        }


def _entries(data: Any, key: str) -> list[dict[str, Any]]:
    if isinstance(data, Mapping):  # a page object; the list is under one of these
        data = next((data[k] for k in (key, "items", "data", "results") if k in data), [])
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def model_page(data: Any, limit: int, offset: int) -> ModelPage:
    total = data.get("total") if isinstance(data, Mapping) else None
    if not isinstance(total, int) or isinstance(total, bool):
        total = None
    return ModelPage(models=_entries(data, "models"), total=total, limit=limit, offset=offset)


def sessions(data: Any) -> list[dict[str, Any]]:
    """The sessions of a `GET /files/session` answer."""
    return _entries(data, "sessions")
