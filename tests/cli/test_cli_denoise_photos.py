"""CLI: `aekit train --model cae --patch N` on a folder of photos, `aekit denoise` on photos of any size,
and the shipped denoisers (`aekit denoise --pretrained`, `--list`)."""

import json

import numpy as np
import pytest
from PIL import Image

import aekit
from aekit.cli import main
from aekit.denoising import pretrained_denoisers
from aekit.nn import ConvDenoiser


def _photo(path, h, w, colour=False, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [
        0.5 + 0.4 * np.sin(2 * np.pi * (rng.uniform(1, 3) * yy + rng.uniform(1, 3) * xx)) for _ in "rgb"
    ]
    arr = np.rint(np.stack(planes, -1) * 255).astype(np.uint8)
    Image.fromarray(arr if colour else arr[..., 0]).save(path)
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i, (h, w) in enumerate([(40, 52), (48, 36), (33, 45)]):
        _photo(folder / f"p{i}.png", h, w, seed=i)
    return folder


def _train(photos, out, *extra):
    argv = ["-q", "train", "--model", "cae", "--data", str(photos), "--patch", "24", "--channels", "4,8"]
    argv += ["--batch-size", "4", "--patches-per-epoch", "8", "--epochs", "1", "--out", str(out), *extra]
    return main(argv)


@pytest.fixture(scope="module")
def trained(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("gray")
    assert _train(photos, out, "--noise", "gaussian:25/255") == 0
    return out


def test_patch_training_writes_a_photo_denoiser(trained):
    model = aekit.load(trained)
    assert isinstance(model, ConvDenoiser) and model.config["in_channels"] == 1
    assert model.config["corruption"] == {"type": "gaussian", "sigma": pytest.approx(25 / 255), "clip": False}
    assert model.config["channels"] == [4, 8] and model.config["residual"]
    report = json.loads((trained / "metrics.json").read_text())
    assert report["patch"] == 24 and report["images"] == 3 and report["patches_per_second"] > 0
    assert (trained / "training_state.json").is_file()  # resumable: weights and optimizer state


def test_blind_training_and_resume(photos, tmp_path):
    out = tmp_path / "blind"
    assert _train(photos, out, "--sigma-range", "0,55", "--arch", "red", "--color", "RGB") == 0
    model = aekit.load(out)
    assert model.config["sigma_range"] == [0.0, 55.0] and model.config["in_channels"] == 3
    assert not model.config["residual"]
    assert (
        _train(
            photos,
            out,
            "--sigma-range",
            "0,55",
            "--arch",
            "red",
            "--color",
            "RGB",
            "--epochs",
            "2",
            "--resume",
        )
        == 0
    )
    report = json.loads((out / "metrics.json").read_text())
    assert report["epochs"] == 2


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ([], "--noise SPEC"),
        (["--noise", "gaussian:0.1", "--sigma-range", "0,55"], "--noise SPEC"),
        (["--sigma-range", "9,3"], "LOW,HIGH"),
        (["--sigma-range", "0,55", "--patch", "100"], "larger than an image"),
    ],
)
def test_patch_training_errors_are_one_line(photos, tmp_path, capsys, extra, words):
    assert _train(photos, tmp_path / "o", *extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and words in err


def test_patch_training_needs_a_folder(tmp_path, capsys):
    argv = ["-q", "train", "--model", "cae", "--data", "digits", "--patch", "8", "--noise", "gaussian:0.1"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.parametrize(("h", "w"), [(37, 61), (70, 45)])
def test_denoise_one_photo_of_any_size_to_a_png(trained, tmp_path, h, w):
    photo = _photo(tmp_path / "photo.png", h, w)
    out = tmp_path / "clean.png"
    argv = ["-q", "denoise", str(trained), str(photo), "--out", str(out), "--add-noise", "gaussian:0.1"]
    assert main([*argv, "--tile", "32"]) == 0
    with Image.open(out) as img:
        assert img.size == (w, h) and img.mode == "L"


def test_denoise_colour_photo_with_a_colour_model(photos, tmp_path):
    model_dir = tmp_path / "rgb"
    aekit.save(ConvDenoiser(3, (4, 8), sigma_range=(0, 55)), model_dir)
    photo = _photo(tmp_path / "c.png", 29, 41, colour=True)
    assert main(["-q", "denoise", str(model_dir), str(photo), "--out", str(tmp_path / "d.png")]) == 0
    with Image.open(tmp_path / "d.png") as img:
        assert img.size == (41, 29) and img.mode == "RGB"


def test_denoise_needs_a_model_and_an_input(tmp_path, capsys):
    assert main(["denoise", str(tmp_path / "photo.png"), "--out", str(tmp_path / "o")]) == 2
    assert "DIR and at least one INPUT" in capsys.readouterr().err
    assert main(["denoise", str(tmp_path), str(tmp_path / "x.png")]) == 2
    assert "--out" in capsys.readouterr().err


def test_list_names_the_shipped_denoisers(capsys):
    assert main(["denoise", "--list"]) == 0
    out = capsys.readouterr().out
    for name in pretrained_denoisers():
        assert name in out
    assert "gray-blind" in out and "color-blind" in out


@pytest.mark.parametrize(("colour", "mode"), [(False, "L"), (True, "RGB")])
def test_pretrained_picks_the_model_from_the_image(tmp_path, colour, mode):
    photo = _photo(tmp_path / "photo.png", 45, 67, colour=colour)
    out = tmp_path / "clean.png"
    assert main(["-q", "denoise", "--pretrained", str(photo), "--out", str(out)]) == 0
    with Image.open(out) as img:
        assert img.size == (67, 45) and img.mode == mode


def test_pretrained_unknown_name(tmp_path, capsys):
    photo = _photo(tmp_path / "photo.png", 20, 20)
    assert (
        main(["denoise", "--pretrained", "--name", "nope", str(photo), "--out", str(tmp_path / "c.png")]) == 2
    )
    assert "no shipped denoiser named 'nope'" in capsys.readouterr().err


def test_denoise_reads_a_jpeg_and_writes_pngs(trained, tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    Image.open(_photo(tmp_path / "src.png", 30, 40)).save(photo, quality=95)
    assert main(["-q", "denoise", str(trained), str(photo), "--out", str(tmp_path / "one.png")]) == 0
    assert main(["-q", "denoise", str(trained), str(photo), "--out", str(tmp_path / "many")]) == 0
    for out in (tmp_path / "one.png", tmp_path / "many" / "photo.png"):
        with Image.open(out) as img:
            assert img.format == "PNG" and img.size == (40, 30) and img.mode == "L"
    (tmp_path / "notes.txt").write_text("x")
    assert main(["denoise", str(trained), str(tmp_path / "notes.txt"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and ".jpg" in err and "got '.txt'" in err


def test_denoise_add_noise_takes_a_fraction_unclipped_for_a_photo_model(trained, tmp_path, capsys):
    photo = _photo(tmp_path / "photo.png", 60, 80)
    argv = ["denoise", str(trained), str(photo), "--out", str(tmp_path / "d.png")]
    assert main([*argv, "--add-noise", "gaussian:25/255"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    noisy_db = float(line.split(") ")[1].split(" dB")[0])
    assert line.startswith("PSNR over 1 image(s): noisy (gaussian:25/255) ")  # the spec as typed
    assert noisy_db == pytest.approx(20 * np.log10(255 / 25), abs=0.4)  # σ = 25/255, not clipped
    assert main([*argv, "--add-noise", "gaussian:25/0"]) == 2
    assert "25/0" in capsys.readouterr().err
