"""Checkpoint and resume: a run's training state taken from, and given back to, the objects that train.

The file format lives in :mod:`aekit.io.state`; here are the states themselves: the
optimizer's moments, every random-number generator a run draws from (torch's on each
rank, the GPU's own, the shuffling one), the history and the early-stopping state.
Restored, they make a resumed run end with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .. import io
from ..errors import CheckpointError
from . import distributed as dist_
from .optim import load_moments

if TYPE_CHECKING:
    from .callbacks import Run

__all__ = ["save", "restore", "capture_rng", "restore_rng"]

log = logging.getLogger("aekit")


def capture_rng(device: torch.device, ddp: bool = False) -> dict[str, torch.Tensor]:
    """The states of torch's generator (every rank's, under DDP: a collective) and of the GPU's own one
    (corruption noise and dropout masks drawn on the GPU; none on the CPU)."""
    rng = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    for name in list(rng):
        ranks = dist_.all_gather(rng[name]) if ddp else [rng[name]]
        rng.update({f"{name}.rank{r}": t for r, t in enumerate(ranks) if r > 0})
    return rng


def restore_rng(rng: dict[str, torch.Tensor], device: torch.device, rank: int = 0) -> None:
    """Give torch's generator (and, resumed on a GPU after training on one, the GPU's) this rank's state."""
    torch.set_rng_state(rng.get(f"torch.rank{rank}", rng["torch"]))
    if device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(rng.get(f"cuda.rank{rank}", rng["cuda"]), device)


def save(
    directory: str | os.PathLike,
    run: Run,
    epoch: int,
    *,
    finished: bool = False,
    last: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write ``run``'s model and training state after ``epoch``; every rank calls it, rank 0 writes.
    ``last``: the last epoch's weights, when the model now holds others (the best epoch's)."""
    rng = capture_rng(run.device, run.ddp)  # a collective: every rank takes part
    rng["shuffle"] = run.shuffle_gen.get_state()
    if not run.is_main:
        return
    stopping = run.early_stopping
    state = io.TrainingState(
        epoch=epoch,
        history=run.history,
        optimizer=run.optimizer.state_dict(),
        rng=rng,
        settings=_settings(run),
        best=stopping.best if stopping is not None else None,
        bad_epochs=stopping.bad_epochs if stopping is not None else 0,
        best_epoch=stopping.best_epoch if stopping is not None else None,
        best_weights=stopping.best_weights if stopping is not None else None,
        last_weights=last,
        finished=finished,
    )
    io.write_training_state(directory, run.model, state)


def restore(directory: str | os.PathLike, run: Run) -> None:
    """Load a run's weights (its last epoch's), optimizer moments, RNG states, history and early-stopping
    state into ``run``; the optimizer keeps this call's hyperparameters (lr, weight_decay...)."""
    directory = Path(directory)
    state = io.read_training_state(directory)
    _compare_settings(state.settings, _settings(run), directory, warn=run.is_main)
    io.load_run_weights(run.model, directory, state)
    try:
        load_moments(run.optimizer, state.optimizer)
        if state.last_weights:  # the model file holds the best epoch's weights
            run.model.load_state_dict(state.last_weights)
        restore_rng(state.rng, run.device, run.rank)
        run.shuffle_gen.set_state(state.rng["shuffle"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise CheckpointError(f"{directory}: training state cannot be resumed: {err}") from None
    run.history.clear()
    run.history.update(state.history)
    run.start_epoch = state.epoch
    if run.early_stopping is not None:
        best = {k: v.to(run.device) for k, v in (state.best_weights or {}).items()}
        run.early_stopping.load_state(
            run,
            best=state.best if state.best is not None else math.inf,
            bad_epochs=state.bad_epochs,
            best_epoch=state.best_epoch,
            best_weights=best or None,
        )
    run.model.to(run.device)


def _settings(run: Run) -> dict:
    return {**run.config.optimizer_settings(), "optimizer": type(run.optimizer).__name__.lower()}


def _compare_settings(saved: dict, now: dict, directory: Path, warn: bool) -> None:
    """Refuse another optimizer (its moments mean nothing to another update rule); report other changes."""
    if saved.get("optimizer", now["optimizer"]) != now["optimizer"]:
        raise CheckpointError(
            f"{directory} was trained with optimizer={saved['optimizer']!r}, not "
            f"{now['optimizer']!r}: its optimizer state fits no other update rule; resume with "
            f"optimizer={saved['optimizer']!r}, or start a new run from its weights"
        )
    changed = [f"{k}={v!r} (was {saved[k]!r})" for k, v in now.items() if k in saved and saved[k] != v]
    if changed and warn:
        log.warning(
            "resuming %s with %s: the new values apply from the first resumed epoch",
            directory,
            ", ".join(changed),
        )
