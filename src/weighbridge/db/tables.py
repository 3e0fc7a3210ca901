"""The metadata schema: one SQLAlchemy table class per entity.

Every datetime is stored and returned as UTC (`UTCDateTime`), because SQLite keeps no
time zone and PostgreSQL must compare the same instants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_on: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class UploadSession(Base):
    __tablename__ = "upload_sessions"
    __table_args__ = (UniqueConstraint("account_id", "idempotency_key"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    file_context: Mapped[str] = mapped_column(String(64))
    total_chunks: Mapped[int] = mapped_column(Integer)
    file_extension: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(BigInteger)
    is_adapter: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    chunk_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    base_model: Mapped[str | None] = mapped_column(String(512), nullable=True)
    model_id: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_on: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    completed_on: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set once the session's stored chunks are known to be deleted (sweeper bookkeeping).
    freed_on: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Chunk(Base):
    """One stored chunk. The row is the commit point: a blob without a row is garbage."""

    __tablename__ = "chunks"
    session_id: Mapped[str] = mapped_column(
        ForeignKey("upload_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    blob_key: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    received_on: Mapped[datetime] = mapped_column(UTCDateTime())


class Job(Base):
    """A dock status. A runner owns it while `lease_expires_on` is in the future."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    model_id: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    phase: Mapped[str] = mapped_column(String(32))
    percentage: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_msg: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_on: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_on: Mapped[datetime] = mapped_column(UTCDateTime())


class Model(Base):
    __tablename__ = "models"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    is_adapter: Mapped[bool] = mapped_column(Boolean)
    base_model: Mapped[str | None] = mapped_column(String(512), nullable=True)
    format: Mapped[str] = mapped_column(String(32))
    architecture: Mapped[str | None] = mapped_column(String(255), nullable=True)
    model_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    parameter_count: Mapped[int] = mapped_column(BigInteger)
    dtypes: Mapped[dict[str, Any]] = mapped_column(JSON)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # adapter_config.json's facts for a PEFT adapter (peftType, rank, alpha, ...), else None.
    adapter: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    warnings: Mapped[list[Any]] = mapped_column(JSON)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
    files: Mapped[list[ModelFile]] = relationship(
        order_by="ModelFile.path", lazy="selectin", cascade="all, delete-orphan")


class StoredObject(Base):
    """One content-addressed file. The row exists only while its blob exists; it is
    deleted (with its blob) when the last model_files row naming it goes away."""

    __tablename__ = "objects"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelFile(Base):
    """A model's file: its path inside the model and the object holding its bytes."""

    __tablename__ = "model_files"
    model_id: Mapped[str] = mapped_column(
        ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("objects.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)


class StoredFile(Base):
    """A plain file (DESIGN §2.8): its bytes are its completed session's chunks."""

    __tablename__ = "stored_files"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("upload_sessions.id"), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    file_context: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
