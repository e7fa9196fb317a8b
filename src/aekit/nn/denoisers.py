"""Fully convolutional denoising autoencoders for photographs of any size.

The notes' convolutional denoiser (Conv + BN + ReLU, pooling / up-sampling) deepened
with the symmetric skip connections of RED-Net (Mao, Shen & Yang, "Image Restoration
Using Very Deep Convolutional Encoder-Decoder Networks with Symmetric Skip
Connections", NIPS 2016): the feature maps of encoder level k are added to the
decoder's maps of the same size,

    D_k = ReLU(BN(Conv(Up(D_{k+1}))) + E_k)

and, optionally, the residual formulation of DnCNN (Zhang, Zuo, Chen, Meng & Zhang,
"Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image Denoising",
IEEE TIP 2017): the network f predicts the noise and the estimate is

    x̂ = y − f(y).

Training minimises the mean squared error ‖x̂ − x‖² / n of the clean patch x and the
estimate from its corruption y = x̃ ~ q_D(x̃ | x) (:mod:`aekit.corruption`). A blind
model draws one Gaussian σ per patch, σ ~ U[σ_low, σ_high] on the 0–255 scale.

Any image size: the input is reflect-padded to a multiple of pool_size^levels and
the estimate cropped back. Large images go through :func:`denoise` in tiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError
from ..registry import register
from ..tiles import tiled
from . import corruption as corruption_lib
from .base import AEModule

__all__ = [
    "ConvDenoiser",
    "BlindGaussian",
    "denoise",
    "parse_noise",
    "SIGMA_SCALE",
]

#: Pixel values are in [0, 1]; noise levels σ are quoted on the 0–255 scale.
SIGMA_SCALE = 255.0


class BlindGaussian(corruption_lib.Corruption):
    """q_D of a blind denoiser: x̃ = x + σ_i·ε, ε ~ N(0, I), one σ_i ~ U[low, high] / 255 per sample
    (no clipping, as in the DnCNN protocol)."""

    kind = "blindgaussian"

    def __init__(self, low: float = 0.0, high: float = 55.0):
        super().__init__()
        low, high = float(low), float(high)
        if not (math.isfinite(low) and math.isfinite(high) and 0.0 <= low <= high):
            raise ValueError(
                f"sigma_range must be (low, high) on the 0-255 scale with 0 <= low <= high, got {(low, high)!r}"
            )
        self.low, self.high = low, high

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        u = torch.rand(shape, generator=generator, dtype=x.dtype, device=x.device)
        sigma = (self.low + (self.high - self.low) * u) / SIGMA_SCALE
        eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return x + sigma * eps

    def to_config(self) -> dict:
        return {"type": self.kind, "low": self.low, "high": self.high}

    def spec(self) -> str:
        return f"gaussian:{self.low:g}..{self.high:g}/255 (blind)"


def parse_noise(spec: str, *, unclipped: bool = True) -> corruption_lib.Corruption:
    """A q_D of :mod:`aekit.corruption` from a spec whose numbers may be fractions (``"gaussian:25/255"``).

    Gaussian noise on photographs is not clipped unless the spec says ``clip`` (the DnCNN protocol);
    ``unclipped=False`` keeps :func:`aekit.corruption.parse`'s clipping to the value range instead.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"noise spec must be a string like 'gaussian:25/255', got {spec!r}")
    kind, _, rest = spec.strip().partition(":")
    parts = []
    for part in rest.split(":") if rest else []:
        num, slash, den = part.partition("/")
        if slash:
            try:
                part = repr(float(num) / float(den))
            except (ValueError, ZeroDivisionError):
                raise ValueError(
                    f"bad number {part!r} in noise spec {spec!r}: expected e.g. 25/255"
                ) from None
        parts.append(part)
    q = corruption_lib.parse(":".join([kind, *parts]))
    if unclipped and isinstance(q, corruption_lib.Gaussian) and "clip" not in parts:
        q = corruption_lib.Gaussian(q.sigma, clip=False, value_range=q.value_range)
    return q


def _conv(c_in: int, c_out: int, kernel_size: int) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    return conv


