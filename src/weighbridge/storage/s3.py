"""BlobStore on an S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...).

    s3://<bucket>/<key prefix>/sessions/<sessionId>/chunk-<uploadId>
    s3://<bucket>/<key prefix>/objects/sha256/<ab>/<sha256>

A writer is one multipart upload: pieces are gathered into parts of `PART_BYTES` (S3
wants at least 5 MiB for every part but the last) and each full part is sent as it
fills, so a writer holds at most one part in memory. Nothing is visible under the key
until `commit()` completes the upload; `cancel()` aborts it, and the store's own
lifecycle rules should abort uploads a killed server left open. Objects are immutable
once written, which is what the chunk and object layouts need.

botocore errors are translated where they enter (`_translated`), keeping the cause.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.storage.base import READ_PIECE_BYTES

log = logging.getLogger("weighbridge.storage")

PART_BYTES = 8 * 1024 * 1024
DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("404", "NoSuchKey", "NotFound")


@contextmanager
def _translated(what: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise WeighbridgeError(ErrorCode.INTERNAL, f"The object store failed while {what}; "
                               "retry, and check the server log if it persists.") from exc


class S3BlobWriter:
    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None
        self._bytes_written = 0
        self._done = False

    @property
    def bytes_written(self) -> int:
        return self._bytes_written

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data
        self._bytes_written += len(data)
        if len(self._buffer) >= PART_BYTES:
            self._send_part()

    def _send_part(self) -> None:
        with _translated("storing a part"):
            if self._upload_id is None:
                self._upload_id = self._client.create_multipart_upload(
                    Bucket=self._bucket, Key=self._key)["UploadId"]
            number = len(self._parts) + 1
            answer = self._client.upload_part(Bucket=self._bucket, Key=self._key,
                                              UploadId=self._upload_id, PartNumber=number,
                                              Body=bytes(self._buffer))
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self._buffer.clear()

    def commit(self) -> None:
        with _translated("saving"):
            if self._upload_id is None:  # small enough for one request
                self._client.put_object(Bucket=self._bucket, Key=self._key,
                                        Body=bytes(self._buffer))
            else:
                if self._buffer:
                    self._send_part()
                self._client.complete_multipart_upload(
                    Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts})
        self._done = True
        self._buffer.clear()

    def cancel(self) -> None:
        if self._done:
            return
        self._done = True
        self._buffer.clear()
        if self._upload_id is not None:
            try:
                self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key,
                                                    UploadId=self._upload_id)
            except Exception:
                # Best effort: the store's lifecycle rule aborts forgotten uploads later.
                log.warning("storage.s3.abort_failed key=%s", self._key, exc_info=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None or not self._done:
            self.cancel()


class S3BlobStore:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _key(self, key: str) -> str:
        if not key or any(p in ("", ".", "..") for p in key.split("/")):
            raise ValueError(f"invalid blob key {key!r}")
        return self._prefix + key

    def writer(self, key: str) -> S3BlobWriter:
        return S3BlobWriter(self._client, self._bucket, self._key(key))

    def iter_bytes(self, key: str, piece_bytes: int = READ_PIECE_BYTES) -> Iterator[bytes]:
        with _translated("reading"):
            body = self._client.get_object(Bucket=self._bucket, Key=self._key(key))["Body"]
        with body:
            while piece := body.read(piece_bytes):
                yield piece

    def iter_range(self, key: str, offset: int, length: int,
                   piece_bytes: int = READ_PIECE_BYTES) -> Iterator[bytes]:
        if length <= 0:
            return
        with _translated("reading"):
            body = self._client.get_object(Bucket=self._bucket, Key=self._key(key),
                                           Range=f"bytes={offset}-{offset + length - 1}")["Body"]
        with body:
            while length > 0:
                piece = body.read(min(piece_bytes, length))
                if not piece:
                    raise OSError(f"blob {key} is shorter than expected")
                length -= len(piece)
                yield piece

    def size(self, key: str) -> int:
        with _translated("looking up a file"):
            return int(self._client.head_object(Bucket=self._bucket,
                                                Key=self._key(key))["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=self._key(key))
        except Exception as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        with _translated("deleting"):
            self._client.delete_object(Bucket=self._bucket, Key=self._key(key))

    def _keys_under(self, prefix: str) -> Iterator[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=self._key(prefix) + "/")
        for page in pages:
            for item in page.get("Contents", []):
                yield str(item["Key"])

    def delete_prefix(self, prefix: str) -> None:
        with _translated("deleting"):
            keys = list(self._keys_under(prefix))
            for start in range(0, len(keys), DELETE_BATCH):
                batch = [{"Key": k} for k in keys[start:start + DELETE_BATCH]]
                self._client.delete_objects(Bucket=self._bucket, Delete={"Objects": batch})

    def list_prefix(self, prefix: str) -> list[str]:
        with _translated("listing"):
            return sorted(k[len(self._prefix):] for k in self._keys_under(prefix))

    def put_file(self, local_path: Path, key: str) -> None:
        with _translated("storing a file"):
            # upload_file streams from disk and switches to multipart by itself.
            self._client.upload_file(str(local_path), self._bucket, self._key(key))
        local_path.unlink()


def make_client(endpoint_url: str | None, region: str | None) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)
