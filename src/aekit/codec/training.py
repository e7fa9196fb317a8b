"""Training for compression: L = D + λ·R with uniform-noise quantisation (Ballé et al., ICLR 2017).

The autoencoder's code is perturbed, ỹ = y + u with u ~ U(−½, ½), as the
differentiable proxy for rounding; a factorized entropy model gives the rate
R = −Σ_d log2 P_d(ỹ_d); the loss is D + λ·R (see :mod:`aekit.codec.model`).
Several λ give several rate-distortion points. The fit loop is aekit's own
(:func:`aekit.fit`): batching, early stopping, checkpoints and resume.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..train import fit
from .model import Codec, check_lmbda, check_quantizer

__all__ = ["train_codec"]


def train_codec(
    model: nn.Module | dict | Codec,
    X: Any,
    *,
    lmbda: float = 0.01,
    X_val: Any = None,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    components: int = 3,
    quantizer: str | None = None,
    precision: int = 16,
    image_shape: tuple[int, ...] | None = None,
    **fit_options: Any,
) -> Codec:
    """Train ``model`` for rate-distortion and return the :class:`Codec` with its tables.

    Parameters
    ----------
    model : aekit autoencoder or Codec
        The autoencoder (e.g. ``Autoencoder(784, [256, 32], code_activation="linear", loss="mse")``);
        a :class:`Codec` continues training (its λ is set to ``lmbda``).
    X : array-like (n_samples, *input_shape)
        Training inputs.
    lmbda : float
        λ of L = D + λ·R (squared error per item traded per bit).
    X_val : array-like, optional
        Validation inputs: the validation loss uses real rounding.
    epochs, batch_size, lr : as :func:`aekit.fit`; other keyword arguments go to it too.
    quantizer : {"noise", "ste"}, optional
        As :class:`Codec` (default "noise"); for a Codec, replaces its own when given.
    components, precision, image_shape : as :class:`Codec` (ignored for a Codec).

    Returns
    -------
    Codec
        Trained, with ``update()`` done (ready to compress), ``history`` from :func:`aekit.fit`.
    """
    if isinstance(model, Codec):
        codec = model
        check_lmbda(lmbda)
        quantizer = codec.quantizer if quantizer is None else quantizer
        check_quantizer(quantizer)
        codec.lmbda = float(lmbda)
        codec.quantizer = quantizer
        codec.config["quantizer"] = quantizer
        codec.clear_tables()  # the weights change: old tables would not fit them
    else:
        codec = Codec(
            model,
            lmbda=lmbda,
            components=components,
            quantizer=quantizer or "noise",
            precision=precision,
            image_shape=image_shape,
        )
    history = fit(codec, X, X_val=X_val, epochs=epochs, batch_size=batch_size, lr=lr, **fit_options)
    codec.history = history
    codec.update()
    return codec.eval()
