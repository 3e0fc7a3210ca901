"""Recognising what an unpacked upload is, and checking it as that kind of model.

Owns the layout rules (DESIGN §3). Only the model folder's top level is considered for
weights, as the Hugging Face and PEFT loaders do. In order:
1. adapter_config.json → PEFT adapter (`peft_check`);
2. *.safetensors (single, or shards with *.safetensors.index.json) → Hugging Face model:
   every shard the index names exists and holds the tensors mapped to it, no shard is
   left out of the index, config.json (if present) is a JSON object;
3. *.gguf → GGUF model (`gguf_check`): one file, or every file of a split GGUF;
4. PyTorch pickle weights only → UNSUPPORTED_FORMAT (until the pickle scan lands);
   no weights at all → INVALID_MODEL.
Pickle files (*.bin, *.pt, …) next to safetensors weights are refused too: they cannot be
scanned yet, and storing them would let unchecked code into the model store.
Missing config.json or tokenizer files are warnings, not failures.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline import peft_check
from weighbridge.pipeline.gguf_check import check_gguf
from weighbridge.pipeline.result import AdapterInfo, FileEntry
from weighbridge.pipeline.safetensors_check import SafetensorsSummary, check_safetensors

TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer.model",
        "tokenizer_config.json",
        "vocab.txt",
        "vocab.json",
        "spiece.model",
        "sentencepiece.bpe.model",
    }
)
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
# torch.save writes a zip (PK\x03\x04) since 1.6 and a raw pickle (\x80 + protocol) before.
_PICKLE_MAGICS = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_SHARD_NAME = re.compile(r".*-\d{5}-of-\d{5}\.safetensors")


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


def _is_pickle(model_dir: Path, rel: str) -> bool:
    suffix = PurePosixPath(rel).suffix.lower()
    if suffix not in PICKLE_SUFFIXES:
        return False
    if suffix != ".bin":
        return True
    # .bin is also used for non-pickle data (e.g. ONNX external weights); look inside.
    with (model_dir / rel).open("rb") as handle:
        return handle.read(4).startswith(_PICKLE_MAGICS)


def _read_json_object(path: Path, name: str, fix: str) -> dict[str, Any]:
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid(f"{name} is not valid JSON ({exc}); {fix}.") from None
    if not isinstance(value, dict):
        raise _invalid(f"{name} is not a JSON object; {fix}.")
    return value


def _add_counts(total: dict[str, int], summary: SafetensorsSummary) -> None:
    for dtype, count in summary.dtypes.items():
        total[dtype] = total.get(dtype, 0) + count


def _refuse_pickles(pickles: list[str], weights: str) -> None:
    if pickles:
        shown = ", ".join(pickles[:5]) + (" …" if len(pickles) > 5 else "")
        raise PipelineError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"The upload contains PyTorch pickle files ({shown}) next to {weights}; pickle "
            "files can run code when loaded and cannot be scanned yet — remove them (the "
            "safetensors weights are enough) and upload again.",
        )


def check_sharded(
    model_dir: Path, index_names: list[str], shards: set[str]
) -> tuple[dict[str, int], list[str]]:
    """Check shards against their index files; return dtype counts and warnings."""
    mapped: dict[str, str] = {}  # tensor → shard
    for index_name in index_names:
        index = _read_json_object(
            model_dir / index_name, index_name, "save the model again with save_pretrained"
        )
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()
        ):
            raise _invalid(
                f"{index_name} has no weight_map of tensor names to shard files; save the "
                "model again with save_pretrained."
            )
        for tensor, shard in weight_map.items():
            if shard not in shards:
                raise _invalid(
                    f"{index_name} maps tensor {tensor!r} to {shard!r}, which is not in the "
                    "upload; add the missing shard (all shards must be uploaded together)."
                )
            mapped[tensor] = shard
    referenced = set(mapped.values())
    unreferenced = sorted(shards - referenced)
    if unreferenced:
        raise _invalid(
            f"{', '.join(unreferenced)} is not named in {', '.join(index_names)}; a stray "
            "shard would be ignored by loaders — remove it or use the matching index."
        )
    dtypes: dict[str, int] = {}
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for shard in sorted(referenced):
        summary = check_safetensors(model_dir / shard, shard)
        for tensor in summary.tensors:
            if tensor in seen:
                raise _invalid(
                    f"Tensor {tensor!r} is in both {seen[tensor]} and {shard}; each tensor "
                    "must be stored once — save the model again with save_pretrained."
                )
            seen[tensor] = shard
            if tensor not in mapped:
                warnings.append(
                    f"{shard} holds tensor {tensor!r}, which the index does not list; loaders "
                    "may ignore it."
                )
        _add_counts(dtypes, summary)
    for tensor, shard in sorted(mapped.items()):
        if seen.get(tensor) != shard:
            raise _invalid(
                f"The index maps tensor {tensor!r} to {shard}, but {shard} does not contain "
                "it; the shards and the index do not belong together — save the model "
                "again with save_pretrained."
            )
    return dtypes, warnings[:20]


def _check_hf_model(model_dir: Path, root: set[str], shards: set[str]) -> DetectedModel:
    indexes = sorted(name for name in root if name.endswith(".safetensors.index.json"))
    warnings: list[str] = []
    if indexes:
        dtypes, shard_warnings = check_sharded(model_dir, indexes, shards)
        warnings += shard_warnings
    else:
        loose = sorted(name for name in shards if _SHARD_NAME.fullmatch(name))
        if loose:
            raise _invalid(
                f"{loose[0]} is a shard but model.safetensors.index.json is missing; upload the "
                "index with the shards."
            )
        dtypes = {}
        for name in sorted(shards):
            _add_counts(dtypes, check_safetensors(model_dir / name, name))
        if len(shards) > 1:
            warnings.append(
                f"Several weight files without an index ({', '.join(sorted(shards))}); "
                "parameterCount adds them all."
            )
    architecture = model_type = None
    if "config.json" in root:
        config = _read_json_object(
            model_dir / "config.json", "config.json", "fix it or save the model again"
        )
        architectures = config.get("architectures")
        if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
            architecture = architectures[0]
        if isinstance(config.get("model_type"), str):
            model_type = config["model_type"]
    else:
        warnings.append(
            "No config.json found; architecture and model type are unknown and most loaders "
            "need it — add the model's config.json."
        )
    if not root & TOKENIZER_FILES:
        warnings.append(
            "No tokenizer files found; add tokenizer.json (or tokenizer.model / vocab.txt / "
            "tokenizer_config.json) if the model is to be served with text input."
        )
    return DetectedModel(
        format="safetensors",
        is_adapter=False,
        base_model=None,
        architecture=architecture,
        model_type=model_type,
        dtypes=dtypes,
        warnings=warnings,
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
    model_dir: Path, files: list[FileEntry], request_base_model: str | None
) -> DetectedModel:
    """Recognise and check the model in `model_dir` (whose files are `files`)."""
    root = {entry.path for entry in files if "/" not in entry.path}
    pickles = sorted(entry.path for entry in files if _is_pickle(model_dir, entry.path))
    shards = {name for name in root if name.endswith(".safetensors")}

    if peft_check.CONFIG_NAME in root:
        report = peft_check.check_adapter(model_dir, root, request_base_model)
        _refuse_pickles(pickles, peft_check.WEIGHTS_NAME)
        return DetectedModel(
            format="safetensors",
            is_adapter=True,
            base_model=report.base_model,
            architecture=None,
            model_type=None,
            dtypes=dict(report.weights.dtypes),
            warnings=report.warnings,
            adapter=report.info,
        )
    if shards:
        _refuse_pickles(pickles, "the safetensors weights")
        return _check_hf_model(model_dir, root, shards)
    ggufs = sorted(name for name in root if name.lower().endswith(".gguf"))
    if ggufs:
        _refuse_pickles(pickles, "the GGUF weights")
        return _check_gguf_model(model_dir, ggufs, request_base_model)
    if pickles:
        raise PipelineError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"The weights are PyTorch pickle files ({', '.join(pickles[:3])}), which this "
            "server does not accept yet; convert them to safetensors (save_pretrained with "
            "safe_serialization=True) and upload again.",
        )
    nested = sorted(entry.path for entry in files if entry.path.endswith((".safetensors", ".gguf")))
    if nested:
        raise _invalid(
            f"No weights at the top level of the upload, only in subfolders ({nested[0]}); "
            "put the model's files at the top of the archive or in one top-level folder."
        )
    raise _invalid(
        "The upload contains no model weights (no *.safetensors file); add the weights "
        "and upload again."
    )
