"""`aekit train --model sda`, `aekit evaluate` on a classifier checkpoint, `aekit filters`."""

import json

import numpy as np
import pytest

import aekit
from aekit.cli import main
from aekit.cli.stacked import parse_corruptions


def test_train_sda_evaluate_and_filters(tmp_path, capsys):
    out = tmp_path / "sda"
    code = main(
        [
            "-q",
            "train",
            "--model",
            "sda",
            "--data",
            "digits",
            "--hidden",
            "32,16",
            "--corruption",
            "masking:0.1,masking:0.2",
            "--pretrain-epochs",
            "2",
            "--epochs",
            "8",
            "--batch-size",
            "32",
            "--lr",
            "0.003",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "test error" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["architecture"] == [64, 32, 16, 10]
    assert metrics["test"]["error_pct"] < 50 and np.sum(metrics["test"]["confusion_matrix"]) == 360
    assert len(metrics["pretrain_loss"]) == 2
    assert (out / "pretrained" / "config.json").is_file() and (out / "filters.png").is_file()
    model = aekit.load(out)
    assert type(model).__name__ == "StackedClassifier"

    assert main(["-q", "evaluate", str(out), "--data", "digits", "--out", str(tmp_path / "eval.json")]) == 0
    printed = capsys.readouterr().out
    assert "error rate" in printed and "confusion matrix" in printed
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["error_pct"] == metrics["test"]["error_pct"]
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    assert np.isclose(1 - np.trace(matrix) / 360, report["error_rate"])

    assert (
        main(["-q", "filters", str(out / "pretrained"), "--n", "16", "--out", str(tmp_path / "f.png")]) == 0
    )
    assert (tmp_path / "f.png").stat().st_size > 1000


def test_train_sda_rejects_a_wrong_number_of_corruptions(tmp_path, capsys):
    code = main(
        [
            "-q",
            "train",
            "--model",
            "sda",
            "--data",
            "digits",
            "--hidden",
            "8,8,8",
            "--corruption",
            "masking:0.1,masking:0.2",
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code == 2
    assert "2 specs for 3 layers" in capsys.readouterr().err


def test_filters_of_a_non_image_model_is_a_one_line_error(tmp_path, capsys):
    aekit.save(aekit.Autoencoder(10, [4]), tmp_path / "ae")
    assert main(["filters", str(tmp_path / "ae"), "--out", str(tmp_path / "f.png")]) == 2
    assert "square number" in capsys.readouterr().err


def test_parse_corruptions():
    assert parse_corruptions(None, 3) is None
    assert [c.spec() for c in parse_corruptions("masking:0.3", 2)] == ["masking:0.3", "masking:0.3"]
    layers = parse_corruptions("masking:0.1,none,gaussian:0.2", 3)
    assert layers[1] is None and layers[2].spec() == "gaussian:0.2"


def test_evaluate_reports_the_error_of_any_classifier_checkpoint(tmp_path, capsys):
    aekit.save(aekit.ConvClassifier(1, [4], n_classes=10, input_size=8), tmp_path / "cnn")
    assert (
        main(["-q", "evaluate", str(tmp_path / "cnn"), "--data", "digits", "--out", str(tmp_path / "e.json")])
        == 0
    )
    report = json.loads((tmp_path / "e.json").read_text())
    assert np.array(report["confusion_matrix"]).shape == (10, 10) and report["n"] == 360
    assert "error rate" in capsys.readouterr().out


def _one_line(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err


@pytest.fixture
def cnn(tmp_path):
    aekit.save(aekit.ConvClassifier(1, [4], n_classes=10, input_size=8), tmp_path / "cnn")
    return tmp_path / "cnn"


@pytest.mark.parametrize("out", ["r.npy", "r.png"])
def test_reconstruct_refuses_a_classifier(cnn, tmp_path, capsys, out):
    assert main(["-q", "reconstruct", str(cnn), "--data", "digits", "--out", str(tmp_path / out)]) == 2
    _one_line(capsys, "classifier", "evaluate")
    assert not (tmp_path / out).exists()


@pytest.mark.parametrize(
    "y, words",
    [
        (-np.ones(20), ["classes 0..9", "-1"]),
        (np.full(20, 2.5), ["whole-number", "2.5"]),
        (np.arange(100, 120), ["classes 0..9", "100"]),
    ],
)
def test_evaluate_checks_the_labels_of_a_classifier(cnn, tmp_path, capsys, y, words):
    data = tmp_path / "xy.npz"
    np.savez(data, X=np.random.rand(20, 1, 8, 8).astype(np.float32), y=y)
    assert main(["-q", "evaluate", str(cnn), "--data", str(data), "--out", str(tmp_path / "e.json")]) == 2
    _one_line(capsys, *words)
    assert not (tmp_path / "e.json").exists()


def test_evaluate_label_count_must_match(cnn, tmp_path, capsys):
    data = tmp_path / "xy.npz"
    np.savez(data, X=np.random.rand(20, 1, 8, 8).astype(np.float32), y=np.arange(5))
    assert main(["-q", "evaluate", str(cnn), "--data", str(data)]) == 2
    _one_line(capsys, "5 labels for 20 samples")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["reconstruct", "DIR", "--n", "0", "--out", "r.png"], ["--n", "'0'"]),
        (["demo", "--seed", "-1", "--out", "d"], ["--seed", "2**63"]),
        (["demo", "--seed", str(2**63), "--out", "d"], ["--seed", "2**63"]),
    ],
)
def test_counts_and_seeds_are_checked_by_the_parser(tmp_path, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    _one_line(capsys, *words)
