"""Data-parallel training over several processes or machines with PyTorch's own engine.

``torchrun`` starts one process per device and sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`setup` joins the
process group (NCCL on GPUs, gloo on CPUs) and :func:`aekit.fit` wraps the model
in :class:`torch.nn.parallel.DistributedDataParallel`, whose backward pass
averages the gradients of all ranks (all-reduce) so every rank takes the same
optimizer step (Li et al., "PyTorch Distributed: Experiences on Accelerating
Data Parallel Training", VLDB 2020).

Everything here is a no-op in a single process: ``rank() == 0``,
``world_size() == 1``, :func:`all_reduce_sum` returns its input.
"""

from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist

__all__ = [
    "launched",
    "is_distributed",
    "rank",
    "local_rank",
    "world_size",
    "is_main",
    "setup",
    "device",
    "barrier",
    "all_reduce_sum",
    "broadcast_int",
    "all_gather",
]

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher setting RANK/WORLD_SIZE/LOCAL_RANK)."""
    return all(k in os.environ for k in ENV)


def is_distributed() -> bool:
    """Whether a process group with more than one rank is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """Global rank of this process (0 when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", 0))


def local_rank() -> int:
    """Rank of this process on its machine: the index of its GPU."""
    return int(os.environ.get("LOCAL_RANK", 0))


def world_size() -> int:
    """Number of processes taking part (1 when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0: the one process that writes checkpoints, logs and progress."""
    return rank() == 0


def device() -> torch.device:
    """This rank's device: ``cuda:LOCAL_RANK`` when GPUs are present, else the CPU.

    NCCL needs a GPU of its own per process, so a machine with fewer GPUs than processes is an error
    (two ranks sharing one GPU would fail later, inside NCCL, with a far less helpful message).
    """
    if not torch.cuda.is_available():
        return torch.device("cpu")
    count = torch.cuda.device_count()
    if local_rank() >= count:
        raise RuntimeError(
            f"LOCAL_RANK is {local_rank()} but this machine has {count} CUDA device(s): start at most "
            f"one process per GPU (torchrun --nproc-per-node {count}), or train on the CPU "
            "(device='cpu', or CUDA_VISIBLE_DEVICES= in the environment)"
        )
    return torch.device("cuda", local_rank())


def setup(backend: str | None = None) -> bool:
    """Join the process group described by the launcher's environment; True if now distributed.

    Already initialised (by the caller or an earlier ``fit``): nothing to do. The backend is
    NCCL when CUDA is available, else gloo (:func:`aekit.fit` asks for the one that suits its
    training device: NCCL for CUDA, gloo for the CPU); the group is destroyed when the process exits.
    """
    if not dist.is_available():
        raise RuntimeError("distributed training needs torch.distributed, which this PyTorch build lacks")
    if dist.is_initialized():
        return is_distributed()
    missing = [k for k in (*ENV, "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(
            f"distributed=True but {', '.join(missing)} not set: start the program with "
            "`torchrun --nproc-per-node N ...` (or call torch.distributed.init_process_group first)"
        )
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(device())
    dist.init_process_group(backend=backend)
    atexit.register(_teardown)
    return is_distributed()


def _teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    if is_distributed():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Σ over ranks of ``t`` (in place, returned); the input itself in one process."""
    if is_distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_int(value: int) -> int:
    """Rank 0's ``value`` on every rank (e.g. a shuffling seed drawn at random)."""
    if not is_distributed():
        return value
    t = torch.tensor([value], dtype=torch.int64, device=_comm_device())
    dist.broadcast(t, src=0)
    return int(t.item())


def all_gather(t: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's ``t`` (same shape and dtype on all ranks), on the CPU, in rank order."""
    if not is_distributed():
        return [t]
    t = t.to(_comm_device())
    out = [torch.empty_like(t) for _ in range(world_size())]
    dist.all_gather(out, t)
    return [o.cpu() for o in out]


def _comm_device() -> torch.device:
    # NCCL moves only CUDA tensors; gloo only CPU ones
    return device() if dist.get_backend() == "nccl" else torch.device("cpu")
