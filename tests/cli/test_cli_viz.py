"""`aekit map`, `aekit plot ...` through main(argv)."""

import json

import numpy as np
import pytest
from PIL import Image

from aekit.cli import main


def is_png(path):
    with Image.open(path) as img:
        return img.format == "PNG" and min(img.size) > 100


@pytest.fixture(scope="module")
def map_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("map")
    code = main(
        [
            "-q",
            "map",
            "--data",
            "digits",
            "--hidden",
            "32,2",
            "--epochs",
            "3",
            "--trust-samples",
            "200",
            "--save",
            str(root / "ckpt"),
            "--out",
            str(root / "map.png"),
            "--metrics-out",
            str(root / "m.json"),
        ]
    )
    assert code == 0
    return root


def test_map_trains_measures_and_draws(map_run, capsys):
    assert is_png(map_run / "map.png")
    result = json.loads((map_run / "m.json").read_text())
    for name in ("aekit", "pca"):
        assert 0.1 < result[name]["knn_accuracy"] <= 1.0
        assert 0.5 < result[name]["trustworthiness"] <= 1.0
        assert result[name]["k"] == 5
    assert result["n_train"] == 1437 and result["n_test"] == 360
    assert (map_run / "ckpt" / "config.json").is_file() and (map_run / "ckpt" / "map_metrics.json").is_file()


def test_map_from_a_checkpoint_gives_the_same_figures(map_run, tmp_path, capsys):
    capsys.readouterr()
    assert (
        main(
            [
                "-q",
                "map",
                str(map_run / "ckpt"),
                "--data",
                "digits",
                "--trust-samples",
                "200",
                "--out",
                str(tmp_path / "m.png"),
                "--metrics-out",
                str(tmp_path / "m.json"),
            ]
        )
        == 0
    )
    assert "k-NN accuracy (k=5)" in capsys.readouterr().out
    again, first = json.loads((tmp_path / "m.json").read_text()), json.loads((map_run / "m.json").read_text())
    assert again["aekit"] == first["aekit"] and again["pca"] == first["pca"]


def test_map_refuses_a_code_that_is_not_2d(tmp_path, capsys):
    assert (
        main(
            [
                "-q",
                "train",
                "--data",
                "digits",
                "--hidden",
                "8",
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["-q", "map", str(tmp_path / "r"), "--data", "digits", "--out", str(tmp_path / "m.png")]) == 2
    assert "8 units" in capsys.readouterr().err
    assert main(["-q", "map", "--data", "digits", "--hidden", "16,3", "--out", str(tmp_path / "m.png")]) == 2
    assert "last of hidden must be 2" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["recon", "filters", "curves", "codes"])
def test_plot_from_a_checkpoint(map_run, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    assert (
        main(
            [
                "-q",
                "plot",
                kind,
                str(map_run / "ckpt"),
                "--data",
                "digits",
                "--corruption",
                "masking:0.3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert is_png(out)


def test_plot_rate_distortion_from_json(tmp_path, capsys):
    points = tmp_path / "rd.json"
    points.write_text(
        json.dumps(
            [{"method": "aekit", "bytes": 40, "psnr": 20.0}, {"method": "aekit", "bytes": 80, "psnr": 24.0}]
        )
    )
    assert main(["-q", "plot", "rd", str(points), "--out", str(tmp_path / "rd.png")]) == 0
    assert is_png(tmp_path / "rd.png")
    points.write_text(json.dumps({"accuracy": 0.5}))
    assert main(["-q", "plot", "rd", str(points), "--out", str(tmp_path / "x.png")]) == 2
    assert "no rate-distortion points" in capsys.readouterr().err


def test_map_trains_a_denoising_map_with_corruption(tmp_path, capsys):
    assert (
        main(
            [
                "-q",
                "map",
                "--data",
                "digits",
                "--hidden",
                "16,2",
                "--epochs",
                "1",
                "--corruption",
                "masking:0.2",
                "--trust-samples",
                "100",
                "--save",
                str(tmp_path / "ckpt"),
                "--out",
                str(tmp_path / "m.png"),
            ]
        )
        == 0
    )
    import aekit

    assert aekit.load(tmp_path / "ckpt").corruption.spec() == "masking:0.2"
    assert (
        main(
            [
                "-q",
                "map",
                "--data",
                "digits",
                "--hidden",
                "16,2",
                "--corruption",
                "blur:3",
                "--out",
                str(tmp_path / "x.png"),
            ]
        )
        == 2
    )
    assert "blur" in capsys.readouterr().err


def test_map_takes_the_benchmark_recipe(tmp_path):
    # the model and training options reach the map from the command line: GELU units, masking noise,
    # cosine schedule, AdamW's decay
    import aekit
    from aekit.train import cosine_lr

    assert (
        main(
            [
                "-q",
                "map",
                "--data",
                "digits",
                "--hidden",
                "16,2",
                "--activation",
                "gelu",
                "--corruption",
                "masking:0.2",
                "--epochs",
                "4",
                "--lr",
                "0.01",
                "--lr-schedule",
                "cosine",
                "--optimizer",
                "adamw",
                "--weight-decay",
                "0.05",
                "--trust-samples",
                "100",
                "--save",
                str(tmp_path / "ckpt"),
                "--out",
                str(tmp_path / "m.png"),
            ]
        )
        == 0
    )
    model = aekit.load(tmp_path / "ckpt")
    assert model.config["activation"] == "gelu" and model.corruption.spec() == "masking:0.2"
    group = json.loads((tmp_path / "ckpt" / "training_state.json").read_text())["optimizer"]["param_groups"][
        0
    ]
    assert group["lr"] == pytest.approx(cosine_lr(0.01, 3, 4))  # the last epoch's rate, well below 0.01
    assert group["weight_decay"] == 0.05
    assert (
        main(["-q", "map", "--data", "digits", "--lr-schedule", "linear", "--out", str(tmp_path / "x.png")])
        == 2
    )


def _one_line(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize("kind", ["codes", "recon", "filters"])
@pytest.mark.parametrize("n", ["-1", "0"])
def test_plot_n_must_be_positive(map_run, tmp_path, capsys, kind, n):
    assert main(["plot", kind, str(map_run / "ckpt"), "--n", n, "--out", str(tmp_path / "p.png")]) == 2
    _one_line(capsys, "--n", n)
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize(
    "doc, words",
    [
        ([1, 2, 3], ["JSON list"]),
        ({"history": {"epoch": [1, 2], "train_loss": ["a", {}]}}, ["'train_loss'"]),
        ({"history": {"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_error": [None, "x"]}}, ["'val_error'"]),
        ({"history": [1.0, 0.5]}, ["'history'"]),
    ],
)
def test_plot_curves_on_a_bad_history_names_the_file(tmp_path, capsys, doc, words):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(doc))
    assert main(["plot", "curves", str(config), "--out", str(tmp_path / "c.png")]) == 2
    _one_line(capsys, str(config), *words)


def test_map_with_too_few_samples_to_hold_out_a_test_split_says_so(tmp_path, capsys):
    # 20% of 2 samples rounds to none held out: the error is the sample count, not missing labels
    X = np.random.default_rng(0).random((2, 4)).astype(np.float32)
    np.savez(tmp_path / "two.npz", X=X, y=np.array([0, 1]))
    argv = ["-q", "map", "--data", str(tmp_path / "two.npz"), "--hidden", "3,2", "--epochs", "1"]
    assert main([*argv, "--out", str(tmp_path / "m.png")]) == 2
    err = capsys.readouterr().err
    assert "has 2 samples: too few to hold 20% out" in err
    assert "no labels" not in err
