"""Hugging Face model folders: their weights (safetensors or PyTorch), config and tokenizer.

Owns which top-level files are a full model's weights and what the record says about
them. Invariants (failures are INVALID_MODEL naming the file):
- safetensors: every `*.safetensors` passes `safetensors_check`; with
  `*.safetensors.index.json` the shard rules of `shard_index` hold; shard-named files
  without an index are refused; several files without an index are added up (warning);
- PyTorch (only when there is no safetensors file): `pytorch_model.bin`, or the shards
  of `pytorch_model.bin.index.json` under the same shard rules; otherwise every other
  top-level checkpoint that holds tensors, except the trainer's own files
  (training_args.bin, optimizer.pt, scheduler.pt, scaler.pt, rng_state*.pth), which
  are never weights. Their pickles were already scanned (`torch_check`) by the caller;
- config.json, when present, is a JSON object (read by `json_files`); `architectures[0]`
  and `model_type` are reported, so they follow `reported_text`; a missing config.json
  or tokenizer is a warning, not a failure.
"""

from __future__ import annotations

import re
from pathlib import Path

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.json_files import read_json_object
from weighbridge.pipeline.reported_text import reported
from weighbridge.pipeline.safetensors_check import check_safetensors
from weighbridge.pipeline.shard_index import check_sharded
from weighbridge.pipeline.torch_tensors import TorchSummary

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
TORCH_WEIGHTS_NAME = "pytorch_model.bin"
_SHARD_NAME = re.compile(r".*-\d{5}-of-\d{5}\.(safetensors|bin)")
_TRAINER_FILES = re.compile(
    r"training_args\.bin|optimizer\.pt|scheduler\.pt|scaler\.pt|rng_state.*\.pth"
)

Counts = dict[str, int]


def _invalid(problem: str) -> PipelineError:
    return PipelineError(ErrorCode.INVALID_MODEL, problem)


def _add(total: Counts, counts: Counts) -> None:
    for dtype, count in counts.items():
        total[dtype] = total.get(dtype, 0) + count


def _unindexed(
    names: list[str], index_name: str, read: dict[str, Counts]
) -> tuple[Counts, list[str]]:
    loose = [name for name in names if _SHARD_NAME.fullmatch(name)]
    if loose:
        raise _invalid(
            f"{loose[0]} is a shard but {index_name} is missing; upload the index with the shards."
        )
    dtypes: Counts = {}
    for name in names:
        _add(dtypes, read[name])
    warnings = []
    if len(names) > 1:
        warnings.append(
            f"Several weight files without an index ({', '.join(names)}); parameterCount "
            "adds them all."
        )
    return dtypes, warnings


def safetensors_weights(model_dir: Path, root: set[str]) -> tuple[Counts, list[str]]:
    shards = {name for name in root if name.endswith(".safetensors")}
    indexes = sorted(name for name in root if name.endswith(".safetensors.index.json"))
    if indexes:

        def read(shard: str) -> tuple[list[str], Counts]:
            summary = check_safetensors(model_dir / shard, shard)
            return list(summary.tensors), summary.dtypes

        return check_sharded(model_dir, indexes, shards, shards, read)
    counts = {name: check_safetensors(model_dir / name, name).dtypes for name in sorted(shards)}
    return _unindexed(sorted(shards), "model.safetensors.index.json", counts)


def torch_weights(
    model_dir: Path, root: set[str], scans: dict[str, TorchSummary]
) -> tuple[Counts, list[str]] | None:
    """Counts and warnings of the PyTorch weights among the top-level `scans`, or None."""
    checkpoints = {name for name in root if name in scans}
    indexes = sorted(name for name in root if name.endswith(".bin.index.json"))
    if indexes:
        shard_named = {name for name in checkpoints if _SHARD_NAME.fullmatch(name)}

        def read(shard: str) -> tuple[list[str], Counts]:
            return list(scans[shard].shapes), scans[shard].dtypes

        return check_sharded(model_dir, indexes, checkpoints, shard_named, read)
    if TORCH_WEIGHTS_NAME in checkpoints:
        names = [TORCH_WEIGHTS_NAME]
    else:
        names = sorted(
            name
            for name in checkpoints
            if scans[name].tensor_count and not _TRAINER_FILES.fullmatch(name)
        )
    if not names:
        return None
    if not scans[names[0]].tensor_count:
        raise _invalid(
            f"{names[0]} holds no tensors; it is not a model checkpoint — save the model's "
            "state_dict (save_pretrained) and upload again."
        )
    counts = {name: scans[name].dtypes for name in names}
    return _unindexed(names, "pytorch_model.bin.index.json", counts)


def describe(root: set[str], model_dir: Path) -> tuple[str | None, str | None, list[str]]:
    """Architecture and model type from config.json, and warnings for what is missing."""
    architecture = model_type = None
    warnings: list[str] = []
    if "config.json" in root:
        config = read_json_object(
            model_dir / "config.json", "config.json", "fix it or save the model again"
        )
        architectures = config.get("architectures")
        if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
            architecture = reported(architectures[0], "config.json", "architectures[0]")
        if isinstance(config.get("model_type"), str):
            model_type = reported(config["model_type"], "config.json", "model_type")
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
    return architecture, model_type, warnings
