"""One fit loop for every aekit model.

Data that fits in memory is moved to the device once as a tensor and batched by
slicing a seeded permutation: no per-sample ``Dataset.__getitem__`` in the hot
loop, which for a small model costs more than its training step. A
``torch.utils.data.DataLoader`` is accepted for data that does not fit.

The loss is accumulated on the device and read once per epoch (no ``.item()``
per batch); a NaN or infinite epoch loss stops training with
:class:`~aekit.errors.TrainingError`. Checkpoints written every epoch hold the
optimizer and random-number-generator states, so ``resume_from`` finishes with
the same weights as an uninterrupted run. A finished run's checkpoint holds the
weights it handed back (the best ones, with ``patience``) and, for resuming,
those of its last epoch: extending it continues from where training stopped.

Under ``torchrun`` (or with ``distributed=True``) the same loop runs data-parallel
(:mod:`aekit.distributed`): the loss is computed through a
:class:`~torch.nn.parallel.DistributedDataParallel` wrapper, so backward
all-reduces the gradients; ``batch_size`` stays the *global* batch, each rank
taking its slice of every batch of one seeded permutation shared by all ranks.
With the same seed, N processes therefore follow the trajectory of one process
(up to float rounding and corruption noise, which each rank draws itself).

On the CPU a 2-D convolutional model trains with channels-last (NHWC) weights,
oneDNN's fast layout, and is handed back contiguous; a resumed run lays the
optimizer states out like the weights they belong to.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from . import distributed as dist_
from . import io
from .corruption import Corruption
from .data.validate import check_labels
from .errors import CheckpointError, DataError, TrainingError

__all__ = ["fit", "fit_classifier", "default_device", "seed_everything"]

log = logging.getLogger("aekit")

STATE_JSON = "training_state.json"
STATE_TENSORS = "training_state.safetensors"
OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = (None, "cosine")


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


# ====================================================================== public API
def fit(
    model: nn.Module,
    X,
    *,
    X_val=None,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    optimizer: str = "adam",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    patience: int | None = None,
    seed: int | None = None,
    progress: bool = True,
    checkpoint_dir=None,
    resume_from=None,
    device=None,
    lr_schedule: str | None = None,
    distributed: bool | None = None,
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
    epochs, batch_size, lr : training length, mini-batch size and learning rate.
        ``batch_size`` is the global batch: with N processes each rank takes ``ceil(batch_size / N)``
        samples of every batch and the gradients are averaged, so ``lr`` means what it means in one
        process. To train faster on more ranks, raise ``batch_size`` (and ``lr`` with it, e.g.
        linearly: Goyal et al. 2017).
    optimizer : {"adam", "adamw", "sgd"}
        With ``momentum`` (SGD) and ``weight_decay``.
    patience : int, optional
        Stop after this many epochs without a better validation loss and restore the best
        weights (needs ``X_val``).
    seed : int, optional
        Seeds shuffling and corruption noise: same seed on the CPU gives the same weights.
    progress : bool
        A tqdm bar on a terminal.
    lr_schedule : {None, "cosine"}
        Constant learning rate, or cosine annealing from ``lr`` to ``lr / 100`` over ``epochs``.
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

    Returns
    -------
    dict
        ``epoch``, ``train_loss``, ``val_loss``, ``seconds`` (lists, one entry per epoch),
        ``best_epoch``, ``stopped_early``.
    """

    def batch_loss(m, xb):
        return m.loss(xb)

    def validate(m, val):
        (total,) = _sums_over_batches(val, batch_size, lambda xb: (m.loss(xb) * len(xb),))
        return {"val_loss": total / len(val[0])}

    if _is_loader(X):
        train = X
    else:
        train = (_as_tensor(model, X, "X"),)
        _check_corruption_range(model, train[0])
    val = None if X_val is None else (_as_tensor(model, X_val, "X_val"),)
    return _run(
        model,
        train,
        val,
        batch_loss,
        validate,
        monitor="val_loss",
        items=1,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        momentum=momentum,
        weight_decay=weight_decay,
        patience=patience,
        seed=seed,
        progress=progress,
        checkpoint_dir=checkpoint_dir,
        resume_from=resume_from,
        device=device,
        lr_schedule=lr_schedule,
        distributed=distributed,
    )


