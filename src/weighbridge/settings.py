"""All of weighbridge's settings, read once at the edge from `WEIGHBRIDGE_*` variables.

`Settings` is built by the CLI (or the test that starts a server) and passed down; no
module reads the environment on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024
GiB = 1024 * MiB
TiB = 1024 * GiB


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEIGHBRIDGE_", extra="ignore")

    data_dir: Path = Path("./weighbridge-data")
    # Empty means the embedded SQLite database in data_dir.
    database_url: str = ""
    # Not `host`: WEIGHBRIDGE_HOST is the client's server URL (DESIGN §5).
    bind_host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)

    # Where chunks and model files live: "local" (data_dir/blobs) or "s3" (an
    # S3-compatible store; credentials from the usual AWS_* variables or files).
    storage: Literal["local", "s3"] = "local"
    s3_bucket: str = ""
    s3_prefix: str = "weighbridge"
    s3_endpoint_url: str = ""
    s3_region: str = ""
    # Local storage writes around the page cache (O_DIRECT) where the file system allows
    # it, falling back by itself where it does not; false forces ordinary writes.
    direct_io: bool = True

    # Upload limits (served by GET /api/public/limits).
    max_file_size_bytes: int = Field(default=1 * TiB, ge=1)
    max_chunks: int = Field(default=10_000, ge=1)
    min_chunk_size_bytes: int = Field(default=1, ge=1)
    max_chunk_size_bytes: int = Field(default=5 * GiB, ge=1)
    session_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    max_open_sessions_per_account: int = Field(default=100, ge=1)
    # A client that sends nothing for this long in the middle of a chunk is cut off.
    chunk_idle_timeout_seconds: float = Field(default=60.0, gt=0)
    # Chunk writes are refused (507) while the data disk has less free space than this,
    # so a full disk never takes the database down with it.
    min_free_bytes: int = Field(default=256 * MiB, ge=0)

    # Unpacking limits for the import pipeline.
    max_unpacked_bytes: int = Field(default=2 * TiB, ge=1)
    max_archive_members: int = Field(default=100_000, ge=1)
    max_compression_ratio: float = Field(default=200.0, gt=1)

    # Background jobs.
    job_workers: int = Field(default=2, ge=1)
    job_lease_seconds: int = Field(default=60, ge=5)
    job_poll_seconds: float = Field(default=1.0, gt=0)
    job_max_attempts: int = Field(default=3, ge=1)
    sweep_interval_seconds: float = Field(default=60.0, gt=0)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "weighbridge.db"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.sqlite_path.resolve()}"
