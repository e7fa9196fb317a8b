"""Load MNIST and datasets in the same IDX layout (Fashion-MNIST, KMNIST, EMNIST)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aekit.data.download import default_data_dir, fetch_mnist
from aekit.data.idx import load_idx
from aekit.errors import DataError

__all__ = ["find_idx_files", "load_idx_dataset", "load_idx_pair", "load_mnist"]

_PREFIXES = {"train": "train", "test": "t10k"}


def _split_prefix(split: str) -> str:
    try:
        return _PREFIXES[split]
    except (KeyError, TypeError):
        raise DataError(f"split must be 'train' or 'test', got {split!r}") from None


def _file_names(split: str, kind: str) -> list[str]:
    """Accepted names for one file, e.g. ``train-images-idx3-ubyte[.gz]``."""
    prefix = _split_prefix(split)
    idx = "idx3" if kind == "images" else "idx1"
    names = [f"{prefix}-{kind}-{idx}-ubyte", f"{prefix}-{kind}.{idx}-ubyte"]
    return [n + ext for n in names for ext in ("", ".gz")]


def find_idx_files(directory: str | os.PathLike, split: str = "train") -> tuple[Path, Path] | None:
    """Return the (images, labels) paths for ``split`` in ``directory``, or None.

    Accepted names are the MNIST ones, gzip-compressed or not, with a dash or a
    dot before ``idx``: ``train-images-idx3-ubyte.gz``, ``t10k-images.idx3-ubyte``...
    """
    directory = Path(directory)
    found = []
    for kind in ("images", "labels"):
        candidates = (directory / name for name in _file_names(split, kind))
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            return None
        found.append(path)
    return found[0], found[1]


def load_idx_pair(
    images_path: str | os.PathLike, labels_path: str | os.PathLike, *, flatten: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load an IDX images file and its IDX labels file.

    Parameters
    ----------
    images_path : str or os.PathLike
        uint8 IDX file of shape (n, height, width).
    labels_path : str or os.PathLike
        Integer IDX file of shape (n,).
    flatten : bool
        Return images as (n, height * width) instead of (n, 1, height, width).

    Returns
    -------
    X : numpy.ndarray
        float32 images in [0, 1] (uint8 / 255).
    y : numpy.ndarray
        int64 labels.
    """
    images, labels = load_idx(images_path), load_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{str(images_path)!r} must hold uint8 images of shape (n, height, width), "
            f"got {images.dtype} of shape {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(
            f"{str(labels_path)!r} must hold integer labels of shape (n,), "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{len(images)} images in {str(images_path)!r} but {len(labels)} labels in {str(labels_path)!r}"
        )
    X = images.astype(np.float32) / np.float32(255)
    X = X.reshape(len(X), -1) if flatten else X[:, None]
    return X, labels.astype(np.int64)


def load_idx_dataset(
    directory: str | os.PathLike, split: str = "train", *, flatten: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load ``split`` ("train" or "test") from a directory of MNIST-named IDX files.

    See :func:`find_idx_files` for the accepted names and :func:`load_idx_pair`
    for the returned arrays.
    """
    paths = find_idx_files(directory, split)
    if paths is None:
        images, labels = _file_names(split, "images")[0], _file_names(split, "labels")[0]
        raise DataError(
            f"no {split} IDX files in {str(directory)!r}: expected {images} and {labels} "
            "(with or without .gz)"
        )
    return load_idx_pair(*paths, flatten=flatten)


def _search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("AEKIT_DATA"):
        data = Path(os.environ["AEKIT_DATA"]).expanduser()
        dirs += [data / "mnist", data]
    return dirs + [Path.home() / ".cache" / "aekit" / "mnist"]


def load_mnist(
    root: str | os.PathLike | None = None,
    split: str = "train",
    *,
    download: bool = False,
    flatten: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST (or Fashion-MNIST / KMNIST files, which use the same names).

    Parameters
    ----------
    root : str or os.PathLike, optional
        Directory holding the files. Default: the first of ``$AEKIT_DATA/mnist``,
        ``$AEKIT_DATA`` and ``~/.cache/aekit/mnist`` that holds them.
    split : {"train", "test"}
        60 000 training or 10 000 test images for MNIST.
    download : bool
        Fetch missing files into ``root`` (default ``default_data_dir() / "mnist"``).
    flatten : bool
        Return X as (n, 784) instead of (n, 1, 28, 28).

    Returns
    -------
    X : numpy.ndarray
        float32 images in [0, 1].
    y : numpy.ndarray
        int64 labels.
    """
    _split_prefix(split)
    dirs = [Path(root)] if root is not None else _search_dirs()
    for directory in dirs:
        if find_idx_files(directory, split) is not None:
            break
    else:
        if not download:
            looked = "\n".join(f"  {d}" for d in dirs)
            raise DataError(
                f"MNIST {split} files ({_file_names(split, 'images')[0]}, "
                f"{_file_names(split, 'labels')[0]}, with or without .gz) not found; "
                f"looked in:\n{looked}\n"
                "Pass download=True to fetch them, or root=DIR for the directory that holds them."
            )
        directory = fetch_mnist(root if root is not None else default_data_dir() / "mnist")
    X, y = load_idx_dataset(directory, split, flatten=False)
    if X.shape[2:] != (28, 28):
        raise DataError(f"MNIST images in {str(directory)!r} must be 28x28, got {X.shape[2]}x{X.shape[3]}")
    return (X.reshape(len(X), -1) if flatten else X), y
