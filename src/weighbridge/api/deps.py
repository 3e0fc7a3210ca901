"""Request dependencies: the app's resources and the calling account."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Header, Request

from weighbridge.db.engine import Database
from weighbridge.jobs.runner import JobRunner
from weighbridge.services import accounts
from weighbridge.services.chunk_intake import ChunkIntake
from weighbridge.settings import Settings
from weighbridge.storage.base import BlobStore


@dataclass
class Resources:
    settings: Settings
    database: Database
    store: BlobStore
    runner: JobRunner
    intake: ChunkIntake


def resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


def account_id(request: Request, x_api_key: str | None = Header(default=None)) -> str:
    res = resources(request)
    with res.database.transaction() as db:
        return accounts.authenticate(db, x_api_key)
