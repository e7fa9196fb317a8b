"""Training data in mini-batches.

Data that fits in memory is moved to the device once as a tensor and batched by
slicing a seeded permutation: no per-sample ``Dataset.__getitem__`` in the hot
loop, which for a small model costs more than its training step. A
``torch.utils.data.DataLoader`` is accepted for data that does not fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..corruption import Corruption
from ..data.validate import check_labels
from ..errors import DataError
from .parallel import rank_order

__all__ = [
    "Data",
    "is_loader",
    "n_batches",
    "batches",
    "sums_over_batches",
    "as_tensor",
    "as_labels",
    "check_corruption_range",
]

Data = DataLoader | tuple[torch.Tensor, ...]  # a loader, or (inputs,) / (inputs, labels) in memory


def is_loader(data: Any) -> bool:
    return isinstance(data, DataLoader)


def n_batches(train: Data, batch_size: int, world: int = 1) -> int:
    """Batches per epoch on each rank."""
    if isinstance(train, DataLoader):
        return len(train)
    per_rank = -(-batch_size // world)
    return math.ceil(len(train[0]) / (per_rank * world))


def batches(
    train: Data,
    batch_size: int,
    gen: torch.Generator,
    device: torch.device,
    rank: int = 0,
    world: int = 1,
    items: int = 1,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """One epoch of this rank's batches: ``items`` tensors each (inputs, and labels), on ``device``."""
    if isinstance(train, DataLoader):
        for batch in train:
            yield tuple(b.to(device, non_blocking=True) for b in _loader_items(batch, items))
        return
    order = torch.randperm(len(train[0]), generator=gen)
    per_rank = -(-batch_size // world)
    if world > 1:
        order = rank_order(order, per_rank, rank, world)
    order = order.to(device)
    for i in range(0, len(order), per_rank):
        idx = order[i : i + per_rank]
        yield tuple(t.index_select(0, idx) for t in train)


def _loader_items(batch: Any, items: int) -> tuple:
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


def sums_over_batches(
    data: Sequence[torch.Tensor], batch_size: int, fn: Callable[..., Sequence[torch.Tensor]]
) -> list[float]:
    """Σ over chunks of the validation data of ``fn(*chunk)`` (a tuple of tensors), in float64."""
    step = max(batch_size, 1024)
    totals: list[torch.Tensor] = []
    for i in range(0, len(data[0]), step):
        parts = [p.double() for p in fn(*(t[i : i + step] for t in data))]
        totals = [a + b for a, b in zip(totals, parts)] if totals else parts
    return [t.item() for t in totals]


def as_tensor(model: nn.Module, X: Any, name: str) -> torch.Tensor:
    """``X`` as a contiguous float32 tensor, checked by the model when it can (``validate_input``)."""
    validate = getattr(model, "validate_input", None)
    if validate is not None:  # an aekit model checks its own input
        X = validate(X, name=name)
    else:
        X = np.asarray(X, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))


def check_corruption_range(model: nn.Module, X: torch.Tensor) -> None:
    """Training data outside the range its corruption takes is a DataError (it would be clipped to it)."""
    q = getattr(model, "corruption", None)
    if isinstance(q, Corruption):
        q.check_input(X, "X")


def as_labels(y: Any, n: int, name: str) -> torch.Tensor:
    """Class indices 0..C−1 of ``n`` samples as an int64 tensor."""
    y = check_labels(y, n, name=name)
    if y.min() < 0:
        raise DataError(f"{name} must hold class indices 0..C-1, found {y.min()}")
    return torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