def fit_classifier(
    model: nn.Module,
    X,
    y,
    *,
    X_val=None,
    y_val=None,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    optimizer: str = "adam",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    patience: int | None = None,
    seed: int | None = None,
    progress: bool = True,
    checkpoint_dir=None,
    resume_from=None,
    device=None,
    lr_schedule: str | None = None,
    distributed: bool | None = None,
) -> dict:
    """Supervised fine-tuning by backpropagation of the cross-entropy of ``model(x)`` (logits) and ``y``.

    ``y`` holds integer class indices 0..C−1; a DataLoader ``X`` (with ``y=None``) yields ``(x, y)``
    pairs (further items are left out). Early stopping (``patience``) watches the
    validation error rate. The history adds ``val_error`` (fraction misclassified). The other
    arguments (``distributed`` too) are those of :func:`fit`.
    """

    def batch_loss(m, xb, yb):
        return F.cross_entropy(m(xb), yb)

    def sums(m, xb, yb):  # one forward pass gives both the loss and the errors
        logits = m(xb)
        return F.cross_entropy(logits, yb, reduction="sum"), (logits.argmax(1) != yb).sum()

    def validate(m, val):
        loss, wrong = _sums_over_batches(val, batch_size, lambda xb, yb: sums(m, xb, yb))
        return {"val_loss": loss / len(val[0]), "val_error": wrong / len(val[0])}

    if _is_loader(X):
        train = X
    else:
        Xt = _as_tensor(model, X, "X")
        train = (Xt, _as_labels(y, len(Xt), "y"))
    val = None
    if X_val is not None:
        if y_val is None:
            raise DataError("X_val was given without y_val: validation needs the labels too")
        Xv = _as_tensor(model, X_val, "X_val")
        val = (Xv, _as_labels(y_val, len(Xv), "y_val"))
    return _run(
        model,
        train,
        val,
        batch_loss,
        validate,
        monitor="val_error",
        items=2,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        momentum=momentum,
        weight_decay=weight_decay,
        patience=patience,
        seed=seed,
        progress=progress,
        checkpoint_dir=checkpoint_dir,
        resume_from=resume_from,
        device=device,
        lr_schedule=lr_schedule,
        distributed=distributed,
    )


# ====================================================================== the loop
class _Objective(nn.Module):
    """``forward(*batch)`` is the training loss: DDP all-reduces gradients only of what its forward computed."""

    def __init__(self, model: nn.Module, batch_loss: Callable):
        super().__init__()
        self.model = model
        self.batch_loss = batch_loss

    def forward(self, *batch):
        return self.batch_loss(self.model, *batch)


