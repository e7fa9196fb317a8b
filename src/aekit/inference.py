"""Batched inference over arrays: codes, reconstructions, errors, class predictions.

Everything runs under ``torch.inference_mode()`` in evaluation mode (no
corruption, batch-norm statistics frozen) and returns NumPy arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .nn.batches import map_batches

__all__ = ["encode", "reconstruct", "reconstruction_error", "predict_proba", "predict"]


def _map(
    model: nn.Module, X: object, fn: Callable[[torch.Tensor], torch.Tensor], batch_size: int, name: str = "X"
) -> np.ndarray:
    """``fn`` over the checked ``X`` in batches (:func:`aekit.nn.batches.map_batches`)."""
    validate = getattr(model, "validate_input", None)  # an aekit model checks its own input
    data = validate(X, name=name) if validate is not None else np.asarray(X, np.float32)
    return map_batches(model, data, fn, batch_size, name)


def encode(model, X, *, batch_size: int = 1024) -> np.ndarray:
    """The codes y = f(x) of every sample."""
    return _map(model, X, model.encode, batch_size)


def reconstruct(model, X, *, batch_size: int = 1024) -> np.ndarray:
    """The reconstructions z = g(f(x)) of every sample (no corruption)."""
    return _map(model, X, model, batch_size)


def reconstruction_error(model, X, *, batch_size: int = 1024) -> np.ndarray:
    """Per-sample reconstruction error in the model's own loss (½‖z − x‖² or L_H), shape (n,)."""
    return _map(model, X, model.reconstruction_error, batch_size)


def predict_proba(model, X, *, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities softmax(model(x)) of a classifier returning logits."""
    return _map(model, X, lambda xb: torch.softmax(model(xb), dim=1), batch_size)


def predict(model, X, *, batch_size: int = 1024) -> np.ndarray:
    """Predicted class indices argmax model(x)."""
    return _map(model, X, lambda xb: model(xb).argmax(1), batch_size).astype(np.int64)
