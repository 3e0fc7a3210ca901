"""The weighbridge SDK: `Client` and its errors (httpx and the standard library only)."""

from weighbridge.client.client import Client
from weighbridge.client.errors import (
    ApiError,
    ImportFailed,
    LocalInputError,
    TransportError,
    WeighbridgeClientError,
)
from weighbridge.client.importer import ImportOutcome
from weighbridge.client.transport import RetryPolicy
from weighbridge.client.uploader import Limits

__all__ = [
    "ApiError",
    "Client",
    "ImportFailed",
    "ImportOutcome",
    "Limits",
    "LocalInputError",
    "RetryPolicy",
    "TransportError",
    "WeighbridgeClientError",
]
