"""A function of a model mapped over an array in batches, in evaluation and inference mode."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["map_batches"]


def map_batches(
    model: nn.Module,
    X: np.ndarray,
    fn: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
    name: str = "X",
) -> np.ndarray:
    """``fn`` applied to ``X`` in blocks of ``batch_size`` rows on ``model``'s device, as one float array.

    ``model`` is put in evaluation mode for the pass (no corruption, no dropout, batch-norm
    statistics frozen) and back in its mode afterwards; ``X`` must already be checked (float32).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        with torch.inference_mode():
            for i in range(0, len(X), batch_size):
                xb = torch.from_numpy(X[i : i + batch_size]).to(device)
                out.append(fn(xb).float().cpu().numpy())
    finally:
        model.train(was_training)
    if not out:
        raise ValueError(f"{name} is empty")
    return np.concatenate(out)
