"""The fast inference copies of g_a / g_s: the same function as the trained transforms, rebuilt from their weights."""

from typing import TypeVar

import numpy as np
import pytest
import torch
from torch import nn

from aekit.codec.gdn import GDN
from aekit.codec.inference import FrozenGDN, fast_transform, subpixel_conv
from aekit.codec.networks_conv import analysis, synthesis
from aekit.codec.photo import PhotoCodec


Net = TypeVar("Net", bound=nn.Module)


def scrambled(net: Net, seed: int = 0) -> Net:
    """``net`` with every parameter random (GDN's β and γ away from their identity-like start)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("beta", "gamma")):
                p.copy_(0.3 + torch.rand_like(p))  # stored √value: β, γ in (0.09, 1.7)
            else:
                p.copy_(torch.randn_like(p) * 0.2)
    return net


@pytest.mark.parametrize("c_in, c_out", [(6, 5), (4, 3), (3, 1)])
@pytest.mark.parametrize("size", [(1, 1), (4, 7), (9, 6)])
def test_subpixel_conv_is_the_transposed_convolution(c_in, c_out, size):
    deconv = scrambled(nn.ConvTranspose2d(c_in, c_out, 5, stride=2, padding=2, output_padding=1)).double()
    x = torch.randn(2, c_in, *size, dtype=torch.float64)
    with torch.no_grad():
        expected, got = deconv(x), subpixel_conv(deconv)(x)
    assert got.shape == expected.shape == (2, c_out, 2 * size[0], 2 * size[1])
    assert torch.allclose(got, expected, atol=1e-12)


def test_subpixel_conv_refuses_other_transposed_convolutions():
    for deconv in (
        nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1),
        nn.ConvTranspose2d(4, 4, 5, stride=2, padding=2),
        nn.ConvTranspose2d(4, 4, 5, stride=1, padding=2),
    ):
        with pytest.raises(ValueError, match="5×5 transposed convolution of stride 2"):
            subpixel_conv(deconv)


@pytest.mark.parametrize("inverse", [False, True])
def test_frozen_gdn_is_gdn_on_channels_last_input(inverse):
    gdn = scrambled(GDN(5, inverse=inverse))
    x = torch.randn(2, 5, 3, 4).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected, got = gdn(x), FrozenGDN(gdn)(x)
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert not torch.equal(got, x)  # not the identity


@pytest.mark.parametrize("channels", [3, 1])
def test_fast_transforms_compute_g_a_and_g_s(channels):
    g_a, g_s = scrambled(analysis(channels, 8, 12)), scrambled(synthesis(channels, 8, 12), seed=1)
    x = torch.rand(2, channels, 48, 32)
    y = torch.randn(2, 12, 3, 2) * 3
    with torch.no_grad():
        for net, inp in ((g_a, x), (g_s, y)):
            expected = net(inp)
            got = fast_transform(net)(inp)
            assert got.shape == expected.shape and got.is_contiguous()
            error = (got - expected).abs().max() / expected.abs().max()
            assert error < 1e-5, error  # float rounding only
    assert any(isinstance(m, nn.PixelShuffle) for m in fast_transform(g_s).modules())  # the last layer
    assert not any(p.requires_grad for p in fast_transform(g_s).parameters())


def test_fast_transform_refuses_other_layers():
    with pytest.raises(ValueError, match="got a ReLU"):
        fast_transform(nn.Sequential(nn.Conv2d(3, 4, 5), nn.ReLU()))


def test_the_codec_decodes_with_its_current_weights():
    """The fast copy is rebuilt from the weights at every call: a changed weight changes the photo."""
    torch.manual_seed(0)
    codec = PhotoCodec(3, 8, 12).update()
    image = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    symbols, height, width = codec.decompress_symbols(codec.compress(image))
    before = codec.dequantize(symbols, height, width)
    last = codec.g_s[-1]
    assert isinstance(last, nn.ConvTranspose2d) and last.bias is not None
    with torch.no_grad():
        last.bias.add_(0.2)  # +0.2 of full scale: ~51 levels where not clipped
    after = codec.dequantize(symbols, height, width)
    assert (after.astype(int) - before.astype(int)).max() >= 40
