"""Files checked against a manifest: SHA-256 and size of every tensor file, JSON objects read with care.

Tensors are stored with safetensors: loading never unpickles anything. A manifest
entry ``{"sha256", "bytes"}`` recorded beside a file catches a truncated or swapped
file before it is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError
from .atomic import atomic_path, staged_path

__all__ = ["sha256_file", "file_entry", "read_json", "read_regular", "save_tensors", "load_tensors"]

MAX_JSON_BYTES = 64 << 20  # config.json, training_state.json: a long history is far below
MAX_TENSOR_BYTES = 1 << 40  # a safetensors file is memory-mapped: bounded by the disk, not by memory


def _sha256_or_error(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as err:
        raise CheckpointError(f"{path} cannot be read: {err.strerror or err}") from None


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of the bytes of ``path`` (as written, even while a transaction holds it back)."""
    digest = hashlib.sha256()
    with open(staged_path(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path, what: str) -> dict:
    """The JSON object in ``path``; a missing, invalid, too large, too deeply nested or non-object
    file is a CheckpointError."""
    if not staged_path(path).is_file():
        raise CheckpointError(f"{path} not found: not an aekit checkpoint directory (expected {what})")
    raw = read_regular(path, MAX_JSON_BYTES)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is corrupted: not valid JSON ({err})") from None
    except RecursionError:
        raise CheckpointError(f"{path} is corrupted: its JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is corrupted: expected a JSON object, got {type(data).__name__}")
    return data


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path`` (its staged version, see :func:`~aekit.io.atomic.staged_path`),
    at most ``limit`` of them; a device, a pipe, /proc's files or an unreadable file is a CheckpointError."""
    where = staged_path(path)
    try:
        with open(where, "rb", buffering=0) as fh:
            info = os.fstat(fh.fileno())
            _check_regular(path, info.st_mode, info.st_size, limit)
            data = fh.read(info.st_size + 1)
    except OSError as err:
        raise CheckpointError(f"{path} cannot be read: {err.strerror or err}") from None
    if len(data) != info.st_size:  # /proc's files say 0 bytes and hold more (or less)
        raise CheckpointError(f"{path} is not a regular file: it held {len(data)} bytes, not {info.st_size}")
    return data


def _check_regular(path: Path, mode: int, size: int, limit: int) -> None:
    if not stat.S_ISREG(mode):
        raise CheckpointError(
            f"{path} is not a regular file (a device, pipe or socket): not a checkpoint file"
        )
    if size > limit:
        raise CheckpointError(f"{path} is {size} bytes, over the limit of {limit} bytes for this file")


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
    if not staged_path(path).is_file():
        raise CheckpointError(f"{path} not found: the checkpoint is incomplete")
    where = staged_path(path)
    try:
        info = os.stat(where)
    except OSError as err:
        raise CheckpointError(f"{path} cannot be read: {err.strerror or err}") from None
    _check_regular(path, info.st_mode, info.st_size, MAX_TENSOR_BYTES)
    if manifest is not None and not isinstance(manifest, dict):
        raise CheckpointError(
            f"the manifest entry of {path.name} is corrupted: expected an object with "
            f"'sha256' and 'bytes', got {manifest!r}"
        )
    if manifest:
        size = info.st_size
        if size != manifest.get("bytes"):
            raise CheckpointError(
                f"{path} is {size} bytes but config.json recorded {manifest.get('bytes')}: "
                "the file is truncated or was replaced"
            )
        if _sha256_or_error(path) != manifest.get("sha256"):
            raise CheckpointError(
                f"{path} does not match the SHA-256 recorded in config.json: "
                "the file is corrupted or belongs to another checkpoint"
            )
    try:
        return load_file(str(where))
    except Exception as err:  # safetensors raises its own error types
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from None
