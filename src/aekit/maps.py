"""2-D maps of a data set: a deep autoencoder with a 2-unit linear code, compared with PCA.

Hinton & Salakhutdinov, "Reducing the dimensionality of data with neural
networks", Science 313 (2006), Fig. 3: a 784-1000-500-250-2 autoencoder

    y = W₄ φ(W₃ φ(W₂ φ(W₁ x + b₁) + b₂) + b₃) + b₄     (linear code units)

separates the MNIST classes in two dimensions far better than the first two
principal components. The paper pre-trains with RBMs and logistic units; here the
whole network is trained end to end by :func:`aekit.fit` on the reconstruction
cross-entropy, with GELU hidden units φ(a) = a·Φ(a) by default (on MNIST their maps
beat ReLU's seed for seed: benchmarks/README.md, "2-D maps").

The notes' last slide, "Visualize MNIST using CAE (represent each digit with 2 values)":
:func:`map_cae` is a convolutional autoencoder with a dense 2-value code
(:class:`~aekit.nn.ConvAutoencoder` with ``code_dim=2``): conv levels, flatten, dense layers
down to 2 linear units, and the mirrored decoder.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import inference
from .evaluation import map_metrics, pca_codes
from .nn import Autoencoder, ConvAutoencoder

__all__ = ["HINTON_2D", "CAE_2D_CHANNELS", "CAE_2D_DENSE", "map_autoencoder", "map_cae", "compare_maps"]

HINTON_2D = (1000, 500, 250, 2)
CAE_2D_CHANNELS = (8, 16)  # conv levels of map_cae (benchmarks/mnist_2d.py --model cae: cheap to train)
CAE_2D_DENSE = (1000, 500, 250)  # its dense layers before the 2-value code: the dense map's widths (one
# 256 layer mapped MNIST worse at matched epochs: k-NN 0.720 against 0.789 after 12; benchmarks/README.md)


def map_autoencoder(
    input_dim: int = 784, hidden: Sequence[int] = HINTON_2D, *, activation: str = "gelu", **kwargs
) -> Autoencoder:
    """A dense autoencoder ``input_dim-1000-500-250-2`` with a linear code and a sigmoid output (BCE)."""
    hidden = list(hidden)
    if hidden and hidden[-1] != 2:
        raise ValueError(f"a 2-D map needs a code of 2 units: the last of hidden must be 2, got {hidden}")
    return Autoencoder(input_dim, hidden, activation=activation, code_activation="linear", **kwargs)


def map_cae(
    image_shape: Sequence[int] = (1, 28, 28),
    channels: Sequence[int] = CAE_2D_CHANNELS,
    *,
    dense: Sequence[int] = CAE_2D_DENSE,
    dense_activation: str = "gelu",
    **kwargs,
) -> ConvAutoencoder:
    """A CAE on (C, H, W) images with a dense 2-value linear code (sigmoid output, cross-entropy).

    ``kwargs`` go to :class:`~aekit.nn.ConvAutoencoder` (``corruption``, ``block``, ...).
    """
    shape = tuple(image_shape)
    if len(shape) != 3:
        raise ValueError(f"image_shape must be (channels, height, width), got {image_shape!r}")
    return ConvAutoencoder(
        shape[0],
        list(channels),
        code_dim=2,
        image_size=shape[1:],
        dense=list(dense),
        dense_activation=dense_activation,
        **kwargs,
    )


def compare_maps(
    model, X_train, y_train, X_test, y_test, *, k: int = 5, trust_samples: int | None = 3000, pca: bool = True
) -> dict:
    """Codes and metrics of ``model`` (and of PCA's first two components) on train/test data.

    Returns ``{"aekit": {"train": Z, "test": Z, "metrics": {...}}, "pca": {...}}``; metrics are
    k-NN accuracy (fit on train codes, scored on test codes) and trustworthiness on the test set.
    """
    out = {}
    Z_tr, Z_te = inference.encode(model, X_train), inference.encode(model, X_test)
    if Z_te.ndim > 2:  # a conv model's code is feature maps
        raise ValueError(
            f"the model's code is feature maps of shape {Z_te.shape[1:]}; a 2-D map needs a code of 2 "
            "values: a ConvAutoencoder with code_dim=2 (aekit train --model cae --code-dim 2)"
        )
    if Z_te.shape[1] != 2:
        raise ValueError(f"the model's code has {Z_te.shape[1]} units; a 2-D map needs 2")
    out["aekit"] = {
        "train": Z_tr,
        "test": Z_te,
        "metrics": map_metrics(Z_tr, y_train, Z_te, y_test, X_test, k=k, trust_samples=trust_samples),
    }
    if pca:
        P_tr, P_te = pca_codes(X_train, X_test)
        out["pca"] = {
            "train": P_tr,
            "test": P_te,
            "metrics": map_metrics(P_tr, y_train, P_te, y_test, X_test, k=k, trust_samples=trust_samples),
        }
    return out
