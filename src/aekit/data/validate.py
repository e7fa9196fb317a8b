"""Validate input arrays and labels before they reach a model."""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from aekit.errors import DataError

__all__ = ["check_array", "check_labels"]

_LAYOUTS = {
    1: "(n_samples,)",
    2: "(n_samples, n_features)",
    3: "(n_samples, height, width)",
    4: "(n_samples, channels, height, width)",
}


def _to_numpy(X: object, name: str) -> np.ndarray:
    """Convert array-likes and torch tensors (duck-typed, no torch import) to numpy."""
    if all(hasattr(X, attr) for attr in ("detach", "cpu", "numpy")):
        X = cast(Any, X).detach().cpu().numpy()  # a torch tensor, duck-typed
    try:
        return np.asarray(X)
    except (ValueError, TypeError) as exc:  # ragged nested lists, odd objects
        raise DataError(f"{name} cannot be converted to an array: {exc}") from exc


def check_array(
    X: object,
    *,
    ndim: int | tuple[int, ...] | None = None,
    unit_interval: bool = False,
    name: str = "X",
    min_samples: int = 1,
) -> np.ndarray:
    """Check ``X`` and return it as a C-contiguous float32 array.

    Parameters
    ----------
    X : array_like or torch.Tensor
        Data with samples along the first axis.
    ndim : int or tuple of int, optional
        Allowed number of dimensions; any (but at least 1) when None.
    unit_interval : bool
        Require every value in [0, 1], as the sigmoid output and binary
        cross-entropy loss do.
    name : str
        Name used in error messages.
    min_samples : int
        Minimum length of the first axis.

    Returns
    -------
    numpy.ndarray
        float32, C-contiguous; may share memory with ``X`` when no copy is needed.

    Raises
    ------
    DataError
        Non-numeric dtype, wrong ndim, too few samples, empty, NaN or infinite
        values, or (with ``unit_interval``) values outside [0, 1].
    """
    X = _to_numpy(X, name)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric (bool, int or float), got dtype {X.dtype}")

    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim or ())
    if allowed and X.ndim not in allowed:
        layouts = " or ".join(f"{d}-D {_LAYOUTS.get(d, '')}".rstrip() for d in allowed)
        raise DataError(f"{name} must be {layouts}, got shape {X.shape}")
    if X.ndim == 0:
        raise DataError(f"{name} must be an array with a samples axis, got a scalar")
    if X.shape[0] < min_samples:
        raise DataError(f"{name} must have at least {min_samples} sample(s), got shape {X.shape}")
    if X.size == 0:
        raise DataError(f"{name} is empty: shape {X.shape}")

    with np.errstate(over="ignore"):  # overflow to inf is reported just below
        X = np.ascontiguousarray(X, dtype=np.float32)
    finite = np.isfinite(X)
    if not finite.all():
        bad = np.argwhere(~finite)
        raise DataError(
            f"{name} contains {len(bad)} non-finite value(s) (NaN or inf, or too large "
            f"for float32); first at index {tuple(int(i) for i in bad[0])}"
        )
    if unit_interval:
        lo, hi = float(X.min()), float(X.max())
        if lo < 0 or hi > 1:
            raise DataError(
                f"{name} values must lie in [0, 1] (required by the sigmoid output and "
                f"binary cross-entropy loss), found min={lo:g}, max={hi:g}; scale the data "
                "first, e.g. divide 8-bit images by 255 or use "
                "sklearn.preprocessing.MinMaxScaler"
            )
    return X


def check_labels(y: object, n: int, *, name: str = "y") -> np.ndarray:
    """Check that ``y`` holds ``n`` integer labels and return them as int64.

    Float labels are accepted when every value is a whole number.
    """
    y = _to_numpy(y, name)
    if y.dtype.kind not in "biuf":
        raise DataError(f"{name} must hold integer labels, got dtype {y.dtype}")
    if y.ndim != 1:
        raise DataError(f"{name} must be 1-D (n_samples,), got shape {y.shape}")
    if len(y) != n:
        raise DataError(f"{name} has {len(y)} labels, expected {n} (one per sample)")
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if len(bad):
            raise DataError(
                f"{name} must hold whole-number labels, "
                f"found {float(y[bad[0]])} at index {bad[0]} "
                f"({len(bad)} such value(s))"
            )
    return y.astype(np.int64)
