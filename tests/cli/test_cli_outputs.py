"""Output names: a suffix the command does not write is refused (any case of the right one is taken)."""

import numpy as np
import pytest
from PIL import Image

import aekit
from aekit.cli import main


@pytest.fixture
def dense(tmp_path):
    aekit.save(aekit.Autoencoder(64, [8]), tmp_path / "dense")
    return tmp_path / "dense"


def _one_line(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["plot", "curves", "DIR", "--out", "c.jpg"], ".png"),
        (["plot", "recon", "DIR", "--out", "r.npy"], ".png"),
        (["filters", "DIR", "--out", "f.txt"], ".png"),
        (["map", "--out", "m.txt"], ".png"),
        (["encode", "DIR", "--out", "codes.txt"], ".npy or .npz"),
        (["reconstruct", "DIR", "--out", "r.jpg"], "ending in .png, .npy or .npz, got 'r.jpg'"),
        (["codec", "decompress", "DIR", "s.aek", "--out", "r.txt"], ".npy or .png"),
        (
            ["send", "--server", "http://127.0.0.1:1", "--model", "DIR", "x.png", "--out", "a.txt"],
            ".npy or .png",
        ),
    ],
)
def test_a_wrong_output_suffix_is_refused(dense, tmp_path, capsys, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    argv = [str(dense) if a == "DIR" else a for a in argv]
    assert main(argv) == 2
    _one_line(capsys, expected, argv[argv.index("--out") + 1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dense"]


def test_upper_case_suffixes_are_taken(dense, tmp_path, capsys):
    assert main(["-q", "reconstruct", str(dense), "--out", str(tmp_path / "recon.PNG")]) == 0
    with Image.open(tmp_path / "recon.PNG") as img:
        assert img.format == "PNG"
    assert main(["-q", "reconstruct", str(dense), "--out", str(tmp_path / "recon.NPY")]) == 0
    assert np.load(tmp_path / "recon.NPY").shape == (360, 64)
    assert main(["-q", "encode", str(dense), "--out", str(tmp_path / "codes.NPZ")]) == 0
    with np.load(tmp_path / "codes.NPZ") as codes:
        assert codes["codes"].shape == (360, 8) and codes["y"].shape == (360,)


@pytest.mark.parametrize(
    "argv, words",
    [
        (
            ["send", "--server", "http://127.0.0.1:1", "--model", "m", "x.png", "--timeout", "-1"],
            ["--timeout", "-1"],
        ),
        (
            ["send", "--server", "http://127.0.0.1:1", "--model", "m", "x.png", "--timeout", "0"],
            ["--timeout", "'0'"],
        ),
        (["denoise", "m", "x.png", "--out", "d", "--seed", "-1"], ["--seed", "2**63"]),
    ],
)
def test_timeouts_and_seeds_are_checked_by_the_parser(tmp_path, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    _one_line(capsys, *words)


def test_denoise_names_a_file_that_is_not_npy(tmp_path, capsys):
    aekit.save(aekit.ConvAutoencoder(1, [4]), tmp_path / "cae")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    assert (
        main(
            ["-q", "denoise", str(tmp_path / "cae"), str(tmp_path / "bad.npy"), "--out", str(tmp_path / "d")]
        )
        == 2
    )
    _one_line(capsys, "bad.npy", "not a .npy array")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    "command",
    [["train"], ["train", "--model", "cae"], ["train", "--model", "sda"], ["codec", "train"], ["map"]],
)
@pytest.mark.parametrize("seed", ["-1", str(2**63)])
def test_training_seeds_are_checked_by_the_parser(tmp_path, capsys, monkeypatch, command, seed):
    monkeypatch.chdir(tmp_path)
    argv = command + ["--seed", seed] + (["--out", "m.png"] if command == ["map"] else ["--out", "run"])
    assert main(argv) == 2
    _one_line(capsys, "--seed", "2**63")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("n", ["0", "-1"])
def test_filters_n_must_be_positive(dense, tmp_path, capsys, n):
    assert main(["filters", str(dense), "--n", n, "--out", str(tmp_path / "f.png")]) == 2
    _one_line(capsys, "--n", n)
    assert not (tmp_path / "f.png").exists()
