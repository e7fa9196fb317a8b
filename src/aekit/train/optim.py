"""The optimizer and the learning-rate schedule of a run.

Cosine annealing: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm
Restarts", ICLR 2017 (here one cycle, no restart).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["make_optimizer", "cosine_lr", "set_lr", "load_moments", "lay_out_like_params"]


def make_optimizer(
    model: nn.Module, name: str, lr: float, momentum: float, weight_decay: float
) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (with ``momentum``) over ``model``'s trainable parameters; fused when possible."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    cls: type[torch.optim.Optimizer]
    kw: dict[str, Any] = dict(lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        cls, kw["momentum"] = torch.optim.SGD, momentum
    else:
        cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    # fused: one kernel updates every parameter (on a CPU 15-20% of a small autoencoder's step goes to the
    # per-tensor updates of the default implementation); not every device and dtype has it
    if all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float64) for p in params):
        try:
            return cls(params, fused=True, **kw)
        except (RuntimeError, ValueError, TypeError):
            pass
    return cls(params, **kw)


def cosine_lr(lr: float, epoch: int, epochs: int) -> float:
    """Cosine annealing from ``lr`` at epoch 0 towards ``lr / 100`` at the end (a function of the epoch alone,
    so a resumed run follows the same schedule): η_t = η_min + ½ (η − η_min) (1 + cos(π t / T))."""
    floor = lr / 100
    return floor + 0.5 * (lr - floor) * (1 + math.cos(math.pi * epoch / max(epochs, 1)))


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Use ``lr`` for every parameter group from the next step on."""
    for group in opt.param_groups:
        group["lr"] = lr


def lay_out_like_params(opt: torch.optim.Optimizer) -> None:
    """Give each per-weight optimizer state its parameter's memory layout. Checkpoints store tensors
    contiguous; the fused optimizers walk a weight and its states in memory order, so a contiguous
    ``exp_avg`` of a channels-last filter bank would be applied to the wrong elements."""
    for param, slots in opt.state.items():
        for key, value in slots.items():
            if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                slots[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def load_moments(opt: torch.optim.Optimizer, state_dict: dict) -> None:
    """Load a run's optimizer state (its moments) but keep this optimizer's hyperparameters (lr...)."""
    hyper = [{k: v for k, v in group.items() if k != "params"} for group in opt.param_groups]
    opt.load_state_dict(state_dict)
    for group, mine in zip(opt.param_groups, hyper):
        group.update(mine)
    lay_out_like_params(opt)
