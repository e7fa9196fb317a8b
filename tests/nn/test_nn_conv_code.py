"""ConvAutoencoder with a dense code (code_dim): shapes, errors, checkpoints, the 2-D map helpers."""

import json
import time

import numpy as np
import pytest
import torch

import aekit
from aekit import io
from aekit.errors import CheckpointError, DataError
from aekit.maps import compare_maps, map_cae
from aekit.nn import ConvAutoencoder
from aekit.nn.layers import Dense


@pytest.mark.parametrize("block", ["modern", "masci"])
@pytest.mark.parametrize("unpool", ["upsample", "random", "spread"])
@pytest.mark.parametrize(
    "shape, channels, code_dim, dense",
    [((1, 28, 28), (4, 8), 2, (16,)), ((3, 9, 7), (4,), 5, ()), ((1, 8, 8), (2, 3, 4), 1, (8, 4))],
)
def test_the_code_is_a_vector_of_code_dim_values(block, unpool, shape, channels, code_dim, dense):
    torch.manual_seed(0)
    model = ConvAutoencoder(
        shape[0], channels, block=block, unpool=unpool, code_dim=code_dim, image_size=shape[1:], dense=dense
    )
    x = torch.rand(3, *shape)
    y = model.encode(x)
    assert y.shape == (3, code_dim)
    torch.manual_seed(1)  # the same draws of unpool="random" in both decodings
    z = model.decode(y)  # from the code alone
    assert z.shape == x.shape and ((z > 0) & (z < 1)).all()
    torch.manual_seed(1)
    assert torch.allclose(model(x), z)
    model.loss(x).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert model.input_shape == shape


def test_the_dense_part_is_made_of_dense_layers_with_a_linear_code():
    model = ConvAutoencoder(1, (4, 8), code_dim=2, image_size=(28, 28), dense=(32,), dense_activation="relu")
    enc, dec = list(model.code_layers), list(model.uncode_layers)
    assert all(isinstance(layer, Dense) for layer in enc + dec)
    assert [(d.in_features, d.out_features, d.activation) for d in enc] == [
        (8 * 7 * 7, 32, "relu"),
        (32, 2, "linear"),
    ]
    assert [(d.in_features, d.out_features) for d in dec] == [(2, 32), (32, 8 * 7 * 7)]
    # y = W_c φ(W_1 vec(maps) + b_1) + b_c
    x = torch.rand(2, 1, 28, 28)
    model.eval()
    maps = x
    for blk in model.encoder_blocks:
        maps = blk(maps)
    h = torch.relu(maps.flatten(1) @ enc[0].weight.T + enc[0].bias)
    assert torch.allclose(model.encode(x), h @ enc[1].weight.T + enc[1].bias, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"code_dim": 0}, "code_dim must be a positive int.*got 0"),
        ({"code_dim": -2}, "code_dim must be a positive int.*got -2"),
        ({"code_dim": 2.5}, "code_dim must be a positive int.*got 2.5"),
        ({"code_dim": True}, "code_dim must be a positive int.*got True"),
        ({"code_dim": 2, "image_size": None}, r"needs the images' \(height, width\): pass image_size"),
        ({"code_dim": 2, "image_size": (28,)}, "pass image_size=.*got \\(28,\\)"),
        ({"code_dim": 2, "image_size": (28, 0)}, "pass image_size"),
        ({"code_dim": 2, "image_size": (28, 28), "dense": (0,)}, "dense must be a sequence of positive ints"),
        (
            {"code_dim": 2, "image_size": (28, 28), "unpool": "switches"},
            "unpool='switches'.*use unpool='upsample'",
        ),
        ({"code_dim": 2, "image_size": (28, 28), "dense_activation": "swish"}, "dense_activation"),
    ],
)
def test_bad_code_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvAutoencoder(1, (4, 4), **kwargs)


def test_images_too_small_or_of_another_size_are_clear_errors():
    with pytest.raises(DataError, match="image_size has images of size 3x3.*need at least 4x4"):
        ConvAutoencoder(1, (4, 4), code_dim=2, image_size=(3, 3))
    model = ConvAutoencoder(1, (4, 4), code_dim=2, image_size=(8, 8))
    with pytest.raises(DataError, match=r"expects images of size 8x8 \(its image_size\), got \(12, 12\)"):
        model(torch.rand(1, 1, 12, 12))
    with pytest.raises(DataError, match="expects samples of shape"):
        aekit.encode(model, np.random.rand(2, 1, 9, 8).astype(np.float32))


def test_save_and_load_give_back_the_same_codes(tmp_path):
    torch.manual_seed(0)
    model = ConvAutoencoder(1, (4, 8), code_dim=2, image_size=(8, 8), dense=(16,), corruption="masking:0.2")
    io.save(model, tmp_path)
    again = io.load(tmp_path)
    assert again.config == model.config
    assert again.config["code_dim"] == 2 and again.config["image_size"] == [8, 8]
    X = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(aekit.encode(again, X), aekit.encode(model.eval(), X))


def test_a_cae_without_a_dense_code_keeps_its_config():
    assert set(ConvAutoencoder(1).config) == {
        "in_channels", "channels", "kernel_size", "block", "unpool", "pool_size", "tied", "loss",
        "output_activation", "corruption", "channels_last",
    }  # fmt: skip


def test_a_checkpoint_asking_for_a_huge_dense_layer_fails_fast(tmp_path):
    io.save(ConvAutoencoder(1, (2, 3), code_dim=2, image_size=(8, 8), dense=(4,)), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["args"]["image_size"] = [1 << 20, 1 << 20]
    (tmp_path / "config.json").write_text(json.dumps(config))
    start = time.perf_counter()
    with pytest.raises(CheckpointError):
        io.load(tmp_path)
    assert time.perf_counter() - start < 2.0
    config["args"]["dense"] = [4] * 100
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="dense.*100 entries, over the limit of 64 layers"):
        io.load(tmp_path)


def test_map_cae_feeds_compare_maps(digits):
    X_tr, y_tr, X_te, y_te = digits
    X_tr, y_tr = X_tr[:400].reshape(-1, 1, 8, 8), y_tr[:400]
    X_te = X_te.reshape(-1, 1, 8, 8)
    model = map_cae((1, 8, 8), (2, 4), dense=(8,))
    assert model.config["code_dim"] == 2
    aekit.fit(model, X_tr, epochs=1, batch_size=64, progress=False)
    maps = compare_maps(model, X_tr, y_tr, X_te, y_te, k=5, trust_samples=200)
    assert maps["aekit"]["test"].shape == (len(X_te), 2)
    assert 0.1 < maps["aekit"]["metrics"]["knn_accuracy"] <= 1.0
    with pytest.raises(ValueError, match="image_shape must be"):
        map_cae((8, 8))
