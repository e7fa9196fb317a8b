"""Figures (matplotlib, Agg backend): reconstructions, filters, curves, code histograms, 2-D maps,
rate-distortion.

Every function draws onto a new figure, saves it atomically to ``path`` as PNG
and returns the path. Nothing here opens a window.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike

from .io import atomic_path

if TYPE_CHECKING:
    import torch

    from .corruption import Corruption

__all__ = [
    "image_shape",
    "reconstruction_grid",
    "reconstruction_rows",
    "seeded_corruption",
    "training_curves",
    "first_layer_weights",
    "filter_tiles",
    "code_histograms",
    "code_map",
    "rate_distortion",
    "save_figure",
    "filter_grid",
]


def image_shape(sample_shape: Iterable[int]) -> tuple[int, ...]:
    """The (H, W) or (H, W, C) to draw one sample of ``sample_shape`` as an image.

    Flat vectors of a square length (64, 784, ...) become square images; (C, H, W)
    becomes (H, W) for one channel and (H, W, C) for three.
    """
    shape = tuple(sample_shape)
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side != shape[0]:
            raise ValueError(
                f"cannot draw {shape[0]} features as an image: not a square number; "
                "reshape the data to (C, H, W) first"
            )
        return side, side
    if len(shape) == 3 and shape[0] == 1:
        return shape[1:]
    if len(shape) == 3 and shape[0] == 3:
        return shape[1], shape[2], 3
    if len(shape) == 2:
        return shape
    raise ValueError(f"cannot draw samples of shape {shape} as images")


def _as_image(sample: np.ndarray) -> np.ndarray:
    img: np.ndarray = np.asarray(sample, dtype=np.float32).reshape(  # any rank: numpy's stubs guess 0-D
        image_shape(np.shape(sample)) if np.ndim(sample) != 3 else np.shape(sample)
    )
    if img.ndim == 3 and img.shape[0] in (1, 3):
        img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    return np.clip(img, 0.0, 1.0)


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG atomically and close it (also when saving fails)."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


@contextlib.contextmanager
def _subplots(*args, **kwargs):
    """``plt.subplots``, its figure closed however the drawing ends (failed calls left figures open)."""
    fig, axes = plt.subplots(*args, **kwargs)
    try:
        yield fig, axes
    finally:
        plt.close(fig)


def reconstruction_grid(
    rows: dict[str, np.ndarray], path: str | os.PathLike, *, n: int = 10, title: str | None = None
) -> Path:
    """A grid with one labelled row per entry of ``rows`` (e.g. clean / corrupted / reconstructed),
    ``n`` samples per row, drawn as grey images in [0, 1]."""
    if not rows:
        raise ValueError("rows is empty: give at least one named array of samples")
    n = min(n, *(len(v) for v in rows.values()))
    with _subplots(len(rows), n, figsize=(1.1 * n + 1.2, 1.2 * len(rows) + 0.4), squeeze=False) as (
        fig,
        axes,
    ):
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


def seeded_corruption(q_d: Corruption, X: ArrayLike, *, seed: int = 0) -> np.ndarray:
    """x̃ ~ q_D(x̃ | x) for every sample of ``X``, drawn from a local ``torch.Generator`` seeded with ``seed``.

    The same ``seed`` gives the same noise (the figures and reports that show corrupted inputs are
    reproducible), and the global torch generator is neither read nor reseeded: drawing a figure
    leaves the random state of the training around it as it was.

    Parameters
    ----------
    q_d : aekit.corruption.Corruption
        The corruption process.
    X : array_like
        Samples, any shape; drawn as float32.
    seed : int
        Seed of the local generator (0 .. 2**63-1).

    Returns
    -------
    numpy.ndarray
        float32, the shape of ``X``.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return q_d(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)), generator=generator).numpy()


def reconstruction_rows(
    model: torch.nn.Module, X: np.ndarray, corruption: str | dict | Corruption | None = None
) -> dict:
    """``{"clean", "corrupted", "reconstructed"}`` rows for :func:`reconstruction_grid`: ``X``, its
    corruption by ``corruption`` (a spec such as ``"masking:0.3"``; default the model's own q_D; no row
    when neither) and the model's reconstruction of what it was given."""
    from . import corruption as corruption_lib
    from .inference import reconstruct

    q_d = corruption_lib.from_config(corruption) if corruption else getattr(model, "corruption", None)
    rows = {"clean": X}
    if q_d is not None:
        X = seeded_corruption(q_d, X, seed=0)  # the same noise every time the figure is drawn
        rows["corrupted"] = X
    rows["reconstructed"] = reconstruct(model, X)
    return rows


