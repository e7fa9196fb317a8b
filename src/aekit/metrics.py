"""Reconstruction and classification metrics on NumPy arrays (or anything ``np.asarray`` takes).

Inputs are (n_samples, ...) arrays; every per-sample quantity sums or averages
over all the remaining axes. The reports gather the figures the command line
writes to ``metrics.json``: squared error per sample as Hinton & Salakhutdinov
(Science 2006) report it, PSNR, and the error rate and confusion matrix of a
classifier (Vincent et al., JMLR 2010).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .errors import DataError

__all__ = [
    "mse",
    "squared_error_per_sample",
    "bce",
    "psnr",
    "confusion_matrix",
    "reconstruction_report",
    "classification_report",
]


def _pair(x: ArrayLike, z: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
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


def mse(x: ArrayLike, z: ArrayLike) -> float:
    """Mean squared error over every element."""
    x, z = _pair(x, z)
    return float(np.mean((x - z) ** 2))


def squared_error_per_sample(x: ArrayLike, z: ArrayLike) -> np.ndarray:
    """‖z − x‖² for each sample (summed over features): the figure Hinton & Salakhutdinov 2006 report."""
    x, z = _pair(x, z)
    return np.sum((x - z) ** 2, axis=1)


def bce(x: ArrayLike, z: ArrayLike, eps: float = 1e-7) -> float:
    """Mean over samples of the cross-entropy −Σ [x log z + (1 − x) log(1 − z)], z clipped to [eps, 1 − eps]."""
    xs, zs = _pair(x, z)
    zs = np.clip(zs, eps, 1 - eps)
    return float(np.mean(-np.sum(xs * np.log(zs) + (1 - xs) * np.log1p(-zs), axis=1)))


def psnr(
    x: ArrayLike, z: ArrayLike, data_range: float = 1.0, *, reduction: str = "mean"
) -> float | np.ndarray:
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


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, n_classes: int, *, name: str = "y_true"
) -> np.ndarray:
    """C[i, j] = number of samples of class i predicted as j, for classes 0..n_classes-1.

    A label outside 0..n_classes-1 is a :class:`~aekit.errors.DataError` that calls the labels ``name``.
    """
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{len(y_true)} labels but {len(y_pred)} predictions: expected one per sample")
    for labels, what in ((y_true, name), (y_pred, "the predictions")):
        outside = np.flatnonzero((labels < 0) | (labels >= n_classes))
        if len(outside):
            raise DataError(
                f"{what} must be classes 0..{n_classes - 1} of this {n_classes}-class "
                f"model, found {int(labels[outside[0]])} ({len(outside)} such label(s))"
            )
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def reconstruction_report(x: ArrayLike, z: ArrayLike) -> dict:
    """``{"n", "sq_error_per_sample", "mse", "psnr_db"}`` of reconstructions ``z`` of ``x``:
    mean ‖z − x‖² per sample, mean squared error, PSNR 10·log10(1 / MSE) averaged over samples."""
    return {
        "n": int(np.shape(x)[0]),
        "sq_error_per_sample": float(np.mean(squared_error_per_sample(x, z))),
        "mse": mse(x, z),
        "psnr_db": psnr(x, z),
    }


def classification_report(
    y_true: ArrayLike, y_pred: ArrayLike, n_classes: int, *, name: str = "y_true"
) -> dict:
    """``{"n", "error_rate", "error_pct", "confusion_matrix"}``: the share of wrong predictions and
    the confusion matrix (rows: true class, columns: predicted) as nested lists."""
    confusion = confusion_matrix(y_true, y_pred, n_classes, name=name)
    error = float(np.mean(np.asarray(y_pred).ravel() != np.asarray(y_true).ravel()))
    return {
        "n": int(confusion.sum()),
        "error_rate": error,
        "error_pct": 100.0 * error,
        "confusion_matrix": confusion.tolist(),
    }
