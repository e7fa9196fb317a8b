"""Figures (matplotlib, Agg backend): reconstructions, training curves, first-layer filters.

Every function draws onto a new figure, saves it atomically to ``path`` as PNG
and returns the path. Nothing here opens a window.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .io import atomic_path  # noqa: E402

__all__ = ["image_shape", "reconstruction_grid", "training_curves", "save_figure", "filter_grid"]


def image_shape(sample_shape) -> tuple[int, ...]:
    """The (H, W) or (H, W, C) to draw one sample of ``sample_shape`` as an image.

    Flat vectors of a square length (64, 784, ...) become square images; (C, H, W)
    becomes (H, W) for one channel and (H, W, C) for three.
    """
    shape = tuple(sample_shape)
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side != shape[0]:
            raise ValueError(f"cannot draw {shape[0]} features as an image: not a square number; "
                             "reshape the data to (C, H, W) first")
        return side, side
    if len(shape) == 3 and shape[0] == 1:
        return shape[1:]
    if len(shape) == 3 and shape[0] == 3:
        return shape[1], shape[2], 3
    if len(shape) == 2:
        return shape
    raise ValueError(f"cannot draw samples of shape {shape} as images")


def _as_image(sample: np.ndarray) -> np.ndarray:
    img = np.asarray(sample, dtype=np.float32).reshape(image_shape(np.shape(sample)) if np.ndim(sample) != 3
                                                         else np.shape(sample))
    if img.ndim == 3 and img.shape[0] in (1, 3):
        img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    return np.clip(img, 0.0, 1.0)


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG atomically and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def reconstruction_grid(rows: dict[str, np.ndarray], path: str | os.PathLike, *, n: int = 10,
                        title: str | None = None) -> Path:
    """A grid with one labelled row per entry of ``rows`` (e.g. clean / corrupted / reconstructed),
    ``n`` samples per row, drawn as grey images in [0, 1]."""
    if not rows:
        raise ValueError("rows is empty: give at least one named array of samples")
    n = min(n, *(len(v) for v in rows.values()))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.2, 1.2 * len(rows) + 0.4), squeeze=False)
    for r, (label, samples) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(_as_image(samples[c]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=11)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def training_curves(history: dict, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Training (and validation) loss per epoch; validation error on a second axis when present."""
    epochs = history.get("epoch") or list(range(1, len(history["train_loss"]) + 1))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, history["train_loss"], label="train loss", marker=".")
    if history.get("val_loss"):
        ax.plot(epochs, history["val_loss"], label="validation loss", marker=".")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if history.get("val_error"):
        ax2 = ax.twinx()
        ax2.plot(epochs, [100 * e for e in history["val_error"]], color="tab:red", label="validation error (%)",
                 marker=".")
        ax2.set_ylabel("validation error (%)")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="upper right")
    ax.set_title(title or "training curves")
    return save_figure(fig, path)


def filter_grid(weights, path: str | os.PathLike, *, n: int = 100, title: str | None = None) -> Path:
    """The first ``n`` filters (rows of a first-layer weight matrix W, shape (hidden, d)) drawn as image
    tiles, each scaled to its own range, as the filter figures of Vincent et al. (JMLR 2010).

    ``weights`` may also be convolution kernels (C_out, 1, k, k).
    """
    W = np.asarray(weights, dtype=np.float32)
    if W.ndim == 4 and W.shape[1] == 1:
        W = W[:, 0]
    elif W.ndim == 2:
        W = W.reshape(len(W), *image_shape(W.shape[1:]))
    else:
        raise ValueError(f"cannot draw weights of shape {W.shape} as filters: expected (hidden, d) with d a "
                         "square number, or convolution kernels (C_out, 1, k, k)")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    W = W[:n]
    cols = math.ceil(math.sqrt(len(W)))
    rows = math.ceil(len(W) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(0.6 * cols + 0.4, 0.6 * rows + 0.6), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, w in zip(axes.ravel(), W):
        lo, hi = float(w.min()), float(w.max())
        ax.imshow((w - lo) / (hi - lo) if hi > lo else np.zeros_like(w), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
    fig.suptitle(title or f"first-layer filters ({len(W)} of {len(weights)})")
    return save_figure(fig, path)
