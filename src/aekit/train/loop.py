"""One fit loop for every aekit model.

For each batch: corrupt, encode, decode, compute the loss, take a step (all but the
step is the model's ``loss(x)``: e.g. L_H(x, z) = −Σ_k [x_k log z_k + (1 − x_k) log(1 − z_k)]
of z = g(f(q_D(x))) for a denoising autoencoder, Vincent et al., "Extracting and
Composing Robust Features with Denoising Autoencoders", ICML 2008). Supervised
fine-tuning (:func:`fit_classifier`) minimises the cross-entropy of the logits instead.

The loss is accumulated on the device and read once per epoch (no ``.item()`` per
batch); a NaN or infinite epoch loss stops training with
:class:`~aekit.errors.TrainingError`. Everything else is a separate piece the loop
calls: batching (:mod:`.batching`), data parallelism under ``torchrun``
(:mod:`.parallel`), the channels-last layout on the CPU (:mod:`.layout`), and the
callbacks (:mod:`.callbacks`): early stopping, per-epoch checkpoints and resume,
progress, and the user's own.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..errors import DataError, TrainingError
from . import distributed as dist_
from . import parallel
from .batching import (
    Data,
    as_labels,
    as_tensor,
    batches,
    check_corruption_range,
    is_loader,
    n_batches,
    sums_over_batches,
)
from .callbacks import Callback, Checkpoint, EarlyStopping, ProgressBar, Run
from .config import TrainConfig
from .layout import channels_last
from .optim import cosine_lr, make_optimizer, set_lr

__all__ = ["fit", "fit_classifier", "default_device", "seed_everything"]


def default_device() -> torch.device:
    """CUDA if present (under ``torchrun``: this rank's GPU, ``cuda:LOCAL_RANK``), else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return dist_.device() if dist_.launched() else torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python-visible RNGs used by aekit (torch and numpy); call before building a model."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


# ====================================================================== what is trained
@dataclass(frozen=True)
class _Task:
    """What a batch's loss is (``batch_loss(model, *batch)``, ``items`` tensors a batch), what validation
    measures (``validate(model, val, batch_size)``) and which of it early stopping watches (``monitor``)."""

    batch_loss: Callable[..., torch.Tensor]
    validate: Callable[[nn.Module, tuple, int], dict]
    monitor: str
    items: int


def _reconstruction_loss(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    loss = cast("Callable[[torch.Tensor], torch.Tensor]", model.loss)  # what fit trains: a model with loss(x)
    return loss(x)  # corrupt, encode, decode, loss


def _reconstruction_scores(model: nn.Module, val: tuple, batch_size: int) -> dict:
    (total,) = sums_over_batches(val, batch_size, lambda xb: (_reconstruction_loss(model, xb) * len(xb),))
    return {"val_loss": total / len(val[0])}


def _cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x), y)


