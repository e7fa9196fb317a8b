"""Checkpoints: a directory with ``config.json`` and ``model.safetensors``.

``config.json`` holds the model class, its constructor arguments, the aekit
version, the training history and the SHA-256 of every tensor file, so a
truncated or swapped file is caught before it is read. Both files are written in
one :func:`~aekit.io.atomic.transaction`.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .._version import __version__
from ..errors import CheckpointError
from ..registry import model_class
from . import atomic, files, limits

if TYPE_CHECKING:  # every registered class is an AEModule (nn, codec)
    from ..nn.base import AEModule

__all__ = [
    "load",
    "save",
    "write_checkpoint",
    "read_config",
    "load_state_into",
    "CONFIG",
    "WEIGHTS",
    "FORMAT_VERSION",
]

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
FORMAT = "aekit-checkpoint"
FORMAT_VERSION = 1


def save(
    model: Any, path: str | os.PathLike, *, history: dict | None = None, extra: dict | None = None
) -> Path:
    """Write ``model``'s checkpoint directory ``path`` (created if needed) and return it.

    ``model`` is a registered module with ``checkpoint_args()`` (every aekit model); ``history``
    defaults to ``model.history``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with atomic.transaction():  # the weights and the config.json that vouches for them, or neither
        write_checkpoint(model, path, history, extra)
    return path


def write_checkpoint(model: Any, path: Path, history: dict | None, extra: dict | None) -> None:
    """The files of :func:`save` (call it inside a :func:`transaction`)."""
    entry = files.save_tensors(model.state_dict(), path / WEIGHTS)
    history = history if history is not None else getattr(model, "history", None)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(model).__name__,
        "args": model.checkpoint_args(),
        "aekit_version": __version__,
        "torch_version": torch.__version__,
        "history": history,
        "extra": extra or {},
        "files": {WEIGHTS: entry},
    }
    atomic.atomic_write_text(path / CONFIG, json.dumps(config, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def read_config(path: str | os.PathLike) -> dict:
    """Read and check ``config.json`` of a checkpoint directory."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint directory {path} does not exist{_cut_short(path)}")
    if not path.is_dir():
        raise CheckpointError(f"{path} is a file; a checkpoint is a directory holding {CONFIG} and {WEIGHTS}")
    atomic.recover(path)  # a save that crashed after its commit point: rolled forward
    config = files.read_json(path / CONFIG, f"{CONFIG} and {WEIGHTS}")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path / CONFIG} is not an aekit checkpoint (format {config.get('format')!r})")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}; this aekit "
            f"({__version__}) reads versions up to {FORMAT_VERSION}: upgrade aekit"
        )
    for key, kind in (("class", str), ("args", dict), ("files", dict)):
        if not isinstance(config.get(key), kind):
            raise CheckpointError(
                f"{path / CONFIG} is corrupted: field {key!r} missing or not a {kind.__name__}"
            )
    if not isinstance(config.get("history"), (dict, type(None))):
        raise CheckpointError(
            f"{path / CONFIG} is corrupted: field 'history' is a "
            f"{type(config['history']).__name__}, expected an object or null"
        )
    return config


def _cut_short(path: Path) -> str:
    """A hint when a replacement of the run ``path`` was cut short (see :mod:`aekit.cli.runs`)."""
    old = sorted(path.absolute().parent.glob(f".{glob.escape(path.name)}.old-*"))
    if not old:
        return ""
    return f" (a replacement was cut short: the previous run is in {old[0]}; the next training command on {path} restores it)"


def load_state_into(module: torch.nn.Module, path: str | os.PathLike, config: dict | None = None) -> None:
    """Load ``model.safetensors`` of ``path`` into ``module``, checking every name and shape."""
    path = Path(path)
    config = config or read_config(path)
    tensors = files.load_tensors(path / WEIGHTS, config["files"].get(WEIGHTS))
    _check_fit(module, tensors, path, config["class"])
    module.load_state_dict(tensors)


def _check_fit(module: torch.nn.Module, tensors: dict, path: Path, name: str) -> None:
    """Every tensor ``module`` expects is there, with its shape (``module`` may live on the meta device)."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path / WEIGHTS} does not match {name}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for key, tensor in tensors.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(
                f"{path / WEIGHTS}: tensor {key!r} has shape {tuple(tensor.shape)}, "
                f"the model expects {tuple(expected[key].shape)}"
            )


def _build(cls: type, config: dict, path: str | os.PathLike) -> AEModule:
    """``cls(**args)``; whatever goes wrong is the checkpoint's fault: a CheckpointError."""
    try:
        return cls(**config["args"])
    except Exception as err:
        raise CheckpointError(
            f"{path}: cannot rebuild {config['class']} from config.json arguments: "
            f"{type(err).__name__}: {err}"
        ) from None


def load(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> AEModule:
    """Rebuild a saved aekit model from its checkpoint directory (no unpickling).

    Raises
    ------
    CheckpointError
        The directory is missing, truncated, corrupted, of a newer format, or its
        tensors do not fit the recorded model.
    """
    config = read_config(path)
    limits.check_args(config["args"], Path(path) / CONFIG)
    cls = model_class(config["class"], path)
    tensors = files.load_tensors(Path(path) / WEIGHTS, config["files"].get(WEIGHTS))
    with torch.device("meta"):  # shapes only, no memory: the sizes in config.json must fit the tensors
        _check_fit(_build(cls, config, path), tensors, Path(path), config["class"])
    model = _build(cls, config, path)
    model.load_state_dict(tensors)
    model.history = config.get("history")
    return model.to(device).eval()