def _run(
    model,
    train,
    val,
    batch_loss: Callable,
    validate: Callable,
    *,
    monitor: str,
    items: int,
    epochs,
    batch_size,
    lr,
    optimizer,
    momentum,
    weight_decay,
    patience,
    seed,
    progress,
    checkpoint_dir,
    resume_from,
    device,
    lr_schedule=None,
    distributed=None,
) -> dict:
    """The loop; ``batch_loss(model, *batch)`` takes ``items`` tensors per batch (inputs, and labels)."""
    _check_settings(epochs, batch_size, lr, optimizer, patience, val, lr_schedule)
    settings = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "lr_schedule": lr_schedule}
    device = torch.device(device) if device is not None else default_device()
    ddp = _join(distributed, device)
    rank, world = (dist_.rank(), dist_.world_size()) if ddp else (0, 1)
    main = rank == 0
    if ddp and device.type == "cuda" and device.index is None:
        device = dist_.device()  # "cuda" means this rank's GPU
    model.to(device)
    if not _is_loader(train):
        train = tuple(t.to(device) for t in train)
        if len(train[0]) == 0:
            raise DataError("X is empty: need at least one training sample")
    if val is not None:
        val = tuple(t.to(device) for t in val)
        if ddp and len(val[0]) >= world:  # each rank validates its slice; the means are combined below
            lo, hi = len(val[0]) * rank // world, len(val[0]) * (rank + 1) // world
            val = tuple(t[lo:hi] for t in val)

    channels_last = not _is_loader(train) and _to_channels_last(
        model, device, lambda: batch_loss(model, *(t[:2] for t in train))
    )
    bar = None
    try:  # from here on, a failure hands the model back in its own layout
        opt = _make_optimizer(model, optimizer, lr, momentum, weight_decay)
        shuffle_seed = seed if seed is not None else int(torch.randint(2**62, ()).item())
        if ddp:
            shuffle_seed = dist_.broadcast_int(shuffle_seed)  # one permutation for all ranks
        shuffle_gen = torch.Generator().manual_seed(shuffle_seed)
        if seed is not None:
            torch.manual_seed(seed + rank)  # each rank draws its own corruption noise
        history = {"epoch": [], "train_loss": [], "seconds": []}
        state = {"best": math.inf, "bad_epochs": 0, "best_state": None, "start": 0}
        if resume_from is not None:
            _restore(resume_from, model, opt, shuffle_gen, history, state, device, rank, settings=settings)
            if patience is None:
                state["best_state"] = None  # no early stopping in this call: it hands back its last weights

        objective = functools.partial(batch_loss, model)
        if ddp:
            # static_graph: tolerates parameters the loss never reaches (e.g. a stack's other layers)
            objective = DistributedDataParallel(
                _Objective(model, batch_loss),
                static_graph=True,
                device_ids=[device.index] if device.type == "cuda" else None,
            )
            if _is_loader(train):
                train = _distributed_loader(train, batch_size, rank, world, shuffle_seed)
        n_batches = _n_batches(train, batch_size, world)
        bar = tqdm(
            total=(epochs - state["start"]) * n_batches,
            disable=not (progress and main and sys.stderr.isatty()),
            unit="batch",
            dynamic_ncols=True,
            leave=False,
        )
        stopped_early = (
            patience is not None and state["bad_epochs"] >= patience
        )  # resuming a run that had stopped
        for epoch in range(state["start"], state["start"] if stopped_early else epochs):
            model.train()
            if lr_schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = cosine_lr(lr, epoch, epochs)
            start = time.perf_counter()
            if ddp and _is_loader(train) and hasattr(train.sampler, "set_epoch"):
                train.sampler.set_epoch(epoch)
            total = torch.zeros((), device=device)  # Σ loss·n over this rank's batches, read once per epoch
            seen = 0
            for batch in _batches(train, batch_size, shuffle_gen, device, rank, world, items):
                loss = objective(*batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                n = len(batch[0])
                total += loss.detach() * n
                seen += n
                bar.update(1)
            if ddp:
                sums = torch.stack([total.double(), total.new_tensor(seen, dtype=torch.float64)])
                total, seen = dist_.all_reduce_sum(sums)
            train_loss = (total / max(seen, 1)).item()
            if not math.isfinite(train_loss):
                raise TrainingError(
                    f"training loss became {train_loss} in epoch {epoch + 1}: training diverged. The learning "
                    f"rate ({lr}) is the usual cause: try a smaller one (e.g. {lr / 10:g}); also check the inputs "
                    "for extreme values"
                )
            history["epoch"].append(epoch + 1)
            history["train_loss"].append(train_loss)
            if val is not None:
                model.eval()
                with torch.inference_mode():
                    metrics = validate(model, val)
                if ddp:
                    metrics = _mean_over_ranks(metrics, len(val[0]), device)
                for key, value in metrics.items():
                    history.setdefault(key, []).append(float(value))
            history["seconds"].append(time.perf_counter() - start)
            msg = {
                k: f"{v[-1]:.4g}" for k, v in history.items() if k in ("train_loss", "val_loss", "val_error")
            }
            bar.set_postfix(epoch=epoch + 1, **msg)
            if main and ((epoch + 1) % max(1, epochs // 20) == 0 or epoch + 1 == epochs):  # at most ~20 lines
                log.info("epoch %d/%d %s (%.1fs)", epoch + 1, epochs, msg, history["seconds"][-1])

            if val is not None:
                current = history[monitor][-1]
                if current < state["best"]:
                    state.update(best=current, bad_epochs=0, best_epoch=epoch + 1)
                    if patience is not None:
                        state["best_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    state["bad_epochs"] += 1
            done = patience is not None and state["bad_epochs"] >= patience
            if checkpoint_dir is not None:
                _checkpoint(
                    checkpoint_dir,
                    model,
                    opt,
                    shuffle_gen,
                    history,
                    state,
                    epoch + 1,
                    finished=False,
                    write=main,
                    ddp=ddp,
                    device=device,
                    settings=settings,
                )
            if done:
                stopped_early = True
                break
    finally:
        if bar is not None:
            bar.close()
        if channels_last:
            model.to(memory_format=torch.contiguous_format)  # handed back as it came

    last = None  # the last epoch's weights, from which a resumed run goes on
    if state["best_state"] is not None:
        if checkpoint_dir is not None:
            last = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(state["best_state"])
    history["best_epoch"] = state.get("best_epoch", history["epoch"][-1] if history["epoch"] else 0)
    history["stopped_early"] = stopped_early
    model.history = history
    model.eval()
    if checkpoint_dir is not None:
        _checkpoint(
            checkpoint_dir,
            model,
            opt,
            shuffle_gen,
            history,
            state,
            history["epoch"][-1] if history["epoch"] else 0,
            finished=True,
            write=main,
            ddp=ddp,
            device=device,
            settings=settings,
            last=last,
        )
    if ddp:
        dist_.barrier()  # the checkpoint is complete before any rank reads it
    return history


def _to_channels_last(model: nn.Module, device: torch.device, probe: Callable) -> bool:
    """On the CPU, train 2-D convolutional networks with channels-last (NHWC) weights, whose convolutions
    run faster there (oneDNN's native layout: 1.48x for perf.py's conv autoencoder); the maps follow the
    weights' layout. Models that choose their own layout (a ``channels_last`` attribute, as aekit's conv
    models have) are left as they are, and so is a model whose loss fails on channels-last maps (``probe``,
    the loss of two samples, e.g. ``h.view(n, -1)`` of a conv map needs ``reshape``): it trains as it came.
    Returns whether the model was converted."""
    if device.type != "cpu" or getattr(model, "channels_last", None) is not None:
        return False
    if not any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules()):
        return False
    if any(t.dim() == 5 for t in (*model.parameters(), *model.buffers())):  # 3-D convolutions alongside
        return False
    if all(t.is_contiguous(memory_format=torch.channels_last) for t in model.parameters() if t.dim() == 4):
        return False  # already channels-last
    model.to(memory_format=torch.channels_last)
    training = model.training
    try:
        model.eval()  # no batch-norm statistics updated, no corruption drawn
        with torch.no_grad():
            probe()
    except Exception as err:  # any failure: train in the model's own layout
        log.debug(
            "training %s in its own memory layout: its loss failed on channels-last maps (%s)",
            type(model).__name__,
            err,
        )
        model.to(memory_format=torch.contiguous_format)
        return False
    finally:
        model.train(training)
    return True


def _join(distributed, device: torch.device) -> bool:
    """Whether this run is data-parallel; joins the launcher's process group when needed
    (NCCL when training on CUDA, gloo on the CPU)."""
    if distributed is None:
        distributed = dist_.is_distributed() or dist_.launched()
    elif not isinstance(distributed, bool):
        raise TypeError(f"distributed must be None, True or False, got {distributed!r}")
    return dist_.setup("nccl" if device.type == "cuda" else "gloo") if distributed else False


def _mean_over_ranks(metrics: dict, n_local: int, device) -> dict:
    """Per-sample means of each rank's validation slice -> the means over the whole validation set."""
    keys = sorted(metrics)
    t = torch.tensor(
        [float(metrics[k]) * n_local for k in keys] + [n_local], dtype=torch.float64, device=device
    )
    t = dist_.all_reduce_sum(t)
    return {k: (t[i] / t[-1]).item() for i, k in enumerate(keys)}


# ====================================================================== batching
def _is_loader(data) -> bool:
    return isinstance(data, torch.utils.data.DataLoader)


def _n_batches(train, batch_size: int, world: int = 1) -> int:
    if _is_loader(train):
        return len(train)
    per_rank = -(-batch_size // world)
    return math.ceil(len(train[0]) / (per_rank * world))


def _batches(
    train, batch_size: int, gen: torch.Generator, device, rank: int = 0, world: int = 1, items: int = 1
):
    if _is_loader(train):
        for batch in train:
            yield tuple(b.to(device, non_blocking=True) for b in _loader_items(batch, items))
        return
    order = torch.randperm(len(train[0]), generator=gen)
    per_rank = -(-batch_size // world)
    if world > 1:
        order = _rank_order(order, per_rank, rank, world)
    order = order.to(device)
    for i in range(0, len(order), per_rank):
        idx = order[i : i + per_rank]
        yield tuple(t.index_select(0, idx) for t in train)


def _loader_items(batch, items: int) -> tuple:
    """The first ``items`` tensors of a DataLoader's batch: the input (``fit``), or the input and the labels
    (``fit_classifier``); a batch is a tensor or a tuple/list of them, further items are left out."""
    batch = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
    if len(batch) < items or not all(torch.is_tensor(b) for b in batch[:items]):
        want = (
            "an input tensor (or a tuple whose first item is one)"
            if items == 1
            else "(x, y) pairs of tensors"
        )
        got = ", ".join(type(b).__name__ for b in batch)
        raise DataError(f"the DataLoader must yield {want}; got a batch of ({got})")
    return batch[:items]


def _rank_order(order: torch.Tensor, per_rank: int, rank: int, world: int) -> torch.Tensor:
    """This rank's samples of an epoch: its slice of every global batch of ``per_rank * world`` samples.

    The order is first padded to a multiple of ``world`` by repeating its head (as
    ``DistributedSampler`` does), so that every rank sees the same number of batches of the
    same size and the DDP gradient average is the gradient of the global batch.
    """
    n = len(order)
    padded = -(-n // world) * world
    order = order.repeat(-(-padded // n))[:padded]
    step = per_rank * world
    parts = []
    for start in range(0, padded, step):
        chunk = order[start : start + step]
        m = len(chunk) // world
        parts.append(chunk[rank * m : (rank + 1) * m])
    return torch.cat(parts)


def _distributed_loader(loader, batch_size: int, rank: int, world: int, seed: int):
    """The same DataLoader over this rank's shard (DistributedSampler); its batch size stays the global one."""
    from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, RandomSampler

    if isinstance(loader.dataset, IterableDataset):
        raise DataError(
            "distributed training cannot shard an IterableDataset: pass a map-style Dataset "
            "(or arrays) so that each rank can take its share"
        )
    if loader.batch_size is None:
        raise DataError("distributed training needs a DataLoader with a batch_size (got a batch_sampler)")
    sampler = DistributedSampler(
        loader.dataset,
        num_replicas=world,
        rank=rank,
        shuffle=isinstance(loader.sampler, RandomSampler),
        seed=seed % 2**31,
    )
    return DataLoader(
        loader.dataset,
        batch_size=-(-loader.batch_size // world),
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
    )


def _sums_over_batches(data: Sequence[torch.Tensor], batch_size: int, fn) -> list[float]:
    """Σ over chunks of the validation data of ``fn(*chunk)`` (a tuple of tensors), in float64."""
    step = max(batch_size, 1024)
    totals = None
    for i in range(0, len(data[0]), step):
        parts = [p.double() for p in fn(*(t[i : i + step] for t in data))]
        totals = parts if totals is None else [a + b for a, b in zip(totals, parts)]
    return [t.item() for t in totals]


def _as_tensor(model, X, name: str) -> torch.Tensor:
    if hasattr(model, "validate_input"):
        X = model.validate_input(X, name=name)
    else:
        X = np.asarray(X, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))


def _check_corruption_range(model, X: torch.Tensor) -> None:
    """Training data outside the range its corruption takes is a DataError (it would be clipped to it)."""
    q = getattr(model, "corruption", None)
    if isinstance(q, Corruption):
        q.check_input(X, "X")


def _as_labels(y, n: int, name: str) -> torch.Tensor:
    y = check_labels(y, n, name=name)
    if y.min() < 0:
        raise DataError(f"{name} must hold class indices 0..C-1, found {y.min()}")
    return torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))


# ====================================================================== settings
def cosine_lr(lr: float, epoch: int, epochs: int) -> float:
    """Cosine annealing from ``lr`` at epoch 0 towards ``lr / 100`` at the end (a function of the epoch alone,
    so a resumed run follows the same schedule)."""
    floor = lr / 100
    return floor + 0.5 * (lr - floor) * (1 + math.cos(math.pi * epoch / max(epochs, 1)))


def _check_settings(epochs, batch_size, lr, optimizer, patience, val, lr_schedule=None) -> None:
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be None or 'cosine', got {lr_schedule!r}")
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if patience is not None:
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be None or an int >= 1, got {patience!r}")
        if val is None:
            raise ValueError("patience (early stopping) needs validation data: pass X_val")


def _make_optimizer(model, name, lr, momentum, weight_decay) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    if name == "sgd":
        cls, kw = torch.optim.SGD, dict(lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        cls, kw = (
            (torch.optim.AdamW if name == "adamw" else torch.optim.Adam),
            dict(lr=lr, weight_decay=weight_decay),
        )
    # fused: one kernel updates every parameter (on a CPU 15-20% of a small autoencoder's step goes to the
    # per-tensor updates of the default implementation); not every device and dtype has it
    if all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float64) for p in params):
        try:
            return cls(params, fused=True, **kw)
        except (RuntimeError, ValueError, TypeError):
            pass
    return cls(params, **kw)


# ====================================================================== checkpoints
def _device_rng(device: torch.device) -> torch.Tensor | None:
    """State of the GPU's own generator (corruption noise and dropout masks drawn on the GPU); None on the CPU."""
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def _checkpoint(
    directory,
    model,
    opt,
    gen,
    history,
    state,
    epoch: int,
    *,
    finished: bool,
    write: bool = True,
    ddp: bool = False,
    device: torch.device = torch.device("cpu"),
    settings: dict | None = None,
    last: dict | None = None,
) -> None:
    """Write the model and the training state. ``last``: the last epoch's weights, when the model now holds
    others (the best epoch's, restored at the end of a run); a resumed run continues from them."""
    rng, device_rng = torch.get_rng_state(), _device_rng(device)
    ranks_rng = dist_.all_gather(rng) if ddp else [rng]  # a collective: every rank takes part
    ranks_device_rng = dist_.all_gather(device_rng) if ddp and device_rng is not None else [device_rng]
    if not write:
        return
    directory = Path(directory)
    with (
        io.transaction()
    ):  # all of this epoch's files replace the last epoch's, or none (Ctrl-C, a full disk)
        if hasattr(model, "save"):
            model.save(directory, history=history)
            files = {
                io.WEIGHTS: io.file_entry(directory / io.WEIGHTS)
            }  # checked on resume: a torn checkpoint
        else:  # a model of the user's own: its weights, checked on resume against this record
            files = {io.WEIGHTS: io.save_tensors(model.state_dict(), directory / io.WEIGHTS)}
        tensors, meta = _optimizer_to_tensors(opt.state_dict())
        tensors["rng.torch"] = rng
        tensors.update({f"rng.torch.rank{r}": t for r, t in enumerate(ranks_rng) if r > 0})
        if device_rng is not None:
            tensors["rng.cuda"] = device_rng
            tensors.update({f"rng.cuda.rank{r}": t for r, t in enumerate(ranks_device_rng) if r > 0})
        tensors["rng.shuffle"] = gen.get_state()
        if state["best_state"] is not None:
            tensors.update({f"best.{k}": v for k, v in state["best_state"].items()})
        if last is not None:
            tensors.update({f"last.{k}": v for k, v in last.items()})
        entry = io.save_tensors(tensors, directory / STATE_TENSORS)
        settings = {**(settings or {}), "optimizer": type(opt).__name__.lower()}
        doc = {
            "epoch": epoch,
            "finished": finished,
            "optimizer": meta,
            "settings": settings,
            "history": history,
            "best": state["best"] if math.isfinite(state["best"]) else None,
            "bad_epochs": state["bad_epochs"],
            "best_epoch": state.get("best_epoch"),
            "files": {**files, STATE_TENSORS: entry},
        }
        io.atomic_write_text(directory / STATE_JSON, json.dumps(doc, indent=1))


def _restore(
    directory, model, opt, gen, history, state, device, rank: int = 0, settings: dict | None = None
) -> None:
    """Load a run's weights (its last epoch's), optimizer moments, RNG states, history and early-stopping
    state; the optimizer keeps this call's hyperparameters (``settings``: lr, weight_decay...)."""
    directory = Path(directory)
    doc = io.read_json(directory / STATE_JSON, f"{STATE_JSON} (written by fit(..., checkpoint_dir=...))")
    _check_state_doc(doc, directory / STATE_JSON)
    _compare_settings(
        doc.get("settings") or {},
        {**(settings or {}), "optimizer": type(opt).__name__.lower()},
        directory,
        warn=rank == 0,
    )
    if hasattr(model, "save"):
        config = io.read_config(directory)
        if config["class"] != type(model).__name__:
            raise CheckpointError(
                f"{directory} holds a run of {config['class']}, not of this "
                f"{type(model).__name__}: resume with the model class it was trained with"
            )
        recorded = (doc.get("files") or {}).get(io.WEIGHTS)  # absent in older checkpoints
        weights = config["files"].get(io.WEIGHTS)
        if (
            isinstance(recorded, dict)
            and isinstance(weights, dict)
            and recorded.get("sha256") != weights.get("sha256")
        ):
            raise CheckpointError(
                f"{directory} is torn: {STATE_JSON} (epoch {doc['epoch']}) was written with other "
                f"weights than {io.WEIGHTS}; train afresh into a new directory"
            )
        io.load_state_into(model, directory, config)
    else:
        files = doc.get("files")
        if not isinstance(files, dict) or io.WEIGHTS not in files:
            raise CheckpointError(
                f"{directory}: no record of {io.WEIGHTS} in {STATE_JSON}: not a checkpoint of "
                f"this {type(model).__name__}"
            )
        io.load_state_into(model, directory, config={"class": type(model).__name__, "files": files})
    try:
        tensors = io.load_tensors(directory / STATE_TENSORS, doc["files"][STATE_TENSORS])
        hyper = [{k: v for k, v in group.items() if k != "params"} for group in opt.param_groups]
        opt.load_state_dict(_optimizer_from_tensors(tensors, doc["optimizer"]))
        for group, mine in zip(opt.param_groups, hyper):  # the moments are the run's, lr etc. this call's
            group.update(mine)
        _lay_out_like_params(opt)
        last = {k[5:]: v for k, v in tensors.items() if k.startswith("last.")}
        if last:  # the model file holds the best epoch's weights
            model.load_state_dict(last)
        torch.set_rng_state(tensors.get(f"rng.torch.rank{rank}", tensors["rng.torch"]))
        if device.type == "cuda" and "rng.cuda" in tensors:  # resumed on a GPU after training on one
            torch.cuda.set_rng_state(tensors.get(f"rng.cuda.rank{rank}", tensors["rng.cuda"]), device)
        gen.set_state(tensors["rng.shuffle"])
        history.clear()
        history.update({k: v for k, v in doc["history"].items() if isinstance(v, list)})
        best = {k[5:]: v.to(device) for k, v in tensors.items() if k.startswith("best.")}
        state.update(
            best=doc["best"] if doc["best"] is not None else math.inf,
            bad_epochs=doc["bad_epochs"],
            best_state=best or None,
            start=int(doc["epoch"]),
        )
        if doc.get("best_epoch") is not None:
            state["best_epoch"] = doc["best_epoch"]
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise CheckpointError(f"{directory}: training state cannot be resumed: {err}") from None
    model.to(device)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# what _restore reads from training_state.json: field -> (check, what it must be)
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
        lambda v: (
            isinstance(v, dict)
            and isinstance(v.get("param_groups"), list)
            and isinstance(v.get("scalars"), dict)
            and all(isinstance(s, dict) for s in v["scalars"].values())
        ),
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


def _lay_out_like_params(opt: torch.optim.Optimizer) -> None:
    """Give each per-weight optimizer state its parameter's memory layout. Checkpoints store tensors
    contiguous; the fused optimizers walk a weight and its states in memory order, so a contiguous
    ``exp_avg`` of a channels-last filter bank would be applied to the wrong elements."""
    for param, slots in opt.state.items():
        for key, value in slots.items():
            if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                slots[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def _optimizer_to_tensors(sd: dict) -> tuple[dict, dict]:
    tensors, scalars = {}, {}
    for pid, slots in sd["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_from_tensors(tensors: dict, meta: dict) -> dict:
    state: dict = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    for pid, slots in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(slots)
    return {"state": state, "param_groups": meta["param_groups"]}
