"""g_a / g_s rearranged for fast inference on the CPU: the same function, the same weights.

The trained transforms (:mod:`aekit.codec.networks_conv`) stay what the checkpoint stores (their
state is the model's fingerprint); :func:`fast_transform` builds, from their current weights, a
frozen copy that computes the same function up to the order of float additions, faster:

- **channels_last** memory (B, H, W, C): oneDNN's convolutions and transposed convolutions run
  without reordering their input and output at every layer;
- **GDN as one matrix product** over the (H·W, C) rows of a channels-last activation, with β and γ
  taken out of their reparametrisation once: norm = β + (x ⊙ x) γᵀ, then y = x ⊙ norm^(∓½)
  (Ballé et al. 2016), in place, instead of a 1×1 convolution torch runs on its slow path;
- a **transposed convolution to few channels** (g_s's last layer, N → C) as a **sub-pixel
  convolution** (Shi et al. 2016, "Real-time single image and video super-resolution using an
  efficient sub-pixel convolutional neural network"): a 3×3 convolution to 4·C channels followed
  by PixelShuffle(2), an exact re-arrangement of the 5×5 kernel (:func:`subpixel_conv`).
  For the N → N layers the transposed convolution itself is faster (measured, benchmarks/README.md).

Nothing here trains: the copy holds no parameters and no gradient, and is rebuilt from the weights
each time it is asked for (a few milliseconds), so it never goes stale.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .gdn import GDN

__all__ = ["subpixel_conv", "FrozenGDN", "fast_transform", "SUBPIXEL_MAX_CHANNELS"]

SUBPIXEL_MAX_CHANNELS = 4  # a transposed conv to at most this many channels becomes a sub-pixel conv


def subpixel_conv(deconv: nn.ConvTranspose2d) -> nn.Sequential:
    """ConvTranspose2d(k=5, stride 2, padding 2, output_padding 1) as Conv2d(3×3, padding 1) to 4× the
    channels, then PixelShuffle(2): the same outputs, the same weights re-arranged.

    Output row o = 2m + r of the transposed convolution sums input rows i with kernel tap
    k = o − 2i + 2 ∈ 0…4, i.e. i = m + d for d ∈ {−1, 0, 1} with k = 2 − 2d + r (taps 4, 2, 0 for
    r = 0; −, 3, 1 for r = 1). So phase (r, s) of the output is a 3×3 convolution (cross-correlation,
    padding 1) of the input with K[r, s][c, a, b] = w[c, :, 4 − 2a + r, 4 − 2b + s] (0 where the tap
    is past 4), and PixelShuffle puts channel 4c + 2r + s at (2m + r, 2n + s).
    """
    if (
        deconv.kernel_size != (5, 5)
        or deconv.stride != (2, 2)
        or deconv.padding != (2, 2)
        or deconv.output_padding != (1, 1)
        or deconv.dilation != (1, 1)
        or deconv.groups != 1
    ):
        raise ValueError(
            "subpixel_conv takes a 5×5 transposed convolution of stride 2, padding 2, output padding 1, "
            f"got kernel {deconv.kernel_size}, stride {deconv.stride}, padding {deconv.padding}, "
            f"output padding {deconv.output_padding}, dilation {deconv.dilation}, groups {deconv.groups}"
        )
    w = deconv.weight.detach()  # (C_in, C_out, 5, 5)
    c_in, c_out = w.shape[:2]
    kernel = w.new_zeros(c_out, 2, 2, c_in, 3, 3)  # (C_out, r, s, C_in, a, b)
    for r in range(2):
        for a in range(3):
            ky = 4 - 2 * a + r
            for s in range(2):
                for b in range(3):
                    kx = 4 - 2 * b + s
                    if ky <= 4 and kx <= 4:
                        kernel[:, r, s, :, a, b] = w[:, :, ky, kx].T
    conv = nn.Conv2d(
        c_in, 4 * c_out, 3, padding=1, bias=deconv.bias is not None, device=w.device, dtype=w.dtype
    )
    with torch.no_grad():
        conv.weight.copy_(kernel.reshape(4 * c_out, c_in, 3, 3))
        if deconv.bias is not None and conv.bias is not None:
            conv.bias.copy_(deconv.bias.detach().repeat_interleave(4))
    return nn.Sequential(conv, nn.PixelShuffle(2))


class FrozenGDN(nn.Module):
    """GDN (or its inverse) with β, γ fixed, on channels-last (B, C, H, W): one addmm over (B·H·W, C) rows."""

    beta: torch.Tensor
    gamma_t: torch.Tensor

    def __init__(self, gdn: GDN):
        super().__init__()
        with torch.no_grad():
            beta, gamma = gdn.beta_reparam(gdn.beta), gdn.gamma_reparam(gdn.gamma)
        self.inverse = gdn.inverse
        self.register_buffer("beta", beta.detach().clone())
        self.register_buffer("gamma_t", gamma.detach().t().contiguous())  # (C_j, C_i): rows x² times γᵀ

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.permute(0, 2, 3, 1)  # (B, H, W, C): a view, contiguous when x is channels-last
        flat = rows.reshape(-1, rows.shape[-1])  # (B·H·W, C)
        norm = torch.addmm(self.beta, flat * flat, self.gamma_t)  # β_i + Σ_j γ_ij x_j²
        norm = norm.sqrt_() if self.inverse else norm.rsqrt_()
        return norm.mul_(flat).view(rows.shape).permute(0, 3, 1, 2)  # channels-last (B, C, H, W)


class _ChannelsLast(nn.Module):
    """Run ``net`` on a channels-last copy of its input; hand back a contiguous (B, C, H, W) tensor."""

    def __init__(self, net: nn.Sequential):
        super().__init__()
        self.net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last)).contiguous()


def fast_transform(net: nn.Sequential) -> nn.Module:
    """A frozen, faster copy of g_a or g_s (:mod:`aekit.codec.networks_conv`) for inference on the CPU:
    channels-last, GDN as a matrix product (:class:`FrozenGDN`), and each transposed convolution to at
    most :data:`SUBPIXEL_MAX_CHANNELS` channels as a sub-pixel convolution (:func:`subpixel_conv`).

    It computes ``net``'s function (up to float rounding) from ``net``'s weights as they are now, runs
    under ``torch.inference_mode`` and takes and returns contiguous (B, C, H, W) tensors.
    """
    layers: list[nn.Module] = []
    for layer in net:
        if isinstance(layer, GDN):
            layers.append(FrozenGDN(layer))
        elif isinstance(layer, nn.ConvTranspose2d) and layer.out_channels <= SUBPIXEL_MAX_CHANNELS:
            layers.append(subpixel_conv(layer))
        elif isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            layers.append(copy.deepcopy(layer))
        else:
            raise ValueError(
                f"fast_transform takes the convolutions and GDNs of g_a / g_s, got a {type(layer).__name__}"
            )
    fast = _ChannelsLast(nn.Sequential(*layers))
    return fast.requires_grad_(False).eval()
