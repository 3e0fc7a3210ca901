"""What an import run is asked to do and what it found: plain dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UnpackLimits:
    max_unpacked_bytes: int
    max_members: int
    max_compression_ratio: float


@dataclass(frozen=True)
class ImportRequest:
    """One uploaded file to turn into a model directory.

    `file_extension` is normalised: `tar`, `tar.gz`, `zip`, `safetensors` or `gguf`.
    `is_adapter` is None when the client did not say.
    """

    file_name: str
    file_extension: str
    total_bytes: int
    expected_sha256: str | None
    is_adapter: bool | None
    base_model: str | None
    limits: UnpackLimits


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the model directory, "/"-separated
    size: int
    sha256: str


@dataclass(frozen=True)
class AdapterInfo:
    """What adapter_config.json says about a PEFT adapter (reported, not interpreted)."""

    peft_type: str
    base_model_name_or_path: str | None
    task_type: str | None
    r: int | None
    lora_alpha: float | None
    target_modules: list[str] | str | None  # PEFT also allows one regex string


@dataclass
class ImportResult:
    sha256: str  # of the uploaded file as a whole
    format: str  # safetensors | pytorch | gguf
    is_adapter: bool
    base_model: str | None
    architecture: str | None
    model_type: str | None
    parameter_count: int
    dtypes: dict[str, int]
    size_bytes: int
    files: list[FileEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    adapter: AdapterInfo | None = None  # set when is_adapter
