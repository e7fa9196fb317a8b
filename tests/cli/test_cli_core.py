import json

import numpy as np
import pytest

import aekit
from aekit.cli import main


def test_help_lists_the_sub_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "encode", "reconstruct", "demo"):
        assert command in out


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # unwrap the lines
    for shown in (
        "--epochs EPOCHS passes over the training data (default: 20;",
        "--lr LR default: 0.001",
        "(adamw) (default: 0.0001 for --model ae, 0.0 otherwise)",
        "--seed SEED default: 0",
        "--loss {bce,mse} reconstruction error (default: mse for --model ae",
    ):
        assert shown in out, shown
    assert "--tied tie decoder weights to the encoder's: W' = Wᵀ --activation" in out  # flags show none
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "digits (embedded, default)" not in capsys.readouterr().out  # report has no default data


def test_demo_writes_figure_metrics_and_model(tmp_path, capsys):

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "30", "-q"]) == 0
    printed = capsys.readouterr().out
    assert str(out / "denoising.png") in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["psnr_denoised_db"] > metrics["psnr_corrupted_db"] + 3
    assert (out / "denoising.png").stat().st_size > 5000
    assert aekit.load(out).corruption is not None


def test_train_evaluate_encode_reconstruct(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                "digits",
                "--hidden",
                "32,8",
                "--tied",
                "--corruption",
                "masking:0.2",
                "--epochs",
                "3",
                "--out",
                str(run),
                "-q",
            ]
        )
        == 0
    )
    for name in ("config.json", "model.safetensors", "metrics.json", "reconstructions.png", "curves.png"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["n"] == 360 and metrics["epochs"] == 3
    test = metrics["test"]
    assert f"test loss {test['loss']:.4g}, PSNR {test['psnr_db']:.2f} dB" in capsys.readouterr().out

    assert main(["evaluate", str(run), "--data", "digits", "--out", str(tmp_path / "m.json")]) == 0
    assert "psnr_db=" in capsys.readouterr().out
    assert json.loads((tmp_path / "m.json").read_text())["n"] == 360

    assert main(["encode", str(run), "--data", "digits", "--out", str(tmp_path / "codes.npz")]) == 0
    with np.load(tmp_path / "codes.npz") as codes:
        assert codes["codes"].shape == (360, 8) and codes["y"].shape == (360,)
    assert main(["reconstruct", str(run), "--data", "digits", "--out", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.png").stat().st_size > 1000
    assert main(["reconstruct", str(run), "--data", "digits", "--out", str(tmp_path / "r.npy")]) == 0
    assert np.load(tmp_path / "r.npy").shape == (360, 64)


def test_train_resume_continues_the_run(tmp_path):
    run = tmp_path / "run"
    base = ["train", "--hidden", "16", "--out", str(run), "-q", "--val-fraction", "0"]
    assert main(base + ["--epochs", "2"]) == 0
    assert main(base + ["--epochs", "4", "--resume"]) == 0
    assert json.loads((run / "config.json").read_text())["history"]["epoch"] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "--hidden", "abc", "--out", "x"], "256,64"),
        (["train", "--epochs", "many", "--out", "x"], "'many'"),
        (["train", "--out", "x", "--corruption", "blur:3"], "blur"),
        (["train", "--out", "x", "--data", "no/such/file.npy"], "no/such/file.npy"),
        (["evaluate", "no/such/dir"], "does not exist"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1
    assert words in err
    assert "Traceback" not in err


def _one_line(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("command", [["train"], ["codec", "train"]])
def test_one_dimensional_data_is_a_data_error(tmp_path, capsys, command):
    np.save(tmp_path / "1d.npy", np.random.rand(64).astype(np.float32))
    assert main(command + ["--data", str(tmp_path / "1d.npy"), "--out", str(tmp_path / "run"), "-q"]) == 2
    _one_line(capsys, "1d.npy", "(64,)", "one sample per row")


def test_label_count_must_match_the_samples(tmp_path, capsys):
    np.savez(tmp_path / "xy.npz", X=np.random.rand(50, 64).astype(np.float32), y=np.arange(10) % 10)
    assert (
        main(
            [
                "train",
                "--model",
                "sda",
                "--data",
                str(tmp_path / "xy.npz"),
                "--out",
                str(tmp_path / "r"),
                "-q",
            ]
        )
        == 2
    )
    _one_line(capsys, "10 labels for 50 samples")


@pytest.mark.parametrize("flag", ["--hidden", "--channels"])
def test_layer_sizes_are_bounded(tmp_path, capsys, flag):
    model = ["--model", "cae"] if flag == "--channels" else []
    assert main(["train", *model, flag, "1000000000000", "--out", str(tmp_path / "r")]) == 2
    _one_line(capsys, "at most 1048576", "1000000000000")


def test_codec_train_hidden_is_bounded(tmp_path, capsys):
    assert main(["codec", "train", "--hidden", "256,1000000000000", "--out", str(tmp_path / "r")]) == 2
    _one_line(capsys, "at most 1048576")


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("dense") / "run"
    assert (
        main(["train", "--hidden", "8", "--epochs", "1", "--val-fraction", "0", "--out", str(run), "-q"]) == 0
    )
    return run


def test_out_that_cannot_be_written_is_one_line(dense_run, tmp_path, capsys):
    a_file = tmp_path / "file.npy"
    a_file.write_bytes(b"x")
    a_dir = tmp_path / "somedir"
    (a_dir / "inside").mkdir(parents=True)
    long_name = tmp_path / ("a" * 300 + ".npy")
    cases = [
        (["encode", str(dense_run), "--out", str(a_file / "c.npy")], ["file.npy"]),  # under a file
        (["encode", str(dense_run), "--out", str(long_name)], ["File name too long", "aaaa.npy"]),
        (["reconstruct", str(dense_run), "--out", str(a_dir) + ".npy"], []),  # fine: a new file
        (["demo", "--out", str(a_file), "--epochs", "1"], ["file.npy"]),
    ]
    (tmp_path / "somedir.npy").mkdir()  # --out naming an existing directory
    cases[2] = (cases[2][0], ["Is a directory", "somedir.npy"])
    for argv, words in cases:
        assert main(argv + ["-q"]) == 2, argv
        err = _one_line(capsys, *words)
        assert ".tmp" not in err, err
    assert a_file.read_bytes() == b"x"
