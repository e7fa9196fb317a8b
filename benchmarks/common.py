"""Shared helpers for the benchmark scripts: MNIST location, results files, timing."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_MNIST = HERE.parent.parent / "shared" / "data" / "mnist"
KODAK = HERE.parent.parent / "shared" / "data" / "photos" / "kodak"


def kodak_files(root: str | os.PathLike, limit: int | None = None) -> list[Path]:
    """The Kodak PNGs in ``root`` (kodim01 ... kodim24), sorted, the first ``limit`` of them."""
    return sorted(Path(root).glob("kodim*.png"))[:limit]


def shipped_hyperprior_dirs() -> list[Path]:
    """The directories of the hyperprior rate points shipped with aekit."""
    from aekit.codec import pretrained

    return [pretrained.ROOT / e["name"] for e in pretrained.models() if pretrained.family(e) == "hyperprior"]


def mnist_root(arg: str | None) -> Path:
    """--data-root, else $AEKIT_DATA/mnist or $AEKIT_DATA, else ../shared/data/mnist beside the repo."""
    if arg:
        return Path(arg)
    env = os.environ.get("AEKIT_DATA")
    if env:
        for cand in (Path(env) / "mnist", Path(env)):
            if cand.is_dir():
                return cand
    return DEFAULT_MNIST


def machine() -> dict:
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }


def write_result(name: str, result: dict) -> Path:
    """Write results/NAME.json atomically (with the command line and machine)."""
    from aekit.io import atomic_write_text

    result = {
        "command": "python " + " ".join(sys.argv),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        **result,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    atomic_write_text(path, json.dumps(result, indent=2) + "\n")
    return path