class _ConvBNReLU(nn.Sequential):
    """ReLU(BN(X * W)): the notes' modern convolutional block."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, n: int = 1):
        layers: list[nn.Module] = []
        for i in range(n):
            layers += [_conv(c_in if i == 0 else c_out, c_out, kernel_size), nn.BatchNorm2d(c_out), nn.ReLU()]
        super().__init__(*layers)


def _check_args(in_channels: object, channels: Sequence[int], depth: object, kernel_size: object) -> None:
    if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 (grayscale) or 3 (colour), got {in_channels!r}")
    if not channels or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in channels):
        raise ValueError(f"channels must be a non-empty sequence of positive ints, got {channels!r}")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth (convolutions per level) must be an int >= 1, got {depth!r}")
    if (
        not isinstance(kernel_size, int)
        or isinstance(kernel_size, bool)
        or kernel_size < 1
        or kernel_size % 2 == 0
    ):
        raise ValueError(f"kernel_size must be an odd positive int, got {kernel_size!r}")


def _training_noise(
    corruption: object, sigma_range: Sequence[float] | None
) -> tuple[corruption_lib.Corruption | None, list[float] | None]:
    if corruption is not None and sigma_range is not None:
        raise ValueError(
            "give either corruption= (a fixed q_D) or sigma_range= (blind Gaussian noise), not both"
        )
    if sigma_range is not None:
        low, high = sigma_range
        return BlindGaussian(low, high), [float(low), float(high)]
    q = parse_noise(corruption) if isinstance(corruption, str) else corruption_lib.from_config(corruption)
    return q, None


@register
class ConvDenoiser(AEModule):
    """RED-Net-style convolutional denoising autoencoder, residual (x̂ = y − f(y)) or direct (x̂ = f(y)).

    Parameters
    ----------
    in_channels : {1, 3}
        Grayscale or colour.
    channels : sequence of int
        Feature maps of each level; level k > 0 works on the image pooled k times.
    depth : int
        Conv + BN + ReLU blocks per level, in the encoder and in the decoder.
    kernel_size : int
        Odd filter size.
    pool_size : int
        Max-pooling window and nearest up-sampling factor between levels.
    skips : bool
        RED-Net's symmetric skip connections: encoder maps added to the decoder's.
    residual : bool
        Predict the noise (DnCNN): x̂ = y − f(y).
    corruption : Corruption, str or dict, optional
        A fixed q_D for training, e.g. ``"gaussian:25/255"`` (:func:`parse_noise`), ``"saltpepper:0.1"``.
    sigma_range : (low, high), optional
        Blind Gaussian training noise, σ per patch in [low, high] on the 0–255 scale.
    channels_last : bool
        Weights and maps in channels-last memory format (faster convolutions on the CPU).
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 64, 64),
        *,
        depth: int = 2,
        kernel_size: int = 3,
        pool_size: int = 2,
        skips: bool = True,
        residual: bool = True,
        corruption: object = None,
        sigma_range: Sequence[float] | None = None,
        channels_last: bool = True,
    ):
        super().__init__()
        channels = list(channels)
        _check_args(in_channels, channels, depth, kernel_size)
        if not isinstance(pool_size, int) or isinstance(pool_size, bool) or pool_size < 2:
            raise ValueError(f"pool_size must be an int >= 2, got {pool_size!r}")
        q, sigma_range = _training_noise(corruption, sigma_range)
        self._set_config(
            in_channels=in_channels,
            channels=channels,
            depth=depth,
            kernel_size=kernel_size,
            pool_size=pool_size,
            skips=bool(skips),
            residual=bool(residual),
            corruption=None if q is None or sigma_range is not None else q.to_config(),
            sigma_range=sigma_range,
            channels_last=bool(channels_last),
        )
        self.input_shape = (in_channels, None, None)
        self.corruption = q
        self.pool_size = pool_size
        self.skips = bool(skips)
        self.residual = bool(residual)
        self.channels_last = bool(channels_last)
        # encoder: level 0 starts with a plain Conv + ReLU on the pixels (no BN on the input, as DnCNN)
        self.head = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], kernel_size, padding=kernel_size // 2), nn.ReLU()
        )
        self.encoder = nn.ModuleList(
            _ConvBNReLU(c_in, c_out, kernel_size, depth if k else depth - 1)
            for k, (c_in, c_out) in enumerate(zip([channels[0], *channels[:-1]], channels))
        )
        # decoder level k (top down, the bottom level's encoder is its own decoder): up-sample,
        # Conv + BN + ReLU to channels[k], add E_k, more Conv + BN + ReLU
        self.up = nn.ModuleList(
            _ConvBNReLU(channels[k + 1], channels[k], kernel_size) for k in range(len(channels) - 1)
        )
        self.decoder = nn.ModuleList(
            _ConvBNReLU(channels[k], channels[k], kernel_size, depth - 1) for k in range(len(channels) - 1)
        )
        self.tail = nn.Conv2d(channels[0], in_channels, kernel_size, padding=kernel_size // 2)
        if self.tail.bias is not None:
            nn.init.zeros_(self.tail.bias)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    @property
    def levels(self) -> int:
        return len(self.config["channels"]) - 1

    @property
    def multiple(self) -> int:
        """Sides are padded to a multiple of this (pool_size ** levels)."""
        return self.pool_size**self.levels

    def _pad(self, y: torch.Tensor) -> torch.Tensor:
        h, w = y.shape[-2:]
        m = self.multiple
        ph, pw = -h % m, -w % m
        if ph == 0 and pw == 0:
            return y
        mode = "reflect" if ph < h and pw < w else "replicate"  # reflection needs the pad inside the image
        return F.pad(y, (0, pw, 0, ph), mode=mode)

    def noise(self, y: torch.Tensor) -> torch.Tensor:
        """f(y): the network's output (the noise estimate of a residual model, else the clean estimate)."""
        if y.dim() != 4 or y.shape[1] != self.config["in_channels"]:
            raise DataError(
                f"{type(self).__name__} expects (N, {self.config['in_channels']}, H, W) images, got shape {tuple(y.shape)}"
            )
        h, w = y.shape[-2:]
        x = self._pad(y)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.head(x)
        features = []
        for k, block in enumerate(self.encoder):
            if k:
                x = F.max_pool2d(x, self.pool_size)
            x = block(x)
            features.append(x)
        for k in reversed(range(self.levels)):  # D_k = ReLU(BN(Conv(Up(D_{k+1})))) + E_k, then more blocks
            x = self.up[k](F.interpolate(x, scale_factor=self.pool_size, mode="nearest"))
            if self.skips:
                x = x + features[k]
            x = self.decoder[k](x)
        return self.tail(x)[..., :h, :w]

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """The clean estimate x̂ of the noisy y: y − f(y) (residual) or f(y)."""
        out = self.noise(y)
        return y - out if self.residual else out

    def reconstruction_error(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Per-image squared error ½‖x̂ − x‖² of the estimate from ``x`` against ``target`` (default: x)."""
        target = x if target is None else target
        return 0.5 * (self(x) - target).pow(2).flatten(1).sum(1)

    def loss(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Mean squared error ‖x̂ − x‖² / n of the estimate from y ~ q_D(y | x) (in training mode)."""
        target = x if target is None else target
        y = self.corruption(x) if (self.training and self.corruption is not None) else x
        return F.mse_loss(self(y), target)


@torch.inference_mode()
def denoise(
    model: nn.Module, image: np.ndarray, *, tile: int = 512, overlap: int | None = None
) -> np.ndarray:
    """The model's estimate of one (C, H, W) or (H, W) float image, in tiles of ``tile``² pixels (with
    ``overlap`` pixels of context on each side; default min(32, tile // 4)) when it is larger."""
    overlap = min(32, tile // 4) if overlap is None else overlap
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 2:
        return denoise(model, arr[None], tile=tile, overlap=overlap)[0]
    if arr.ndim != 3:
        raise DataError(f"denoise takes one (C, H, W) or (H, W) image, got shape {arr.shape}")
    if tile < 2 * overlap + 1:
        raise ValueError(f"tile ({tile}) must exceed twice the overlap ({overlap})")
    model.eval()
    device = next(model.parameters()).device
    y = torch.from_numpy(np.ascontiguousarray(arr))[None].to(device)
    _, _, h, w = y.shape
    if h <= tile and w <= tile:
        return model(y)[0].cpu().numpy()
    out = torch.empty_like(y)
    # boxes of tile − 2·overlap pixels, each estimated from its window of ``tile`` pixels (aekit.tiles)
    for (top, left, bottom, right), part in tiled(
        model, lambda b: y[..., b[0] : b[2], b[1] : b[3]], h, w,
        scale=Fraction(1), tile=tile - 2 * overlap, margin=overlap,
    ):  # fmt: skip
        out[..., top:bottom, left:right] = part
    return out[0].cpu().numpy()
