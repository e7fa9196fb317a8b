"""The run directory of a training command (--out): fresh, --overwrite or --resume; checks made before training.

``--overwrite`` never deletes the last good run before the new one is whole: the new run is
written into a sibling ``.NAME.new-PID`` and swapped in by :func:`finish_run` at the end of the
command, in two renames (``NAME`` -> ``.NAME.old-PID``, ``.NAME.new-PID`` -> ``NAME``), after
which the user's own files are moved over from the old directory and it is removed. A command
that fails removes its ``.new`` directory (:func:`discard_staged`). After a crash the next
command on ``NAME`` (:func:`recover_replacement`) finds one of these states:

- ``NAME`` and a ``.new-PID`` of a process that is gone: the new run never finished; removed;
- no ``NAME``, a ``.old-PID`` (crash between the two renames): the old run is renamed back;
- ``NAME`` and a ``.old-PID`` (crash after the swap): ``NAME`` is the new run; the user's
  files still in ``.old-PID`` are moved over and it is removed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ..io import CONFIG, STATE_JSON, read_config
from ..io import RUN_FILES as CHECKPOINT_FILES
from ..io.atomic import JOURNAL
from .common import has_split, is_main, load_data

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


def run_directory(out: str | os.PathLike, *, resume: bool | None = None, overwrite: bool = False) -> Path:
    """Check a training command's output directory before any work: ``resume`` needs a run there to
    continue; a fresh run refuses a directory that holds a checkpoint unless ``overwrite``, and then
    first removes every file an earlier run wrote there, so nothing stale survives. ``resume=None``:
    the command has no --resume (its message does not offer one)."""
    out = Path(out)
    recover_replacement(out)
    if resume:
        if not (out / STATE_JSON).is_file():
            raise ValueError(
                f"--resume: {out} holds no run to continue (no {STATE_JSON}); leave out --resume to start one"
            )
        return out
    if (out / CONFIG).exists() and not overwrite:
        resuming = "" if resume is None else ", --resume to continue it,"
        raise ValueError(
            f"{out} already holds a checkpoint: pass --overwrite to replace it{resuming} or choose "
            "another directory"
        )
    if (out / CONFIG).exists():  # --overwrite: the new run goes beside the old one, swapped in at the end
        return _staged(out) if is_main() else out
    clear_run(out)
    return out


def clear_run(out: Path) -> None:
    """Remove what an earlier run wrote in ``out`` (aekit's own files only)."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    (out / JOURNAL).unlink(missing_ok=True)
    for name in RUN_DIRS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)


# ---------------------------------------------------------------- replacing a run in one step
_STAGED: dict[
    Path, tuple[Path, Path]
] = {}  # sibling the new run is written into -> (--out resolved, as given)


def _sibling(out: Path, kind: str, pid: int) -> Path:
    return out.parent / f".{out.name}.{kind}-{pid}"


def _staged(out: Path) -> Path:
    """A new, empty sibling of ``out`` (resolved: a symlink keeps pointing at the run) for the new run."""
    real = out.resolve()
    if os.path.ismount(real):
        raise ValueError(
            f"--overwrite cannot replace {out} in one step: it is a mount point; use a directory in it"
        )
    staging = _sibling(real, "new", os.getpid())
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    _STAGED[staging] = (real, out)
    return staging


def finish_run(out: Path) -> Path:
    """The run written in ``out``, in place: a run staged by :func:`run_directory` replaces the old one
    in one step (see the module's notes); return the directory the user named."""
    staged = _STAGED.pop(Path(out), None)
    if staged is None:
        return Path(out)
    real, given = staged
    old = _sibling(real, "old", os.getpid())
    os.rename(real, old)
    os.rename(out, real)  # the new run is in place
    _adopt_user_files(old, real)
    return given


def discard_staged() -> None:
    """Remove the new runs of a command that failed (their old runs are untouched)."""
    while _STAGED:
        staging, _ = _STAGED.popitem()
        shutil.rmtree(staging, ignore_errors=True)


def _adopt_user_files(old: Path, out: Path) -> None:
    """Move what is not aekit's from the replaced run ``old`` into ``out``, then remove ``old``."""
    ours = {*RUN_FILES, *RUN_DIRS, JOURNAL}
    for entry in old.iterdir():
        temporary = entry.name.startswith(".") and entry.name.endswith(".tmp")  # of atomic writes
        if entry.name not in ours and not temporary and not (out / entry.name).exists():
            os.rename(entry, out / entry.name)
    shutil.rmtree(old)


def recover_replacement(out: Path) -> None:
    """Bring ``out`` back to one whole run after a command died while replacing it (see the module's notes)."""
    real = Path(out).absolute().resolve()
    pattern = re.compile(rf"\.{re.escape(real.name)}\.(new|old)-(\d+)")
    if not real.parent.is_dir():
        return
    for entry in sorted(real.parent.iterdir(), key=lambda p: p.name.startswith(f".{real.name}.new")):
        match = pattern.fullmatch(entry.name)
        if not match or int(match.group(2)) == os.getpid() or _alive(int(match.group(2))):
            continue
        if match.group(1) == "old" and not real.exists():
            os.rename(entry, real)  # a crash between the two renames: the old run comes back
        elif match.group(1) == "old":
            _adopt_user_files(entry, real)
        else:
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


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
