"""The weighbridge SDK: `Client` and its errors (httpx and the standard library only)."""

from weighbridge.client.client import Client
from weighbridge.client.errors import (
    ApiError,
    DownloadError,
    ImportFailed,
    JobFailed,
    LocalInputError,
    TransportError,
    WeighbridgeClientError,
)
from weighbridge.client.exporter import ExportOutcome
from weighbridge.client.importer import ImportOutcome
from weighbridge.client.listing import ModelPage
from weighbridge.client.transport import RetryPolicy
from weighbridge.client.uploader import Limits

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
]
