"""The options a user reaches for (issue 17, item 7): --size/--mode for folders of mixed images, `aekit
predict`, `aekit filters` of a CAE, the PSNR of `denoise --add-noise`, codes.npz's key, options a model
would ignore refused, and the defaults each --model builds."""

import csv

import numpy as np
import pytest
import torch
from PIL import Image

import aekit
from aekit.cli import main
from aekit.data import load_array, load_dataset

TINY = ["-q", "train", "--epochs", "1", "--batch-size", "64"]


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aekit: error: ") and err.count("\n") == 1, err
    return err[len("aekit: error: ") : -1]


def _png(path, array: np.ndarray) -> None:
    Image.fromarray(np.rint(np.asarray(array) * 255).astype(np.uint8)).save(path)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def mixed(tmp_path):
    """A folder of grey PNGs of three different sizes."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(10, 8), (8, 8), (12, 9), (8, 11), (9, 9)]):
        _png(folder / f"{i}.png", rng.random((h, w)))
    return folder


def test_size_loads_a_folder_of_mixed_sizes(mixed, tmp_path, capsys):
    out = tmp_path / "run"
    message = _one_line_error(capsys, [*TINY, "--data", str(mixed), "--hidden", "4", "--out", str(out)])
    assert "give --size HEIGHTxWIDTH to resize them all" in message and not out.exists()
    argv = [*TINY, "--data", str(mixed), "--size", "8x8", "--mode", "RGB", "--hidden", "4", "--out", str(out)]
    assert main(argv) == 0
    assert aekit.load(out).config["input_dim"] == 3 * 8 * 8  # resized, and three channels by --mode
    assert main(["-q", "evaluate", str(out), "--data", str(mixed), "--size", "8", "--mode", "RGB"]) == 0


@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--size", "28"],
            "--size 28x28 applies to a folder of images only, and 'digits' is not a folder of images",
        ),
        (
            ["--mode", "RGB"],
            "--mode RGB applies to a folder of images only, and 'digits' is not a folder of images",
        ),
        (
            ["--size", "0x3"],
            "--size: expected HEIGHTxWIDTH or one side, each 1..4096, e.g. 28x28 or 28; got '0x3' "
            "(see 'aekit train --help')",
        ),
    ],
)
def test_size_and_mode_are_for_image_folders(tmp_path, capsys, options, message):
    argv = [*TINY, "--data", "digits", *options, "--out", str(tmp_path / "run")]
    assert _one_line_error(capsys, argv) == message


@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--model", "ae", "--channels", "16,16"],
            "--channels 16,16 is not an option of --model ae (it would be ignored): it applies to --model cae",
        ),
        (
            ["--model", "cae", "--hidden", "8"],
            "--hidden 8 is not an option of --model cae (it would be ignored): it applies to --model ae and "
            "--model sda",
        ),
        (
            ["--model", "cae", "--activation", "tanh"],
            "--activation tanh is not an option of --model cae (it would be ignored): it applies to "
            "--model ae and --model sda",
        ),
        (
            ["--model", "sda", "--code-activation", "linear"],
            "--code-activation linear is not an option of --model sda (it would be ignored): it applies to "
            "--model ae",
        ),
        (
            ["--pretrain-epochs", "3"],
            "--pretrain-epochs 3 is not an option of --model ae (it would be ignored): it applies to "
            "--model sda",
        ),
        (
            ["--model", "ae", "--block", "masci"],
            "--block masci is not an option of --model ae (it would be ignored): it applies to --model cae",
        ),
        (
            ["--model", "cae", "--depth", "3"],
            "--depth 3 applies to the photo denoiser only: give --patch N with it, or leave it out",
        ),
        (
            ["--model", "cae", "--patch", "16", "--noise", "gaussian:0.1", "--block", "masci"],
            "--block masci is not an option of the photo denoiser (--patch 16): it trains on patches of "
            "images of any size, with --channels, --depth, --kernel-size, --arch",
        ),
        (
            ["--model", "cae", "--noise", "masking"],
            "--noise: 'masking' needs its ν, e.g. masking:0.25 (see 'aekit train --help')",
        ),
    ],
)
def test_an_option_the_model_would_ignore_is_refused(tmp_path, capsys, options, message):
    out = tmp_path / "run"
    assert _one_line_error(capsys, [*TINY, *options, "--out", str(out)]) == message
    assert not out.exists()


def test_train_help_offers_no_split():
    from aekit.cli import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    assert "--split" not in train.format_help()


@pytest.fixture(scope="module")
def sda(tmp_path_factory):
    out = tmp_path_factory.mktemp("sda") / "run"
    argv = [
        *TINY,
        "--model",
        "sda",
        "--hidden",
        "16",
        "--pretrain-epochs",
        "1",
        "--epochs",
        "2",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    return out


def test_each_model_has_its_own_default_activation(sda, tmp_path):
    assert aekit.load(sda / "pretrained").config["activation"] == "sigmoid"  # SdA: logistic units
    assert main([*TINY, "--hidden", "8", "--out", str(tmp_path / "ae")]) == 0
    config = aekit.load(tmp_path / "ae").config
    assert config["activation"] == config["code_activation"] == "gelu"  # trains deep from a random start


def test_predict_images_and_data(sda, tmp_path, capsys):
    X, _ = load_dataset("digits", split="test", flatten=False)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"d{i}.png")
        _png(paths[-1], X[i, 0])
    _png(tmp_path / "big.png", np.zeros((28, 28)))
    capsys.readouterr()
    argv = ["predict", str(sda), *map(str, paths), "--data", "digits", "--out", str(tmp_path / "p.csv")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"{paths[0]}: class " in printed and "... and 343 more" in printed
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert len(rows) == 3 + 360 and rows[3]["input"] == "digits[0]"
    expected = aekit.predict(aekit.load(sda), load_dataset("digits", split="test")[0])
    assert [int(r["class"]) for r in rows[3:]] == expected.tolist()
    assert all(0 < float(r["probability"]) <= 1 for r in rows)

    message = _one_line_error(capsys, ["predict", str(sda), str(tmp_path / "big.png")])
    assert message == (
        f"{tmp_path / 'big.png'} is 1x28x28 (channels x height x width, 784 values) but the classifier "
        "takes 64 values: give --size 8x8 --mode L to convert it"
    )
    assert main(["-q", "predict", str(sda), str(tmp_path / "big.png"), "--size", "8"]) == 0
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "colour.png")
    message = _one_line_error(capsys, ["predict", str(sda), str(tmp_path / "colour.png")])
    assert message.endswith(
        "is 3x8x8 (channels x height x width, 192 values) but the classifier takes 64 "
        "values: give --size 8x8 --mode L to convert it"
    )
    assert main(["-q", "predict", str(sda), str(tmp_path / "colour.png"), "--mode", "L"]) == 0


def test_predict_needs_a_classifier(sda, capsys):
    message = _one_line_error(capsys, ["predict", str(sda / "pretrained"), "--data", "digits"])
    assert message.startswith(f"{sda / 'pretrained'} holds a StackedAutoencoder, not a classifier")


@pytest.fixture(scope="module")
def cae(tmp_path_factory):
    out = tmp_path_factory.mktemp("cae") / "run"
    assert (
        main([*TINY, "--model", "cae", "--channels", "4,4", "--noise", "gaussian:0.3", "--out", str(out)])
        == 0
    )
    return out


def test_filters_of_a_cae(cae, tmp_path):
    assert main(["-q", "filters", str(cae), "--out", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").stat().st_size > 0


def test_denoise_add_noise_prints_the_psnr(cae, tmp_path, capsys):
    X, _ = load_dataset("digits", split="test", flatten=False)
    np.save(tmp_path / "clean.npy", X[:5, 0])
    capsys.readouterr()
    argv = [
        "denoise",
        str(cae),
        str(tmp_path / "clean.npy"),
        "--add-noise",
        "gaussian:0.3",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(argv) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("PSNR over 5 image(s): noisy (gaussian:0.3) ") and line.endswith(" dB")
    noisy, denoised = (float(v.split()[-1]) for v in line[:-3].split(" dB -> denoised"))
    assert 5 < noisy < 20 and 0 < denoised < 40
    message = _one_line_error(capsys, [*argv[:3], "--add-noise", "gaussian", "--out", str(tmp_path / "o2")])
    assert message == "--add-noise: 'gaussian' needs its σ, e.g. gaussian:0.5 (see 'aekit denoise --help')"


def test_codes_npz_holds_codes_and_old_files_still_load(cae, tmp_path):
    assert main(["-q", "encode", str(cae), "--data", "digits", "--out", str(tmp_path / "codes.npz")]) == 0
    with np.load(tmp_path / "codes.npz") as saved:
        assert sorted(saved.files) == ["codes", "y"]
        codes, y = saved["codes"], saved["y"]
    X, labels = load_array(tmp_path / "codes.npz")
    assert np.array_equal(X, codes) and np.array_equal(labels, y)
    np.savez(tmp_path / "old.npz", X=codes, y=y)  # what aekit encode wrote before
    X, labels = load_array(tmp_path / "old.npz")
    assert np.array_equal(X, codes) and np.array_equal(labels, y)
