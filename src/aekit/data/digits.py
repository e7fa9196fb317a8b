"""scikit-learn's 8x8 handwritten digits, bundled with scikit-learn (no download)."""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits"]


def load_digits(*, flatten: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load the 1797 8x8 digits of :func:`sklearn.datasets.load_digits`.

    Parameters
    ----------
    flatten : bool
        Return X as (1797, 64) instead of (1797, 1, 8, 8).

    Returns
    -------
    X : numpy.ndarray
        float32 pixels in [0, 1] (the 0..16 intensities divided by 16).
    y : numpy.ndarray
        int64 labels 0..9.
    """
    from sklearn.datasets import load_digits as _sk_load_digits  # lazy: sklearn is slow to import

    bunch = _sk_load_digits()
    X = bunch.data.astype(np.float32) / np.float32(16)
    if not flatten:
        X = X.reshape(-1, 1, 8, 8)
    return np.ascontiguousarray(X), bunch.target.astype(np.int64)
