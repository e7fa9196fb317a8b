"""Load arrays from .npy, .npz, .csv and IDX files (never unpickling)."""

from __future__ import annotations

import math
import os
import re
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from aekit.data.idx import load_idx
from aekit.data.limits import MAX_DATA_BYTES, check_decoded_size
from aekit.errors import DataError

__all__ = ["load_array"]

_X_KEYS = ("X", "x", "data", "codes")  # "codes": what `aekit encode --out codes.npz` writes
_IDX_NAME = re.compile(r"idx[1-4]-ubyte$")


class _Stream(Protocol):
    """A binary stream read from the start: an open .npy file or a .npz member."""

    def read(self, size: int = ..., /) -> bytes: ...

    def tell(self) -> int: ...


def _is_idx(path: Path) -> bool:
    return path.suffix.lower() in (".idx", ".gz") or bool(_IDX_NAME.search(path.name.lower()))


def load_array(
    path: str | os.PathLike, *, key: str | None = None, max_bytes: int = MAX_DATA_BYTES
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load data from a file, returning ``(X, y)`` with ``y`` None when absent.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy``; ``.npz`` (X from ``key``, else from ``X``, ``x``, ``data`` or ``codes``,
        else the only array besides ``y``; y from ``y`` when present);
        ``.csv`` (comma-separated numbers, one optional non-numeric header line);
        or an IDX file (``.idx``, ``.gz`` or a name ending in ``idxN-ubyte``).
    key : str, optional
        Name of the X array inside a ``.npz`` file.
    max_bytes : int
        Refuse a compressed ``.npz`` member or gzip'ed IDX file that decompresses to more bytes
        (read from its header, before anything is allocated).

    Returns
    -------
    X : numpy.ndarray
        The data, with the dtype stored in the file (float64 for CSV).
    y : numpy.ndarray or None
        Labels (``y`` array of a ``.npz``), else None.

    Raises
    ------
    DataError
        Missing file, unsupported extension, pickled objects, bad contents, over ``max_bytes``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _np_load(path), None
    if suffix == ".npz":
        return _load_npz(path, key, max_bytes)
    if suffix == ".csv":
        return _load_csv(path), None
    if _is_idx(path):
        return load_idx(path, max_bytes=max_bytes), None
    raise DataError(
        f"unsupported file type {path.suffix or '(no extension)'!r} for {str(path)!r}; "
        "expected .npy, .npz, .csv or an IDX file (.idx, .gz, *-idxN-ubyte)"
    )


def _check_npy_header(fp: _Stream, available: int, what: str, max_bytes: int | None = None) -> None:
    """Read the .npy header at ``fp`` and refuse what cannot be loaded safely, before anything is allocated.

    ``available``: the bytes of the stream (file or .npz member) including the header; ``max_bytes``:
    the most the array may decompress to (None: a plain file, bounded by its own size).
    """
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read_header(fp)
    except (ValueError, SyntaxError, EOFError, OSError) as exc:
        raise DataError(f"{what} is not a readable .npy array: {exc}") from None
    if dtype.hasobject:
        raise DataError(
            f"{what} holds Python objects ({dtype}), which would need unpickling "
            "(allow_pickle=False); save plain numeric arrays instead"
        )
    declared, present = math.prod(shape) * dtype.itemsize, available - fp.tell()
    if max_bytes is not None:
        check_decoded_size(declared, max_bytes, what)
    if declared > present:
        raise DataError(
            f"{what} declares shape {shape} of {dtype} ({declared} bytes) but holds {present} bytes"
        )


def _np_load(path: Path) -> np.ndarray:
    try:
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as f:
                _check_npy_header(f, os.fstat(f.fileno()).st_size, repr(str(path)))
        return np.load(path, allow_pickle=False)
    except DataError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc}") from None


def _load_npz(path: Path, key: str | None, max_bytes: int) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n[: -len(".npy")] for n in zf.namelist() if n.endswith(".npy")]
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
            wanted = [key] + (["y"] if "y" in names and key != "y" else [])
            for name in wanted:
                info = zf.getinfo(name + ".npy")
                compressed = info.compress_type != zipfile.ZIP_STORED  # stored: bounded by the file's size
                with zf.open(info) as member:
                    what = f"array {name!r} of {str(path)!r}"
                    _check_npy_header(member, info.file_size, what, max_bytes if compressed else None)
            arrays: list[np.ndarray] = []
            for name in wanted:
                with zf.open(name + ".npy") as member:
                    arrays.append(np.lib.format.read_array(member, allow_pickle=False))
    except DataError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"cannot read {str(path)!r} as .npz: {exc}") from None
    return arrays[0], (arrays[1] if len(arrays) > 1 else None)


def _parses_as_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _load_csv(path: Path) -> np.ndarray:
    try:  # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the first number
        with open(path, encoding="utf-8-sig") as f:
            first = f.readline()
        header = bool(first.strip()) and not all(_parses_as_number(field) for field in first.split(","))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # numpy's "input contained no data": an error below
            X = np.loadtxt(path, delimiter=",", skiprows=int(header), ndmin=2, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot parse {str(path)!r} as numeric CSV: {exc}") from exc
    if X.size == 0:
        raise DataError(f"{str(path)!r} holds no data rows" + (" (only a header line)" if header else ""))
    return X
