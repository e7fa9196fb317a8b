"""The scale-hyperprior photo codec, decodable bit-exactly on any machine (integer h_s).

Ballé, Minnen, Singh, Hwang & Johnston, "Variational image compression with a scale
hyperprior", ICLR 2018, in the layout of CompressAI's ``bmshj2018-hyperprior``:

    y = g_a(x),  z = h_a(|y|),  ẑ = round(z) with a factorized model (:class:`EntropyBottleneck`),
    j = h_s(ẑ) ∈ {0..63}: an index into the table of scales σ_j (:mod:`.gaussian`),
    ŷ = round(y) coded with the Gaussian of scale σ_j,  x̂ = g_s(ŷ).

    h_a:  conv(M→N, 3, s1) ReLU conv(N→N, 5, s2) ReLU conv(N→N, 5, s2)
    h_s:  deconv(N→N, 5, s2) QReLU deconv(N→N, 5, s2) QReLU conv(N→M, 3, s1) -> index

h_s is an integer network (Ballé, Johnston & Minnen 2019; :mod:`.intnet`), trained through a
float surrogate that rounds exactly where the integers do (:mod:`.hyper_synthesis`), so the
encoder on a phone and the decoder in the cloud compute the same indices, and every symbol
decodes (``docs/bit-exact.md``). Training minimises

    L = λ · 255² · MSE(x, x̂) + (R_y + R_z) / (H·W),   R = −Σ log2 P(ỹ | σ_j) − Σ log2 P(z̃)

with ỹ = y + u, z̃ = z + u for the rates, round(·) with a straight-through gradient for g_s's
and h_s's inputs (mixed quantisation). y (h, w) is zero-padded to multiples of 4 before h_a;
h_s's output is cropped back. A photo is framed as a format-version-4 stream (``docs/bitstream.md``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import registry
from ..errors import BitstreamError
from . import files, pixels, tiling
from .bottleneck import check_table_width
from .gaussian import LEVELS, GaussianConditional
from .hyper_message import HYPER_STRIDE, HyperTables, decode_hyper, encode_hyper, hyper_symbols
from .hyper_synthesis import HyperSynthesis
from .inference import fast_transform
from .photo_base import ConvPhotoCodec

__all__ = ["HyperpriorCodec", "hyper_analysis", "pad_for_hyper"]


def hyper_analysis(n: int, m: int) -> nn.Sequential:
    """h_a: |y| (B, M, h, w) -> z (B, N, h/4, w/4), h and w multiples of 4."""
    return nn.Sequential(
        nn.Conv2d(m, n, 3, stride=1, padding=1),
        nn.ReLU(),
        nn.Conv2d(n, n, 5, stride=2, padding=2),
        nn.ReLU(),
        nn.Conv2d(n, n, 5, stride=2, padding=2),
    )


class _HyperEncoder(nn.Module):
    """What runs on the phone after g_a: z = h_a(|y|) of y padded to multiples of 4 (the ONNX graph)."""

    def __init__(self, h_a: nn.Module):
        super().__init__()
        self.h_a = h_a

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.h_a(torch.abs(y))


def pad_for_hyper(y: torch.Tensor) -> torch.Tensor:
    """y (B, M, h, w) zero-padded at the bottom and right to multiples of 4 (h_a's strides)."""
    h, w = y.shape[-2:]
    return F.pad(y, (0, -w % HYPER_STRIDE, 0, -h % HYPER_STRIDE))


@registry.register
class HyperpriorCodec(ConvPhotoCodec):
    """A scale-hyperprior codec for photos of any size (RGB or grayscale), bit-exact across machines.

    Parameters
    ----------
    channels : int
        1 (grayscale) or 3 (RGB).
    N, M : int
        Channels of the hidden layers (and of z) and of y.
    lmbda : float
        λ of L = λ·255²·MSE + bpp (CompressAI's scale).
    quantizer : {"ste", "noise"}
        What g_s sees in training (the rates always use noise).
    components, precision, tail_mass, table_width : as :class:`aekit.codec.PhotoCodec` (z's model).
    scale_table_width : int
        Columns of the scale tables' buffer (0 before :meth:`update`).
    """

    tables_what = "the entropy tables or h_s"

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
        scale_table_width: int = 0,
    ):
        check_table_width(scale_table_width)
        super().__init__(
            channels, N, M, prior_channels=N, lmbda=lmbda, quantizer=quantizer, components=components,
            precision=precision, tail_mass=tail_mass, table_width=table_width,
            scale_table_width=scale_table_width,
        )  # fmt: skip
        self.h_a = hyper_analysis(N, M)
        self.h_s = HyperSynthesis(N, M, LEVELS)
        self.gaussian = GaussianConditional(LEVELS, precision=precision, table_width=scale_table_width)
        self._hyper_tables: HyperTables | None = None

    # ------------------------------------------------------------------ training objective
    def rate_distortion(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mse, bpp)`` of a batch x (B, C, H, W) in [0, 1], sides multiples of 16: noise in training
        mode (and the decoder's quantizer), rounding otherwise; bpp counts both y's and z's rates."""
        y = self.g_a(x)
        h, w = y.shape[-2:]
        z = self.h_a(torch.abs(pad_for_hyper(y))).permute(0, 2, 3, 1)  # (B, hz, wz, N)
        eb = self.entropy_bottleneck
        if self.training:
            z_rate, z_dec = eb.quantize(z, "noise"), eb.quantize(z, "ste")
            y_rate = eb.quantize(y, "noise")
            y_dec = y_rate if self.quantizer == "noise" else eb.quantize(y, "ste")
        else:
            z_rate = z_dec = eb.quantize(z, "dequantize")
            y_rate = y_dec = eb.quantize(y, "dequantize")
        index = self.h_s(z_dec.permute(0, 3, 1, 2))[:, :, :h, :w]
        bits = eb.bits(z_rate.reshape(-1, self.N)).sum() + self.gaussian.bits(y_rate, index).sum()
        x_hat = self.g_s(y_dec)
        mse = (x_hat - x).pow(2).mean()
        bpp = bits / (len(x) * x.shape[2] * x.shape[3])
        return mse, bpp

    # ------------------------------------------------------------------ tables
    def update(self) -> HyperpriorCodec:
        """Tabulate z's density and the scale tables, and fix h_s as integers (after training); returns self."""
        self.gaussian.update()
        super().update()
        self._hyper_tables = None
        return self

    def clear_tables(self) -> None:
        super().clear_tables()
        self._hyper_tables = None

    @property
    def updated(self) -> bool:
        return self.entropy_bottleneck.updated and self.gaussian.updated

    def train(self, mode: bool = True) -> HyperpriorCodec:
        if mode:
            self._hyper_tables = None  # h_s may change: its integers are taken again
        return super().train(mode)

    @property
    def hyper_tables(self) -> HyperTables:
        """z's tables, the scale tables and h_s as an :class:`IntegerNet` (needs :meth:`update`)."""
        z_tables = self.tables  # refused if missing or stale
        if self._hyper_tables is None or self._hyper_tables.z is not z_tables:
            if not self.gaussian.updated:
                raise BitstreamError("the codec has no scale tables yet: call codec.update() after training")
            bound = int(np.abs(np.concatenate([z_tables.low, z_tables.high])).max())
            self._hyper_tables = HyperTables(z_tables, self.gaussian.tables(), self.h_s.integer_net(bound))
        return self._hyper_tables

    # ------------------------------------------------------------------ coding
    @torch.no_grad()
    def analyse(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(y (B, M, h, w), z (B, N, hz, wz))`` of a padded batch x (B, C, H', W'), float32 numpy."""
        self.eval()
        y = fast_transform(self.g_a)(x.to(self.device))
        z = self.h_a(torch.abs(pad_for_hyper(y)))
        return y.cpu().numpy(), z.cpu().numpy()

    def _input(self, image: object) -> tuple[torch.Tensor, int, int]:
        image = pixels.as_image(image, self.channels)
        return torch.from_numpy(pixels.to_input(image)), image.shape[0], image.shape[1]

    @torch.no_grad()
    def analyse_tiled(self, image: object, tile: int = tiling.DEFAULT_TILE) -> tuple[np.ndarray, np.ndarray]:
        """``(y (M, h, w), z (N, hz, wz))`` of one photo, g_a run by tiles of ``tile`` pixels with context
        (:mod:`aekit.codec.tiling`: the same y as all at once, in bounded memory; 0: all at once); h_a
        runs on the whole y, 256 times smaller than the photo."""
        image = pixels.as_image(image, self.channels)
        h, w = pixels.latent_size(*image.shape[:2])
        flat = tiling.analyse(self._run(self.g_a), image, tile)  # (h·w, M)
        y = torch.from_numpy(np.ascontiguousarray(flat.T.reshape(1, -1, h, w))).to(self.device)
        z = self.h_a(torch.abs(pad_for_hyper(y)))
        return y[0].cpu().numpy(), z[0].cpu().numpy()

    def symbols(
        self, image: object, *, tile: int = tiling.DEFAULT_TILE
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ẑ, j, ŷ)`` of one photo: the hyper-latent symbols, the scale indices, the latent symbols."""
        return hyper_symbols(*self.analyse_tiled(image, tile), self.hyper_tables)

    def compress(self, image: object, *, tile: int = tiling.DEFAULT_TILE) -> bytes:
        """The format-version-4 stream of one photo: uint8 (H, W, C) (or (H, W) grayscale, or floats);
        photos with a side above ``tile`` pixels are analysed by tiles with context (bounded memory)."""
        image = pixels.as_image(image, self.channels)
        y, z = self.analyse_tiled(image, tile)
        height, width = image.shape[:2]
        return encode_hyper(y, z, self.hyper_tables, self.fingerprint, height, width, self.channels)

    def compress_batch(self, images: list) -> list[bytes]:
        """The streams of photos of one size, their transforms run as one batch."""
        prepared = [self._input(im) for im in images]
        if len({(h, w) for _, h, w in prepared}) != 1:
            raise ValueError("compress_batch takes photos of one size; compress others one by one")
        _, height, width = prepared[0]
        y, z = self.analyse(torch.cat([x for x, _, _ in prepared]))
        tables, fp = self.hyper_tables, self.fingerprint
        return [encode_hyper(y[b], z[b], tables, fp, height, width, self.channels) for b in range(len(y))]

    def decompress_symbols(self, data: bytes) -> tuple[np.ndarray, int, int]:
        """``(ŷ (M, h, w), H, W)`` of a stream made by this codec (integers only: the same everywhere)."""
        return decode_hyper(data, self.hyper_tables, self.fingerprint, self.channels)

    def dequantize(
        self, symbols: np.ndarray, height: int, width: int, *, tile: int = tiling.DEFAULT_TILE
    ) -> np.ndarray:
        """x̂ = g_s(ŷ) as uint8 (H, W, C), cropped, for ŷ (M, h, w) of an H×W photo, by tiles of
        ``tile`` pixels with context (:mod:`aekit.codec.tiling`; 0: all at once)."""
        code = np.ascontiguousarray(np.asarray(symbols).reshape(len(symbols), -1).T)  # (h·w, M)
        return tiling.synthesise(self._run(self.g_s), code, height, width, tile)

    def decompress(self, data: bytes, *, tile: int = tiling.DEFAULT_TILE) -> np.ndarray:
        """The photo (uint8 (H, W, C)) of a stream made by this codec (BitstreamError if corrupt),
        synthesised by tiles of ``tile`` pixels with context (bounded memory; 0: all at once)."""
        return self.dequantize(*self.decompress_symbols(data), tile=tile)

    def estimated_bits(self, image: object) -> float:
        """−Σ log2 P of ẑ and ŷ from the integer tables: the likelihood estimate of the two payloads."""
        z_sym, j, y_sym = self.symbols(image)
        tables = self.hyper_tables
        z_bits = tables.z.bits(z_sym.reshape(len(z_sym), -1).T).sum()
        f = tables.y.freqs[j.ravel(), y_sym.ravel() - tables.y.offsets[j.ravel()]]
        return float(z_bits + (tables.y.precision - np.log2(f)).sum())

    # ------------------------------------------------------------------ files
    def checkpoint_args(self) -> dict:
        return {**super().checkpoint_args(), "scale_table_width": int(self.gaussian.table_freqs.shape[1])}

    def export(self, directory: str | os.PathLike) -> Path:
        """Write ``encoder.onnx`` (g_a), ``hyper_encoder.onnx`` (h_a of |y| padded to multiples of 4),
        ``decoder.onnx`` (g_s), ``hyper_synthesis.safetensors`` (h_s as int64) and ``codec.json``
        (kind "hyperprior": both sets of tables, the fingerprint, every file's SHA-256); returns codec.json's path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tables = self.hyper_tables
        hyper_encoder = (_HyperEncoder(self.h_a), (self.M, 4, 8), files.HYPER_ENCODER_FILE, ("y", "z"))
        encoder, decoder, hyper = self._export_onnx(directory, hyper_encoder)
        net = files.write_integer_net(directory, tables.net)
        config = files.hyper_device_config(
            fingerprint=self.fingerprint,
            tables=tables,
            channels=self.channels,
            onnx={"encoder": encoder, "hyper_encoder": hyper, "decoder": decoder, "hyper_synthesis": net},
        )
        return files.write(directory, config)

    def check_tables(self) -> None:
        """Read z's tables and the scale tables, and take h_s as integers (refused if it could overflow)."""
        super().check_tables()
        self.gaussian.tables()
        self.hyper_tables  # noqa: B018

    def latent_count(self, height: int, width: int) -> int:
        """Symbols of an H×W photo: M·h·w of y plus N·hz·wz of z."""
        h, w = pixels.latent_size(height, width)
        return self.M * h * w + self.N * math.prod((-(-h // HYPER_STRIDE), -(-w // HYPER_STRIDE)))
