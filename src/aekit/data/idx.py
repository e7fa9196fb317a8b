"""Read and write IDX files, the format of MNIST and its relatives.

An IDX file is a 4-byte magic number ``0x00 0x00 <type code> <ndim>``,
``ndim`` big-endian uint32 dimension sizes, then the data in C order,
big-endian. Files may be gzip-compressed; compression is detected from the
gzip magic bytes, not from the file name.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from aekit.data.limits import MAX_DATA_BYTES, check_decoded_size
from aekit.errors import DataError

__all__ = ["load_idx", "save_idx"]

#: IDX type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_NDIM = 4
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _read_exactly(f: io.BufferedIOBase, n: int) -> bytes:
    """Read up to ``n`` bytes in chunks, so memory follows the real data size."""
    parts: list[bytes] = []
    remaining = n
    while remaining > 0:
        chunk = f.read(min(_CHUNK, remaining))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _count_rest(f: io.BufferedIOBase) -> int:
    total = 0
    while chunk := f.read(_CHUNK):
        total += len(chunk)
    return total


def load_idx(path: str | os.PathLike, *, max_bytes: int = MAX_DATA_BYTES) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a native-endian array.

    Parameters
    ----------
    path : str or os.PathLike
        File to read.
    max_bytes : int
        Refuse a gzip'ed file whose header declares more bytes than this (before decompressing).

    Returns
    -------
    numpy.ndarray
        Array with the file's shape and dtype (uint8, int8, int16, int32,
        float32 or float64).

    Raises
    ------
    DataError
        If the file is missing, is not IDX, declares more than 4 dimensions,
        or its payload is shorter or longer than the header declares.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"IDX file not found: {str(path)!r}")
    gz = _is_gzip(path)
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as f:
            return _read_idx(f, path, None if gz else path.stat().st_size, max_bytes)
    except (OSError, EOFError, zlib.error) as exc:  # corrupt gzip stream
        raise DataError(f"cannot read IDX file {str(path)!r}: {exc}") from exc


def _read_idx(f: io.BufferedIOBase, path: Path, file_size: int | None, max_bytes: int) -> np.ndarray:
    magic = f.read(4)
    if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in IDX_DTYPES:
        codes = ", ".join(f"0x{c:02X}" for c in sorted(IDX_DTYPES))
        raise DataError(
            f"{str(path)!r} is not an IDX file: magic bytes {magic.hex(' ') or '(empty)'}, "
            f"expected 00 00 <type code in {codes}> <ndim>"
        )
    dtype, ndim = IDX_DTYPES[magic[2]], magic[3]
    if not 1 <= ndim <= MAX_NDIM:
        raise DataError(f"{str(path)!r} declares {ndim} dimensions, expected 1 to {MAX_NDIM}")
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(
            f"{str(path)!r} is truncated in its header: expected {4 * ndim} bytes "
            f"of dimension sizes, got {len(raw_dims)}"
        )
    dims = struct.unpack(f">{ndim}I", raw_dims)
    expected = dtype.itemsize * math.prod(dims)  # Python int: exact, no overflow

    header = 4 + 4 * ndim
    if file_size is not None and file_size - header != expected:
        _raise_size(path, dims, dtype, expected, file_size - header)
    # gzip'ed: a few bytes may hold gigabytes; read no more than the limit allows
    payload = _read_exactly(f, expected if file_size is not None else min(expected, max_bytes + 1))
    if len(payload) > max_bytes and file_size is None:
        check_decoded_size(expected, max_bytes, repr(str(path)))
    if len(payload) < expected:
        _raise_size(path, dims, dtype, expected, len(payload))
    extra = _count_rest(f)
    if extra:
        _raise_size(path, dims, dtype, expected, expected + extra)

    array = np.frombuffer(payload, dtype=dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def _raise_size(
    path: Path, dims: tuple[int, ...], dtype: np.dtype[Any], expected: int, actual: int
) -> NoReturn:
    problem = "truncated" if actual < expected else "has trailing data"
    raise DataError(
        f"{str(path)!r} {problem}: header declares shape {tuple(dims)} of "
        f"{dtype.name} = {expected} payload bytes, file holds {actual}"
    )


def save_idx(path: str | os.PathLike, array: npt.ArrayLike) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed if ``path`` ends in ``.gz``.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; parent directories must exist.
    array : array_like
        1- to 4-D array of uint8, int8, int16, int32, float32 or float64.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        names = ", ".join(dt.name for dt in codes)
        raise DataError(f"cannot save dtype {array.dtype} as IDX, expected one of: {names}")
    if not 1 <= array.ndim <= MAX_NDIM:
        raise DataError(f"cannot save a {array.ndim}-D array as IDX, expected 1 to {MAX_NDIM} dimensions")
    data = (
        bytes([0, 0, code, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.astype(IDX_DTYPES[code]).tobytes()
    )
    if path.suffix == ".gz":
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path
