"""The settings of one training run, checked in one place: :class:`TrainConfig`."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["TrainConfig", "OPTIMIZERS", "LR_SCHEDULES", "check_patience"]

OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = (None, "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`~aekit.train.fit` and :func:`~aekit.train.fit_classifier` train.

    Parameters
    ----------
    epochs, batch_size, lr : training length, mini-batch size and learning rate.
        ``batch_size`` is the global batch: with N processes each rank takes ``ceil(batch_size / N)``
        samples of every batch and the gradients are averaged, so ``lr`` means what it means in one
        process. To train faster on more ranks, raise ``batch_size`` (and ``lr`` with it, e.g.
        linearly: Goyal et al. 2017).
    optimizer : {"adam", "adamw", "sgd"}
        With ``momentum`` (SGD) and ``weight_decay``.
    lr_schedule : {None, "cosine"}
        Constant learning rate, or cosine annealing from ``lr`` to ``lr / 100`` over ``epochs``.
    patience : int, optional
        Stop after this many epochs without a better validation score and restore the best
        weights (needs validation data); the same as ``callbacks=[EarlyStopping(patience)]``.
    seed : int, optional
        Seeds shuffling and corruption noise: same seed on the CPU gives the same weights.
    progress : bool
        A tqdm bar on a terminal.
    checkpoint_dir : path, optional
        Save the model and the training state there after every epoch. When the run ends, the
        model there is the one returned (with ``patience``, the best epoch's weights).
    resume_from : path, optional
        Continue a run from its ``checkpoint_dir``: weights (of the last epoch trained), optimizer
        moments, RNG states and history; ``epochs`` counts from the run's start, so a finished
        run is extended by asking for more. Called with the run's own settings, it ends with the
        same weights as an uninterrupted run. ``lr``, ``weight_decay``, ``momentum`` and
        ``lr_schedule`` are this call's: a changed value applies from the first resumed epoch
        (logged as a warning), and so is ``patience``. ``optimizer`` must be the run's: resuming
        an Adam run with SGD is a :class:`~aekit.errors.CheckpointError`.
    device : str or torch.device, optional
        Default: CUDA, then MPS, then the CPU; under ``torchrun`` the rank's own GPU.
    distributed : bool, optional
        Data-parallel training (DistributedDataParallel): None (default) turns it on when launched
        by ``torchrun``; True requires it; False trains this process alone. Every rank must call
        ``fit`` with the same data and settings; only rank 0 writes checkpoints, logs and progress,
        and every rank returns the same history and ends with the same weights.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_schedule: str | None = None
    patience: int | None = None
    seed: int | None = None
    progress: bool = True
    checkpoint_dir: str | os.PathLike | None = None
    resume_from: str | os.PathLike | None = None
    device: str | torch.device | None = None
    distributed: bool | None = None

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be None or 'cosine', got {self.lr_schedule!r}")
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"epochs must be an int >= 0, got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {self.batch_size!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        check_patience(self.patience)
        if self.distributed is not None and not isinstance(self.distributed, bool):
            raise TypeError(f"distributed must be None, True or False, got {self.distributed!r}")

    @classmethod
    def of(cls, config: TrainConfig | None = None, **overrides: Any) -> TrainConfig:
        """``config`` (default: the defaults) with the settings given as keywords replaced."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(
                f"unknown training setting(s) {', '.join(map(repr, unknown))}: expected some of {', '.join(sorted(names))}"
            )
        if config is None:
            return cls(**overrides)
        if not isinstance(config, cls):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        return dataclasses.replace(config, **overrides)

    def optimizer_settings(self) -> dict:
        """The settings a resumed run may change (recorded in its checkpoints)."""
        return {
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "lr_schedule": self.lr_schedule,
        }


def check_patience(patience: Any) -> None:
    """``patience`` is None or an int >= 1 (a ValueError naming it otherwise)."""
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be None or an int >= 1, got {patience!r}")
