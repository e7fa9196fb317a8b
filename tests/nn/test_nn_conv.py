"""ConvAutoencoder: shapes, both blocks, every un-pooling, tied filters, denoising, save/load."""

import numpy as np
import pytest
import torch

import aekit
from aekit.data import load_dataset
from aekit.errors import DataError


@pytest.mark.parametrize("block", ["modern", "masci"])
@pytest.mark.parametrize("unpool", ["upsample", "switches", "random", "spread"])
@pytest.mark.parametrize(
    "shape, channels",
    [
        ((1, 28, 28), (8, 8)),
        ((3, 32, 32), (4, 4, 4)),
        ((1, 8, 8), (4, 4, 4)),
        ((1, 7, 9), (4, 4)),
        ((2, 5, 5), (3,)),
    ],
)
def test_reconstruction_has_the_input_shape(block, unpool, shape, channels):
    torch.manual_seed(0)
    model = aekit.ConvAutoencoder(shape[0], channels, block=block, unpool=unpool)
    x = torch.rand(2, *shape)
    z = model(x)
    assert z.shape == x.shape
    assert ((z > 0) & (z < 1)).all()
    code = model.encode(x)
    assert code.shape[1] == channels[-1]
    model.loss(x).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_too_small_images_are_a_clear_error():
    model = aekit.ConvAutoencoder(1, (4, 4, 4))
    with pytest.raises(DataError, match="need at least 8x8"):
        model(torch.rand(1, 1, 6, 6))
    with pytest.raises(DataError, match="need at least 8x8"):
        aekit.reconstruct(model, np.random.rand(2, 1, 6, 8))
    with pytest.raises(DataError, match="expects"):
        model(torch.rand(1, 3, 8, 8))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="block"):
        aekit.ConvAutoencoder(1, block="resnet")
    with pytest.raises(ValueError, match="unpool"):
        aekit.ConvAutoencoder(1, unpool="bilinear")
    with pytest.raises(ValueError, match="odd"):
        aekit.ConvAutoencoder(1, kernel_size=4)
    with pytest.raises(ValueError, match="tied"):
        aekit.ConvAutoencoder(1, block="modern", tied=True)
    with pytest.raises(ValueError, match="bce"):
        aekit.ConvAutoencoder(1, output_activation="tanh")


def test_masci_encoder_is_tanh_of_pooled_convolution():
    torch.manual_seed(0)
    model = aekit.ConvAutoencoder(1, (4,), block="masci", channels_last=False)
    x = torch.rand(3, 1, 8, 8)
    blk = model.encoder_blocks[0]
    expected = torch.tanh(torch.nn.functional.max_pool2d(blk.conv(x), 2))  # Φ(X) = tanh(Ψ(X * W + b))
    assert torch.allclose(model.encode(x), expected, atol=1e-6)


def test_tied_decoder_uses_the_flipped_encoder_filters():
    torch.manual_seed(0)
    model = aekit.ConvAutoencoder(2, (3,), block="masci", unpool="spread", tied=True, channels_last=False)
    names = [n for n, _ in model.named_parameters()]
    assert not any("decoder_levels.0.conv" in n for n in names)  # no decoder filters of its own
    w = model.encoder_blocks[0].conv.weight  # (3, 2, 3, 3)
    h = torch.rand(1, 3, 4, 4)
    up = aekit.nn.unpool(h, 2, mode="spread")
    flipped = w.flip(-1, -2).transpose(0, 1)  # W̃: flipped, in/out swapped
    expected = (
        torch.nn.functional.conv2d(up, flipped, padding=1) + model.decoder_levels[0].bias[:, None, None]
    )
    assert torch.allclose(model.decode_logits(h), expected, atol=1e-5)


def test_switches_decoding_needs_the_switches():
    model = aekit.ConvAutoencoder(1, (4,), unpool="switches")
    with pytest.raises(ValueError, match="switches"):
        model.decode(torch.rand(1, 4, 4, 4))


@pytest.mark.parametrize("block, unpool", [("modern", "upsample"), ("masci", "random")])
def test_both_blocks_reduce_their_loss_on_digits(block, unpool):
    X, _ = load_dataset("digits", split="train", flatten=False)
    X = X[:256]
    aekit.seed_everything(0)
    model = aekit.ConvAutoencoder(1, (8, 8), block=block, unpool=unpool)
    before = float(aekit.reconstruction_error(model, X).mean())
    history = aekit.fit(model, X, epochs=8, batch_size=32, lr=3e-3, seed=0, progress=False)
    after = float(aekit.reconstruction_error(model, X).mean())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert after < 0.8 * before


def test_denoising_with_any_corruption_uses_clean_targets():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 8, 8)
    for spec in ("gaussian:0.5", "masking:0.3", "saltpepper:0.2"):
        model = aekit.ConvAutoencoder(1, (4,), corruption=spec)
        model.train()
        torch.manual_seed(1)
        noisy_loss = model.loss(x)
        model.eval()
        assert not torch.allclose(noisy_loss, model.loss(x))  # noise only in training mode
        assert model.config["corruption"]["type"] == aekit.corruption.parse(spec).kind


@pytest.mark.parametrize("block, unpool, tied", [("modern", "switches", False), ("masci", "spread", True)])
def test_save_and_load_round_trip(tmp_path, block, unpool, tied):
    torch.manual_seed(0)
    model = aekit.ConvAutoencoder(1, (4, 6), block=block, unpool=unpool, tied=tied, corruption="gaussian:0.5")
    X = np.random.default_rng(0).random((5, 1, 12, 12), dtype=np.float32)
    aekit.fit(model, X, epochs=1, batch_size=5, progress=False)  # moves batch-norm statistics
    model.cpu()  # the loaded copy is on the CPU too
    aekit.save(model, tmp_path / "cae")
    again = aekit.load(tmp_path / "cae")
    assert type(again) is aekit.ConvAutoencoder and again.config == model.config
    np.testing.assert_allclose(aekit.reconstruct(again, X), aekit.reconstruct(model, X), atol=1e-6)


def test_channels_last_does_not_change_the_result():
    torch.manual_seed(0)
    a = aekit.ConvAutoencoder(1, (4, 4), channels_last=True).eval()
    b = aekit.ConvAutoencoder(1, (4, 4), channels_last=False).eval()
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 1, 16, 16)
    assert a.encoder_blocks[0].conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(a(x), b(x), atol=1e-5)
