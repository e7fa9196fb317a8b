"""Hold out part of a data set: a seeded permutation, the same split for the same seed."""

from __future__ import annotations

import numpy as np

__all__ = ["holdout_split"]


def holdout_split(
    X: np.ndarray, y: np.ndarray | None, fraction: float, seed: int, *, name: str = "fraction"
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Hold out the last ``fraction`` of a seeded permutation of the samples.

    Parameters
    ----------
    X : numpy.ndarray
        Samples as rows.
    y : numpy.ndarray or None
        One label per sample, or None.
    fraction : float
        Share held out, in [0, 1); ``round(len(X) * fraction)`` samples. None held out: X and y as given.
    seed : int
        Seed of ``numpy.random.default_rng`` that draws the permutation.
    name : str
        What to call ``fraction`` in the error message (e.g. ``"--val-fraction"``).

    Returns
    -------
    (X_kept, y_kept, X_held, y_held)
        ``X_held`` and ``y_held`` are None when nothing is held out; a ``y_*`` is None when ``y`` is.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"{name} must be in [0, 1), got {fraction}")
    n_held = int(round(len(X) * fraction))
    if n_held == 0:
        return X, y, None, None
    order = np.random.default_rng(seed).permutation(len(X))
    kept, held = order[:-n_held], order[-n_held:]
    return X[kept], None if y is None else y[kept], X[held], None if y is None else y[held]
