"""Datasets and input checks for aekit (numpy only; no torch import).

:func:`load_dataset` is the one entry point the CLI uses; the loaders it
dispatches to are exported too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from aekit.data.arrays import load_array
from aekit.data.digits import load_digits
from aekit.data.download import default_data_dir, download, fetch_mnist, md5sum, verify_md5
from aekit.data.idx import load_idx, save_idx
from aekit.data.images import MAX_PIXELS, auto_mode, find_images, load_image_folder, read_image
from aekit.data.limits import MAX_DATA_BYTES
from aekit.data.mnist import find_idx_files, load_idx_dataset, load_idx_pair, load_mnist
from aekit.data.splits import holdout_split
from aekit.data.validate import check_array, check_labels
from aekit.errors import DataError

__all__ = [
    "MAX_PIXELS",
    "MAX_DATA_BYTES",
    "check_array",
    "check_labels",
    "default_data_dir",
    "download",
    "auto_mode",
    "fetch_mnist",
    "holdout_split",
    "find_images",
    "load_array",
    "load_dataset",
    "load_digits",
    "load_idx",
    "load_idx_dataset",
    "load_idx_pair",
    "load_image_folder",
    "load_mnist",
    "md5sum",
    "read_image",
    "save_idx",
    "verify_md5",
]

SPLITS = ("train", "test", "all")
#: Seed of the fixed permutation that splits the digits into train and test.
DIGITS_SEED = 0
_IDX_NAMED = ("mnist", "fashion-mnist", "kmnist")
#: ``(X, y)``: the data and its labels, ``y`` None when there are none.
_Labelled = tuple[np.ndarray, np.ndarray | None]


def _digits(split: str, flatten: bool) -> _Labelled:
    return _fixed_split(*load_digits(flatten=flatten), split)


def _fixed_split(X: np.ndarray, y: np.ndarray | None, split: str) -> _Labelled:
    """The digits' split for data without one: the first 80% of a fixed permutation is "train"."""
    if split == "all":
        return X, y
    order = np.random.default_rng(DIGITS_SEED).permutation(len(X))
    n_train = len(X) * 4 // 5
    idx = order[:n_train] if split == "train" else order[n_train:]
    return X[idx], (None if y is None else y[idx])


def _directory(
    path: Path,
    split: str,
    flatten: bool,
    max_bytes: int = MAX_DATA_BYTES,
    size: tuple[int, int] | None = None,
    mode: str = "auto",
) -> _Labelled:
    """MNIST-named IDX files; else images in train/ and test/ sub-folders, or in one folder (fixed 80/20 split)."""
    if find_idx_files(path, "train") or find_idx_files(path, "test"):
        _images_only(size, mode, f"{str(path)!r} holds IDX files")
        return _by_split(lambda s: load_idx_dataset(path, s, flatten=flatten), split)
    parts = {s: path / s for s in ("train", "test")}
    try:
        if all(p.is_dir() for p in parts.values()):
            (train, _, train_classes), (test, _, test_classes) = (find_images(p) for p in parts.values())
            if train_classes != test_classes:  # else the same label would name different classes
                raise DataError(f"train/ has classes {train_classes} but test/ has {test_classes}")
            if mode == "auto":  # one channel count, so a model trained on one split takes the other
                mode = auto_mode(train + test)
            return _by_split(
                lambda s: load_image_folder(
                    parts[s], mode=mode, size=size, flatten=flatten, max_bytes=max_bytes
                ),
                split,
            )
        return _fixed_split(
            *load_image_folder(path, mode=mode, size=size, flatten=flatten, max_bytes=max_bytes), split
        )
    except DataError as e:
        raise DataError(
            f"{e} (a data directory holds MNIST-named IDX files, e.g. train-images-idx3-ubyte[.gz], "
            "or images: directly, in one sub-folder per class, or in train/ and test/)"
        ) from None


def _images_only(size: tuple[int, int] | None, mode: str, what: str) -> None:
    """Refuse ``size=`` / ``mode=`` for data that is not a folder of images (they would be ignored)."""
    if size is not None or mode != "auto":
        given = ", ".join(
            f"{k}={v!r}" for k, v in (("size", size), ("mode", mode)) if v not in (None, "auto")
        )
        raise DataError(f"{given} applies to a folder of images only, and {what}")


def _by_split(load: Callable[[str], _Labelled], split: str) -> _Labelled:
    """Call ``load(split)``, or concatenate train and test for ``split="all"``."""
    if split != "all":
        return load(split)
    (X1, y1), (X2, y2) = load("train"), load("test")
    if X1.shape[1:] != X2.shape[1:]:
        raise DataError(
            f"train items have shape {X1.shape[1:]} but test items {X2.shape[1:]}: cannot join them"
        )
    return np.concatenate([X1, X2]), (None if y1 is None else np.concatenate([y1, y2]))


