"""Training: one fit loop for every aekit model, its settings and its callbacks.

:func:`fit` trains an autoencoder on its reconstruction objective, :func:`fit_classifier`
fine-tunes a network on the cross-entropy of its logits; both take their settings as
one :class:`TrainConfig` or as keywords, and :class:`Callback` objects that follow the
run (early stopping, checkpoints and resume, progress, CSV and TensorBoard logs, or
the user's own). Under ``torchrun`` the same loop runs data-parallel
(:mod:`aekit.train.distributed`). :func:`pretrain` is the one greedy layer-wise
pre-training of every stack (:mod:`aekit.train.layerwise`), :func:`finetune` its fine-tuning.
"""

from . import distributed
from .callbacks import Callback, Checkpoint, CSVLogger, EarlyStopping, ProgressBar, Run, TensorBoard
from .config import TrainConfig
from .layerwise import finetune, pretrain
from .loop import default_device, fit, fit_classifier, seed_everything
from .optim import cosine_lr
from .optim import make_optimizer as _make_optimizer  # noqa: F401  (tests reach it here)
from .parallel import rank_order as _rank_order  # noqa: F401  (tests reach it here)

__all__ = [
    "fit",
    "fit_classifier",
    "pretrain",
    "finetune",
    "TrainConfig",
    "Callback",
    "Run",
    "EarlyStopping",
    "Checkpoint",
    "ProgressBar",
    "CSVLogger",
    "TensorBoard",
    "default_device",
    "seed_everything",
    "cosine_lr",
    "distributed",
]
