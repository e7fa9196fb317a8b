"""Each checkpoint commit is atomic: a crash after ANY single file operation of a save leaves the
previous epoch or the new one, loadable and resumable, never a torn run (issue 18, item 2)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest
import torch

import aekit
from aekit import io
from aekit.nn import Autoencoder

JOURNAL = ".aekit-commit.json"  # aekit.io.atomic.JOURNAL
OPERATIONS = ("replace", "rename", "fsync", "unlink", "remove")


class InjectedCrash(OSError):
    """The file operation at which the simulated crash happens."""


@contextlib.contextmanager
def crash_at(k: int, *, dead: bool) -> Iterator[list[int]]:
    """Make the k-th file operation (os.replace/rename/fsync/unlink/remove) raise; with ``dead`` every
    later one too (the process is gone: no clean-up runs). Yields the count of operations seen."""
    count = [0]
    originals = {name: getattr(os, name) for name in OPERATIONS}

    def wrapped(name: str):
        def operation(*args, **kwargs):
            count[0] += 1
            if count[0] == k or (dead and count[0] > k):
                raise InjectedCrash(f"injected crash at file operation {count[0]} (os.{name})")
            return originals[name](*args, **kwargs)

        return operation

    for name in OPERATIONS:
        setattr(os, name, wrapped(name))
    try:
        yield count
    finally:
        for name, fn in originals.items():
            setattr(os, name, fn)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _fit(X, directory, epochs: int, resume: bool) -> None:
    aekit.fit(
        Autoencoder(64, 4),
        X,
        epochs=epochs,
        seed=0,
        checkpoint_dir=directory,
        resume_from=directory if resume else None,
        progress=False,
    )


@pytest.mark.parametrize("dead", [False, True], ids=["error", "crash"])
def test_a_crash_after_any_file_operation_of_a_save_leaves_a_whole_epoch(digits, tmp_path, dead):
    X = digits[0][:64]
    first = tmp_path / "epoch1"
    _fit(X, first, epochs=1, resume=False)
    w1 = _weights(io.load(first))
    second = tmp_path / "epoch2"
    shutil.copytree(first, second)
    _fit(X, second, epochs=2, resume=True)
    w2 = _weights(io.load(second))
    assert not _same(w1, w2)
    outcomes = set()
    for k in range(1, 200):
        run = tmp_path / f"k{k}"
        shutil.copytree(first, run)
        with crash_at(k, dead=dead) as count, contextlib.suppress(InjectedCrash):
            _fit(X, run, epochs=2, resume=True)
        state = io.read_training_state(run)  # never torn: the previous epoch or the new one
        loaded = _weights(io.load(run))
        assert (state.epoch, _same(loaded, w1 if state.epoch == 1 else w2)) in ((1, True), (2, True)), k
        io.load_run_weights(Autoencoder(64, 4), run, state)
        outcomes.add(state.epoch)
        _fit(X, run, epochs=3, resume=True)  # and it resumes
        assert io.read_training_state(run).epoch == 3
        assert not list(run.glob("*.tmp")) and not (run / JOURNAL).exists()
        if count[0] < k:  # the save ran to the end without reaching operation k: every k was tried
            break
    else:
        pytest.fail("the save never ended")
    assert outcomes == {1, 2} and k > 8  # crashes fell before and after the commit point


@pytest.mark.parametrize("dead", [False, True], ids=["error", "crash"])
def test_a_crash_in_save_leaves_the_old_checkpoint_or_the_new_one(tmp_path, dead):
    old, new = Autoencoder(12, [6, 3]), Autoencoder(12, [6, 3])
    io.save(old, tmp_path / "reference")
    for k in range(1, 100):
        path = tmp_path / f"k{k}"
        io.save(old, path)
        with crash_at(k, dead=dead) as count, contextlib.suppress(InjectedCrash):
            io.save(new, path)
        loaded = _weights(io.load(path))
        assert _same(loaded, _weights(old)) or _same(loaded, _weights(new)), k
        if count[0] < k:
            break
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]


def test_a_committed_save_is_read_through_its_journal_in_a_read_only_directory(tmp_path):
    old, new = Autoencoder(12, [6, 3]), Autoencoder(12, [6, 3])
    io.save(old, tmp_path)
    replaced = []
    real_replace = os.replace

    def replace_only_the_journal(src, dst, **kw):
        if str(dst).endswith(JOURNAL):
            return real_replace(src, dst, **kw)
        replaced.append(dst)
        raise PermissionError(13, "read-only file system", str(dst))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "replace", replace_only_the_journal)
        with pytest.raises(PermissionError):  # after the commit point
            io.save(new, tmp_path)
        assert (tmp_path / JOURNAL).exists()
        # a reader that cannot roll forward (replace still fails) reads the new files through the journal
        assert _same(_weights(io.load(tmp_path)), _weights(new))
    assert _same(_weights(io.load(tmp_path)), _weights(new))
    assert not (tmp_path / JOURNAL).exists()  # rolled forward by that load


def test_a_corrupted_journal_is_a_checkpoint_error(tmp_path):
    io.save(Autoencoder(12, [6, 3]), tmp_path)
    (tmp_path / JOURNAL).write_text('{"files": {"config.json": "../../etc/passwd"}}')
    with pytest.raises(aekit.errors.CheckpointError, match="commit journal"):
        io.load(tmp_path)
