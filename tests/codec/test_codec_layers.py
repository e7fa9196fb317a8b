"""The codec's layers: quantisation modes, explicit tables (missing or stale: refused), one message path."""

import copy

import numpy as np
import pytest
import torch

import aekit
from aekit.codec import Codec, EntropyBottleneck, decode_message, encode_message
from aekit.codec.message import encode_symbols
from aekit.codec.networks import AutoencoderTransforms
from aekit.errors import BitstreamError


def test_quantize_modes():
    eb = EntropyBottleneck(3, 2).update()
    y = torch.tensor([[0.4, -1.6, 2.5], [7.2, -0.5, 0.0]], requires_grad=True)
    torch.manual_seed(0)
    noisy = eb.quantize(y, "noise")
    assert ((noisy - y).abs() <= 0.5).all() and not torch.equal(noisy, y)
    assert torch.equal(eb.quantize(y, "dequantize"), torch.round(y))
    ste = eb.quantize(y, "ste")
    assert torch.equal(ste, torch.round(y))
    ste.sum().backward()
    assert torch.equal(y.grad, torch.ones_like(y))  # the straight-through gradient
    symbols = eb.quantize(y, "symbols")
    assert symbols.dtype == np.int64
    assert np.array_equal(symbols, np.clip(np.rint(y.detach().numpy()), eb.tables.low, eb.tables.high))
    with pytest.raises(ValueError, match="mode must be one of noise, ste, dequantize, symbols, got 'round'"):
        eb.quantize(y, "round")


def test_symbols_need_tables_and_stale_tables_are_refused():
    eb = EntropyBottleneck(2, 2)
    with pytest.raises(BitstreamError, match="update"):
        eb.quantize(torch.zeros(1, 2), "symbols")
    eb.update()
    moved = copy.deepcopy(eb)  # other tensors, same density: still current
    assert moved.tables.dim == 2
    with torch.no_grad():
        eb.prior.loc.add_(0.25)  # a training step, say
    with pytest.raises(BitstreamError, match="stale.*update"):
        eb.tables
    eb.update()
    assert eb.tables.dim == 2


def test_a_codec_trained_after_update_refuses_to_compress_until_updated_again(identity_codec):
    codec = identity_codec()
    X = np.array([[1.0, 2.0, 0.0, 0.0]], np.float32)
    codec.compress(X)
    with torch.no_grad():
        codec.prior.log_scale.add_(0.1)
    with pytest.raises(BitstreamError, match="stale"):
        codec.compress(X)
    assert codec.update().decompress_symbols(codec.compress(X)).tolist() == [[1, 2, 0]]


def test_one_message_path_and_its_inverse(codec, test_items):
    y = codec.latents(test_items[:4])
    data = encode_message(y, codec.tables, codec.fingerprint, codec.latent_shape)
    assert data == codec.compress(test_items[:4])
    symbols = decode_message(data, codec.tables, codec.fingerprint, codec.latent_shape)
    assert np.array_equal(symbols, codec.symbols(test_items[:4]))
    assert encode_symbols(symbols, codec.tables, codec.fingerprint, codec.latent_shape) == data
    with pytest.raises(BitstreamError, match="latent shape"):
        decode_message(data, codec.tables, codec.fingerprint, (2, 4))


def test_the_autoencoder_transforms_are_g_a_and_g_s(codec, test_items):
    t = codec.transforms
    assert isinstance(t, AutoencoderTransforms) and t.latent_shape == (8,) and t.input_shape == (64,)
    x = torch.from_numpy(test_items[:3])
    with torch.no_grad():
        assert torch.equal(t.g_a(x), codec.autoencoder.encode(x).reshape(3, -1))
        assert torch.equal(t.analysis_graph()(x), t.g_a(x))
    assert t.spec() == codec.config["autoencoder"]
    with pytest.raises(TypeError, match="encode/decode"):
        AutoencoderTransforms(torch.nn.Linear(2, 2))


def test_checkpoint_tensor_names_are_those_of_every_earlier_codec():
    codec = Codec(aekit.Autoencoder(4, [2], code_activation="linear", loss="mse")).update()
    names = set(codec.state_dict())
    assert {
        "prior.logits",
        "prior.loc",
        "prior.log_scale",
        "table_offsets",
        "table_lengths",
        "table_freqs",
    } <= names
    assert not any(name.startswith("entropy_bottleneck.") for name in names)
    fresh = Codec(
        aekit.Autoencoder(4, [2], code_activation="linear", loss="mse"),
        table_width=codec.tables.freqs.shape[1],
    )
    fresh.load_state_dict(codec.state_dict())
    assert fresh.fingerprint == codec.fingerprint and fresh.updated
