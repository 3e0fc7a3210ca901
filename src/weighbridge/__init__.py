"""weighbridge: a self-hosted, GALE-compatible model import service, its SDK and CLI.

This package's top level is the SDK's public surface only: `Client`, its errors and
`__version__`. It is import-light on purpose: the server side (and its web and database
frameworks) imports `weighbridge.*` too, so the SDK is loaded on first use, and nothing
here ever imports the server.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from weighbridge.client import (
        ApiError,
        Client,
        DownloadError,
        ExportOutcome,
        ImportFailed,
        ImportOutcome,
        JobFailed,
        Limits,
        LocalInputError,
        ModelPage,
        RetryPolicy,
        TransportError,
        WeighbridgeClientError,
    )

__all__ = [
    "ApiError",
    "Client",
    "DownloadError",
    "ExportOutcome",
    "ImportFailed",
    "ImportOutcome",
    "JobFailed",
    "Limits",
    "LocalInputError",
    "ModelPage",
    "RetryPolicy",
    "TransportError",
    "WeighbridgeClientError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # Lazy, so `import weighbridge.errors` on the server does not pull in httpx.
    if name in __all__ and name != "__version__":
        return getattr(import_module("weighbridge.client"), name)
    raise AttributeError(f"module 'weighbridge' has no attribute {name!r}")