def training_curves(history: dict, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Training (and validation) loss per epoch, the best epoch marked; validation error (%) on a
    second axis when the history has one (supervised fine-tuning)."""
    train = history.get("train_loss") or []
    if not train:
        raise ValueError("history has no 'train_loss': nothing to draw")
    epochs = history.get("epoch") or list(range(1, len(train) + 1))
    with _subplots(figsize=(6.4, 4.2)) as (fig, ax):
        ax.plot(epochs, train, label="training loss", marker=".", color="tab:blue")
        val = history.get("val_loss") or []
        if val:
            ax.plot(epochs[: len(val)], val, label="validation loss", marker=".", color="tab:orange")
        best = history.get("best_epoch")
        if best and (val or history.get("val_error")):
            ax.axvline(best, color="grey", linestyle=":", label=f"best epoch ({best})")
        values = np.asarray([v for v in [*train, *val] if v is not None and np.isfinite(v)], dtype=float)
        if values.size and values.min() > 0 and values.max() / values.min() > 30:
            ax.set_yscale("log")  # a loss that falls by orders of magnitude
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss per sample")
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if history.get("val_error"):
            ax2 = ax.twinx()
            err = history["val_error"]
            ax2.plot(
                epochs[: len(err)],
                [100 * e for e in err],
                color="tab:red",
                label="validation error (%)",
                marker=".",
            )
            ax2.set_ylabel("validation error (%)")
            h2, l2 = ax2.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        ax.legend(handles, labels, loc="upper right")
        ax.set_title(title or "training curves")
        return save_figure(fig, path)


def first_layer_weights(model) -> np.ndarray:
    """The first layer's weights as (n_filters, *sample_shape): rows of W for a dense layer,
    (in_channels, kh, kw) kernels for a convolution."""
    from torch import nn

    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            return module.weight.detach().float().cpu().numpy()
    raise ValueError(f"{type(model).__name__} has no Linear or Conv2d layer: no filters to draw")


def filter_tiles(
    weights, path: str | os.PathLike, *, sample_shape=None, n: int = 100, title: str | None = None
) -> Path:
    """First-layer filters as a grid of tiles, each scaled to its own [min, max] (grey).

    Parameters
    ----------
    weights : array (n_filters, d) or (n_filters, C, kh, kw)
        Dense rows of W (each the size of an input sample) or convolution kernels.
    sample_shape : tuple, optional
        How to draw one dense row (default: a square image).
    n : int
        Draw at most this many filters (the first ones).
    """
    W = np.asarray(weights, dtype=np.float64)
    if W.ndim < 2 or len(W) == 0:
        raise ValueError(f"weights must be (n_filters, ...) with at least one filter, got shape {W.shape}")
    W = W[: max(1, n)]
    if W.ndim == 4:  # (F, C, kh, kw): one channel grey, three channels colour
        tiles = [w[0] if w.shape[0] != 3 else np.moveaxis(w, 0, -1) for w in W]
    else:
        shape = image_shape(sample_shape or W.shape[1:])
        tiles = [w.reshape(shape) for w in W]
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    th, tw = tiles[0].shape[:2]
    channels = tiles[0].shape[2:]  # () grey, (3,) colour
    mosaic = np.ones((rows * (th + 1) + 1, cols * (tw + 1) + 1, *channels))  # white 1-pixel grid lines
    for i, tile in enumerate(tiles):
        lo, hi = tile.min(), tile.max()
        r, c = divmod(i, cols)
        mosaic[1 + r * (th + 1) : 1 + r * (th + 1) + th, 1 + c * (tw + 1) : 1 + c * (tw + 1) + tw] = (
            (tile - lo) / (hi - lo) if hi > lo else 0.5
        )
    width = min(9.0, max(3.0, 0.5 * cols + 1.0))
    with _subplots(figsize=(width, width * mosaic.shape[0] / mosaic.shape[1] + 0.5)) as (fig, ax):
        ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.axis("off")
        ax.set_title(title or f"first-layer filters ({len(tiles)} of {len(weights)})")
        return save_figure(fig, path)


def filter_grid(weights, path: str | os.PathLike, *, n: int = 100, title: str | None = None) -> Path:
    """The first ``n`` filters (rows of W (hidden, d), or kernels (C_out, 1, k, k)) as image tiles, each
    scaled to its own range, as the filter figures of Vincent et al. (JMLR 2010): :func:`filter_tiles`."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    return filter_tiles(weights, path, n=n, title=title)


def code_histograms(
    codes, path: str | os.PathLike, *, n_units: int = 16, bins: int = 40, title: str | None = None
) -> Path:
    """Histograms of the code units' values: one small panel per unit (at most ``n_units``)
    and a last panel with all units pooled."""
    Z = np.asarray(codes, dtype=np.float64)
    Z = Z.reshape(len(Z), -1) if Z.ndim > 1 else Z[:, None]
    if len(Z) == 0:
        raise ValueError("codes is empty")
    if not np.all(np.isfinite(Z)):
        raise ValueError("codes hold NaN or infinite values")
    units = min(n_units, Z.shape[1])
    panels = units + 1
    cols = min(panels, 6)
    rows = math.ceil(panels / cols)
    with _subplots(rows, cols, figsize=(2.2 * cols + 0.4, 1.9 * rows + 0.6), squeeze=False) as (fig, axes):
        for ax in axes.ravel()[panels:]:
            ax.axis("off")
        for j in range(units):
            ax = axes.ravel()[j]
            ax.hist(Z[:, j], bins=bins, color="tab:blue", alpha=0.85)
            ax.set_title(f"unit {j}", fontsize=9)
            ax.tick_params(labelsize=7)
        ax = axes.ravel()[units]
        ax.hist(Z.ravel(), bins=bins, color="tab:green", alpha=0.85)
        ax.set_title(f"all {Z.shape[1]} units", fontsize=9)
        ax.tick_params(labelsize=7)
        for ax in axes[:, 0]:
            ax.set_ylabel("count", fontsize=8)
        fig.suptitle(title or f"code values ({len(Z)} samples)")
        fig.tight_layout()
        return save_figure(fig, path)


def view_limits(Z, keep: float = 0.99) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits showing the central ``keep`` of the points on each axis (plus a 5% margin), so a
    few far-out codes do not squeeze the rest of a map into its centre; ``keep=1``: every point."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep!r}")
    Z = np.asarray(Z, dtype=np.float64)
    lo, hi = np.quantile(Z, [(1 - keep) / 2, 1 - (1 - keep) / 2], axis=0)
    pad = 0.05 * np.maximum(hi - lo, 1e-12)
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def code_map(
    maps: dict,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    max_points: int = 10000,
    seed: int = 0,
    keep: float = 0.99,
) -> Path:
    """Side-by-side 2-D scatter plots, one per entry ``name: (Z, y)`` (e.g. aekit codes and PCA),
    points coloured by label with one legend, like Hinton & Salakhutdinov (2006), Fig. 3.

    At most ``max_points`` points per panel (a seeded random subset), drawn in random order so no
    class hides the others. The axes show the central ``keep`` of the points on each axis
    (:func:`view_limits`); the x label says so when that leaves points outside.
    """
    if not maps:
        raise ValueError("maps is empty: give at least one name: (Z, y) entry")
    with _subplots(1, len(maps), figsize=(5.2 * len(maps) + 1.3, 5.2), squeeze=False) as (fig, axes):
        classes = np.unique(np.concatenate([np.asarray(y).ravel() for _, y in maps.values()]))
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for ax, (name, (Z, y)) in zip(axes[0], maps.items()):
            Z = np.asarray(Z, dtype=np.float64)
            y = np.asarray(y).ravel()
            if Z.ndim != 2 or Z.shape[1] != 2:
                raise ValueError(f"map {name!r} must be (n, 2) codes, got shape {Z.shape}")
            if len(y) != len(Z):
                raise ValueError(f"map {name!r} has {len(Z)} codes but {len(y)} labels")
            order = np.random.default_rng(seed).permutation(len(Z))[:max_points]
            colours = cmap(np.searchsorted(classes, y[order]) % cmap.N)
            ax.scatter(Z[order, 0], Z[order, 1], c=colours, s=3, alpha=0.7, linewidths=0, rasterized=True)
            (x0, x1), (y0, y1) = view_limits(Z, keep)
            outside = int(np.sum((Z[:, 0] < x0) | (Z[:, 0] > x1) | (Z[:, 1] < y0) | (Z[:, 1] > y1)))
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
            ax.set_title(name)
            ax.set_xlabel(
                "component 1" + (f"  ({outside} of {len(Z)} points beyond the axes)" if outside else "")
            )
            ax.set_ylabel("component 2")
            ax.grid(alpha=0.2)
        handles = [
            plt.Line2D([], [], marker="o", linestyle="", color=cmap(i % cmap.N), label=str(c))
            for i, c in enumerate(classes)
        ]
        axes[0, -1].legend(
            handles=handles,
            title="label",
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
            frameon=False,
            markerscale=1.2,
        )
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return save_figure(fig, path)


