"""Files checked against a manifest: SHA-256 and size of every tensor file, JSON objects read with care.

Tensors are stored with safetensors: loading never unpickles anything. A manifest
entry ``{"sha256", "bytes"}`` recorded beside a file catches a truncated or swapped
file before it is read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError
from .atomic import atomic_path, staged_path

__all__ = ["sha256_file", "file_entry", "read_json", "save_tensors", "load_tensors"]


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of the bytes of ``path`` (as written, even while a transaction holds it back)."""
    digest = hashlib.sha256()
    with open(staged_path(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path, what: str) -> dict:
    """The JSON object in ``path``; a missing, invalid or non-object file is a CheckpointError."""
    if not path.is_file():
        raise CheckpointError(f"{path} not found: not an aekit checkpoint directory (expected {what})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is corrupted: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is corrupted: expected a JSON object, got {type(data).__name__}")
    return data


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> dict:
    """Write ``tensors`` with safetensors atomically; return ``{"sha256", "bytes"}`` for the manifest."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp))
    return file_entry(path)


def file_entry(path: Path) -> dict:
    """``{"sha256", "bytes"}`` of ``path`` (as written, even while a transaction holds it back)."""
    return {"sha256": sha256_file(path), "bytes": staged_path(path).stat().st_size}


def load_tensors(path: Path, manifest: dict | None) -> dict[str, torch.Tensor]:
    """Read a safetensors file after checking it against its manifest entry."""
    if not path.is_file():
        raise CheckpointError(f"{path} not found: the checkpoint is incomplete")
    if manifest is not None and not isinstance(manifest, dict):
        raise CheckpointError(
            f"the manifest entry of {path.name} is corrupted: expected an object with "
            f"'sha256' and 'bytes', got {manifest!r}"
        )
    if manifest:
        size = path.stat().st_size
        if size != manifest.get("bytes"):
            raise CheckpointError(
                f"{path} is {size} bytes but config.json recorded {manifest.get('bytes')}: "
                "the file is truncated or was replaced"
            )
        if sha256_file(path) != manifest.get("sha256"):
            raise CheckpointError(
                f"{path} does not match the SHA-256 recorded in config.json: "
                "the file is corrupted or belongs to another checkpoint"
            )
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own error types
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from None
