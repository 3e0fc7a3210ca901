"""Builders for safetensors weights and model folders, valid and corrupt, made in code.

Valid files are written by the real `safetensors` library so the checks are measured
against the reference format; corrupt ones are assembled by hand with struct + json.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
from safetensors.numpy import save

ModelFiles = dict[str, bytes]


def safetensors_bytes(
    tensors: dict[str, np.ndarray[Any, Any]], metadata: dict[str, str] | None = None
) -> bytes:
    """A real safetensors file made by the reference library."""
    return save(tensors, metadata=metadata)


def raw_safetensors(
    header: dict[str, Any] | bytes, data: bytes = b"", declared_len: int | None = None
) -> bytes:
    """A hand-assembled safetensors file; `declared_len` overrides the length prefix."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode("utf-8")
    length = len(raw) if declared_len is None else declared_len
    return struct.pack("<Q", length) + raw + data


def tiny_tensors(seed: int = 0) -> dict[str, np.ndarray[Any, Any]]:
    """A few tensors of several dtypes: 24 F32 + 4 I64 + 6 F16 elements."""
    rng = np.random.default_rng(seed)
    return {
        "encoder.weight": rng.standard_normal((4, 6)).astype(np.float32),
        "encoder.position_ids": np.arange(4, dtype=np.int64),
        "head.bias": rng.standard_normal(6).astype(np.float16),
    }


TINY_DTYPES = {"F32": 24, "I64": 4, "F16": 6}

CONFIG = {"architectures": ["TinyForTesting"], "model_type": "tiny", "hidden_size": 6}


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def nested_json(depth: int, key: str = "a") -> bytes:
    """`{"a": [[[…]]]}` with `depth` nested lists: valid JSON that defeats recursive parsers."""
    return b'{"' + key.encode() + b'": ' + b"[" * depth + b"]" * depth + b"}"


def tiny_model(config: dict[str, Any] | None = CONFIG, tokenizer: bool = True) -> ModelFiles:
    """A complete little Hugging Face model folder: config, weights, tokenizer."""
    files: ModelFiles = {"model.safetensors": safetensors_bytes(tiny_tensors())}
    if config is not None:
        files["config.json"] = json_bytes(config)
    if tokenizer:
        files["tokenizer.json"] = json_bytes({"version": "1.0", "model": {"type": "WordPiece"}})
    return files


def sharded_model(shards: int = 2) -> tuple[ModelFiles, dict[str, str]]:
    """A model split over `shards` files with its index; returns (files, weight_map)."""
    tensors = tiny_tensors()
    names = sorted(tensors)
    files: ModelFiles = {}
    weight_map: dict[str, str] = {}
    for number in range(shards):
        shard = f"model-{number + 1:05d}-of-{shards:05d}.safetensors"
        part = {name: tensors[name] for name in names[number::shards]}
        files[shard] = safetensors_bytes(part)
        weight_map.update({name: shard for name in part})
    files["model.safetensors.index.json"] = json_bytes(
        {"metadata": {"total_size": 0}, "weight_map": weight_map}
    )
    files["config.json"] = json_bytes(CONFIG)
    files["tokenizer.json"] = json_bytes({"version": "1.0"})
    return files, weight_map


def lora_tensors(
    r: int, modules: tuple[str, ...] = ("q_proj", "v_proj"), d: int = 8
) -> dict[str, np.ndarray[Any, Any]]:
    tensors: dict[str, np.ndarray[Any, Any]] = {}
    for module in modules:
        prefix = f"base_model.model.model.layers.0.self_attn.{module}"
        tensors[f"{prefix}.lora_A.weight"] = np.zeros((r, d), dtype=np.float32)
        tensors[f"{prefix}.lora_B.weight"] = np.zeros((d, r), dtype=np.float32)
    return tensors


def adapter_config(r: Any = 4, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        "r": r,
        "lora_alpha": 16,
        "lora_dropout": 0.05,
        "target_modules": ["q_proj", "v_proj"],
    }
    config.update(overrides)
    return config


def peft_adapter(
    r: int = 4,
    config: dict[str, Any] | None = None,
    tensors: dict[str, np.ndarray[Any, Any]] | None = None,
) -> ModelFiles:
    """A LoRA adapter folder as PEFT's save_pretrained writes it."""
    return {
        "adapter_config.json": json_bytes(adapter_config(r) if config is None else config),
        "adapter_model.safetensors": safetensors_bytes(
            lora_tensors(r) if tensors is None else tensors
        ),
    }
