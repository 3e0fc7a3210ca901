"""Validation of a PEFT adapter folder: adapter_config.json and its weights.

Owns what makes an adapter acceptable. Invariants (failures are INVALID_MODEL naming
the file and tensor):
- adapter_config.json is a JSON object (read by `json_files`) with a string
  `peft_type`; for LoRA, `r` is a positive integer, `lora_alpha` a number and
  `target_modules` a list of names or one regex string (or absent); every string
  reported (peft_type, task_type, base_model_name_or_path, target_modules) follows
  `reported_text`;
- the weights are adapter_model.safetensors, which passes every `safetensors_check`
  rule, or else adapter_model.bin, already scanned by the caller (`torch_check`);
- for LoRA, every lora_A tensor has its lora_B partner and the reverse, and both carry
  the rank that the config gives that module (`rank_pattern` entry, else `r`).
The values are reported in `AdapterInfo` as written; the request's baseModel, when
given, wins over the config's base_model_name_or_path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.json_files import read_json_object, shown
from weighbridge.pipeline.reported_text import BASE_MODEL_CHARS, reported
from weighbridge.pipeline.result import AdapterInfo
from weighbridge.pipeline.safetensors_check import check_safetensors
from weighbridge.pipeline.torch_tensors import TorchSummary

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
PICKLE_WEIGHTS_NAME = "adapter_model.bin"
_CONFIG_FIX = "save the adapter again with PEFT's save_pretrained or fix the file"
# PEFT saves the names it was given, usually module types (q_proj, v_proj); a list of
# full paths to every targeted module of a large model runs to a few thousand.
MAX_TARGET_MODULES = 10_000
# A regex string matches module names; PEFT's own are well under this.
MAX_TARGET_REGEX_CHARS = 4096
# Saved LoRA tensor names carry one of these parts, e.g.
# base_model.model.layers.0.self_attn.q_proj.lora_A.weight
_A_PARTS = {"lora_A": "lora_B", "lora_embedding_A": "lora_embedding_B"}
_B_PARTS = {b: a for a, b in _A_PARTS.items()}


@dataclass
class AdapterReport:
    info: AdapterInfo
    base_model: str | None
    format: str  # safetensors | pytorch
    dtypes: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def _invalid(problem: str) -> PipelineError:
    return PipelineError(ErrorCode.INVALID_MODEL, problem)


def read_adapter_config(path: Path) -> tuple[AdapterInfo, dict[str, Any]]:
    config = read_json_object(path, CONFIG_NAME, _CONFIG_FIX)
    peft_type = config.get("peft_type")
    if not isinstance(peft_type, str) or not peft_type:
        raise _invalid(
            f"{CONFIG_NAME} has no peft_type (found {shown(peft_type)}); it is not a PEFT "
            "adapter config — save the adapter with PEFT's save_pretrained."
        )
    reported(peft_type, CONFIG_NAME, "peft_type")
    base = config.get("base_model_name_or_path")
    task = config.get("task_type")
    r = config.get("r")
    alpha = config.get("lora_alpha")
    targets = config.get("target_modules")
    is_lora = peft_type.upper() == "LORA"
    if (r is not None or is_lora) and (not isinstance(r, int) or isinstance(r, bool) or r <= 0):
        raise _invalid(f"{CONFIG_NAME} has r={shown(r)}; the LoRA rank must be a positive integer.")
    if alpha is not None and (not isinstance(alpha, int | float) or isinstance(alpha, bool)):
        raise _invalid(f"{CONFIG_NAME} has lora_alpha={shown(alpha)}; it must be a number.")
    if targets is not None and not (
        isinstance(targets, str)
        or (isinstance(targets, list) and all(isinstance(t, str) for t in targets))
    ):
        raise _invalid(
            f"{CONFIG_NAME} has target_modules={shown(targets)}; it must be a list of module "
            "names or one regex string."
        )
    _check_targets(targets)
    if isinstance(base, str) and base:
        reported(base, CONFIG_NAME, "base_model_name_or_path", BASE_MODEL_CHARS)
    if isinstance(task, str):
        reported(task, CONFIG_NAME, "task_type")
    info = AdapterInfo(
        peft_type=peft_type,
        base_model_name_or_path=base if isinstance(base, str) and base else None,
        task_type=task if isinstance(task, str) else None,
        r=r,
        lora_alpha=None if alpha is None else float(alpha),
        target_modules=targets,
    )
    return info, config


def _check_targets(targets: list[str] | str | None) -> None:
    """target_modules is reported: bounded in count and length, no control characters."""
    if isinstance(targets, str):
        reported(targets, CONFIG_NAME, "target_modules", MAX_TARGET_REGEX_CHARS)
        return
    if targets is None:
        return
    if len(targets) > MAX_TARGET_MODULES:
        raise _invalid(
            f"{CONFIG_NAME} lists {len(targets)} target_modules, more than the "
            f"{MAX_TARGET_MODULES} allowed; name module types (q_proj, v_proj) or use one "
            "regex string instead."
        )
    for target in targets:
        reported(target, CONFIG_NAME, "target_modules entry")


# rank_pattern keys are regexes written by whoever uploads the adapter, and Python's re
# can take exponential time on patterns like "(a+)+$". Only keys made of name characters
# (where "." may match any character, as PEFT allows) are matched; they run in linear
# time. A module that a more complex key could match is not rank-checked at all.
SAFE_PATTERN_KEY = re.compile(r"^[A-Za-z0-9_.]{1,255}$")


def _expected_rank(module: str, r: int, rank_pattern: dict[str, Any]) -> int | None:
    """The rank PEFT gives `module`: the first matching rank_pattern key, else r; None
    when a key too complex to evaluate safely might apply."""
    short = module.removeprefix("base_model.model.")
    for key, rank in rank_pattern.items():
        if not isinstance(key, str) or not SAFE_PATTERN_KEY.match(key):
            return None
        if re.fullmatch(rf"(.*\.)?(?:{key})", short) and isinstance(rank, int):
            return rank
    return r


def check_lora_pairs(
    shapes: Mapping[str, tuple[int, ...]],
    r: int,
    rank_pattern: dict[str, Any],
    weights_name: str = WEIGHTS_NAME,
) -> None:
    """Every lora_A has a lora_B (and back), with matching, configured rank."""
    halves: dict[str, dict[str, str]] = {}
    for name in shapes:
        parts = name.split(".")
        for index, part in enumerate(parts):
            if part in _A_PARTS or part in _B_PARTS:
                key = ".".join([*parts[:index], "*", *parts[index + 1 :]])
                side = "A" if part in _A_PARTS else "B"
                halves.setdefault(key, {})[side] = name
                break
    if not halves:
        raise _invalid(
            f"{weights_name} has no lora_A/lora_B tensors although {CONFIG_NAME} says LORA; "
            "the weights do not belong to this config — save the adapter again with PEFT."
        )
    for key, pair in sorted(halves.items()):
        if "A" not in pair or "B" not in pair:
            have = pair.get("A") or pair.get("B")
            missing = "lora_B" if "A" in pair else "lora_A"
            raise _invalid(
                f"{weights_name}: tensor {have!r} has no {missing} partner; the adapter is "
                "incomplete — save it again with PEFT's save_pretrained."
            )
        a, b = shapes[pair["A"]], shapes[pair["B"]]
        if len(a) < 2 or len(b) < 2:
            raise _invalid(
                f"{weights_name}: LoRA tensors {pair['A']!r} {list(a)} and {pair['B']!r} "
                f"{list(b)} must have at least two dimensions."
            )
        module = key.split(".*")[0]
        expected = _expected_rank(module, r, rank_pattern)
        if expected is not None and (a[0] != expected or b[1] != expected):
            raise _invalid(
                f"{weights_name}: tensors {pair['A']!r} {list(a)} and {pair['B']!r} "
                f"{list(b)} have rank {a[0]}/{b[1]} but {CONFIG_NAME} says "
                f"r={expected}; the weights and config do not belong together — save the "
                "adapter again with PEFT's save_pretrained."
            )


def check_adapter(
    model_dir: Path,
    root_files: set[str],
    request_base_model: str | None,
    scans: Mapping[str, TorchSummary],
) -> AdapterReport:
    """Check the adapter; `scans` are the already scanned PyTorch files of the upload."""
    info, config = read_adapter_config(model_dir / CONFIG_NAME)
    if WEIGHTS_NAME in root_files:
        summary = check_safetensors(model_dir / WEIGHTS_NAME, WEIGHTS_NAME)
        weights_name, fmt, dtypes = WEIGHTS_NAME, "safetensors", summary.dtypes
        shapes = {name: tensor.shape for name, tensor in summary.tensors.items()}
    elif PICKLE_WEIGHTS_NAME in scans:
        scan = scans[PICKLE_WEIGHTS_NAME]
        weights_name, fmt, dtypes, shapes = PICKLE_WEIGHTS_NAME, "pytorch", scan.dtypes, scan.shapes
    else:
        raise _invalid(
            f"The upload has {CONFIG_NAME} but no {WEIGHTS_NAME} (or {PICKLE_WEIGHTS_NAME}); "
            "add the adapter's weights, which PEFT's save_pretrained writes beside the config."
        )
    if info.peft_type.upper() == "LORA" and info.r is not None:
        rank_pattern = config.get("rank_pattern")
        check_lora_pairs(
            shapes, info.r, rank_pattern if isinstance(rank_pattern, dict) else {}, weights_name
        )
    report = AdapterReport(
        info=info,
        base_model=request_base_model or info.base_model_name_or_path,
        format=fmt,
        dtypes=dict(dtypes),
    )
    if report.base_model is None:
        report.warnings.append(
            "No base model is known: adapter_config.json has no base_model_name_or_path and "
            "none was given at upload; set baseModel so the adapter can be served."
        )
    return report
