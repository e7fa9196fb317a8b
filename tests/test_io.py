import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit import Autoencoder, io
from aekit.errors import CheckpointError


@pytest.fixture
def saved(tmp_path, digits):
    model = Autoencoder(64, [32, 8], tied=True, corruption="saltpepper:0.1", code_activation="linear")
    aekit.fit(model, digits[0], epochs=1, progress=False)
    model.cpu()  # trained on a GPU if there is one; aekit.load gives a CPU model
    path = aekit.save(model, tmp_path / "ckpt")
    return model, path


def test_save_load_gives_identical_outputs(saved, digits):
    model, path = saved
    loaded = aekit.load(path)
    assert type(loaded) is Autoencoder and loaded.config == model.config
    assert np.array_equal(aekit.reconstruct(model, digits[2]), aekit.reconstruct(loaded, digits[2]))
    assert loaded.corruption.spec() == "saltpepper:0.1"
    assert loaded.history["epoch"] == [1]
    config = json.loads((path / "config.json").read_text())
    assert config["class"] == "Autoencoder" and config["aekit_version"] == aekit.__version__


def test_no_temporary_files_are_left(saved):
    _, path = saved
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]


def test_truncated_weights_raise_checkpoint_error(saved):
    _, path = saved
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        aekit.load(path)


def test_corrupted_weights_raise_checkpoint_error(saved):
    _, path = saved
    data = bytearray((path / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        aekit.load(path)


def test_mismatched_weights_raise_checkpoint_error(saved, tmp_path):
    _, path = saved
    other = aekit.save(Autoencoder(64, [16, 8]), tmp_path / "other")
    config = json.loads((path / "config.json").read_text())
    config["files"] = json.loads((other / "config.json").read_text())["files"]
    (path / "config.json").write_text(json.dumps(config))
    (path / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="shape|missing"):
        aekit.load(path)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda c: c.update({"format_version": 99}), "version"),
        (lambda c: c.update({"class": "Nope"}), "Nope"),
        (lambda c: c["args"].update({"hidden": "x"}), "rebuild"),
        (lambda c: c.pop("args"), "args"),
        (
            lambda c: c["files"].update({"model.safetensors": "deadbeef"}),
            "manifest entry of model.safetensors",
        ),
        (lambda c: c["files"].update({"model.safetensors": ["x"]}), "manifest entry of model.safetensors"),
        (lambda c: c.update(history=[1, 2]), "'history' is a list"),
        (
            lambda c: c["args"].update(hidden=[10**10, 8]),
            r"shape \(32,?.*expects \(10000000000",
        ),  # nothing allocated
        (lambda c: c["args"].update(sparsity_target=[1]), "cannot rebuild Autoencoder.*TypeError"),
    ],
)
def test_bad_config_raises_checkpoint_error(saved, mutate, match):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    mutate(config)
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=match):
        aekit.load(path)


def test_missing_and_non_json(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        aekit.load(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        aekit.load(tmp_path / "bad")


def test_a_pickle_is_never_loaded(tmp_path):
    """A checkpoint whose weights file is a torch pickle is refused, not unpickled."""
    model = Autoencoder(4, 2)
    path = aekit.save(model, tmp_path / "ckpt")
    torch.save(model.state_dict(), path / "model.safetensors")  # a pickle in disguise
    config = json.loads((path / "config.json").read_text())
    config["files"] = {}  # even without the hash check
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="safetensors"):
        aekit.load(path)


def test_written_files_are_readable_like_open_would_make_them(saved):
    import os
    import stat

    _, path = saved
    mask = os.umask(0)
    os.umask(mask)
    for name in ("config.json", "model.safetensors"):
        assert stat.S_IMODE((path / name).stat().st_mode) == 0o666 & ~mask


def test_any_failure_of_a_constructor_is_a_checkpoint_error(tmp_path, monkeypatch):
    path = aekit.save(Autoencoder(8, 2), tmp_path / "ckpt")

    def broken(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Autoencoder, "__init__", broken)
    with pytest.raises(CheckpointError, match="cannot rebuild Autoencoder.*RuntimeError: boom"):
        aekit.load(path)


def test_a_stack_with_a_bad_history_is_refused_not_broken_later(tmp_path):
    path = aekit.save(aekit.StackedAutoencoder(64, [16]), tmp_path / "stack")
    config = json.loads((path / "config.json").read_text())
    config["history"] = [1]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="history"):
        aekit.load(path)
    stack = aekit.StackedAutoencoder(64, [16])
    stack.history = {"pretrain": 5}
    assert stack.pretrain_history == []


def test_a_transaction_replaces_all_its_files_or_none(tmp_path):
    (tmp_path / "a").write_text("old a")
    (tmp_path / "b").write_text("old b")
    with pytest.raises(KeyboardInterrupt), io.transaction():
        io.atomic_write_text(tmp_path / "a", "new a")
        raise KeyboardInterrupt
    assert (
        sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"] and (tmp_path / "a").read_text() == "old a"
    )
    with io.transaction():
        io.atomic_write_text(tmp_path / "a", "new a")
        assert (tmp_path / "a").read_text() == "old a"  # held back until the end
        io.atomic_write_text(tmp_path / "b", "new b")
    assert [(tmp_path / n).read_text() for n in "ab"] == ["new a", "new b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_ctrl_c_while_a_transaction_commits_waits_for_all_its_files(tmp_path, monkeypatch, request):
    import signal

    replace = os.replace

    def replace_and_interrupt(src, dst):
        replace(src, dst)
        if Path(dst).name == "a":
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the two renames

    monkeypatch.setattr(os, "replace", replace_and_interrupt)
    # Ctrl-C as in a terminal: a job started in the background (`pytest &`) inherits SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    with pytest.raises(KeyboardInterrupt), io.transaction():
        io.atomic_write_text(tmp_path / "a", "new a")
        io.atomic_write_text(tmp_path / "b", "new b")
    assert [(tmp_path / n).read_text() for n in "ab"] == ["new a", "new b"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
