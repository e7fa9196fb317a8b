"""The learned codec: analysis/synthesis transforms around an entropy bottleneck.

Training for compression (Ballé et al., ICLR 2017; ICLR 2018) minimises

    L = D + λ·R,   D = ‖x − g_s(ỹ)‖²  (per item),   R = −Σ_d log2 P_d(ỹ_d)  (bits per item),
    ỹ = g_a(x) + u,   u ~ U(−½, ½)  (the proxy for rounding),

with g_a / g_s the encoder / decoder of the notes' autoencoder (:mod:`aekit.codec.networks`).
For coding, ŷ = clip(round(g_a(x))) are integer symbols, entropy-coded with the integer tables
that :meth:`Codec.update` tabulates (:mod:`aekit.codec.bottleneck`), framed as one message
(:mod:`aekit.codec.message`), and the cloud decodes x̂ = g_s(ŷ).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import io, registry
from ..errors import CheckpointError, a_or_an
from ..io.atomic import remove
from ..nn.base import AEModule
from . import files
from .bottleneck import EntropyBottleneck, check_table_width
from .export import export_onnx
from .message import decode_message, encode_message
from .networks import MAX_PARAMETERS, AutoencoderTransforms, build_autoencoder, guess_image_shape
from .tabulated import Tabulated

__all__ = ["Codec", "QUANTIZERS", "TABLES_FILE", "ENCODER_FILE", "MAX_PARAMETERS"]

QUANTIZERS = ("noise", "ste")  # the modes of EntropyBottleneck.quantize that g_s may see in training
TABLES_FILE = files.FILE
ENCODER_FILE = files.ENCODER_FILE
_BOTTLENECK = "entropy_bottleneck."  # checkpoints name its tensors without this prefix (as before it existed)


@registry.register
class Codec(Tabulated, AEModule):
    """An autoencoder made into a compressor (tables, fingerprint and model id: :class:`Tabulated`).

    Parameters
    ----------
    autoencoder : AEModule or dict
        Any aekit model with ``encode`` / ``decode`` (e.g. :class:`aekit.Autoencoder` with a linear
        code), or ``{"class": name, "args": {...}}`` to build one.
    lmbda : float
        λ of L = D + λ·R: squared error (summed over an item) traded per bit. Larger λ, fewer bits.
    components : int
        Logistic mixture components of each latent dimension's density.
    quantizer : {"noise", "ste"}
        What the decoder sees in training: ỹ = y + u ("noise", as in Ballé et al.) or round(y)
        with a straight-through gradient ("ste"); the rate always uses the noise proxy.
    precision : int
        Bits of the integer frequency tables (2^precision total per dimension).
    tail_mass : float
        Probability left outside each table (folded into its end symbols).
    image_shape : sequence of int, optional
        How to draw one item as an image (H, W) or (H, W, C), for PNG responses.
    table_width : int
        Columns of the table buffer (a checkpoint records it; 0 for a new codec).
    """

    def __init__(
        self,
        autoencoder: nn.Module | dict,
        *,
        lmbda: float = 0.01,
        components: int = 3,
        quantizer: str = "noise",
        precision: int = 16,
        tail_mass: float = 1e-6,
        image_shape: tuple[int, ...] | None = None,
        table_width: int = 0,
    ):
        super().__init__()
        _check_settings(lmbda, quantizer, precision, tail_mass, table_width)
        if isinstance(autoencoder, dict):
            autoencoder = build_autoencoder(autoencoder)
        self.transforms = AutoencoderTransforms(autoencoder)  # g_a, g_s
        self.autoencoder = autoencoder  # the weights, named as in every checkpoint
        self.input_shape = self.transforms.input_shape
        self.unit_interval = self.transforms.unit_interval
        self.latent_shape = self.transforms.latent_shape
        self.latent_size = self.transforms.latent_size
        if image_shape is None:
            image_shape = guess_image_shape(self.input_shape)
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)
        self.lmbda = float(lmbda)
        self.quantizer = quantizer
        self.entropy_bottleneck = EntropyBottleneck(
            self.latent_size, components, precision=precision, tail_mass=tail_mass, table_width=table_width
        )
        _on_state_dict(self)(_drop_bottleneck_prefix)
        _on_load_state_dict(self)(_add_bottleneck_prefix)
        self._fingerprint: bytes | None = None
        self._set_config(
            autoencoder=self.transforms.spec(),
            lmbda=self.lmbda,
            components=components,
            quantizer=quantizer,
            precision=precision,
            tail_mass=float(tail_mass),
            image_shape=None if self.image_shape is None else list(self.image_shape),
            table_width=table_width,
        )

    @property
    def prior(self) -> nn.Module:
        """The density of the code (:class:`~aekit.codec.entropy.FactorizedPrior`)."""
        return self.entropy_bottleneck.prior

    @property
    def precision(self) -> int:
        return self.entropy_bottleneck.precision

    @property
    def tail_mass(self) -> float:
        return self.entropy_bottleneck.tail_mass

    # ------------------------------------------------------------------ training objective
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """y = g_a(x), flattened to (N, D)."""
        return self.transforms.g_a(x)

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """x̂ = g_s(y) for codes (N, D)."""
        return self.transforms.g_s(y)

    def rate_distortion(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(D, R)`` per item: squared error and bits, with noise in training mode and rounding otherwise."""
        y = self.encode(x)
        eb = self.entropy_bottleneck
        if self.training:
            y_noisy = eb.quantize(y, "noise")  # ỹ = y + u, the rate's proxy in either quantizer
            y_dec = y_noisy if self.quantizer == "noise" else eb.quantize(y, "ste")
            bits = eb.bits(y_noisy)
        else:
            y_dec = eb.quantize(y, "dequantize")  # ŷ
            bits = eb.bits(y_dec)
        x_hat = self.decode(y_dec)
        distortion = (x_hat - x).pow(2).reshape(len(x), -1).sum(1)  # ‖x − x̂‖²
        return distortion, bits

    def loss(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """L = D + λ·R averaged over the batch (``aekit.fit`` trains with it)."""
        distortion, bits = self.rate_distortion(x)
        return (distortion + self.lmbda * bits).mean()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x̂ = g_s(round(g_a(x))), without the table clamp."""
        return self.decode(self.entropy_bottleneck.quantize(self.encode(x), "dequantize"))

    # ------------------------------------------------------------------ coding
    @torch.no_grad()
    def latents(self, X: object) -> np.ndarray:
        """y = g_a(x) of each item, (N, D) float32 (the codec in eval mode)."""
        X = self.validate_input(X)
        if len(X) == 0:
            raise ValueError("X is empty: nothing to compress")
        self.eval()
        return self.encode(torch.from_numpy(X).to(self.device)).cpu().numpy()

    def symbols(self, X: object) -> np.ndarray:
        """Integer symbols clip(round(g_a(x))) of each item, (N, D) int64."""
        return self.tables.quantize(self.latents(X))

    @torch.no_grad()
    def dequantize(self, symbols: np.ndarray) -> np.ndarray:
        """x̂ = g_s(ŷ) for integer symbols (N, D), as float32 (N, *input_shape)."""
        self.eval()
        # C order whatever the caller's layout: a transposed input would pick another GEMM kernel on a GPU
        # and change the last bits, so decompress(compress(X)) would no longer equal dequantize(symbols(X))
        y = torch.as_tensor(np.ascontiguousarray(symbols), dtype=torch.float32, device=self.device)
        return self.decode(y).cpu().numpy().astype(np.float32, copy=False)

    def compress(self, X: object) -> bytes:
        """One bitstream holding every item of ``X`` (N, *input_shape)."""
        return encode_message(self.latents(X), self.tables, self.fingerprint, self.latent_shape)

    def decompress_symbols(self, data: bytes) -> np.ndarray:
        """The integer symbols (N, D) of a bitstream made by this codec."""
        return decode_message(data, self.tables, self.fingerprint, self.latent_shape)

    def decompress(self, data: bytes) -> np.ndarray:
        """The reconstructions x̂ (N, *input_shape) of a bitstream made by this codec.

        Raises
        ------
        BitstreamError
            Corrupt, truncated, of another format version, or made by another model.
        """
        return self.dequantize(self.decompress_symbols(data))

    # ------------------------------------------------------------------ files
    def save(
        self,
        path: str | os.PathLike,
        *,
        history: dict | None = None,
        extra: dict | None = None,
        export: bool = True,
    ) -> Path:
        """Checkpoint (config.json + model.safetensors), the tables for the device (codec.json) and,
        with ``export``, the ONNX encoder (encoder.onnx).

        Device files of an earlier save that no longer fit are removed: without ``export``
        encoder.onnx, before :meth:`update` codec.json as well; the removal is part of the save's
        atomic commit (a failed or interrupted save leaves the earlier files, all of them).
        """
        with io.transaction():  # the checkpoint and its device files, or none of them
            path = io.save(self, path, history=history, extra=extra)
            if self.updated and export:
                self.export(path / ENCODER_FILE)
                return path
            remove(path / ENCODER_FILE)  # an earlier export: other weights, other tables
            if self.updated:
                files.write(path, self.device_config())
            else:
                remove(path / TABLES_FILE)
        return path

    def export(self, onnx_path: str | Path) -> Path:
        """Write the ONNX encoder to ``onnx_path`` and, beside it, codec.json naming it (with its SHA-256)."""
        onnx_path = self.export_encoder(onnx_path)
        files.write(onnx_path.parent, self.device_config(onnx_path))
        return onnx_path

    def device_config(self, encoder: str | Path | None = None) -> dict:
        """What the device needs besides the ONNX encoder (:func:`aekit.codec.files.device_config`),
        naming the ``encoder`` file beside codec.json (None: not exported, the device refuses to run)."""
        encoder = None if encoder is None else Path(encoder)
        return files.device_config(
            fingerprint=self.fingerprint,
            tables=self.tables,
            input_shape=self.input_shape,
            latent_shape=self.latent_shape,
            image_shape=self.image_shape,
            unit_interval=self.unit_interval,
            encoder=None if encoder is None else encoder.name,
            encoder_sha256=None if encoder is None else io.sha256_file(encoder),
        )

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "cpu") -> Codec:
        """Load a codec saved by :meth:`save` (no unpickling); its tables, if any, are checked."""
        model = io.load(path, device=device)
        if not isinstance(model, cls):
            raise CheckpointError(f"{path} holds {a_or_an(type(model).__name__)}, not a Codec")
        eb = model.entropy_bottleneck
        if eb.table_lengths.any():  # all zero: saved before update(), no tables to check
            try:
                eb.read_tables()
            except ValueError as err:
                raise CheckpointError(
                    f"{path}: the entropy tables in {io.WEIGHTS} are corrupted: {err}"
                ) from None
        return model

    def export_encoder(self, path: str | Path) -> Path:
        """Write g_a as ONNX (input ``x`` (N, *input_shape) float32 -> ``y`` (N, D)), checked by onnx.checker."""
        device, training = self.device, self.training
        try:
            return export_onnx(self.transforms.analysis_graph().to("cpu").eval(), self.input_shape, path)
        finally:
            self.to(device).train(training)


def _on_state_dict(module: nn.Module) -> Callable[..., Any]:
    """``register_state_dict_post_hook`` (public since torch 2.5; torch 2.1 has the private name)."""
    return getattr(module, "register_state_dict_post_hook", None) or module._register_state_dict_hook


def _on_load_state_dict(module: nn.Module) -> Callable[..., Any]:
    """``register_load_state_dict_pre_hook`` (public in newer torch; torch 2.1 has the private name)."""
    public = getattr(module, "register_load_state_dict_pre_hook", None)
    return public or functools.partial(module._register_load_state_dict_pre_hook, with_module=True)


def _drop_bottleneck_prefix(module: nn.Module, state: dict, prefix: str, local_metadata: dict) -> None:
    """state_dict(): the bottleneck's tensors keep the names checkpoints (and fingerprints) always had."""
    for key in [k for k in state if k.startswith(prefix + _BOTTLENECK)]:
        state[prefix + key[len(prefix + _BOTTLENECK) :]] = state.pop(key)


def _add_bottleneck_prefix(module: nn.Module, state: dict, prefix: str, *_: object) -> None:
    """load_state_dict(): the inverse of :func:`_drop_bottleneck_prefix`."""
    for key in [k for k in state if k.startswith((prefix + "prior.", prefix + "table_"))]:
        state[prefix + _BOTTLENECK + key[len(prefix) :]] = state.pop(key)


def _check_settings(
    lmbda: object, quantizer: object, precision: object, tail_mass: object, table_width: object
) -> None:
    """The codec's own arguments, checked before anything is built (they may come from a config.json)."""
    check_lmbda(lmbda)
    check_quantizer(quantizer)
    if not isinstance(precision, int) or not 8 <= precision <= 20:
        raise ValueError(f"precision must be an int in 8..20, got {precision!r}")
    if not (isinstance(tail_mass, (int, float)) and 0 < tail_mass < 0.1):
        raise ValueError(f"tail_mass must be in (0, 0.1), got {tail_mass!r}")
    check_table_width(table_width)


def check_lmbda(lmbda: object) -> None:
    """ValueError unless λ is a finite number >= 0."""
    if not (isinstance(lmbda, (int, float)) and lmbda >= 0 and math.isfinite(lmbda)):
        raise ValueError(f"lmbda must be a finite number >= 0, got {lmbda!r}")


def check_quantizer(quantizer: object) -> None:
    """ValueError unless ``quantizer`` is one of :data:`QUANTIZERS`."""
    if quantizer not in QUANTIZERS:
        raise ValueError(f"quantizer must be one of {', '.join(QUANTIZERS)}, got {quantizer!r}")
