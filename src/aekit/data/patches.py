"""Random patches of photographs for training denoisers: images decoded once, kept as uint8.

:func:`load_uint8_images` decodes a folder of images of any sizes once;
:class:`PatchBatches` yields whole batches of random ``patch``² crops, each flipped
and rotated by one of the 8 symmetries of the square, as float32 in [0, 1]. One
``__getitem__`` makes one batch (vectorised: no per-sample call in the hot loop);
the offsets come from torch's global generator, so a seeded run, and a run resumed
from its checkpoint, draw the same patches.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import DataError
from .images import auto_mode, find_images, read_image

__all__ = ["load_uint8_images", "PatchBatches", "patch_loader"]


def load_uint8_images(directory: str | os.PathLike, *, mode: str = "auto") -> list[np.ndarray]:
    """Every image of ``directory`` as a uint8 (C, H, W) array (sizes may differ); ``mode`` as in
    :func:`~aekit.data.read_image` (``"auto"``: grayscale if all are)."""
    paths, _, _ = find_images(directory)
    if mode == "auto":
        mode = auto_mode(paths)
    return [np.rint(read_image(p, mode=mode) * 255.0).astype(np.uint8) for p in paths]


class PatchBatches(Dataset):
    """``batches`` batches of ``batch_size`` random ``patch``² crops of ``images`` (float32 in [0, 1],
    shape (batch_size, C, patch, patch)), flipped and rotated at random."""

    def __init__(self, images: list[np.ndarray], patch: int, batch_size: int, batches: int):
        if not images:
            raise DataError("no images to draw patches from")
        for name, v in (("patch", patch), ("batch_size", batch_size), ("batches", batches)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        channels = {im.shape[0] for im in images}
        if len(channels) != 1:
            raise DataError(f"images have different channel counts {sorted(channels)}: expected one")
        small = [im.shape for im in images if min(im.shape[1:]) < patch]
        if small:
            raise DataError(f"patch {patch} is larger than an image of shape {small[0]} (C, H, W)")
        self.images, self.patch, self.batch_size, self.batches = images, patch, batch_size, batches

    def __len__(self) -> int:
        return self.batches

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < self.batches:
            raise IndexError(index)
        n, p = self.batch_size, self.patch
        which = torch.randint(len(self.images), (n,)).tolist()
        u = torch.rand(n, 2).numpy()
        sym = torch.randint(8, (n,)).tolist()
        out = np.empty((n, self.images[0].shape[0], p, p), dtype=np.uint8)
        for i, (j, (a, b), s) in enumerate(zip(which, u, sym)):
            im = self.images[j]
            top, left = int(a * (im.shape[1] - p + 1)), int(b * (im.shape[2] - p + 1))
            crop = im[:, top : top + p, left : left + p]
            crop = np.rot90(crop, s % 4, axes=(1, 2))
            out[i] = crop[:, :, ::-1] if s >= 4 else crop
        return torch.from_numpy(out).float().div_(255.0)


def patch_loader(images: list[np.ndarray], patch: int, batch_size: int, batches: int) -> DataLoader:
    """A DataLoader over :class:`PatchBatches` (each item already a batch), for :func:`aekit.fit`."""
    return DataLoader(PatchBatches(images, patch, batch_size, batches), batch_size=None, shuffle=False)
