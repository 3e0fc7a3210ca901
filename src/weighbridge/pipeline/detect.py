"""Recognising what an unpacked upload is, and checking it as that kind of model.

Owns the layout rules (DESIGN §3). Only the model folder's top level is considered for
weights, as the Hugging Face and PEFT loaders do. First, every pickle file of the upload
(*.bin, *.pt, *.pth, *.ckpt, *.pkl, *.pickle, at any depth; a .bin only if it is a
pickle) is scanned by `torch_check`, whatever its role: one that names a global outside
the allow-list fails the import with UNSAFE_PICKLE, so no model folder carrying a
malicious pickle is ever registered. Then, in order:
1. adapter_config.json → PEFT adapter (`peft_check`), safetensors or adapter_model.bin;
2. *.safetensors → Hugging Face model (`hf_model`), format "safetensors"; PyTorch files
   beside them are kept (scanned) but are not the weights;
3. *.gguf → GGUF model (`gguf_check`): one file, or every file of a split GGUF;
4. PyTorch checkpoints holding tensors → Hugging Face model, format "pytorch";
   no weights at all → INVALID_MODEL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline import hf_model, peft_check
from weighbridge.pipeline.gguf_check import check_gguf
from weighbridge.pipeline.result import AdapterInfo, FileEntry
from weighbridge.pipeline.torch_check import check_torch_file, has_pickle_suffix
from weighbridge.pipeline.torch_tensors import TorchSummary


@dataclass
class DetectedModel:
    format: str
    is_adapter: bool
    base_model: str | None
    architecture: str | None
    model_type: str | None
    dtypes: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    adapter: AdapterInfo | None = None

    @property
    def parameter_count(self) -> int:
        return sum(self.dtypes.values())


def _invalid(problem: str) -> PipelineError:
    return PipelineError(ErrorCode.INVALID_MODEL, problem)


def validation_bytes(files: list[FileEntry]) -> int:
    """Bytes the pickle scan reads or accounts for: the size of the validation phase."""
    return sum(entry.size for entry in files if has_pickle_suffix(entry.path))


def scan_pickles(
    model_dir: Path, files: list[FileEntry], on_bytes: Callable[[int], None] | None
) -> dict[str, TorchSummary]:
    """Scan every pickle file of the upload, at any depth; refuse any unsafe one."""
    found: dict[str, TorchSummary] = {}
    for entry in sorted(files, key=lambda e: e.path):
        if has_pickle_suffix(entry.path):
            # .bin is also used for raw data (e.g. ONNX external weights): sniff it.
            sniff = entry.path.lower().endswith(".bin")
            summary = check_torch_file(model_dir / entry.path, entry.path, on_bytes, sniff)
            if summary is not None:
                found[entry.path] = summary
    return found


def _hf(
    model_dir: Path, root: set[str], fmt: str, weights: tuple[dict[str, int], list[str]]
) -> DetectedModel:
    architecture, model_type, warnings = hf_model.describe(root, model_dir)
    return DetectedModel(
        format=fmt,
        is_adapter=False,
        base_model=None,
        architecture=architecture,
        model_type=model_type,
        dtypes=weights[0],
        warnings=weights[1] + warnings,
    )


def _check_gguf_model(
    model_dir: Path, names: list[str], request_base_model: str | None
) -> DetectedModel:
    """One GGUF file, or the complete set of a split GGUF (split.count files)."""
    summaries = [check_gguf(model_dir / name, name) for name in names]
    if len(summaries) > 1:
        counts = {summary.metadata.get("split.count") for summary in summaries}
        numbers = sorted(str(summary.metadata.get("split.no")) for summary in summaries)
        if counts != {len(names)} or numbers != sorted(str(n) for n in range(len(names))):
            raise _invalid(
                f"The upload holds several GGUF files ({', '.join(names)}) that are not one "
                "complete split model; import one model (one quantisation) at a time."
            )
    first = summaries[0]
    dtypes: dict[str, int] = {}
    for summary in summaries:
        for dtype, count in summary.dtypes.items():
            dtypes[dtype] = dtypes.get(dtype, 0) + count
    is_adapter = first.metadata.get("general.type") == "adapter"
    warnings: list[str] = []
    if is_adapter and request_base_model is None:
        warnings.append(
            "No base model is known for this GGUF adapter; set baseModel so it can be served."
        )
    return DetectedModel(
        format="gguf",
        is_adapter=is_adapter,
        base_model=request_base_model if is_adapter else None,
        architecture=first.architecture,
        model_type=None,
        dtypes=dtypes,
        warnings=warnings,
    )


def detect_model(
    model_dir: Path,
    files: list[FileEntry],
    request_base_model: str | None,
    on_bytes: Callable[[int], None] | None = None,
) -> DetectedModel:
    """Recognise and check the model in `model_dir` (whose files are `files`).

    `on_bytes` is told about the bytes the pickle scan gets through (see
    `validation_bytes`), so progress can move during a long scan.
    """
    root = {entry.path for entry in files if "/" not in entry.path}
    scans = scan_pickles(model_dir, files, on_bytes)

    if peft_check.CONFIG_NAME in root:
        report = peft_check.check_adapter(model_dir, root, request_base_model, scans)
        return DetectedModel(
            format=report.format,
            is_adapter=True,
            base_model=report.base_model,
            architecture=None,
            model_type=None,
            dtypes=report.dtypes,
            warnings=report.warnings,
            adapter=report.info,
        )
    if any(name.endswith(".safetensors") for name in root):
        return _hf(model_dir, root, "safetensors", hf_model.safetensors_weights(model_dir, root))
    ggufs = sorted(name for name in root if name.lower().endswith(".gguf"))
    if ggufs:
        return _check_gguf_model(model_dir, ggufs, request_base_model)
    torch_weights = hf_model.torch_weights(model_dir, root, scans)
    if torch_weights is not None:
        return _hf(model_dir, root, "pytorch", torch_weights)
    nested = sorted(
        entry.path
        for entry in files
        if "/" in entry.path
        and (entry.path.endswith((".safetensors", ".gguf")) or entry.path in scans)
    )
    if nested:
        raise _invalid(
            f"No weights at the top level of the upload, only in subfolders ({nested[0]}); "
            "put the model's files at the top of the archive or in one top-level folder."
        )
    raise _invalid(
        "The upload contains no model weights (no *.safetensors, *.gguf or PyTorch "
        "checkpoint with tensors); add the weights and upload again."
    )
