"""Callbacks: what happens around the fit loop, one piece each.

A :class:`Callback` is told when a run starts, when each epoch starts and ends, after
each batch, and when the run ends; it sees the run as a :class:`Run` (the model, the
optimizer, the settings, the history) and stops training by setting
``run.stop_training``. The built-ins: :class:`EarlyStopping` (Prechelt, "Early
Stopping - But When?", 1998), :class:`Checkpoint` (per-epoch checkpoint and resume),
:class:`ProgressBar` (tqdm), :class:`CSVLogger` and :class:`TensorBoard`.

The loop calls early stopping first, then checkpoints, then the other callbacks in
the order given, and the progress bar last.
"""

from __future__ import annotations

import csv
import io as _stringio
import logging
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from .. import io
from . import resume
from .batching import Data
from .config import TrainConfig, check_patience

__all__ = ["Run", "Callback", "EarlyStopping", "Checkpoint", "ProgressBar", "CSVLogger", "TensorBoard"]

log = logging.getLogger("aekit")


@dataclass
class Run:
    """One call of :func:`~aekit.train.fit`, as callbacks see it.

    ``history`` holds one entry per epoch trained (those of a resumed run's earlier calls too);
    ``start_epoch`` is the number of epochs done before this call; ``monitor`` the validation score
    early stopping watches (``val_loss``, or ``val_error`` for a classifier).
    """

    model: nn.Module
    config: TrainConfig
    optimizer: torch.optim.Optimizer
    device: torch.device
    train: Data
    val: tuple[torch.Tensor, ...] | None
    monitor: str
    shuffle_gen: torch.Generator
    rank: int = 0
    world: int = 1
    ddp: bool = False
    history: dict = field(default_factory=lambda: {"epoch": [], "train_loss": [], "seconds": []})
    start_epoch: int = 0
    n_batches: int = 0
    stop_training: bool = False
    early_stopping: EarlyStopping | None = None
    last_weights: dict[str, torch.Tensor] | None = None  # the last epoch's, when the model holds the best

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files, logs and progress."""
        return self.rank == 0


class Callback:
    """Base class of the callbacks: override the events you need (each does nothing here).

    ``epoch`` is the number of the epoch (1 for the first, as in ``history["epoch"]``); ``logs`` holds
    that epoch's ``train_loss``, ``seconds`` and, with validation data, ``val_loss`` (and ``val_error``).
    ``on_batch_end`` gets the batch's loss as a tensor: reading it (``.item()``) waits for the device.
    """

    def on_fit_start(self, run: Run) -> None:
        """Before the first epoch (after a resumed run's state is restored)."""

    def on_epoch_start(self, run: Run, epoch: int) -> None:
        """Before epoch ``epoch`` trains."""

    def on_batch_end(self, run: Run, batch: int, loss: torch.Tensor) -> None:
        """After the optimizer step of batch ``batch`` (0, 1, ...) of the epoch."""

    def on_epoch_end(self, run: Run, epoch: int, logs: dict[str, float]) -> None:
        """After epoch ``epoch`` and its validation; set ``run.stop_training`` to end the run here."""

    def on_fit_end(self, run: Run) -> None:
        """After the last epoch, when the run ended without an error."""


# ---------------------------------------------------------------- early stopping
class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without a better validation score and hand back the best weights.

    ``monitor``: the history key to minimise (default: ``val_loss``, for a classifier ``val_error``).
    With ``patience=None`` it only records the best epoch (``history["best_epoch"]``).
    """

    def __init__(self, patience: int | None = None, monitor: str | None = None):
        check_patience(patience)
        self.patience, self.monitor = patience, monitor
        self.load_state(None, best=math.inf, bad_epochs=0, best_epoch=None, best_weights=None)

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def load_state(
        self,
        run: Run | None,
        *,
        best: float,
        bad_epochs: int,
        best_epoch: int | None,
        best_weights: dict[str, torch.Tensor] | None,
    ) -> None:
        """Take over a (resumed) run's state; a run that had stopped stays stopped."""
        self.best, self.bad_epochs, self.best_epoch = best, bad_epochs, best_epoch
        self.best_weights = best_weights if self.patience is not None else None  # None: hand back the last
        if run is not None and self.exhausted:
            run.stop_training = True

    def on_fit_start(self, run: Run) -> None:
        if self.patience is not None and run.val is None:
            raise ValueError("patience (early stopping) needs validation data: pass X_val")
        self.load_state(run, best=math.inf, bad_epochs=0, best_epoch=None, best_weights=None)

    def on_epoch_end(self, run: Run, epoch: int, logs: dict[str, float]) -> None:
        if run.val is None:
            return
        if logs[self.monitor or run.monitor] < self.best:
            self.best, self.bad_epochs, self.best_epoch = logs[self.monitor or run.monitor], 0, epoch
            if self.patience is not None:
                self.best_weights = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
        else:
            self.bad_epochs += 1
        if self.exhausted:
            run.stop_training = True

    def on_fit_end(self, run: Run) -> None:
        if self.best_weights is not None:
            run.last_weights = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
            run.model.load_state_dict(self.best_weights)


# ---------------------------------------------------------------- checkpoints
class Checkpoint(Callback):
    """Save the model and the training state into ``directory`` after every epoch; resume a run from
    ``resume_from`` (a ``directory`` of before) when training starts.

    When the run ends, the model in ``directory`` is the one handed back (with early stopping, the best
    epoch's weights), and the last epoch's weights are kept beside it for resuming.
    """

    def __init__(
        self, directory: str | os.PathLike | None = None, resume_from: str | os.PathLike | None = None
    ):
        self.directory, self.resume_from = directory, resume_from

    def on_fit_start(self, run: Run) -> None:
        if self.resume_from is not None:
            resume.restore(self.resume_from, run)

    def on_epoch_end(self, run: Run, epoch: int, logs: dict[str, float]) -> None:
        if self.directory is not None:
            resume.save(self.directory, run, epoch)

    def on_fit_end(self, run: Run) -> None:
        if self.directory is not None:
            epoch = run.history["epoch"][-1] if run.history["epoch"] else 0
            resume.save(self.directory, run, epoch, finished=True, last=run.last_weights)


# ---------------------------------------------------------------- progress and logs
class ProgressBar(Callback):
    """A tqdm bar on a terminal (``enabled``, rank 0 only), and at most ~20 ``INFO`` lines on the
    ``aekit`` logger."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar: tqdm | None = None

    def on_fit_start(self, run: Run) -> None:
        self.bar = tqdm(
            total=max(run.config.epochs - run.start_epoch, 0) * run.n_batches,
            disable=not (self.enabled and run.is_main and sys.stderr.isatty()),
            unit="batch",
            dynamic_ncols=True,
            leave=False,
        )

    def on_batch_end(self, run: Run, batch: int, loss: torch.Tensor) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_epoch_end(self, run: Run, epoch: int, logs: dict[str, float]) -> None:
        msg = {k: f"{v:.4g}" for k, v in logs.items() if k in ("train_loss", "val_loss", "val_error")}
        if self.bar is not None:
            self.bar.set_postfix(epoch=epoch, **msg)
        epochs = run.config.epochs
        if run.is_main and (epoch % max(1, epochs // 20) == 0 or epoch == epochs):
            log.info("epoch %d/%d %s (%.1fs)", epoch, epochs, msg, logs["seconds"])

    def on_fit_end(self, run: Run) -> None:
        self.close()

    def close(self) -> None:
        """Take the bar off the terminal."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _columns(history: dict) -> list[str]:
    """The per-epoch keys of a history (lists), ``epoch`` first."""
    return [k for k, v in history.items() if isinstance(v, list)]


class CSVLogger(Callback):
    """Write the history to ``path`` as CSV (one row per epoch, a header of its keys) after every epoch."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def on_epoch_end(self, run: Run, epoch: int, logs: dict[str, float]) -> None:
        if not run.is_main:
            return
        columns = _columns(run.history)
        text = _stringio.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        for row in zip(*(run.history[k] for k in columns)):
            writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
        io.atomic_write_text(self.path, text.getvalue())


class TensorBoard(Callback):
    """Log each epoch's losses (and ``seconds``) as TensorBoard scalars into ``log_dir``.

    Needs the ``tensorboard`` package: ``pip install aekit[tensorboard]``.
    """

    def __init__(self, log_dir: str | os.PathLike):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ImportError(
                "the TensorBoard callback needs the tensorboard package: "
                f"pip install aekit[tensorboard] ({err})"
            ) from None
        self.log_dir = Path(log_dir)
        self._writer_class = SummaryWriter
        self.writer: Any = None

    def on_fit_start(self, run: Run) -> None:
        if run.is_main:
            self.writer = self._writer_class(log_dir=str(self.log_dir))

    def on_epoch_end(self, run: Run, epoch: int, logs: dict[str, float]) -> None:
        if self.writer is not None:
            for key, value in logs.items():
                self.writer.add_scalar(key, value, epoch)

    def on_fit_end(self, run: Run) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
