"""Choose the BlobStore from the settings."""

from __future__ import annotations

from weighbridge.settings import Settings
from weighbridge.storage.base import BlobStore
from weighbridge.storage.local import LocalBlobStore


def make_blob_store(settings: Settings) -> BlobStore:
    return LocalBlobStore(settings.data_dir / "blobs", settings.min_free_bytes)
