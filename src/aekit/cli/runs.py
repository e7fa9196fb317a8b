"""The run directory of a training command (--out): fresh, --overwrite or --resume; checks made before training."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..io import CONFIG, STATE_JSON, read_config
from ..io import RUN_FILES as CHECKPOINT_FILES
from .common import has_split, load_data

# what a training command writes in its --out directory: all of it goes before a fresh run there
RUN_FILES = (
    *CHECKPOINT_FILES,
    "metrics.json",
    "reconstructions.png",
    "filters.png",
    "curves.png",
    "denoising.png",
    "codec.json",
    "encoder.onnx",
)
RUN_DIRS = ("pretrained",)


def run_directory(out, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Check a training command's output directory before any work: ``resume`` needs a run there to
    continue; a fresh run refuses a directory that holds a checkpoint unless ``overwrite``, and then
    first removes every file an earlier run wrote there, so nothing stale survives."""
    out = Path(out)
    if resume:
        if not (out / STATE_JSON).is_file():
            raise ValueError(
                f"--resume: {out} holds no run to continue (no {STATE_JSON}); leave out --resume to start one"
            )
        return out
    if (out / CONFIG).exists() and not overwrite:
        raise ValueError(
            f"{out} already holds a checkpoint: pass --overwrite to replace it, --resume to "
            "continue it, or choose another directory"
        )
    clear_run(out)
    return out


def clear_run(out: Path) -> None:
    """Remove what an earlier run wrote in ``out`` (aekit's own files only)."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for name in RUN_DIRS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)


def resumed_model(args, model, path):
    """``--resume``: ``model`` rebuilt as the run in ``path`` built it (the architecture comes from the
    checkpoint); an option given on the command line with another value than the run's is an error."""
    saved = read_config(path)["args"]
    for key, value in model.config.items():
        if key not in saved or saved[key] == value:
            continue
        given = getattr(args, key, None)
        if hasattr(args, key) and given == args.parser.get_default(key):
            continue  # not on the command line: the run's value holds
        option = f"--{key.replace('_', '-')}" if hasattr(args, key) else key
        raise ValueError(
            f"--resume: {option} {given if hasattr(args, key) else value!r} differs from the run's "
            f"{saved[key]!r} ({path}): a resumed run keeps its architecture; leave {option} out, or "
            "start afresh with --overwrite"
        )
    return type(model)(**saved)


def load_test(args, *, flatten: bool = True):
    """``(X, y)`` of --data's test split, or ``(None, None)`` when it has none; read before training, so
    a missing split fails before the work, not after it."""
    return load_data(args, "test", flatten=flatten) if has_split(args.data) else (None, None)