def rate_distortion(
    points: dict,
    path: str | os.PathLike,
    *,
    xlabel: str = "bytes per image",
    ylabel: str = "PSNR (dB)",
    title: str | None = None,
    log_x: bool | None = None,
) -> Path:
    """Rate-distortion curves: ``{method: [(bytes, psnr), ...]}``, one line with markers per method,
    points sorted by rate. The x axis is logarithmic when the rates span more than a factor 20."""
    if not points:
        raise ValueError("points is empty: give {method: [(bytes, psnr), ...]}")
    with _subplots(figsize=(6.4, 4.4)) as (fig, ax):
        rates: list[float] = []
        for method, pairs in points.items():
            arr = np.asarray(pairs, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0:
                raise ValueError(
                    f"rate-distortion points of {method!r} must be a non-empty list of (bytes, psnr) "
                    f"pairs, got shape {arr.shape}"
                )
            if not np.all(np.isfinite(arr[:, 0])) or np.any(arr[:, 0] <= 0):
                raise ValueError(f"rates of {method!r} must be finite and > 0, got {arr[:, 0].tolist()}")
            arr = arr[np.argsort(arr[:, 0])]
            rates.extend(arr[:, 0])
            ax.plot(arr[:, 0], arr[:, 1], marker="o", label=str(method))
        if log_x or (log_x is None and max(rates) / min(rates) > 20):
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="lower right")
        ax.set_title(title or "rate-distortion")
        return save_figure(fig, path)
