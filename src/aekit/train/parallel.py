"""The data-parallel pieces of the fit loop (DistributedDataParallel under ``torchrun``).

The loss is computed through a :class:`~torch.nn.parallel.DistributedDataParallel`
wrapper, so backward all-reduces the gradients (Li et al., "PyTorch Distributed:
Experiences on Accelerating Data Parallel Training", VLDB 2020). ``batch_size`` stays
the *global* batch, each rank taking its slice of every batch of one seeded
permutation shared by all ranks: with the same seed, N processes follow the
trajectory of one process (up to float rounding and corruption noise, which each
rank draws itself).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from ..errors import DataError
from . import distributed as dist_

__all__ = ["join", "objective", "shard", "mean_over_ranks", "rank_order", "distributed_loader"]


def join(distributed: bool | None, device: torch.device) -> bool:
    """Whether this run is data-parallel; joins the launcher's process group when needed
    (NCCL when training on CUDA, gloo on the CPU)."""
    if distributed is None:
        distributed = dist_.is_distributed() or dist_.launched()
    return dist_.setup("nccl" if device.type == "cuda" else "gloo") if distributed else False


class _Objective(nn.Module):
    """``forward(*batch)`` is the training loss: DDP all-reduces gradients only of what its forward computed."""

    def __init__(self, model: nn.Module, batch_loss: Callable[..., torch.Tensor]):
        super().__init__()
        self.model = model
        self.batch_loss = batch_loss

    def forward(self, *batch: torch.Tensor) -> torch.Tensor:
        return self.batch_loss(self.model, *batch)


def objective(
    model: nn.Module, batch_loss: Callable[..., torch.Tensor], device: torch.device, ddp: bool
) -> Callable[..., torch.Tensor]:
    """``objective(*batch)``: ``batch_loss(model, *batch)``, through DDP when ``ddp``."""
    if not ddp:
        return functools.partial(batch_loss, model)
    # static_graph: tolerates parameters the loss never reaches (e.g. a stack's other layers)
    return DistributedDataParallel(
        _Objective(model, batch_loss),
        static_graph=True,
        device_ids=[device.index] if device.type == "cuda" else None,
    )


def shard(data: tuple[torch.Tensor, ...], rank: int, world: int) -> tuple[torch.Tensor, ...]:
    """This rank's contiguous slice of the validation data (each rank validates its slice; the means are
    combined by :func:`mean_over_ranks`); the whole of it when there are fewer samples than ranks."""
    if world == 1 or len(data[0]) < world:
        return data
    lo, hi = len(data[0]) * rank // world, len(data[0]) * (rank + 1) // world
    return tuple(t[lo:hi] for t in data)


def mean_over_ranks(metrics: dict, n_local: int, device: torch.device) -> dict:
    """Per-sample means of each rank's validation slice -> the means over the whole validation set."""
    keys = sorted(metrics)
    t = torch.tensor(
        [float(metrics[k]) * n_local for k in keys] + [n_local], dtype=torch.float64, device=device
    )
    t = dist_.all_reduce_sum(t)
    return {k: (t[i] / t[-1]).item() for i, k in enumerate(keys)}


def rank_order(order: torch.Tensor, per_rank: int, rank: int, world: int) -> torch.Tensor:
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


def distributed_loader(loader: DataLoader, rank: int, world: int, seed: int) -> DataLoader:
    """The same DataLoader over this rank's shard (DistributedSampler); its batch size stays the global one."""
    from torch.utils.data import DistributedSampler, IterableDataset, RandomSampler

    if isinstance(loader.dataset, IterableDataset):
        raise DataError(
            "distributed training cannot shard an IterableDataset: pass a map-style Dataset "
            "(or arrays) so that each rank can take its share"
        )
    if loader.batch_size is None:
        raise DataError("distributed training needs a DataLoader with a batch_size (got a batch_sampler)")
    sampler: DistributedSampler[Any] = DistributedSampler(
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
