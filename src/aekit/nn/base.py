"""What every aekit model shares: its constructor arguments (what a checkpoint records) and input checks.

No file code here: :func:`aekit.save` / :func:`aekit.load` (:mod:`aekit.io`) write and rebuild a model
from :meth:`AEModule.checkpoint_args` and its ``state_dict``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.validate import check_array
from ..errors import DataError


class AEModule(nn.Module):
    """Base of aekit models.

    Subclasses set ``input_shape`` (the per-sample shape; ``None`` for a free
    dimension) and ``unit_interval`` (inputs must lie in [0, 1], as a sigmoid
    output or the cross-entropy loss need).
    """

    input_shape: tuple = ()
    unit_interval: bool = False
    config: dict
    history: dict | None = None  # the training history fit() leaves on the model (saved with it)

    def _set_config(self, **arguments: Any) -> None:
        self.config = arguments
        json.dumps(arguments)  # fail early, not at save time, if an argument is not JSON-able

    def checkpoint_args(self) -> dict:
        """Constructor arguments that rebuild this module (override when state changes shape)."""
        return self.config

    def validate_input(self, X: object, name: str = "X") -> np.ndarray:
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