def _classification_scores(model: nn.Module, val: tuple, batch_size: int) -> dict:
    def sums(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(xb)  # one forward pass gives both the loss and the errors
        return F.cross_entropy(logits, yb, reduction="sum"), (logits.argmax(1) != yb).sum()

    loss, wrong = sums_over_batches(val, batch_size, sums)
    return {"val_loss": loss / len(val[0]), "val_error": wrong / len(val[0])}


_AUTOENCODER = _Task(_reconstruction_loss, _reconstruction_scores, monitor="val_loss", items=1)
_CLASSIFIER = _Task(_cross_entropy, _classification_scores, monitor="val_error", items=2)


# ====================================================================== public API
def fit(
    model: nn.Module,
    X: Any,
    X_val: Any = None,
    *,
    config: TrainConfig | None = None,
    callbacks: Iterable[Callback] = (),
    **settings: Any,
) -> dict:
    """Train an autoencoder on its reconstruction objective ``model.loss(x)``.

    Parameters
    ----------
    model : aekit model
        Anything with ``loss(x)`` returning a scalar (every aekit autoencoder).
    X : array-like (n_samples, ...) or DataLoader
        Training inputs; a DataLoader may yield tensors or tuples whose first item is the input
        (e.g. ``TensorDataset(X, y)``: the labels are left out).
    X_val : array-like, optional
        Validation inputs: validation loss (clean inputs, no corruption) is recorded each epoch.
    config : TrainConfig, optional
        The settings (default: ``TrainConfig()``); keywords replace single ones of them.
    callbacks : sequence of Callback
        Called at the start and end of the run, of every epoch and after every batch
        (:mod:`aekit.train.callbacks`).
    **settings
        Fields of :class:`TrainConfig`: ``epochs``, ``batch_size``, ``lr``, ``optimizer``, ``momentum``,
        ``weight_decay``, ``lr_schedule``, ``patience``, ``seed``, ``progress``, ``checkpoint_dir``,
        ``resume_from``, ``device``, ``distributed``.

    Returns
    -------
    dict
        ``epoch``, ``train_loss``, ``val_loss``, ``seconds`` (lists, one entry per epoch),
        ``best_epoch``, ``stopped_early``.
    """
    config = TrainConfig.of(config, **settings)
    if is_loader(X):
        train = X
    else:
        train = (as_tensor(model, X, "X"),)
        check_corruption_range(model, train[0])
    val = None if X_val is None else (as_tensor(model, X_val, "X_val"),)
    return _train(model, train, val, _AUTOENCODER, config, callbacks)


def fit_classifier(
    model: nn.Module,
    X: Any,
    y: Any,
    X_val: Any = None,
    y_val: Any = None,
    *,
    config: TrainConfig | None = None,
    callbacks: Iterable[Callback] = (),
    **settings: Any,
) -> dict:
    """Supervised fine-tuning by backpropagation of the cross-entropy of ``model(x)`` (logits) and ``y``.

    ``y`` holds integer class indices 0..C−1; a DataLoader ``X`` (with ``y=None``) yields ``(x, y)``
    pairs (further items are left out). Early stopping (``patience``) watches the
    validation error rate. The history adds ``val_error`` (fraction misclassified). The other
    arguments are those of :func:`fit`.
    """
    config = TrainConfig.of(config, **settings)
    if is_loader(X):
        train = X
    else:
        Xt = as_tensor(model, X, "X")
        train = (Xt, as_labels(y, len(Xt), "y"))
    val = None
    if X_val is not None:
        if y_val is None:
            raise DataError("X_val was given without y_val: validation needs the labels too")
        Xv = as_tensor(model, X_val, "X_val")
        val = (Xv, as_labels(y_val, len(Xv), "y_val"))
    return _train(model, train, val, _CLASSIFIER, config, callbacks)


# ====================================================================== the loop
def _train(
    model: nn.Module,
    train: Data,
    val: tuple | None,
    task: _Task,
    config: TrainConfig,
    callbacks: Iterable[Callback],
) -> dict:
    """Set up, run the epochs, finish; the model is handed back in its own memory layout."""
    callbacks = _callbacks(config, callbacks)
    device, ddp, rank, world = _placement(config)
    model.to(device)
    train, val = _on_device(train, val, device, rank, world)
    layout: contextlib.AbstractContextManager[bool]
    if is_loader(train):
        layout = contextlib.nullcontext(False)
    else:
        layout = channels_last(model, device, lambda: task.batch_loss(model, *(t[:2] for t in train)))
    with layout, _closing_progress(callbacks):
        optimizer = make_optimizer(model, config.optimizer, config.lr, config.momentum, config.weight_decay)
        gen, shuffle_seed = _shuffling(config.seed, ddp, rank)
        if ddp and isinstance(train, DataLoader):
            train = parallel.distributed_loader(train, rank, world, shuffle_seed)
        run = Run(
            model, config, optimizer, device, train, val, task.monitor, gen, rank=rank, world=world, ddp=ddp
        )
        run.n_batches = n_batches(train, config.batch_size, world)
        run.early_stopping = next(cb for cb in callbacks if isinstance(cb, EarlyStopping))
        for callback in callbacks:
            callback.on_fit_start(run)  # a resumed run's state is restored here (Checkpoint)
        objective = parallel.objective(model, task.batch_loss, device, ddp)
        for epoch in range(run.start_epoch + 1, config.epochs + 1):
            if run.stop_training:
                break
            _epoch(run, epoch, objective, task, callbacks)
    return _finish(run, callbacks)


def _epoch(
    run: Run, epoch: int, objective: Callable[..., torch.Tensor], task: _Task, callbacks: list[Callback]
) -> None:
    """Train epoch ``epoch`` (1, 2, ...), validate, record it in the history, tell the callbacks."""
    model, opt, config = run.model, run.optimizer, run.config
    for callback in callbacks:
        callback.on_epoch_start(run, epoch)
    model.train()
    if config.lr_schedule == "cosine":
        set_lr(opt, cosine_lr(config.lr, epoch - 1, config.epochs))
    start = time.perf_counter()
    if run.ddp and isinstance(run.train, DataLoader) and hasattr(run.train.sampler, "set_epoch"):
        run.train.sampler.set_epoch(epoch - 1)
    total = torch.zeros((), device=run.device)  # Σ loss·n over this rank's batches, read once per epoch
    seen = 0
    data = batches(run.train, config.batch_size, run.shuffle_gen, run.device, run.rank, run.world, task.items)
    for i, batch in enumerate(data):
        # corrupt, encode, decode, loss (a classifier: the cross-entropy of its logits)
        loss = objective(*batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * len(batch[0])
        seen += len(batch[0])
        for callback in callbacks:
            callback.on_batch_end(run, i, loss)
    logs = {"train_loss": _epoch_loss(run, total, seen, epoch)}
    if run.val is not None:
        logs.update(_validate(run, run.val, task))
    logs["seconds"] = time.perf_counter() - start
    run.history["epoch"].append(epoch)
    for key, value in logs.items():
        run.history.setdefault(key, []).append(value)
    for callback in callbacks:
        callback.on_epoch_end(run, epoch, logs)


def _epoch_loss(run: Run, total: torch.Tensor, seen: int, epoch: int) -> float:
    """The epoch's mean training loss over every rank's samples: the one read of the device per epoch."""
    if run.ddp:
        sums = torch.stack([total.double(), total.new_tensor(seen, dtype=torch.float64)])
        total, seen = dist_.all_reduce_sum(sums)
    train_loss = (total / max(seen, 1)).item()
    if not math.isfinite(train_loss):
        lr = run.config.lr
        raise TrainingError(
            f"training loss became {train_loss} in epoch {epoch}: training diverged. The learning "
            f"rate ({lr}) is the usual cause: try a smaller one (e.g. {lr / 10:g}); also check the inputs "
            "for extreme values"
        )
    return train_loss


def _validate(run: Run, val: tuple[torch.Tensor, ...], task: _Task) -> dict[str, float]:
    """Validation scores on clean inputs (no corruption), over every rank's slice ``val``."""
    run.model.eval()
    with torch.inference_mode():
        metrics = task.validate(run.model, val, run.config.batch_size)
    if run.ddp:
        metrics = parallel.mean_over_ranks(metrics, len(val[0]), run.device)
    return {k: float(v) for k, v in metrics.items()}


def _finish(run: Run, callbacks: list[Callback]) -> dict:
    """Complete the history, hand the model back in eval mode, tell the callbacks; the final checkpoint is
    complete on every rank before any returns."""
    history, stopping = run.history, run.early_stopping
    last = history["epoch"][-1] if history["epoch"] else 0
    best = stopping.best_epoch if stopping is not None else None
    history["best_epoch"] = best if best is not None else last
    history["stopped_early"] = run.stop_training
    run.model.history = history  # type: ignore[assignment]  # torch's stubs let Module attributes hold only tensors and modules
    run.model.eval()
    for callback in callbacks:
        callback.on_fit_end(run)  # early stopping restores the best weights before the final checkpoint
    if run.ddp:
        dist_.barrier()
    return history


# ====================================================================== set-up
def _callbacks(config: TrainConfig, given: Iterable[Callback]) -> list[Callback]:
    """Early stopping first, then checkpoints, then the others in the order given, the progress bar last;
    ``patience``, ``checkpoint_dir``/``resume_from`` and ``progress`` of ``config`` add the built-ins."""
    given = list(given)
    for callback in given:
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks must be aekit.train.Callback instances, got {type(callback).__name__}"
            )
    stopping = [cb for cb in given if isinstance(cb, EarlyStopping)]
    if len(stopping) + (config.patience is not None) > 1:
        raise ValueError("early stopping is asked for twice: pass patience= or one EarlyStopping callback")
    checkpoints = [cb for cb in given if isinstance(cb, Checkpoint)]
    if config.checkpoint_dir is not None or config.resume_from is not None:
        checkpoints.insert(0, Checkpoint(config.checkpoint_dir, resume_from=config.resume_from))
    progress = [cb for cb in given if isinstance(cb, ProgressBar)] or [ProgressBar(config.progress)]
    others = [cb for cb in given if not isinstance(cb, (EarlyStopping, Checkpoint, ProgressBar))]
    return [*(stopping or [EarlyStopping(config.patience)]), *checkpoints, *others, *progress]


@contextlib.contextmanager
def _closing_progress(callbacks: list[Callback]) -> Iterator[None]:
    """Progress bars are closed when the run fails too (a run that ends closes them in ``on_fit_end``)."""
    try:
        yield
    except BaseException:
        for callback in callbacks:
            if isinstance(callback, ProgressBar):
                callback.close()
        raise


def _placement(config: TrainConfig) -> tuple[torch.device, bool, int, int]:
    """(device, data-parallel?, rank, world size); joins the launcher's process group when needed."""
    device = torch.device(config.device) if config.device is not None else default_device()
    ddp = parallel.join(config.distributed, device)
    rank, world = (dist_.rank(), dist_.world_size()) if ddp else (0, 1)
    if ddp and device.type == "cuda" and device.index is None:
        device = dist_.device()  # "cuda" means this rank's GPU
    return device, ddp, rank, world


def _on_device(
    train: Data, val: tuple | None, device: torch.device, rank: int, world: int
) -> tuple[Data, tuple | None]:
    """In-memory data moved to the device once; the validation data this rank scores."""
    if not is_loader(train):
        train = tuple(t.to(device) for t in train)
        if len(train[0]) == 0:
            raise DataError("X is empty: need at least one training sample")
    if val is not None:
        val = parallel.shard(tuple(t.to(device) for t in val), rank, world)
    return train, val


def _shuffling(seed: int | None, ddp: bool, rank: int) -> tuple[torch.Generator, int]:
    """The generator of the batches' order (one permutation for all ranks) and its seed; with ``seed``, torch's
    own generator is seeded too (each rank draws its own corruption noise)."""
    shuffle_seed = seed if seed is not None else int(torch.randint(2**62, ()).item())
    if ddp:
        shuffle_seed = dist_.broadcast_int(shuffle_seed)
    gen = torch.Generator().manual_seed(shuffle_seed)
    if seed is not None:
        torch.manual_seed(seed + rank)
    return gen, shuffle_seed
