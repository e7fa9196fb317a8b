"""The run directory of the training commands: fresh, --overwrite, --resume; checks made before training."""

import json
import struct

import numpy as np
import pytest

from aekit.cli import main


def _error(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


DENSE = ["-q", "train", "--hidden", "8", "--epochs", "1", "--val-fraction", "0"]
DIVERGING = [
    "--activation",
    "linear",
    "--output-activation",
    "linear",
    "--loss",
    "mse",
    "--optimizer",
    "sgd",
    "--lr",
    "0.06",
    "--epochs",
    "8",
]  # NaN in epoch 2


def test_a_fresh_run_refuses_a_directory_with_a_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(DENSE + ["--out", str(run)]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert main(DENSE + DIVERGING + ["--out", str(run)]) == 2
    _error(capsys, str(run), "--overwrite")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_overwrite_removes_what_the_earlier_run_wrote(tmp_path):
    run = tmp_path / "run"
    assert main(DENSE + ["--out", str(run)]) == 0
    (run / "pretrained").mkdir()
    (run / "denoising.png").write_bytes(b"stale")
    (run / "notes.txt").write_text("mine")
    metrics = (run / "metrics.json").read_bytes()
    assert main(DENSE + DIVERGING + ["--out", str(run), "--overwrite"]) == 2
    # a failed --overwrite leaves the earlier run whole (issue 18); a run that succeeds replaces it
    assert (run / "metrics.json").read_bytes() == metrics and (run / "pretrained").is_dir()
    assert main(DENSE + ["--out", str(run), "--overwrite", "--epochs", "2"]) == 0
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 2
    assert not (run / "pretrained").exists() and not (run / "denoising.png").exists()
    assert (run / "notes.txt").read_text() == "mine"
    assert main(DENSE + ["--out", str(run), "--overwrite"]) == 0


def test_demo_clears_its_own_directory(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "training_state.json").write_text("{}")
    assert main(["-q", "demo", "--epochs", "1", "--out", str(tmp_path / "demo")]) == 0
    assert not (tmp_path / "demo" / "training_state.json").exists()
    assert main(["-q", "demo", "--epochs", "1", "--out", str(tmp_path / "demo")]) == 0


@pytest.mark.parametrize(
    "command",
    [["train"], ["train", "--model", "cae"], ["train", "--model", "sda"], ["demo"], ["codec", "train"]],
)
def test_zero_epochs_is_refused_before_anything_is_written(tmp_path, capsys, command):
    assert main(["-q", *command, "--epochs", "0", "--out", str(tmp_path / "run")]) == 2
    _error(capsys, "--epochs", ">= 1", "'0'")
    assert not (tmp_path / "run").exists()


def _idx(path, magic, array):
    path.write_bytes(
        struct.pack(">I", magic)
        + b"".join(struct.pack(">I", n) for n in array.shape)
        + array.astype(np.uint8).tobytes()
    )


@pytest.mark.parametrize(
    "command", [["train"], ["train", "--model", "cae"], ["train", "--model", "sda"], ["codec", "train"]]
)
def test_a_missing_test_split_fails_before_training(tmp_path, capsys, command):
    data = tmp_path / "idx"
    data.mkdir()
    _idx(data / "train-images-idx3-ubyte", 0x803, np.random.default_rng(0).integers(0, 256, (40, 8, 8)))
    _idx(data / "train-labels-idx1-ubyte", 0x801, np.arange(40) % 10)
    assert main(["-q", *command, "--data", str(data), "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    _error(capsys, "test")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", [["codec", "train", "--out", "run"], ["map", "--out", "map.png"]])
def test_commands_that_cannot_resume_refuse_resume(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    assert main(["-q", *command, "--resume"]) == 2
    _error(capsys, "--resume")


@pytest.fixture(scope="module")
def sigmoid_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("resume") / "run"
    assert main(DENSE + ["--activation", "sigmoid", "--epochs", "2", "--out", str(run)]) == 0
    return run


@pytest.mark.parametrize(
    "option, words",
    [
        (["--activation", "relu"], ["--activation", "'relu'", "'sigmoid'"]),
        (["--hidden", "16"], ["--hidden", "[16]", "[8]"]),
        (["--corruption", "masking:0.2"], ["--corruption", "masking:0.2", "None"]),
    ],
)
def test_resume_refuses_a_changed_architecture(sigmoid_run, capsys, option, words):
    config = (sigmoid_run / "config.json").read_bytes()
    assert main(["-q", "train", "--epochs", "3", "--resume", "--out", str(sigmoid_run), *option]) == 2
    _error(capsys, *words)
    assert (sigmoid_run / "config.json").read_bytes() == config


def test_resume_takes_the_architecture_from_the_checkpoint(tmp_path):
    run = tmp_path / "run"
    assert main(DENSE + ["--epochs", "2", "--out", str(run)]) == 0
    assert main(["-q", "train", "--epochs", "3", "--val-fraction", "0", "--resume", "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["args"]["hidden"] == [8] and config["history"]["epoch"] == [1, 2, 3]


def test_resume_without_a_run_fails_before_training(tmp_path, capsys):
    for model in ("ae", "sda"):
        assert main(["-q", "train", "--model", model, "--resume", "--out", str(tmp_path / "run")]) == 2
        _error(capsys, "--resume", "no run to continue")
        assert not (tmp_path / "run").exists()


SDA = ["-q", "train", "--model", "sda", "--hidden", "8", "--pretrain-epochs", "1", "--epochs", "1"]


def test_sda_checks_the_labels_before_pre_training(tmp_path, capsys):
    np.savez(tmp_path / "xy.npz", X=np.random.rand(50, 64).astype(np.float32), y=np.arange(50) % 10 - 1)
    assert main(SDA + ["--data", str(tmp_path / "xy.npz"), "--out", str(tmp_path / "run")]) == 2
    _error(capsys, "labels", "-1")
    assert not (tmp_path / "run").exists()


def test_sda_pretrain_lr_zero_is_refused(tmp_path, capsys):
    assert main(SDA + ["--pretrain-lr", "0", "--out", str(tmp_path / "run")]) == 2
    _error(capsys, "--pretrain-lr", "0")
    assert not (tmp_path / "run").exists()


def test_sda_resume_reports_the_checkpoints_architecture(tmp_path):
    run = tmp_path / "run"
    assert main(SDA + ["--out", str(run)]) == 0
    assert main(["-q", "train", "--model", "sda", "--epochs", "2", "--resume", "--out", str(run)]) == 0
    assert json.loads((run / "metrics.json").read_text())["architecture"] == [64, 8, 10]
