"""The hyper-synthesis h_s as trained: a float surrogate of the integer network of :mod:`.intnet`.

Ballé, Johnston & Minnen, ICLR 2019 ("Integer networks"). In training, h_s is a float network
whose every quantity is already on the integer grid the coder will use:

    weights      W̃ = ⌊W · 2^FW⌉ / 2^FW                        (FW fractional bits)
    biases       B̃ = ⌊B · 2^(FW + FA_in)⌉ / 2^(FW + FA_in)
    activations  U = clip(⌊V · 2^FA + ½⌋, 0, U_MAX) / 2^FA      (FA fractional bits; a quantised ReLU)
    output       t = clip(⌊V + ½⌋, 0, S − 1)                   (an index into the scale table)

The last layer's stored parameters are scaled by GAIN (its effective weights are GAIN·W, GAIN·B),
so that Adam, whose steps have the size of the learning rate, moves the index by GAIN times as
much per step: an index moves by units, the other layers' outputs by fractions.

with straight-through gradients for every rounding (the gradient of clip(·) passes inside its
range). :meth:`HyperSynthesis.integer_net` writes the same numbers as integers: w = W̃·2^FW,
b = B̃·2^(FW+FA_in), shift s = FW + FA_in − FA_out, so that the integer network of
:mod:`.intnet` computes a = V · 2^(FW+FA_in) exactly and ⌊(a + 2^(s−1)) / 2^s⌋ = ⌊V·2^FA_out + ½⌋.
Evaluated in float64 the surrogate gives exactly the integer network's indices (every
partial sum is a dyadic rational below 2^53); in float32 training it is a close approximation.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .intnet import U_MAX, IntegerLayer, IntegerNet

__all__ = ["HyperSynthesis", "round_ste", "FW", "FA"]

FW = 10  # fractional bits of the weights
FA = 4  # fractional bits of the hidden activations (ẑ, the input, has 0)
GAIN = 8.0  # the last layer's parameter scale (in index units per stored unit)


def _bias_of(module: nn.Conv2d | nn.ConvTranspose2d) -> torch.Tensor:
    bias = module.bias
    if bias is None:
        raise ValueError("h_s layers have biases")
    return bias


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """⌊x + ½⌋ forward (half up, as the integer shift rounds), identity gradient."""
    return x + (torch.floor(x + 0.5) - x).detach()


def _clip_ste(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    return torch.clamp(x, low, high)


class HyperSynthesis(nn.Module):
    """h_s: ẑ (B, N, h, w) -> t (B, M, 4h, 4w), the scale index of each latent (float surrogate).

    deconv(N→N, 5, s2) QReLU, deconv(N→N, 5, s2) QReLU, conv(N→M, 3, s1) -> index.

    Parameters
    ----------
    n, m : int
        Channels of z (and the hidden layers) and of y.
    levels : int
        S, the scales in the table (the output is an index in 0..S−1).
    init_index : float
        Initial output (the bias of the last layer): a middle scale, so early rates are sane.
    """

    def __init__(self, n: int, m: int, levels: int, init_index: float = 12.0):
        super().__init__()
        self.levels = levels
        self.deconv1 = nn.ConvTranspose2d(n, n, 5, stride=2, padding=2, output_padding=1)
        self.deconv2 = nn.ConvTranspose2d(n, n, 5, stride=2, padding=2, output_padding=1)
        self.conv3 = nn.Conv2d(n, m, 3, stride=1, padding=1)
        with torch.no_grad():
            self.conv3.weight.mul_(0.1 / GAIN)
            _bias_of(self.conv3).fill_(init_index / GAIN)

    @staticmethod
    def _weight(w: torch.Tensor) -> torch.Tensor:
        return round_ste(w * 2**FW) / 2**FW

    @staticmethod
    def _bias(b: torch.Tensor, fa_in: int) -> torch.Tensor:
        return round_ste(b * 2 ** (FW + fa_in)) / 2 ** (FW + fa_in)

    @staticmethod
    def _qrelu(v: torch.Tensor) -> torch.Tensor:
        return _clip_ste(round_ste(v * 2**FA), 0.0, float(U_MAX)) / 2**FA

    def forward(self, z_hat: torch.Tensor) -> torch.Tensor:
        """t in 0..S−1, integers (as floats), with straight-through gradients."""
        d1, d2, c3 = self.deconv1, self.deconv2, self.conv3
        v = F.conv_transpose2d(z_hat, self._weight(d1.weight), self._bias(_bias_of(d1), 0), 2, 2, 1)
        u = self._qrelu(v)
        v = F.conv_transpose2d(u, self._weight(d2.weight), self._bias(_bias_of(d2), FA), 2, 2, 1)
        u = self._qrelu(v)
        v = F.conv2d(u, self._weight(GAIN * c3.weight), self._bias(GAIN * _bias_of(c3), FA), 1, 1)
        return _clip_ste(round_ste(v), 0.0, float(self.levels - 1))

    @torch.no_grad()
    def integer_net(self, input_max: int) -> IntegerNet:
        """The same network as integers (:class:`~aekit.codec.intnet.IntegerNet`), for inputs up to ``input_max``."""

        def ints(t: torch.Tensor, bits: int) -> torch.Tensor:
            return torch.floor(t.detach().cpu().double() * 2**bits + 0.5).long()

        layers = []
        for module, fa_in, fa_out, transposed, gain in (
            (self.deconv1, 0, FA, True, 1.0),
            (self.deconv2, FA, FA, True, 1.0),
            (self.conv3, FA, 0, False, GAIN),
        ):
            w = ints(gain * module.weight, FW)
            if transposed:
                w = w.transpose(0, 1)  # torch's (C_in, C_out, k, k) -> (C_out, C_in, k, k)
            layers.append(
                IntegerLayer(
                    w.contiguous().numpy(),
                    ints(gain * _bias_of(module), FW + fa_in).numpy(),
                    FW + fa_in - fa_out,
                    transposed,
                    relu=fa_out != 0,
                )
            )
        return IntegerNet(layers, self.levels - 1, input_max)
