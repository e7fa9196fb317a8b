"""The photo codecs that ship with aekit: package data under ``aekit/pretrained/codec/``.

Each rate point is a directory (``q1``, ``q2``, ... for the factorized codec, ``hyperprior-q1``, ...
for the scale hyperprior) holding a photo codec checkpoint (``config.json`` + ``model.safetensors``,
its integer tables among the weights) and its device files (``codec.json``, the ONNX halves);
``models.json`` beside them lists them with their model family (``"model"``: "factorized" when
absent, or "hyperprior"), λ, how they were trained and what they reach on Kodak. Loading follows the
rules of any checkpoint (:meth:`aekit.codec.PhotoCodec.load`: no pickle, sizes checked first).

Reading the index needs the standard library only.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import CheckpointError

__all__ = [
    "ROOT",
    "INDEX",
    "models",
    "model_dir",
    "find_by_model_id",
    "DEFAULT_QUALITY",
    "FAMILIES",
    "family",
]

ROOT = Path(__file__).resolve().parent.parent / "pretrained" / "codec"
INDEX = ROOT / "models.json"
DEFAULT_QUALITY = 2
FAMILIES = ("factorized", "hyperprior")


def family(entry: dict) -> str:
    """The model family of an entry of models.json ("factorized" when it names none)."""
    return str(entry.get("model", "factorized"))


def models() -> list[dict]:
    """The shipped photo codecs, lowest rate first: dicts with ``name``, ``quality``, ``lmbda``,
    ``model_id``, and (when measured) ``kodak`` {bpp, psnr_rgb, ms_ssim} and ``training``."""
    if not INDEX.is_file():
        return []
    try:
        entries = json.loads(INDEX.read_text(encoding="utf-8"))["models"]
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{INDEX} is corrupted: {err}") from None
    return sorted(
        entries, key=lambda e: (FAMILIES.index(family(e)) if family(e) in FAMILIES else 9, e["quality"])
    )


def model_dir(quality: int | str = DEFAULT_QUALITY, model: str = "factorized") -> Path:
    """The directory of the shipped codec of family ``model`` and ``quality`` (1, 2, 3...) or name ("q2").

    Raises
    ------
    ValueError
        No shipped codec of that family has that quality (the message lists the ones there are).
    """
    if model not in FAMILIES:
        raise ValueError(f"model must be one of {', '.join(FAMILIES)}, got {model!r}")
    entries = [e for e in models() if family(e) == model]
    for entry in entries:
        if quality in (entry["quality"], entry["name"]) or str(quality) == str(entry["quality"]):
            return ROOT / entry["name"]
    known = ", ".join(str(e["quality"]) for e in entries) or "none installed"
    raise ValueError(f"no shipped {model} photo codec of quality {quality!r}; qualities: {known}")


def find_by_model_id(model_id: bytes) -> Path | None:
    """The shipped codec whose streams carry ``model_id``, or None."""
    for entry in models():
        if entry.get("model_id") == model_id.hex():
            return ROOT / entry["name"]
    return None
