"""Reconstruction metrics on NumPy arrays (or anything ``np.asarray`` takes).

Inputs are (n_samples, ...) arrays; every per-sample quantity sums or averages
over all the remaining axes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mse", "squared_error_per_sample", "bce", "psnr"]


def _pair(x, z):
    x = np.asarray(x, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    if x.shape != z.shape:
        raise ValueError(f"shapes differ: x {x.shape} vs z {z.shape}")
    if x.ndim == 1:
        x, z = x[None], z[None]
    if x.size == 0:
        raise ValueError(
            f"nothing to compare: x and z have shape {x.shape}, expected at least one value per sample"
        )
    return x.reshape(len(x), -1), z.reshape(len(z), -1)


def mse(x, z) -> float:
    """Mean squared error over every element."""
    x, z = _pair(x, z)
    return float(np.mean((x - z) ** 2))


def squared_error_per_sample(x, z) -> np.ndarray:
    """‖z − x‖² for each sample (summed over features): the figure Hinton & Salakhutdinov 2006 report."""
    x, z = _pair(x, z)
    return np.sum((x - z) ** 2, axis=1)


def bce(x, z, eps: float = 1e-7) -> float:
    """Mean over samples of the cross-entropy −Σ [x log z + (1 − x) log(1 − z)], z clipped to [eps, 1 − eps]."""
    x, z = _pair(x, z)
    z = np.clip(z, eps, 1 - eps)
    return float(np.mean(-np.sum(x * np.log(z) + (1 - x) * np.log1p(-z), axis=1)))


def psnr(x, z, data_range: float = 1.0, *, reduction: str = "mean"):
    """Peak signal-to-noise ratio 10·log10(range² / MSE) per image, averaged (``reduction="mean"``)
    or returned per image (``"none"``). A perfect reconstruction gives ``inf``."""
    x, z = _pair(x, z)
    err = np.mean((x - z) ** 2, axis=1)
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(data_range**2 / err)
    if reduction == "none":
        return values
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    return float(np.mean(values))
