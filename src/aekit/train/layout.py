"""Memory layout: on the CPU a 2-D convolutional network trains with channels-last (NHWC) weights.

oneDNN's native layout makes its convolutions faster there; the model is handed back
contiguous, as it came, whatever happens during training.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import torch
from torch import nn

from ..nn.layout import to_memory_format

__all__ = ["channels_last", "to_channels_last"]

log = logging.getLogger("aekit")


@contextlib.contextmanager
def channels_last(model: nn.Module, device: torch.device, probe: Callable[[], object]) -> Iterator[bool]:
    """Train ``model`` channels-last inside the block when :func:`to_channels_last` converts it (yields
    whether it did), and hand it back contiguous when the block ends, by an error too."""
    converted = to_channels_last(model, device, probe)
    try:
        yield converted
    finally:
        if converted:
            to_memory_format(model, torch.contiguous_format)


def to_channels_last(model: nn.Module, device: torch.device, probe: Callable[[], object]) -> bool:
    """On the CPU, train 2-D convolutional networks with channels-last (NHWC) weights, whose convolutions
    run faster there (oneDNN's native layout); the maps follow the
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
    to_memory_format(model, torch.channels_last)
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
        to_memory_format(model, torch.contiguous_format)
        return False
    finally:
        model.train(training)
    return True
