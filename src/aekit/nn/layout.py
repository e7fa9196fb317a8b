"""Memory layout of a module's weights: channels-last (NHWC) or contiguous (NCHW)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["to_memory_format"]


def to_memory_format(module: nn.Module, memory_format: torch.memory_format) -> None:
    """Convert the 4-D parameters and buffers of ``module`` to ``memory_format``, in place.

    ``Module.to`` takes ``memory_format=`` (as ``Tensor.to`` does), but torch's type stubs
    leave it out of ``Module.to``'s overloads: this is the one call that says so.
    """
    module.to(memory_format=memory_format)  # type: ignore[call-overload]  # accepted at runtime, missing from the stubs
