"""The rules of a Hugging Face shard index (`*.safetensors.index.json`, `pytorch_model.bin.index.json`).

Owns how shards and their index must agree, for safetensors and PyTorch shards alike
(the caller says how to read one shard's tensor names and dtype counts). Invariants,
each failure an INVALID_MODEL naming the index, the shard and the tensor:
- the index is a JSON object of at most `MAX_INDEX_BYTES` whose `weight_map` maps
  tensor names to shard file names;
- every shard it names is in the upload and holds every tensor mapped to it;
- no tensor is stored in two shards;
- no shard-named file (`*-00001-of-00002.*`) is left out of the index.
Tensors a shard holds but the index does not list are warnings (loaders ignore them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.json_files import read_json_object

# An index spends about 100 bytes per tensor, so 64 MiB leaves room for 600,000 tensors
# while keeping a hostile index out of memory.
MAX_INDEX_BYTES = 64 * 1024 * 1024
# Reads one shard (by its name): the names of its tensors and its elements per dtype.
ShardReader = Callable[[str], tuple[Iterable[str], dict[str, int]]]


def _invalid(problem: str) -> PipelineError:
    return PipelineError(ErrorCode.INVALID_MODEL, problem)


def _read_weight_map(model_dir: Path, index_name: str) -> dict[str, str]:
    index = read_json_object(
        model_dir / index_name,
        index_name,
        "save the model again with save_pretrained",
        MAX_INDEX_BYTES,
    )
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()
    ):
        raise _invalid(
            f"{index_name} has no weight_map of tensor names to shard files; save the "
            "model again with save_pretrained."
        )
    return weight_map


def check_sharded(
    model_dir: Path,
    index_names: list[str],
    available: set[str],
    shard_named: set[str],
    read_shard: ShardReader,
) -> tuple[dict[str, int], list[str]]:
    """Check the shards against their index files; return dtype counts and warnings.

    `available` are the weight files the index may name; `shard_named` those that must
    be named (files that look like shards).
    """
    mapped: dict[str, str] = {}  # tensor → shard
    for index_name in index_names:
        for tensor, shard in _read_weight_map(model_dir, index_name).items():
            if shard not in available:
                raise _invalid(
                    f"{index_name} maps tensor {tensor!r} to {shard!r}, which is not in the "
                    "upload; add the missing shard (all shards must be uploaded together)."
                )
            mapped[tensor] = shard
    referenced = set(mapped.values())
    unreferenced = sorted(shard_named - referenced)
    if unreferenced:
        raise _invalid(
            f"{', '.join(unreferenced)} is not named in {', '.join(index_names)}; a stray "
            "shard would be ignored by loaders — remove it or use the matching index."
        )
    dtypes: dict[str, int] = {}
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for shard in sorted(referenced):
        tensors, counts = read_shard(shard)
        for tensor in tensors:
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
        for dtype, count in counts.items():
            dtypes[dtype] = dtypes.get(dtype, 0) + count
    for tensor, shard in sorted(mapped.items()):
        if seen.get(tensor) != shard:
            raise _invalid(
                f"The index maps tensor {tensor!r} to {shard}, but {shard} does not contain "
                "it; the shards and the index do not belong together — save the model "
                "again with save_pretrained."
            )
    return dtypes, warnings[:20]
