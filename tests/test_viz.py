"""Every figure of aekit.viz writes a PNG of the expected size from a tiny trained model."""

import numpy as np
import pytest
import torch
from PIL import Image

import aekit
from aekit import inference, viz
from aekit.data import load_digits


@pytest.fixture(scope="module")
def tiny():
    """A 64-16-2 autoencoder trained for a few epochs on 300 digits (about a second)."""
    X, y = load_digits()
    aekit.seed_everything(0)
    model = aekit.Autoencoder(64, [16, 2], code_activation="linear", corruption="masking:0.2")
    aekit.fit(model, X[:300], X_val=X[300:400], epochs=4, batch_size=32, lr=3e-3, seed=0, progress=False)
    return model, X[400:600], y[400:600]


def png_size(path):
    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def between(size, lo, hi):
    """(width, height) within [lo, hi] pixels each: figsize × dpi, minus what bbox_inches='tight' trims."""
    return all(l <= s <= h for s, l, h in zip(size, lo, hi))


def test_reconstruction_grid_clean_corrupted_reconstructed(tiny, tmp_path):
    model, X, _ = tiny
    noisy = model.corruption(torch.from_numpy(X[:10])).numpy()
    rows = {"clean": X, "corrupted": noisy, "reconstructed": inference.reconstruct(model, noisy)}
    w, h = png_size(viz.reconstruction_grid(rows, tmp_path / "r.png", title="t"))
    assert between((w, h), (900, 300), (1500, 600)) and w > 2 * h  # 10 columns, 3 rows


def test_filter_tiles_from_the_first_layer(tiny, tmp_path):
    model, _, _ = tiny
    W = viz.first_layer_weights(model)
    assert W.shape == (16, 64)
    w, h = png_size(viz.filter_tiles(W, tmp_path / "f.png"))
    assert between((w, h), (250, 250), (480, 480)) and abs(w - h) < 60  # one square mosaic: 4x4 tiles of 8x8
    # convolution kernels (F, C, kh, kw) draw too
    png_size(viz.filter_tiles(np.random.default_rng(0).normal(size=(6, 1, 5, 5)), tmp_path / "c.png"))
    with pytest.raises(ValueError, match="square"):
        viz.filter_tiles(np.zeros((3, 10)), tmp_path / "bad.png")


def test_training_curves(tiny, tmp_path):
    model, _, _ = tiny
    w, h = png_size(viz.training_curves(model.history, tmp_path / "c.png"))
    assert between((w, h), (600, 400), (800, 540))
    hist = {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "val_error": [0.3, 0.2], "best_epoch": 2}
    png_size(viz.training_curves(hist, tmp_path / "c2.png"))
    with pytest.raises(ValueError, match="train_loss"):
        viz.training_curves({}, tmp_path / "c3.png")


def test_code_histograms(tiny, tmp_path):
    model, X, _ = tiny
    w, h = png_size(viz.code_histograms(inference.encode(model, X), tmp_path / "h.png"))
    assert between((w, h), (500, 180), (900, 320))  # 2 units + pooled: one row of 3
    w, h = png_size(
        viz.code_histograms(np.random.default_rng(0).normal(size=(50, 20)), tmp_path / "h2.png", n_units=7)
    )
    assert between((w, h), (1400, 380), (1750, 560))  # 8 panels: 6 columns, 2 rows
    with pytest.raises(ValueError, match="NaN"):
        viz.code_histograms(np.full((4, 2), np.nan), tmp_path / "h3.png")


def test_code_map_beside_pca(tiny, tmp_path):
    from aekit.evaluation import pca_codes

    model, X, y = tiny
    Z = inference.encode(model, X)
    _, P = pca_codes(X, X)
    w, h = png_size(viz.code_map({"aekit": (Z, y), "PCA": (P, y)}, tmp_path / "m.png", title="map"))
    assert between((w, h), (1100, 550), (1500, 700))  # two panels side by side
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        viz.code_map({"bad": (np.zeros((5, 3)), np.zeros(5))}, tmp_path / "bad.png")


def test_view_limits_keep_far_out_codes_from_squeezing_the_map():
    Z = np.random.default_rng(0).uniform(-1, 1, size=(1000, 2))
    Z[0] = (1000.0, -500.0)  # one code far out
    (x0, x1), (y0, y1) = viz.view_limits(Z, keep=0.99)
    assert -1.2 < x0 < -0.9 and 0.9 < x1 < 1.2 and -1.2 < y0 < -0.9 and 0.9 < y1 < 1.2
    (x0, x1), (y0, y1) = viz.view_limits(Z, keep=1.0)  # every point
    assert x1 >= 1000 and y0 <= -500
    with pytest.raises(ValueError, match="keep"):
        viz.view_limits(Z, keep=0)


def test_rate_distortion(tmp_path):
    points = {"aekit": [(120, 24.0), (60, 20.5), (240, 27.0)], "jpeg": [(300, 22.0), (600, 26.0)]}
    w, h = png_size(viz.rate_distortion(points, tmp_path / "rd.png"))
    assert between((w, h), (600, 400), (800, 560))
    with pytest.raises(ValueError, match="pairs"):
        viz.rate_distortion({"x": [1, 2, 3]}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="> 0"):
        viz.rate_distortion({"x": [(0, 3.0)]}, tmp_path / "bad.png")


def test_failed_drawing_leaves_no_figure_open(tmp_path):
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    for _ in range(3):
        with pytest.raises(ValueError):
            viz.rate_distortion({"a": [(0, 1)]}, tmp_path / "rd.png")  # rejected after the figure exists
        with pytest.raises(ValueError):
            viz.code_map({"a": (np.random.rand(10, 3), np.arange(10))}, tmp_path / "m.png")
        with pytest.raises(OSError):
            viz.training_curves({"train_loss": [1.0, 0.5]}, tmp_path)  # saving onto a directory fails
    assert set(plt.get_fignums()) == before


def test_drawing_a_corrupted_figure_leaves_the_global_generator_alone(tiny, tmp_path):
    model, X, _ = tiny
    torch.manual_seed(123)
    before = torch.get_rng_state()
    rows = viz.reconstruction_rows(model, X[:10])  # the model's own q_D: masking:0.2
    viz.reconstruction_grid(rows, tmp_path / "r.png")
    assert torch.equal(torch.get_rng_state(), before)  # neither reseeded nor advanced
    again = viz.reconstruction_rows(model, X[:10])
    np.testing.assert_array_equal(again["corrupted"], rows["corrupted"])  # the same noise every time


@pytest.mark.parametrize("spec", ["masking:0.3", "gaussian:0.4", "saltpepper:0.3"])
def test_seeded_corruption_is_the_noise_of_that_seed(tiny, spec):
    _, X, _ = tiny
    q_d = aekit.corruption.parse(spec)
    before = torch.get_rng_state()
    noisy = viz.seeded_corruption(q_d, X, seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(7)  # what the figures drew before: the same stream from the global generator
    expected = q_d(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))).numpy()
    np.testing.assert_array_equal(noisy, expected)
    assert noisy.dtype == np.float32 and noisy.shape == X.shape
    assert not np.array_equal(viz.seeded_corruption(q_d, X, seed=8), noisy)