def load_dataset(
    spec: str | os.PathLike,
    *,
    split: str = "train",
    flatten: bool = True,
    root: str | os.PathLike | None = None,
    download: bool = False,
    max_bytes: int = MAX_DATA_BYTES,
    size: tuple[int, int] | None = None,
    mode: str = "auto",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a dataset named by ``spec``, returning ``(X, y)``; ``y`` may be None.

    Parameters
    ----------
    spec : str or os.PathLike
        One of:

        - ``"digits"``: scikit-learn's 8x8 digits in [0, 1]. ``split="train"``
          is the first 80% (1437 images) of a fixed permutation
          (``numpy.random.default_rng(0)``), ``"test"`` the remaining 20% (360),
          ``"all"`` all 1797 in the original order.
        - ``"mnist"``: :func:`load_mnist` (``root``, ``download`` passed on).
        - ``"fashion-mnist"`` or ``"kmnist"``: MNIST-named IDX files in ``root``,
          else in ``default_data_dir() / spec`` (``$AEKIT_DATA/<spec>``).
        - a directory of IDX files with MNIST names (:func:`load_idx_dataset`);
          the names above win over a directory of the same name (use ``./mnist``).
        - a directory of images (:func:`load_image_folder`): ``train/`` and
          ``test/`` sub-folders are the splits (one channel count for both);
          otherwise the folder is split like the digits (first 80% of a
          fixed permutation is ``"train"``). Labels come from class sub-folders.
        - a ``.npy``, ``.npz``, ``.csv`` or IDX (``.idx``, ``.gz``) file: the
          whole file as stored (:func:`load_array`); ``split`` is ignored.
    split : {"train", "test", "all"}
        Which part; ``"all"`` concatenates train and test.
    flatten : bool
        Images as (n, features) rather than (n, 1, height, width). For files,
        arrays of more than 2 dimensions are flattened; 3-D (n, h, w) arrays
        get a channel axis when ``flatten`` is False.
    root : str or os.PathLike, optional
        Directory for the named IDX datasets.
    download : bool
        Let ``"mnist"`` download missing files.
    max_bytes : int
        Refuse a folder of images, a compressed ``.npz`` member or a gzip'ed IDX file that
        decodes to more bytes than this (:data:`MAX_DATA_BYTES`, 2 GiB), checked before decoding.
    size : (height, width), optional
        A folder of images only: resize every image to this size (bilinear), so that images of
        mixed sizes load (:func:`load_image_folder`); given for other data, a :class:`DataError`.
    mode : {"auto", "L", "RGB"}
        A folder of images only: one grayscale channel, three channels, or ``"auto"`` (grayscale
        when every image is); other than ``"auto"`` for other data, a :class:`DataError`.

    Returns
    -------
    X : numpy.ndarray
        Images as float32 in [0, 1] for named datasets and directories; files
        are returned with their stored dtype and values.
    y : numpy.ndarray or None
        int64 labels, or None for files without labels.
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {SPLITS}, got {split!r}")
    name = spec.lower() if isinstance(spec, str) else None
    path = Path(spec)
    if not path.is_dir() or name in ("digits", *_IDX_NAMED):
        _images_only(size, mode, f"{str(spec)!r} is not a folder of images")
    if name == "digits":
        return _digits(split, flatten)
    if name == "mnist":
        return _by_split(lambda s: load_mnist(root, s, download=download, flatten=flatten), split)
    if name in _IDX_NAMED:
        directory = Path(root) if root is not None else default_data_dir() / name
        if not directory.is_dir():
            raise DataError(
                f"{name} directory {str(directory)!r} not found; put the IDX files "
                "(MNIST file names) there, set $AEKIT_DATA, or pass root="
            )
        return _by_split(lambda s: load_idx_dataset(directory, s, flatten=flatten), split)

    if path.is_dir():
        return _directory(path, split, flatten, max_bytes, size, mode)
    if path.is_file():
        X, y = load_array(path, max_bytes=max_bytes)
        if flatten and X.ndim > 2:
            X = X.reshape(len(X), -1)
        elif not flatten and X.ndim == 3:
            X = X[:, None]
        return X, y
    raise DataError(
        f"unknown dataset {str(spec)!r}: expected 'digits', 'mnist', 'fashion-mnist', "
        "'kmnist', a directory of MNIST-named IDX files or of images, or an existing .npy, .npz, "
        ".csv or IDX (.idx, .gz) file"
    )
