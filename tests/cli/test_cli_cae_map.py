"""CLI: a CAE with a dense 2-value code (`train --model cae --code-dim 2`, `map --model cae`) on digits."""

import json

import pytest

import aekit
from aekit.cli import main

TRAIN_CAE = ["-q", "train", "--model", "cae", "--data", "digits", "--epochs", "1", "--channels", "2,4"]


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("aekit: error: ") and captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return captured.err


@pytest.fixture(scope="module")
def cae_2d(tmp_path_factory):
    out = tmp_path_factory.mktemp("cae2d") / "run"
    assert main([*TRAIN_CAE, "--code-dim", "2", "--dense", "8", "--out", str(out)]) == 0
    return out


def test_train_cae_with_a_dense_code(cae_2d):
    model = aekit.load(cae_2d)
    assert isinstance(model, aekit.ConvAutoencoder)
    assert model.config["code_dim"] == 2 and model.config["image_size"] == [8, 8]
    assert model.config["dense"] == [8] and model.input_shape == (1, 8, 8)
    assert json.loads((cae_2d / "metrics.json").read_text())["config"]["code_dim"] == 2


def test_map_draws_a_trained_cae_checkpoint(cae_2d, tmp_path, capsys):
    capsys.readouterr()
    argv = ["-q", "map", str(cae_2d), "--data", "digits", "--trust-samples", "200"]
    assert main([*argv, "--out", str(tmp_path / "m.png"), "--metrics-out", str(tmp_path / "m.json")]) == 0
    result = json.loads((tmp_path / "m.json").read_text())
    assert 0.1 < result["aekit"]["knn_accuracy"] <= 1.0 and result["pca"]["knn_accuracy"] > 0.5
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_map_trains_a_cae(tmp_path, capsys):
    argv = ["-q", "map", "--model", "cae", "--channels", "2,4", "--dense", "8", "--data", "digits"]
    argv += ["--epochs", "1", "--trust-samples", "200", "--save", str(tmp_path / "ckpt")]
    assert main([*argv, "--out", str(tmp_path / "m.png"), "--metrics-out", str(tmp_path / "m.json")]) == 0
    result = json.loads((tmp_path / "m.json").read_text())
    assert result["model"].startswith("CAE conv 2-4, dense 8-2")
    assert 0.1 < result["aekit"]["knn_accuracy"] <= 1.0
    model = aekit.load(tmp_path / "ckpt")
    assert model.config["code_dim"] == 2 and model.config["channels"] == [2, 4]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--code-dim", "0"], "--code-dim: expected a positive integer (>= 1), got '0'"),
        (["--code-dim", "two"], "--code-dim: expected a positive integer (>= 1), got 'two'"),
        (["--dense", "8"], "--dense sizes the layers before a dense code: give --code-dim N with it"),
        (["--code-dim", "2", "--unpool", "switches"], "--unpool switches needs the encoder's max-pooling"),
        (["--code-dim", "2", "--channels", "2,2,2,2"], "--data digits has images of size 8x8, but 4 pooling"),
    ],
)
def test_bad_dense_code_options_are_one_line_errors(tmp_path, capsys, options, message):
    argv = [*TRAIN_CAE, *options, "--out", str(tmp_path / "r")]
    assert message in _one_line_error(capsys, argv)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--model", "cae", "--hidden", "16,2"], "--hidden size(s) --model ae; this map is --model cae"),
        (["--channels", "4,4"], "--channels size(s) --model cae; this map is --model ae"),
        (["--model", "cae", "--channels", "0"], "--channels: expected comma-separated positive integers"),
    ],
)
def test_map_refuses_the_other_models_options(tmp_path, capsys, options, message):
    argv = ["-q", "map", "--data", "digits", *options, "--out", str(tmp_path / "m.png")]
    assert message in _one_line_error(capsys, argv)


def test_map_refuses_a_cae_whose_code_is_feature_maps(tmp_path, capsys):
    assert main([*TRAIN_CAE, "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    argv = ["-q", "map", str(tmp_path / "r"), "--data", "digits", "--out", str(tmp_path / "m.png")]
    err = _one_line_error(capsys, argv)
    assert "feature maps of shape (4, 2, 2)" in err and "--code-dim 2" in err
