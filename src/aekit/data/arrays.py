"""Load arrays from .npy, .npz, .csv and IDX files (never unpickling)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from aekit.data.idx import load_idx
from aekit.errors import DataError

__all__ = ["load_array"]

_X_KEYS = ("X", "x", "data")
_IDX_NAME = re.compile(r"idx[1-4]-ubyte$")


def _is_idx(path: Path) -> bool:
    return path.suffix in (".idx", ".gz") or bool(_IDX_NAME.search(path.name))


def load_array(
    path: str | os.PathLike, *, key: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load data from a file, returning ``(X, y)`` with ``y`` None when absent.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy``; ``.npz`` (X from ``key``, else from ``X``, ``x`` or ``data``,
        else the only array besides ``y``; y from ``y`` when present);
        ``.csv`` (comma-separated numbers, one optional non-numeric header line);
        or an IDX file (``.idx``, ``.gz`` or a name ending in ``idxN-ubyte``).
    key : str, optional
        Name of the X array inside a ``.npz`` file.

    Returns
    -------
    X : numpy.ndarray
        The data, with the dtype stored in the file (float64 for CSV).
    y : numpy.ndarray or None
        Labels (``y`` array of a ``.npz``), else None.

    Raises
    ------
    DataError
        Missing file, unsupported extension, pickled objects, bad contents.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _np_load(path), None
    if suffix == ".npz":
        return _load_npz(path, key)
    if suffix == ".csv":
        return _load_csv(path), None
    if _is_idx(path):
        return load_idx(path), None
    raise DataError(
        f"unsupported file type {path.suffix or '(no extension)'!r} for {str(path)!r}; "
        "expected .npy, .npz, .csv or an IDX file (.idx, .gz, *-idxN-ubyte)"
    )


def _np_load(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle, which we refuse
        raise DataError(
            f"cannot load {str(path)!r} without unpickling (allow_pickle=False): {exc}; "
            "save plain numeric arrays instead"
        ) from exc
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc}") from exc


def _load_npz(path: Path, key: str | None):
    with _np_load(path) as archive:
        names = archive.files
        if key is None:
            key = next((k for k in _X_KEYS if k in names), None)
        if key is None:
            others = [k for k in names if k != "y"]
            if len(others) != 1:
                raise DataError(
                    f"cannot tell which array of {str(path)!r} is the data: it holds {names}; "
                    f"name it one of {list(_X_KEYS)} or pass key="
                )
            key = others[0]
        if key not in names:
            raise DataError(f"no array {key!r} in {str(path)!r}; it holds {names}")
        try:
            return archive[key], (archive["y"] if "y" in names and key != "y" else None)
        except ValueError as exc:
            raise DataError(f"cannot load {str(path)!r} without unpickling: {exc}") from exc


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _load_csv(path: Path) -> np.ndarray:
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        header = not all(_is_number(field) for field in first.split(","))
        return np.loadtxt(path, delimiter=",", skiprows=int(header), ndmin=2, encoding="utf-8")
    except ValueError as exc:
        raise DataError(f"cannot parse {str(path)!r} as numeric CSV: {exc}") from exc
