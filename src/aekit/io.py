"""Checkpoints: a directory with ``config.json`` and ``model.safetensors``.

``config.json`` holds the model class, its constructor arguments, the aekit
version, the training history and the SHA-256 of every tensor file, so a
truncated or swapped file is caught before it is read. Tensors are stored with
safetensors: loading never unpickles anything. Every file is written atomically
(temporary file in the same directory, fsync, then ``os.replace``), so a crash
leaves either the old file or the new one, never half of one. Files that belong
together are written in a :func:`transaction`: all of them are replaced, back to
back with Ctrl-C held off, or none.

Training state for ``fit(..., resume_from=dir)`` (optimizer moments, random
number generator states, epoch, early-stopping state) lives beside it in
``training_state.json`` and ``training_state.safetensors``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ._version import __version__
from .errors import CheckpointError
from .registry import model_class, register

__all__ = [
    "Savable",
    "register",
    "load",
    "save",
    "sha256_file",
    "save_tensors",
    "load_tensors",
    "atomic_path",
    "atomic_write_text",
    "transaction",
    "file_entry",
    "read_json",
    "CONFIG",
    "WEIGHTS",
    "FORMAT_VERSION",
]

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
FORMAT = "aekit-checkpoint"
FORMAT_VERSION = 1


# ---------------------------------------------------------------- atomic files
_staging = threading.local()  # .pending: {final path: temporary file} inside a transaction, else absent


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically
    (inside a :func:`transaction`: when the outermost transaction ends without an error)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    staged = False
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp (and some writers) make 0600; use what open() would
        pending = getattr(_staging, "pending", None)
        if pending is None:
            os.replace(tmp, path)
        else:
            earlier = pending.pop(path.absolute(), None)  # written twice: the last one wins
            if earlier is not None:
                earlier.unlink(missing_ok=True)
            pending[path.absolute()] = staged = tmp
    finally:
        if not staged:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """Files written by :func:`atomic_path` inside replace their targets together when the block ends
    without an error, back to back with SIGINT held off (a Ctrl-C meanwhile is raised right after);
    on an error (a Ctrl-C included) none is replaced and the old files stay whole. Nested: the outermost
    transaction commits."""
    if getattr(_staging, "pending", None) is not None:
        yield
        return
    _staging.pending = pending = {}
    try:
        yield
    except BaseException:
        for tmp in pending.values():
            tmp.unlink(missing_ok=True)
        raise
    finally:
        del _staging.pending
    _commit(pending)


def _commit(pending: dict[Path, Path]) -> None:
    caught = []
    held = threading.current_thread() is threading.main_thread()
    if held:
        previous = signal.signal(signal.SIGINT, lambda *received: caught.append(received))
    try:
        for path, tmp in pending.items():
            os.replace(tmp, path)
    finally:
        for tmp in pending.values():  # left over only if a replace failed
            tmp.unlink(missing_ok=True)
        if held:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if caught and callable(previous):
        previous(*caught[0])  # Python's own handler raises KeyboardInterrupt
    elif caught and previous == signal.SIG_DFL:
        raise KeyboardInterrupt


def _staged(path: Path) -> Path:
    """Where the bytes of ``path`` are now: its temporary file while a transaction holds it back."""
    pending = getattr(_staging, "pending", None) or {}
    return pending.get(Path(path).absolute(), Path(path))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(_staged(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path, what: str) -> dict:
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
    return {"sha256": sha256_file(path), "bytes": _staged(path).stat().st_size}


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


# ---------------------------------------------------------------- the mixin
class Savable:
    """Mixin for aekit modules: remembers constructor arguments and saves itself."""

    config: dict
    history: dict | None = None

    def _set_config(self, **arguments: Any) -> None:
        self.config = arguments
        json.dumps(arguments)  # fail early, not at save time, if an argument is not JSON-able

    def checkpoint_args(self) -> dict:
        """Constructor arguments that rebuild this module (override when state changes shape)."""
        return self.config

    def save(
        self, path: str | os.PathLike, *, history: dict | None = None, extra: dict | None = None
    ) -> Path:
        """Write the checkpoint directory ``path`` (created if needed) and return it."""
        return save(self, path, history=history, extra=extra)


def save(
    model: Any, path: str | os.PathLike, *, history: dict | None = None, extra: dict | None = None
) -> Path:
    """Write ``model``'s checkpoint directory ``path`` (created if needed) and return it.

    ``model`` is a registered module with ``checkpoint_args()`` (every aekit model); ``history``
    defaults to ``model.history``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with transaction():  # the weights and the config.json that vouches for them, or neither
        write_checkpoint(model, path, history, extra)
    return path


def write_checkpoint(model: Any, path: Path, history: dict | None, extra: dict | None) -> None:
    """The files of :func:`save` (call it inside a :func:`transaction`)."""
    entry = save_tensors(model.state_dict(), path / WEIGHTS)
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
    atomic_write_text(path / CONFIG, json.dumps(config, indent=2, default=_json_default))


def _json_default(value):
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def read_config(path: str | os.PathLike) -> dict:
    """Read and check ``config.json`` of a checkpoint directory."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint directory {path} does not exist")
    if not path.is_dir():
        raise CheckpointError(f"{path} is a file; a checkpoint is a directory holding {CONFIG} and {WEIGHTS}")
    config = read_json(path / CONFIG, f"{CONFIG} and {WEIGHTS}")
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


def load_state_into(module: torch.nn.Module, path: str | os.PathLike, config: dict | None = None) -> None:
    """Load ``model.safetensors`` of ``path`` into ``module``, checking every name and shape."""
    path = Path(path)
    config = config or read_config(path)
    tensors = load_tensors(path / WEIGHTS, config["files"].get(WEIGHTS))
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


def _build(cls: type, config: dict, path) -> torch.nn.Module:
    """``cls(**args)``; whatever goes wrong is the checkpoint's fault: a CheckpointError."""
    try:
        return cls(**config["args"])
    except Exception as err:
        raise CheckpointError(
            f"{path}: cannot rebuild {config['class']} from config.json arguments: "
            f"{type(err).__name__}: {err}"
        ) from None


def load(path: str | os.PathLike, *, device: str | torch.device = "cpu"):
    """Rebuild a saved aekit model from its checkpoint directory (no unpickling).

    Raises
    ------
    CheckpointError
        The directory is missing, truncated, corrupted, of a newer format, or its
        tensors do not fit the recorded model.
    """
    config = read_config(path)
    cls = model_class(config["class"], path)
    tensors = load_tensors(Path(path) / WEIGHTS, config["files"].get(WEIGHTS))
    with torch.device("meta"):  # shapes only, no memory: the sizes in config.json must fit the tensors
        _check_fit(_build(cls, config, path), tensors, Path(path), config["class"])
    model = _build(cls, config, path)
    model.load_state_dict(tensors)
    model.history = config.get("history")
    return model.to(device).eval()
