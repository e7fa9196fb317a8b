"""What every aekit model shares: saved constructor arguments and input checks."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data.validate import check_array
from ..errors import DataError
from ..io import Savable


class AEModule(Savable, nn.Module):
    """Base of aekit models.

    Subclasses set ``input_shape`` (the per-sample shape; ``None`` for a free
    dimension) and ``unit_interval`` (inputs must lie in [0, 1], as a sigmoid
    output or the cross-entropy loss need).
    """

    input_shape: tuple = ()
    unit_interval: bool = False

    def validate_input(self, X, name: str = "X") -> np.ndarray:
        """Check an array of samples for this model and return it as float32."""
        X = check_array(X, ndim=1 + len(self.input_shape), unit_interval=self.unit_interval, name=name)
        for axis, (want, got) in enumerate(zip(self.input_shape, X.shape[1:]), start=1):
            if want is not None and want != got:
                raise DataError(
                    f"{name} has shape {X.shape}, but {type(self).__name__} expects samples of shape "
                    f"{tuple('any' if s is None else s for s in self.input_shape)} "
                    f"(axis {axis}: expected {want}, got {got})"
                )
        return X

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
