"""What both photo codecs share: g_a / g_s with GDN, λ and the quantiser, one factorized entropy
model, the loss, the ONNX halves, saving and loading.

:class:`~aekit.codec.PhotoCodec` (factorized prior; Ballé, Laparra & Simoncelli, ICLR 2017) and
:class:`~aekit.codec.HyperpriorCodec` (scale hyperprior; Ballé et al., ICLR 2018) are built on
:class:`ConvPhotoCodec`; each adds what its entropy model needs (the hyperprior: h_a, h_s and the
Gaussian conditional, its factorized model then coding z rather than y). Both minimise

    L = λ · 255² · MSE(x, x̂) + bpp      (x in [0, 1]; CompressAI's ``RateDistortionLoss``)

with the rates of :meth:`ConvPhotoCodec.rate_distortion`, which each class defines.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import torch

from .. import io
from ..errors import CheckpointError
from ..nn.base import AEModule
from . import files
from .bottleneck import EntropyBottleneck, check_table_width
from .export import export_onnx
from .inference import fast_transform
from .model import check_lmbda, check_quantizer
from .networks_conv import analysis, check_widths, synthesis
from .tabulated import Tabulated

__all__ = ["ConvPhotoCodec", "numpy_runner"]

_Codec = TypeVar("_Codec", bound="ConvPhotoCodec")


def numpy_runner(net: torch.nn.Module, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    """``net`` as numpy float32 -> numpy float32 on ``device``, without gradients: the form in which
    :mod:`aekit.codec.tiling` runs g_a and g_s tile by tile."""

    @torch.no_grad()
    def run(a: np.ndarray) -> np.ndarray:
        return net(torch.from_numpy(a).to(device)).cpu().numpy()

    return run


class ConvPhotoCodec(Tabulated, AEModule):
    """Base of the photo codecs (not a model of its own: a checkpoint names a subclass).

    Parameters
    ----------
    channels, N, M, lmbda, quantizer, components, precision, tail_mass, table_width
        As :class:`aekit.codec.PhotoCodec`; checked here.
    prior_channels : int
        Dimensions of the factorized entropy model: M (it codes y) or N (it codes z).
    **own
        The subclass's own constructor arguments, recorded with these for its checkpoint.
    """

    unit_interval = True
    #: what :meth:`load` checks besides the factorized tables, as its error names it
    tables_what = "the entropy tables"

    def __init__(
        self,
        channels: int,
        N: int,
        M: int,
        *,
        prior_channels: int,
        lmbda: float,
        quantizer: str,
        components: int,
        precision: int,
        tail_mass: float,
        table_width: int,
        **own: Any,
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
            prior_channels, components, precision=precision, tail_mass=tail_mass, table_width=table_width
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
            **own,
        )

    # ------------------------------------------------------------------ training objective
    def rate_distortion(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mse, bpp)`` of a batch x (B, C, H, W) in [0, 1], sides multiples of 16 (each codec's own)."""
        raise NotImplementedError

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
        with ``export`` (and tables) also the device files: ONNX halves and codec.json (``export``)."""
        with io.transaction():
            path = io.save(self, path, history=history, extra=extra)
            if export and self.updated:
                self.export(path)
        return path

    def export(self, directory: str | os.PathLike) -> Path:
        """Write the device files into ``directory``; returns codec.json's path (each codec's own)."""
        raise NotImplementedError

    def _export_onnx(
        self, directory: Path, *more: tuple[torch.nn.Module, tuple[int, ...], str, tuple[str, str]]
    ) -> list[Path]:
        """``encoder.onnx`` (g_a, the phone's: x (N, C, H, W) -> y (N, M, H/16, W/16)), ``decoder.onnx``
        (g_s, the cloud's) and the graphs ``more`` (module, input shape, file name, (input, output)
        names), exported on the CPU in eval mode with free batch, height and width; their paths."""
        free = {0: "n", 2: "h", 3: "w"}
        graphs = [
            (self.g_a, (self.channels, 32, 48), files.ENCODER_FILE, ("x", "y")),
            (self.g_s, (self.M, 2, 3), files.DECODER_FILE, ("y", "x")),
            *more,
        ]
        device, training = self.device, self.training
        try:
            self.to("cpu").eval()
            return [
                export_onnx(
                    net, shape, directory / name, names=names, dynamic_axes=dict.fromkeys(names, free)
                )
                for net, shape, name, names in graphs
            ]
        finally:
            self.to(device).train(training)

    @classmethod
    def load(cls: type[_Codec], path: str | os.PathLike, *, device: str | torch.device = "cpu") -> _Codec:
        """Load a codec of this class saved by :meth:`save` (no unpickling; sizes checked first)."""
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
        model = cast(_Codec, io.load(path, device=device))  # its class is checked above
        if model.entropy_bottleneck.table_lengths.any():
            try:
                model.check_tables()
            except ValueError as err:
                raise CheckpointError(f"{path}: {cls.tables_what} are corrupted: {err}") from None
        return model

    def check_tables(self) -> None:
        """Read the loaded tables once (``ValueError`` if they are not a valid model)."""
        self.entropy_bottleneck.read_tables()

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
