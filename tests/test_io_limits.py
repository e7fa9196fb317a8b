"""Loading a checkpoint costs work bounded by its files' sizes, and a hostile file is a CheckpointError
(issue 18, item 3): layer counts bounded before anything is built, deep nesting, non-regular files."""

from __future__ import annotations

import json
import os
import time

import pytest

from aekit import io
from aekit.cli import main
from aekit.errors import CheckpointError
from aekit.nn import Autoencoder, ConvAutoencoder


def _edit_config(path, change) -> None:
    config = json.loads((path / "config.json").read_text())
    change(config)
    (path / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("model", "field", "length"),
    [
        (lambda: Autoencoder(12, [6, 3]), "hidden", 100_000),
        (lambda: ConvAutoencoder(1, [2, 3]), "channels", 50_000),
    ],
)
def test_a_config_with_too_many_layers_fails_fast(tmp_path, model, field, length):
    io.save(model(), tmp_path)
    _edit_config(tmp_path, lambda c: c["args"].update({field: [1] * length}))
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=rf"{field}.*{length} entries, over the limit of 64 layers"):
        io.load(tmp_path)
    assert time.perf_counter() - start < 1.0


def test_arguments_nested_too_deeply_or_too_many_values_are_refused(tmp_path):
    io.save(Autoencoder(12, [6, 3]), tmp_path)
    _edit_config(tmp_path, lambda c: c["args"].update({"hidden": json.loads("[" * 100 + "]" * 100)}))
    with pytest.raises(CheckpointError, match="nested deeper than the limit of 16"):
        io.load(tmp_path)
    _edit_config(tmp_path, lambda c: c["args"].update({f"k{i}": [1] * 60 for i in range(100)}))
    with pytest.raises(CheckpointError, match="more than 4096 values"):
        io.load(tmp_path)


def test_a_deeply_nested_config_is_a_checkpoint_error_and_a_one_line_cli_error(tmp_path, capsys):
    io.save(Autoencoder(12, [6, 3]), tmp_path)
    (tmp_path / "config.json").write_text('{"args": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(CheckpointError, match="nested too deeply"):
        io.load(tmp_path)
    assert main(["evaluate", str(tmp_path), "--data", "digits"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1 and "nested too deeply" in err, err


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs /proc")
@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "training_state.json"])
def test_a_checkpoint_file_that_is_not_a_regular_file_is_a_checkpoint_error(digits, tmp_path, name):
    import aekit

    aekit.fit(Autoencoder(64, 4), digits[0][:64], epochs=1, checkpoint_dir=tmp_path, progress=False)
    (tmp_path / name).unlink()
    (tmp_path / name).symlink_to("/proc/self/mem")
    with pytest.raises(CheckpointError):
        io.load(tmp_path)
        io.read_training_state(tmp_path)


def test_a_pipe_as_a_checkpoint_file_is_refused_without_blocking(tmp_path):
    io.save(Autoencoder(12, [6, 3]), tmp_path)
    (tmp_path / "model.safetensors").unlink()
    os.mkfifo(tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError):
        io.load(tmp_path)


def test_a_config_json_over_its_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    io.save(Autoencoder(12, [6, 3]), tmp_path)
    monkeypatch.setattr(io.files, "MAX_JSON_BYTES", 100)
    with pytest.raises(CheckpointError, match="over the limit of 100 bytes"):
        io.load(tmp_path)
