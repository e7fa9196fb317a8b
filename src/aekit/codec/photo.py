"""The photo codec: convolutional g_a / g_s with GDN around a factorized entropy model per channel.

Ballé, Laparra & Simoncelli, "End-to-end optimized image compression", ICLR 2017, in the
layout of CompressAI's ``bmshj2018-factorized`` (:mod:`aekit.codec.networks_conv`). The code
y = g_a(x) of an H×W photo has M channels of ⌈H/16⌉×⌈W/16⌉ values; each channel c has one
density p_c shared by all its positions (the factorized prior of :mod:`aekit.codec.entropy`
with one dimension per channel, tabulated into the same integer tables). Training minimises

    L = λ · 255² · MSE(x, x̂) + bpp,   bpp = −Σ log2 P_c(ỹ) / (H·W),   ỹ = y + u, u ~ U(−½, ½)

(x in [0, 1], as CompressAI's ``RateDistortionLoss``), with mixed quantisation by default:
the rate sees ỹ, the decoder round(y) with a straight-through gradient. A photo is coded as
its symbols ŷ = clip(round(y)) channel by channel and framed in a format-version-3 stream
(height, width, channels; ``docs/bitstream.md``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from .. import io, registry
from . import files, pixels, tiling
from .message import decode_photo, encode_photo
from .photo_base import ConvPhotoCodec, numpy_runner

__all__ = ["PhotoCodec", "numpy_runner"]


@registry.register
class PhotoCodec(ConvPhotoCodec):
    """A convolutional codec for photos of any size (RGB or grayscale).

    Parameters
    ----------
    channels : int
        1 (grayscale) or 3 (RGB).
    N, M : int
        Channels of the hidden layers and of the code.
    lmbda : float
        λ of L = λ·255²·MSE + bpp (CompressAI's scale: 0.0018 is its lowest quality).
    quantizer : {"ste", "noise"}
        What g_s sees in training: round(y) with a straight-through gradient (mixed quantisation,
        the default) or ỹ = y + u; the rate always uses ỹ.
    components, precision, tail_mass, table_width : as :class:`aekit.codec.Codec`.
    """

    def __init__(
        self,
        channels: int = 3,
        N: int = 64,
        M: int = 96,
        *,
        lmbda: float = 0.0035,
        quantizer: str = "ste",
        components: int = 3,
        precision: int = 16,
        tail_mass: float = 1e-6,
        table_width: int = 0,
    ):
        super().__init__(
            channels, N, M, prior_channels=M, lmbda=lmbda, quantizer=quantizer, components=components,
            precision=precision, tail_mass=tail_mass, table_width=table_width,
        )  # fmt: skip

    # ------------------------------------------------------------------ training objective
    def rate_distortion(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mse, bpp)`` of a batch x (B, C, H, W) in [0, 1], sides multiples of 16: noise in training
        mode (and the decoder's quantizer), rounding otherwise."""
        y = self.g_a(x).permute(0, 2, 3, 1)  # (B, h, w, M): the channel is the entropy model's dimension
        eb = self.entropy_bottleneck
        if self.training:
            y_noisy = eb.quantize(y, "noise")  # ỹ = y + u
            y_dec = y_noisy if self.quantizer == "noise" else eb.quantize(y, "ste")
            bits = eb.bits(y_noisy)
        else:
            y_dec = eb.quantize(y, "dequantize")
            bits = eb.bits(y_dec)
        x_hat = self.g_s(y_dec.permute(0, 3, 1, 2))
        mse = (x_hat - x).pow(2).mean()
        bpp = bits.sum() / (len(x) * x.shape[2] * x.shape[3])
        return mse, bpp

    # ------------------------------------------------------------------ coding
    def latents(self, image: object, *, tile: int = tiling.DEFAULT_TILE) -> np.ndarray:
        """y = g_a(x) of one photo (uint8 (H, W, C), or floats in [0, 1]) as float32 (h·w, M),
        by tiles of ``tile`` pixels with context (:mod:`aekit.codec.tiling`; 0: all at once)."""
        return tiling.analyse(self._run(self.g_a), pixels.as_image(image, self.channels), tile)

    def compress(self, image: object, *, tile: int = tiling.DEFAULT_TILE) -> bytes:
        """The format-version-3 stream of one photo: uint8 (H, W, C) (or (H, W) grayscale, or floats).

        Photos with a side above ``tile`` pixels are analysed by tiles with context, in bounded
        memory; the stream is the same whatever the tiling (:mod:`aekit.codec.tiling`)."""
        image = pixels.as_image(image, self.channels)
        height, width = image.shape[:2]
        return encode_photo(
            self.latents(image, tile=tile), self.tables, self.fingerprint, height, width, self.channels
        )

    def decompress_symbols(self, data: bytes) -> tuple[np.ndarray, int, int]:
        """``(symbols (h·w, M), H, W)`` of a stream made by this codec."""
        return decode_photo(data, self.tables, self.fingerprint, self.channels)

    def dequantize(
        self, symbols: np.ndarray, height: int, width: int, *, tile: int = tiling.DEFAULT_TILE
    ) -> np.ndarray:
        """x̂ = g_s(ŷ) as uint8 (H, W, C), cropped, for symbols (h·w, M) of an H×W photo, by tiles of
        ``tile`` pixels with context (0: all at once)."""
        return tiling.synthesise(self._run(self.g_s), symbols, height, width, tile)

    def decompress(self, data: bytes, *, tile: int = tiling.DEFAULT_TILE) -> np.ndarray:
        """The photo (uint8 (H, W, C)) of a stream made by this codec (BitstreamError if corrupt),
        synthesised by tiles of ``tile`` pixels above that size (0: all at once)."""
        return self.dequantize(*self.decompress_symbols(data), tile=tile)

    def estimated_bits(self, image: object) -> float:
        """−Σ log2 P(ŷ) of one photo from the integer tables: the likelihood estimate of its payload."""
        return float(self.tables.bits(self.tables.quantize(self.latents(image))).sum())

    # ------------------------------------------------------------------ files
    def export(self, directory: str | os.PathLike) -> Path:
        """Write the two halves as ONNX into ``directory`` — ``encoder.onnx`` (g_a, the phone's:
        x (N, C, H, W) -> y (N, M, H/16, W/16)) and ``decoder.onnx`` (g_s, the cloud's) — and
        ``codec.json`` (tables, fingerprint, both files' SHA-256); returns codec.json's path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        encoder, decoder = self._export_onnx(directory)
        config = files.photo_device_config(
            fingerprint=self.fingerprint,
            tables=self.tables,
            channels=self.channels,
            encoder=encoder.name,
            encoder_sha256=io.sha256_file(encoder),
            decoder=decoder.name,
            decoder_sha256=io.sha256_file(decoder),
        )
        return files.write(directory, config)

    def latent_count(self, height: int, width: int) -> int:
        """Symbols of an H×W photo: M·⌈H/16⌉·⌈W/16⌉."""
        return self.M * math.prod(pixels.latent_size(height, width))
