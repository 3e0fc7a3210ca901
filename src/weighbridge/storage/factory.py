"""Choose the BlobStore from the settings."""

from __future__ import annotations

from weighbridge.settings import Settings
from weighbridge.storage.base import BlobStore
from weighbridge.storage.local import LocalBlobStore


def make_blob_store(settings: Settings) -> BlobStore:
    if settings.storage == "s3":
        if not settings.s3_bucket:
            raise ValueError("WEIGHBRIDGE_STORAGE=s3 needs WEIGHBRIDGE_S3_BUCKET")
        from weighbridge.storage.s3 import S3BlobStore, make_client

        client = make_client(settings.s3_endpoint_url, settings.s3_region)
        return S3BlobStore(client, settings.s3_bucket, settings.s3_prefix)
    return LocalBlobStore(settings.data_dir / "blobs", settings.min_free_bytes, settings.direct_io)
