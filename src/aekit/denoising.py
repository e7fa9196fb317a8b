"""The denoisers shipped with aekit: ``aekit/pretrained/denoise/<name>/`` holds an aekit checkpoint of a
:class:`~aekit.nn.denoisers.ConvDenoiser` and its ``card.json`` (what it is, how it was trained, the quality
floor its test checks). Above :mod:`aekit.nn`: finding and loading files is not a module's business.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from .data.images import auto_mode
from .errors import DataError, a_or_an
from .io import load
from .nn.denoisers import ConvDenoiser

__all__ = ["pretrained_denoisers", "load_pretrained_denoiser", "pretrained_for", "PRETRAINED_DEFAULT"]

#: The shipped denoisers: ``aekit/pretrained/denoise/<name>/`` holds an aekit checkpoint and ``card.json``.
PRETRAINED_DIR = ("pretrained", "denoise")
#: The shipped model for grayscale and for colour images.
PRETRAINED_DEFAULT = {1: "gray-blind", 3: "color-blind"}


def _pretrained_root() -> Path:
    root = resources.files("aekit")
    for part in PRETRAINED_DIR:  # one part at a time: Python 3.10's Traversable.joinpath takes one
        root = root / part
    return Path(str(root))


def pretrained_denoisers() -> dict[str, dict]:
    """``{name: card}`` of the denoisers shipped with aekit (the card: description, training, floors)."""
    root = _pretrained_root()
    if not root.is_dir():
        return {}
    cards = {}
    for folder in sorted(p for p in root.iterdir() if (p / "card.json").is_file()):
        cards[folder.name] = json.loads((folder / "card.json").read_text())
    return cards


def load_pretrained_denoiser(name: str) -> ConvDenoiser:
    """The shipped denoiser ``name`` (see :func:`pretrained_denoisers`), in eval mode."""
    known = pretrained_denoisers()
    if name not in known:
        raise ValueError(
            f"no shipped denoiser named {name!r}; shipped: {', '.join(known) or 'none (not installed)'}"
        )
    model = load(_pretrained_root() / name)
    if not isinstance(model, ConvDenoiser):
        raise DataError(
            f"shipped denoiser {name!r} holds {a_or_an(type(model).__name__)}, not a ConvDenoiser"
        )
    return model.eval()


def pretrained_for(path: str | os.PathLike) -> str:
    """The shipped denoiser for the image file ``path``: the grayscale one for a grayscale image, else the
    colour one (the header is read, not the pixels)."""
    if Path(path).suffix.lower() == ".npy":
        raise ValueError(f"{path}: for a .npy input, name the shipped model with --name (see --list)")
    return PRETRAINED_DEFAULT[1 if auto_mode([path]) == "L" else 3]
