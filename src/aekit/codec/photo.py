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
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import torch

from .. import io, registry
from ..errors import CheckpointError
from ..nn.base import AEModule
from . import files, pixels, tiling
from .bottleneck import EntropyBottleneck, check_table_width
from .export import export_onnx
from .inference import fast_transform
from .message import decode_photo, encode_photo
from .model import check_lmbda, check_quantizer
from .networks_conv import analysis, check_widths, synthesis
from .tabulated import Tabulated

__all__ = ["PhotoCodec", "numpy_runner"]


def numpy_runner(net: torch.nn.Module, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    """``net`` as numpy float32 -> numpy float32 on ``device``, without gradients: the form in which
    :mod:`aekit.codec.tiling` runs g_a and g_s tile by tile."""

    @torch.no_grad()
    def run(a: np.ndarray) -> np.ndarray:
        return net(torch.from_numpy(a).to(device)).cpu().numpy()

    return run


@registry.register
class PhotoCodec(Tabulated, AEModule):
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

    unit_interval = True

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
        super().__init__()
        check_widths(channels, N, M)
        check_lmbda(lmbda)
        check_quantizer(quantizer)
        check_table_width(table_width)
        self.channels, self.N, self.M = channels, N, M
        self.input_shape = (channels, None, None)
        self.lmbda = float(lmbda)
        self.quantizer = quantizer
        self.g_a = analysis(channels, N, M)
        self.g_s = synthesis(channels, N, M)
        self.entropy_bottleneck = EntropyBottleneck(
            M, components, precision=precision, tail_mass=tail_mass, table_width=table_width
        )
        self._fingerprint: bytes | None = None
        self._set_config(
            channels=channels,
            N=N,
            M=M,
            lmbda=self.lmbda,
            quantizer=quantizer,
            components=components,
            precision=precision,
            tail_mass=float(tail_mass),
            table_width=table_width,
        )

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

    def loss(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """L = λ·255²·MSE + bpp over the batch."""
        mse, bpp = self.rate_distortion(x)
        return self.lmbda * 255**2 * mse + bpp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x̂ = g_s(round(g_a(x))) for x (B, C, H, W), sides multiples of 16 (without the table clamp)."""
        return self.g_s(torch.round(self.g_a(x)))

    # ------------------------------------------------------------------ coding
    def _run(self, net: torch.nn.Sequential) -> Callable[[np.ndarray], np.ndarray]:
        """``net`` (g_a or g_s) as numpy float32 -> numpy float32, on the codec's device, in eval mode,
        as its faster frozen copy (:func:`aekit.codec.inference.fast_transform`: the same function)."""
        self.eval()
        return numpy_runner(fast_transform(net), self.device)

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
    def save(
        self,
        path: str | os.PathLike,
        *,
        history: dict | None = None,
        extra: dict | None = None,
        export: bool = False,
    ) -> Path:
        """Checkpoint directory (config.json + model.safetensors; the tables are buffers in the weights);
        with ``export`` (and tables) also encoder.onnx, decoder.onnx and codec.json (:meth:`export`)."""
        with io.transaction():
            path = io.save(self, path, history=history, extra=extra)
            if export and self.updated:
                self.export(path)
        return path

    def export(self, directory: str | os.PathLike) -> Path:
        """Write the two halves as ONNX into ``directory`` — ``encoder.onnx`` (g_a, the phone's:
        x (N, C, H, W) -> y (N, M, H/16, W/16)) and ``decoder.onnx`` (g_s, the cloud's) — and
        ``codec.json`` (tables, fingerprint, both files' SHA-256); returns codec.json's path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        device, training = self.device, self.training
        free = {0: "n", 2: "h", 3: "w"}
        try:
            self.to("cpu").eval()
            encoder = export_onnx(
                self.g_a, (self.channels, 32, 48), directory / files.ENCODER_FILE,
                names=("x", "y"), dynamic_axes={"x": free, "y": free},
            )  # fmt: skip
            decoder = export_onnx(
                self.g_s, (self.M, 2, 3), directory / files.DECODER_FILE,
                names=("y", "x"), dynamic_axes={"y": free, "x": free},
            )  # fmt: skip
        finally:
            self.to(device).train(training)
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

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | torch.device = "cpu") -> PhotoCodec:
        """Load a photo codec saved by :meth:`save` (no unpickling; sizes checked first)."""
        config = io.read_config(path)
        if config.get("class") != cls.__name__:
            raise CheckpointError(f"{path} holds a {config.get('class')!r}, not a {cls.__name__}")
        args = config.get("args")
        if not isinstance(args, dict):
            raise CheckpointError(f"{path}: config.json has no constructor arguments")
        try:
            check_widths(args.get("channels"), args.get("N"), args.get("M"))
        except ValueError as err:
            raise CheckpointError(f"{path}: {err}") from None
        model = cast(PhotoCodec, io.load(path, device=device))  # its class is checked above
        eb = model.entropy_bottleneck
        if eb.table_lengths.any():
            try:
                eb.read_tables()
            except ValueError as err:
                raise CheckpointError(f"{path}: the entropy tables are corrupted: {err}") from None
        return model

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def latent_count(self, height: int, width: int) -> int:
        """Symbols of an H×W photo: M·⌈H/16⌉·⌈W/16⌉."""
        return self.M * math.prod(pixels.latent_size(height, width))
