"""Training state: what ``fit(..., resume_from=dir)`` needs beyond the checkpoint to go on bit-exactly.

Beside ``config.json`` and ``model.safetensors`` a run directory holds
``training_state.json`` (epoch, history, early-stopping state, the optimizer's
hyperparameters and scalar states, the settings of the run, the manifest of every
tensor file) and ``training_state.safetensors`` (the optimizer's per-weight moments,
the random-number-generator states, and the best and last epochs' weights when they
differ from the model file's). All of them are written in one transaction, and the
weights' SHA-256 is recorded in both JSON files, so a torn directory is caught.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from . import atomic, checkpoint, files
from .checkpoint import CONFIG, WEIGHTS, load_state_into, read_config

__all__ = [
    "STATE_JSON",
    "STATE_TENSORS",
    "RUN_FILES",
    "TrainingState",
    "write_training_state",
    "read_training_state",
    "load_run_weights",
]

STATE_JSON = "training_state.json"
STATE_TENSORS = "training_state.safetensors"
RUN_FILES = (CONFIG, WEIGHTS, STATE_JSON, STATE_TENSORS)  # what fit(..., checkpoint_dir=) writes


@dataclass
class TrainingState:
    """One epoch's training state.

    ``optimizer`` is a ``torch.optim.Optimizer.state_dict()``; ``rng`` maps a generator's name
    (``"torch"``, ``"cuda"``, ``"shuffle"``, and ``"torch.rank1"``... of other ranks) to its state;
    ``best_weights`` are the best epoch's weights kept for early stopping, ``last_weights`` the last
    epoch's when the model file holds others (the best ones, at the end of a run).
    """

    epoch: int
    history: dict
    optimizer: dict
    rng: dict[str, torch.Tensor]
    settings: dict = field(default_factory=dict)
    best: float | None = None
    bad_epochs: int = 0
    best_epoch: int | None = None
    best_weights: dict[str, torch.Tensor] | None = None
    last_weights: dict[str, torch.Tensor] | None = None
    finished: bool = False
    files: dict = field(default_factory=dict)  # the manifest read back: {file name: {"sha256", "bytes"}}


# ---------------------------------------------------------------- writing
def write_training_state(directory: str | os.PathLike, model: torch.nn.Module, state: TrainingState) -> None:
    """Write ``model``'s checkpoint and ``state`` into ``directory``: all of its files replace the last
    epoch's, or none (Ctrl-C, a full disk)."""
    directory = Path(directory)
    with atomic.transaction():
        if hasattr(model, "checkpoint_args"):  # an aekit model: a checkpoint that load() rebuilds
            save = getattr(model, "save", None)
            if save is not None:  # a model that writes more than its checkpoint (a Codec: its tables)
                save(directory, history=state.history)
            else:
                checkpoint.save(model, directory, history=state.history)
            weights = files.file_entry(directory / WEIGHTS)  # checked on resume: a torn checkpoint
        else:  # a model of the user's own: its weights, checked on resume against this record
            weights = files.save_tensors(model.state_dict(), directory / WEIGHTS)
        tensors, meta = _optimizer_to_tensors(state.optimizer)
        tensors.update({f"rng.{name}": t for name, t in state.rng.items()})
        tensors.update({f"best.{k}": v for k, v in (state.best_weights or {}).items()})
        tensors.update({f"last.{k}": v for k, v in (state.last_weights or {}).items()})
        entry = files.save_tensors(tensors, directory / STATE_TENSORS)
        doc = {
            "epoch": state.epoch,
            "finished": state.finished,
            "optimizer": meta,
            "settings": state.settings,
            "history": state.history,
            "best": state.best if state.best is not None and math.isfinite(state.best) else None,
            "bad_epochs": state.bad_epochs,
            "best_epoch": state.best_epoch,
            "files": {WEIGHTS: weights, STATE_TENSORS: entry},
        }
        atomic.atomic_write_text(directory / STATE_JSON, json.dumps(doc, indent=1))


