"""A failed --overwrite never deletes the last good run: the new run is written beside it and swapped
in at the end (issue 18, item 1); a crash in the middle of the swap is recovered by the next command."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from aekit import io
from aekit.cli import main, runs
from aekit.errors import CheckpointError

DENSE = ["-q", "train", "--hidden", "8", "--epochs", "1", "--val-fraction", "0"]
DIVERGING = ["--activation", "linear", "--output-activation", "linear", "--loss", "mse"]
DIVERGING += ["--optimizer", "sgd", "--lr", "0.06", "--epochs", "8"]  # NaN in epoch 2, after epoch 1's save


def _rows(**cells) -> np.ndarray:
    X = np.random.default_rng(0).random((40, 64)).astype(np.float32)
    for index, value in cells.items():
        X[int(index[1:])] = value
    return X


def _write(path, content) -> str:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif path.suffix == ".npz":
        np.savez(path, **content)
    else:
        np.save(path, content)
    return str(path)


BAD_DATA = {
    "nan": (".npy", _rows(r3=np.nan)),
    "inf": (".npy", _rows(r3=np.inf)),
    "minus-inf": (".npy", _rows(r3=-np.inf)),
    "over-float32": (".npy", _rows(r3=1.0).astype(np.float64) * 1e39),
    "above-one": (".npy", _rows(r3=2.0)),
    "below-zero": (".npy", _rows(r3=-0.5)),
    "complex": (".npy", _rows().astype(np.complex64)),
    "strings": (".npy", np.array([["a"] * 64] * 4)),
    "empty": (".npy", np.zeros((0, 64), np.float32)),
    "one-dimensional": (".npy", np.zeros(64, np.float32)),
    "scalar": (".npy", np.float32(0.5)),
    "truncated": (
        ".npy",
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (40, 64), }",
    ),
    "labels-mismatch": (".npz", {"X": _rows(), "y": np.arange(3)}),
}


def _snapshot(run) -> dict:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


def _leftovers(run) -> list[str]:
    return sorted(p.name for p in run.parent.iterdir() if p.name.startswith(f".{run.name}."))


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("good") / "run"
    assert main(DENSE + ["--data", "digits", "--hidden", "16", "--out", str(run)]) == 0
    return run


@pytest.mark.parametrize("kind", sorted(BAD_DATA))
def test_a_failed_overwrite_keeps_the_previous_run(good_run, tmp_path, capsys, kind):
    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    (run / "notes.txt").write_text("mine")
    before = _snapshot(run)
    suffix, content = BAD_DATA[kind]
    data = _write(tmp_path / f"bad{suffix}", content)
    assert main(DENSE + ["--data", data, "--out", str(run), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and "Traceback" not in err, err
    assert _snapshot(run) == before and _leftovers(run) == []
    assert io.load(run).config["hidden"] == [16]


def test_a_run_failing_after_its_first_checkpoint_keeps_the_previous_run(good_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    before = _snapshot(run)
    assert main(DENSE + DIVERGING + ["--data", "digits", "--out", str(run), "--overwrite"]) == 2
    assert _snapshot(run) == before and _leftovers(run) == []
    assert main(DENSE + ["--data", "digits", "--out", str(run), "--overwrite"]) == 0
    assert io.load(run).config["hidden"] == [8] and _leftovers(run) == []


def test_a_failed_codec_train_overwrite_keeps_the_codec(tmp_path):
    out = tmp_path / "codec"
    codec = ["-q", "codec", "train", "--hidden", "16,6", "--epochs", "1", "--batch-size", "64"]
    assert main(codec + ["--data", "digits", "--out", str(out)]) == 0
    before = _snapshot(out)
    assert {"encoder.onnx", "codec.json", "config.json"} <= set(before)
    for kind in ("nan", "above-one", "empty"):
        suffix, content = BAD_DATA[kind]
        data = _write(tmp_path / f"bad{suffix}", content)
        assert main(codec + ["--data", data, "--out", str(out), "--overwrite"]) == 2
        assert _snapshot(out) == before and _leftovers(out) == []


def _swap_interrupted_at(step: int, run, monkeypatch) -> None:
    """Run finish_run on a staged run with a crash at its ``step``-th rename."""
    new = run.parent / "new"
    assert main(DENSE + ["--data", "digits", "--out", str(new)]) == 0
    staging = runs.run_directory(run, overwrite=True)
    for entry in new.iterdir():
        entry.rename(staging / entry.name)
    calls = [0]
    real_rename = os.rename

    def rename(src, dst):
        calls[0] += 1
        if calls[0] == step:
            raise KeyboardInterrupt  # the process dies here
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        runs.finish_run(staging)
    monkeypatch.setattr(os, "rename", real_rename)
    runs._STAGED.clear()  # the process that staged it is gone
    pid = os.getpid()
    for entry in run.parent.iterdir():  # pretend the dead process had another pid
        if entry.name.endswith(f"-{pid}"):
            real_rename(entry, entry.with_name(entry.name.replace(f"-{pid}", "-999999999")))


@pytest.mark.parametrize("step", [1, 2, 3])  # old aside, new in, the user's file over
def test_a_crash_while_swapping_is_recovered_by_the_next_command(good_run, tmp_path, monkeypatch, step):
    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    (run / "notes.txt").write_text("mine")
    _swap_interrupted_at(step, run, monkeypatch)
    # whatever the step: a loadable run under its name once the next command has looked at it
    runs.recover_replacement(run)
    assert io.load(run).config["hidden"] in ([16], [8])
    assert (run / "notes.txt").read_text() == "mine" and _leftovers(run) == []


def test_loading_a_run_whose_replacement_was_cut_short_says_where_it_is(good_run, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    _swap_interrupted_at(2, run, monkeypatch)  # after the old run went aside, before the new came in
    with pytest.raises(CheckpointError, match=r"cut short: the previous run is in .*\.run\.old-999999999"):
        io.load(run)
    runs.recover_replacement(run)
    assert io.load(run).config["hidden"] == [16]
