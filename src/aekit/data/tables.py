"""Numeric tables (rows = samples, columns = features) from .mat, .csv, .npy and .npz files.

MATLAB files are read with :func:`scipy.io.loadmat` (keys ``X`` and optional ``y``, as in the
ODDS outlier-detection library, Rayana 2016); the others through :func:`aekit.data.load_array`
(``allow_pickle=False``). Sizes are checked before anything large is allocated.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aekit.data.arrays import _parses_as_number, load_array
from aekit.errors import DataError

__all__ = ["MAX_BYTES", "MAX_CELLS", "check_table", "load_table"]

MAX_BYTES = 2 * 1024**3  # largest file read
MAX_CELLS = 200_000_000  # largest table (rows × columns) allocated
_X_KEYS = ("X", "x", "data")


def load_table(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a 2-D numeric table and its labels.

    Parameters
    ----------
    path : str or os.PathLike
        ``.mat`` (MATLAB v4/v5/v7: data under ``X``, ``x`` or ``data``, labels under ``y``),
        ``.csv`` (numbers, one optional header line naming the columns), ``.npy`` or ``.npz``.

    Returns
    -------
    X : numpy.ndarray of shape (n_rows, n_columns)
    y : numpy.ndarray of shape (n_rows,) or None
        Labels when the file has them (ODDS: 1 = outlier).

    Raises
    ------
    DataError
        Missing or oversized file, unknown extension, non-numeric column, wrong shape.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {str(path)!r}")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise DataError(f"{str(path)!r} is {size} bytes; tables up to {MAX_BYTES} bytes are read")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        X, y = _load_mat(path)
    elif suffix == ".csv":
        X, y = _load_csv(path), None
    elif suffix in (".npy", ".npz"):
        X, y = load_array(path)
    else:
        raise DataError(
            f"unsupported table file {path.suffix or '(no extension)'!r} for {str(path)!r}; "
            "expected .mat, .csv, .npy or .npz"
        )
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise DataError(f"{str(path)!r} holds an array of shape {X.shape}; expected a 2-D table")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{str(path)!r} holds {X.dtype} values; expected numbers")
    if y is not None:
        y = np.asarray(y).ravel()
        if len(y) != len(X):
            raise DataError(f"{str(path)!r}: {len(y)} labels for {len(X)} rows")
    return X, y


def check_table(X: np.ndarray, *, min_rows: int = 2, what: str = "the table") -> np.ndarray:
    """``X`` as float64 if it is a finite 2-D table of at least ``min_rows`` rows without constant columns."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] == 0:
        raise DataError(f"{what} must be 2-D with at least one column, got shape {X.shape}")
    if len(X) < min_rows:
        raise DataError(f"{what} has {len(X)} rows; at least {min_rows} are needed")
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        r, c = bad[0]
        raise DataError(
            f"{what} has {len(bad)} NaN or infinite values (first at row {r + 1}, column {c + 1})"
        )
    constant = np.flatnonzero(np.ptp(X, axis=0) == 0)
    if len(constant):
        cols = ", ".join(str(c + 1) for c in constant[:5]) + (", ..." if len(constant) > 5 else "")
        raise DataError(
            f"{what} has {len(constant)} constant column(s) ({cols}), which carry no information: drop them"
        )
    return X


def _load_mat(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    from scipy.io import loadmat, whosmat

    try:
        shapes = {name: (shape, cls) for name, shape, cls in whosmat(path)}
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise DataError(f"cannot read {str(path)!r} as a MATLAB file: {exc}") from None
    key = next((k for k in _X_KEYS if k in shapes), None)
    if key is None:
        raise DataError(f"no data array ({' / '.join(_X_KEYS)}) in {str(path)!r}; it holds {sorted(shapes)}")
    for name in [key] + (["y"] if "y" in shapes else []):
        shape, cls = shapes[name]
        if int(np.prod(shape, dtype=np.int64)) > MAX_CELLS:
            raise DataError(
                f"array {name!r} of {str(path)!r} has shape {shape}; up to {MAX_CELLS} cells are read"
            )
        if cls in ("cell", "struct", "object", "char", "function"):
            raise DataError(f"array {name!r} of {str(path)!r} is a MATLAB {cls}; expected a numeric matrix")
    try:
        mat = loadmat(path, variable_names=[key] + (["y"] if "y" in shapes else []))
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise DataError(f"cannot read {str(path)!r} as a MATLAB file: {exc}") from None
    return mat[key], mat.get("y")


def _load_csv(path: Path) -> np.ndarray:
    """Comma-separated numbers; a non-numeric field names its column (from the header when there is one)."""
    import csv

    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    rows = [r for r in rows if any(field.strip() for field in r)]
    if not rows:
        raise DataError(f"{str(path)!r} holds no data rows")
    header = None
    if not all(_parses_as_number(field) for field in rows[0]):
        header, rows = [h.strip() for h in rows[0]], rows[1:]
    if not rows:
        raise DataError(f"{str(path)!r} holds no data rows (only a header line)")
    width = len(header) if header else len(rows[0])
    if width * len(rows) > MAX_CELLS:
        raise DataError(
            f"{str(path)!r} has {len(rows)} rows × {width} columns; up to {MAX_CELLS} cells are read"
        )
    X = np.empty((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(
                f"{str(path)!r} line {i + 1 + bool(header)} has {len(row)} fields; expected {width}"
            )
        for j, field in enumerate(row):
            try:
                X[i, j] = float(field) if field.strip() else np.nan
            except ValueError:
                column = repr(header[j]) if header else str(j + 1)
                raise DataError(
                    f"column {column} of {str(path)!r} is not numeric (row {i + 1}: {field.strip()!r}); "
                    "encode or drop it"
                ) from None
    return X