def _optimizer_to_tensors(sd: dict) -> tuple[dict, dict]:
    """An optimizer's state dict as tensors (``optim.<param id>.<slot>``) and JSON (the rest)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict] = {}
    for pid, slots in sd["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


# ---------------------------------------------------------------- reading
def read_training_state(directory: str | os.PathLike) -> TrainingState:
    """The training state in ``directory``, checked field by field and against its manifest.

    Raises
    ------
    CheckpointError
        A file is missing, corrupted, tampered with, or does not fit the other files.
    """
    directory = Path(directory)
    path = directory / STATE_JSON
    atomic.recover(directory)  # a save that crashed after its commit point: rolled forward
    doc = files.read_json(path, f"{STATE_JSON} (written by fit(..., checkpoint_dir=...))")
    _check_state_doc(doc, path)
    tensors = files.load_tensors(directory / STATE_TENSORS, doc["files"][STATE_TENSORS])
    try:
        return TrainingState(
            epoch=int(doc["epoch"]),
            history={k: v for k, v in doc["history"].items() if isinstance(v, list)},
            optimizer=_optimizer_from_tensors(tensors, doc["optimizer"]),
            rng={k[4:]: v for k, v in tensors.items() if k.startswith("rng.")},
            settings=doc.get("settings") or {},
            best=doc["best"],
            bad_epochs=doc["bad_epochs"],
            best_epoch=doc.get("best_epoch"),
            best_weights=_prefixed(tensors, "best.") or None,
            last_weights=_prefixed(tensors, "last.") or None,
            finished=bool(doc.get("finished")),
            files=doc["files"],
        )
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{directory}: training state cannot be resumed: {err}") from None


def _prefixed(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _optimizer_from_tensors(tensors: dict, meta: dict) -> dict:
    state: dict = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    for pid, slots in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(slots)
    return {"state": state, "param_groups": meta["param_groups"]}


def load_run_weights(model: torch.nn.Module, directory: str | os.PathLike, state: TrainingState) -> None:
    """Load the weights of the run in ``directory`` into ``model``: it must be of the run's class, and the
    model file the one ``state`` was written with (else the directory is torn)."""
    directory = Path(directory)
    if not hasattr(model, "checkpoint_args"):  # a model of the user's own: checked against the state's record
        if WEIGHTS not in state.files:
            raise CheckpointError(
                f"{directory}: no record of {WEIGHTS} in {STATE_JSON}: not a checkpoint of "
                f"this {type(model).__name__}"
            )
        load_state_into(model, directory, config={"class": type(model).__name__, "files": state.files})
        return
    config = read_config(directory)
    if config["class"] != type(model).__name__:
        raise CheckpointError(
            f"{directory} holds a run of {config['class']}, not of this "
            f"{type(model).__name__}: resume with the model class it was trained with"
        )
    recorded = state.files.get(WEIGHTS)  # absent in older checkpoints
    weights = config["files"].get(WEIGHTS)
    if (
        isinstance(recorded, dict)
        and isinstance(weights, dict)
        and recorded.get("sha256") != weights.get("sha256")
    ):
        raise CheckpointError(
            f"{directory} is torn: {STATE_JSON} (epoch {state.epoch}) was written with other "
            f"weights than {WEIGHTS}; train afresh into a new directory"
        )
    load_state_into(model, directory, config)


# ---------------------------------------------------------------- checks
def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_optimizer_meta(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("param_groups"), list)
        and isinstance(value.get("scalars"), dict)
        and all(isinstance(s, dict) for s in value["scalars"].values())
    )


# what is read from training_state.json: field -> (check, what it must be)
_STATE_FIELDS = {
    "epoch": (_is_count, "an int >= 0"),
    "bad_epochs": (_is_count, "an int >= 0"),
    "best": (lambda v: v is None or _is_number(v), "a number or null"),
    "best_epoch": (lambda v: v is None or _is_count(v), "an int >= 0 or null"),
    "history": (lambda v: isinstance(v, dict), "an object"),
    "settings": (lambda v: v is None or isinstance(v, dict), "an object"),
    "files": (
        lambda v: isinstance(v, dict) and isinstance(v.get(STATE_TENSORS), dict),
        f"an object with an entry for {STATE_TENSORS}",
    ),
    "optimizer": (
        _is_optimizer_meta,
        "an object with 'param_groups' (a list) and 'scalars' (an object of objects)",
    ),
}


def _check_state_doc(doc: dict, path: Path) -> None:
    """A tampered training state is a CheckpointError naming the field, not an error from deep inside."""
    for key, (ok, what) in _STATE_FIELDS.items():
        if not ok(doc.get(key)):
            raise CheckpointError(
                f"{path} is corrupted: field {key!r} is {_shown(doc, key)}, expected {what}"
            )


def _shown(doc: dict, key: str) -> str:
    if key not in doc:
        return "missing"
    text = repr(doc[key])
    return text if len(text) <= 40 else f"a {type(doc[key]).__name__}"
