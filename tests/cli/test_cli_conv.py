"""CLI: `aekit train --model cae` and `aekit denoise` on PNG files and .npy arrays."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import aekit
from aekit.cli import main
from aekit.data import load_dataset


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cae")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    code = main(
        [
            "-q",
            "train",
            "--model",
            "cae",
            "--data",
            "digits",
            "--noise",
            "gaussian:0.3",
            "--channels",
            "4,4",
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--out",
            str(out),
        ]
    )
    torch.set_num_threads(before)
    assert code == 0
    return out


def test_train_cae_writes_checkpoint_metrics_and_figure(trained):
    model = aekit.load(trained)
    assert isinstance(model, aekit.ConvAutoencoder)
    assert model.config["corruption"] == {"type": "gaussian", "sigma": 0.3, "clip": True}
    report = json.loads((trained / "metrics.json").read_text())
    assert report["model"] == "cae" and report["train_samples_per_second"] > 0
    assert report["denoising"]["psnr_noisy_db"] > 0
    assert (trained / "denoising.png").stat().st_size > 0


def test_denoise_png_written_by_the_test(trained, tmp_path):
    X, _ = load_dataset("digits", split="test", flatten=False)
    png = tmp_path / "digit.png"
    Image.fromarray((X[0, 0] * 255).astype(np.uint8)).save(png)
    out = tmp_path / "out"
    assert (
        main(["-q", "denoise", str(trained), str(png), "--out", str(out), "--add-noise", "gaussian:0.3"]) == 0
    )
    with Image.open(out / "digit.png") as img:
        assert img.size == (8, 8) and img.mode == "L"
    assert (out / "denoise.png").stat().st_size > 0


def test_denoise_npy_keeps_the_shape(trained, tmp_path):
    X, _ = load_dataset("digits", split="test", flatten=False)
    arr = tmp_path / "batch.npy"
    np.save(arr, X[:5, 0])  # (N, H, W)
    out = tmp_path / "out"
    assert main(["-q", "denoise", str(trained), str(arr), "--out", str(out)]) == 0
    denoised = np.load(out / "batch.npy")
    assert denoised.shape == (5, 8, 8) and denoised.min() >= 0 and denoised.max() <= 1
    expected = aekit.reconstruct(aekit.load(trained), X[:5])[:, 0]
    np.testing.assert_allclose(denoised, expected, atol=1e-5)


def test_denoise_errors_are_one_line(trained, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert main(["denoise", str(trained), str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "not a readable image" in capsys.readouterr().err
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 3, 8, 8), np.float32))
    assert main(["denoise", str(trained), str(wrong), "--out", str(tmp_path / "o")]) == 2
    assert "expected (H, W)" in capsys.readouterr().err
    assert main(["denoise", str(trained), str(tmp_path / "missing.png"), "--out", str(tmp_path / "o")]) == 2


def test_train_cae_rejects_flat_data(tmp_path, capsys):
    flat = tmp_path / "flat.npy"
    np.save(flat, np.random.default_rng(0).random((20, 64), dtype=np.float32))
    assert (
        main(["train", "--model", "cae", "--data", str(flat), "--out", str(tmp_path / "m"), "--epochs", "1"])
        == 2
    )
    assert "needs images" in capsys.readouterr().err


def test_evaluate_encode_reconstruct_take_images_for_a_cae(trained, tmp_path, capsys):
    assert main(["-q", "evaluate", str(trained), "--data", "digits", "--out", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["n"] == 360
    assert main(["-q", "encode", str(trained), "--data", "digits", "--out", str(tmp_path / "c.npy")]) == 0
    assert np.load(tmp_path / "c.npy").shape == (360, 4, 2, 2)
    assert (
        main(["-q", "reconstruct", str(trained), "--data", "digits", "--out", str(tmp_path / "r.png")]) == 0
    )


@pytest.fixture
def untrained_cae(tmp_path):
    aekit.save(aekit.ConvAutoencoder(1, [4]), tmp_path / "cae")
    return tmp_path / "cae"


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)
    return path


def test_denoise_refuses_two_inputs_with_one_output_name(untrained_cae, tmp_path, capsys):
    a, b = _png(tmp_path / "noisy1.png"), _png(tmp_path / "sub" / "noisy1.png")
    out = tmp_path / "dn"
    assert main(["-q", "denoise", str(untrained_cae), str(a), str(b), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1 and "noisy1.png" in err and "both" in err
    assert not out.exists()


@pytest.mark.parametrize("second", ["missing.png", "bad.npy", "denoise.png"])
def test_denoise_writes_nothing_when_an_input_is_bad(untrained_cae, tmp_path, capsys, second):
    a = _png(tmp_path / "noisy1.png")
    (tmp_path / "bad.npy").write_bytes(b"not an array")
    if second == "denoise.png":  # would overwrite the figure
        _png(tmp_path / "denoise.png")
    out = tmp_path / "dn"
    assert main(["-q", "denoise", str(untrained_cae), str(a), str(tmp_path / second), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1 and second in err, err
    assert not out.exists()


def test_train_cae_says_which_split_its_figures_are_of(tmp_path, capsys):
    argv = ["train", "--model", "cae", "--data", "digits", "--channels", "4,4", "--epochs", "1"]
    assert main([*argv, "--noise", "gaussian:0.3", "--out", str(tmp_path / "cae")]) == 0
    test = json.loads((tmp_path / "cae" / "metrics.json").read_text())["test"]
    assert f"test loss {test['loss']:.4g}, PSNR {test['psnr_db']:.2f} dB" in capsys.readouterr().out
