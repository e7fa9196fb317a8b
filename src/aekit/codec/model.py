"""The learned codec: an autoencoder, a factorized entropy model and its integer tables.

Training for compression (Ballé et al., ICLR 2017; ICLR 2018) minimises

    L = D + λ·R,   D = ‖x − g_s(ỹ)‖²  (per item),   R = −Σ_d log2 P_d(ỹ_d)  (bits per item),
    ỹ = g_a(x) + u,   u ~ U(−½, ½)  (the proxy for rounding),

with g_a / g_s the encoder / decoder of the notes' autoencoder. For coding,
ŷ = round(g_a(x)) are integer symbols, entropy-coded with the integer tables
that :meth:`Codec.update` tabulates, and the cloud decodes x̂ = g_s(ŷ).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import io, registry
from ..errors import BitstreamError, CheckpointError
from ..nn.base import AEModule
from . import bitstream
from .coder import MAX_TABLE_LENGTH, Tables
from .device import TABLES_FILE, TABLES_FORMAT_VERSION
from .entropy import FactorizedPrior

__all__ = ["Codec", "QUANTIZERS", "TABLES_FILE", "ENCODER_FILE", "MAX_PARAMETERS"]

QUANTIZERS = ("noise", "ste")
ENCODER_FILE = "encoder.onnx"
TABLES_FORMAT = "aekit-codec"
MAX_PARAMETERS = 1 << 28  # weights and buffers of an autoencoder built from a config (1 GiB of float32)


@registry.register
class Codec(AEModule):
    """An autoencoder made into a compressor.

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
    """

    def __init__(
        self,
        autoencoder,
        *,
        lmbda: float = 0.01,
        components: int = 3,
        quantizer: str = "noise",
        precision: int = 16,
        tail_mass: float = 1e-6,
        image_shape=None,
        table_width: int = 0,
    ):
        super().__init__()
        _check_settings(lmbda, quantizer, precision, tail_mass, table_width)
        if isinstance(autoencoder, dict):
            autoencoder = _build(autoencoder)
        if not (
            hasattr(autoencoder, "encode")
            and hasattr(autoencoder, "decode")
            and isinstance(autoencoder, nn.Module)
        ):
            raise TypeError(
                f"autoencoder must be an aekit model with encode/decode, got {type(autoencoder).__name__}"
            )
        self.autoencoder = autoencoder
        self.input_shape = tuple(getattr(autoencoder, "input_shape", ()) or ())
        if not self.input_shape or None in self.input_shape:
            raise ValueError(f"the autoencoder must have a fixed input shape, got {self.input_shape!r}")
        self.unit_interval = bool(getattr(autoencoder, "unit_interval", False))
        with torch.no_grad():
            was_training = autoencoder.training
            probe = autoencoder.eval().encode(torch.zeros(1, *self.input_shape))
            autoencoder.train(was_training)
        self.latent_shape = tuple(probe.shape[1:])
        self.latent_size = math.prod(self.latent_shape)
        if not 1 <= self.latent_size <= bitstream.MAX_LATENT_SIZE:
            raise ValueError(
                f"the code has {self.latent_size} values per item, a bitstream carries "
                f"1..{bitstream.MAX_LATENT_SIZE}"
            )
        if image_shape is None:
            image_shape = _guess_image_shape(self.input_shape)
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)
        self.lmbda = float(lmbda)
        self.quantizer = quantizer
        self.precision = precision
        self.tail_mass = float(tail_mass)
        self.prior = FactorizedPrior(self.latent_size, components)
        self.register_buffer("table_offsets", torch.zeros(self.latent_size, dtype=torch.int32))
        self.register_buffer("table_lengths", torch.zeros(self.latent_size, dtype=torch.int32))
        self.register_buffer("table_freqs", torch.zeros(self.latent_size, table_width, dtype=torch.int32))
        self._tables = None
        self._fingerprint = None
        self._set_config(
            autoencoder={"class": type(autoencoder).__name__, "args": _args(autoencoder)},
            lmbda=self.lmbda,
            components=components,
            quantizer=quantizer,
            precision=precision,
            tail_mass=self.tail_mass,
            image_shape=None if self.image_shape is None else list(self.image_shape),
            table_width=table_width,
        )

    def checkpoint_args(self) -> dict:
        return {
            **self.config,
            "lmbda": self.lmbda,
            "quantizer": self.quantizer,
            "table_width": int(self.table_freqs.shape[1]),
        }

    # ------------------------------------------------------------------ training objective
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """y = g_a(x), flattened to (N, D)."""
        return self.autoencoder.encode(x).reshape(len(x), -1)

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """x̂ = g_s(y) for codes (N, D)."""
        return self.autoencoder.decode(y.reshape(len(y), *self.latent_shape))

    def rate_distortion(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(D, R)`` per item: squared error and bits, with noise in training mode and rounding otherwise."""
        y = self.encode(x)
        if self.training:
            y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)  # ỹ = y + u
            y_dec = y_noisy if self.quantizer == "noise" else y + (torch.round(y) - y).detach()
            bits = self.prior.bits(y_noisy)
        else:
            y_dec = torch.round(y)  # ŷ
            bits = self.prior.bits(y_dec)
        x_hat = self.decode(y_dec)
        distortion = (x_hat - x).pow(2).reshape(len(x), -1).sum(1)  # ‖x − x̂‖²
        return distortion, bits

    def loss(self, x: torch.Tensor, target=None) -> torch.Tensor:
        """L = D + λ·R averaged over the batch (``aekit.fit`` trains with it)."""
        distortion, bits = self.rate_distortion(x)
        return (distortion + self.lmbda * bits).mean()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x̂ = g_s(round(g_a(x))), without the table clamp."""
        return self.decode(torch.round(self.encode(x)))

    # ------------------------------------------------------------------ tables
    @torch.no_grad()
    def update(self) -> Codec:
        """Tabulate the entropy model into integer CDF tables (call after training); returns self."""
        offsets, lengths, freqs = self.prior.tabulate(self.precision, self.tail_mass)
        device = self.table_offsets.device
        self.table_offsets = torch.as_tensor(offsets, dtype=torch.int32, device=device)
        self.table_lengths = torch.as_tensor(lengths, dtype=torch.int32, device=device)
        self.table_freqs = torch.as_tensor(freqs, dtype=torch.int32, device=device)
        self._tables = None
        self._fingerprint = None
        return self

    def clear_tables(self) -> None:
        """Forget the tables (before the weights change); :meth:`update` makes new ones."""
        self.table_lengths.zero_()
        self._tables = self._fingerprint = None

    @property
    def updated(self) -> bool:
        return bool(self.table_lengths.min() >= 2)

    @property
    def tables(self) -> Tables:
        """The integer tables as a :class:`~aekit.codec.coder.Tables` (needs :meth:`update`)."""
        if not self.updated:
            raise BitstreamError("the codec has no entropy tables yet: call codec.update() after training")
        if self._tables is None:
            self._tables = self._read_tables()
        return self._tables

    def _read_tables(self) -> Tables:
        """The table buffers as :class:`Tables` (ValueError if they are not valid tables)."""
        return Tables(
            self.table_offsets.cpu().numpy(),
            self.table_lengths.cpu().numpy(),
            self.table_freqs.cpu().numpy(),
            self.precision,
        )

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 (32 bytes) of every weight (decoder included) and the CDF tables.

        A bitstream carries its first :data:`~aekit.codec.bitstream.MODEL_ID_BYTES` bytes
        (:attr:`model_id`) and binds all of it into its CRC-32.
        """
        if self._fingerprint is None:
            self._fingerprint = _state_digest(self.state_dict())
        return self._fingerprint

    @property
    def model_id(self) -> bytes:
        """The fingerprint's first bytes, as written in each bitstream (picks the model in the service)."""
        return self.fingerprint[: bitstream.MODEL_ID_BYTES]

    def train(self, mode: bool = True):
        if mode:
            self._fingerprint = None  # weights may change: recompute after training
        return super().train(mode)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._tables = self._fingerprint = None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # ------------------------------------------------------------------ coding
    @torch.no_grad()
    def symbols(self, X) -> np.ndarray:
        """Integer symbols clip(round(g_a(x))) of each item, (N, D) int64."""
        X = self.validate_input(X)
        if len(X) == 0:
            raise ValueError("X is empty: nothing to compress")
        self.eval()
        y = self.encode(torch.from_numpy(X).to(self.device)).cpu().numpy()
        return self.tables.quantize(y)

    @torch.no_grad()
    def dequantize(self, symbols) -> np.ndarray:
        """x̂ = g_s(ŷ) for integer symbols (N, D), as float32 (N, *input_shape)."""
        self.eval()
        # C order whatever the caller's layout: a transposed input would pick another GEMM kernel on a GPU
        # and change the last bits, so decompress(compress(X)) would no longer equal dequantize(symbols(X))
        y = torch.as_tensor(np.ascontiguousarray(symbols), dtype=torch.float32, device=self.device)
        return self.decode(y).cpu().numpy().astype(np.float32, copy=False)

    def compress(self, X) -> bytes:
        """One bitstream holding every item of ``X`` (N, *input_shape)."""
        symbols = self.symbols(X)
        payload = self.tables.encode(symbols)
        return bitstream.pack(self.fingerprint, len(symbols), self.latent_shape, payload)

    def decompress_symbols(self, data: bytes) -> np.ndarray:
        """The integer symbols (N, D) of a bitstream made by this codec."""
        header, payload = bitstream.unpack(data, self.fingerprint)
        if tuple(header.latent_shape) != tuple(self.latent_shape):
            raise BitstreamError(
                f"corrupt bitstream: latent shape {header.latent_shape}, the model's is "
                f"{tuple(self.latent_shape)}"
            )
        return self.tables.decode(payload, header.count)

    def decompress(self, data: bytes) -> np.ndarray:
        """The reconstructions x̂ (N, *input_shape) of a bitstream made by this codec.

        Raises
        ------
        BitstreamError
            Corrupt, truncated, of another format version, or made by another model.
        """
        return self.dequantize(self.decompress_symbols(data))

    # ------------------------------------------------------------------ files
    def save(self, path, *, history=None, extra=None, export: bool = True) -> Path:
        """Checkpoint (config.json + model.safetensors), the tables for the device (codec.json) and,
        with ``export``, the ONNX encoder (encoder.onnx).

        Device files of an earlier save that no longer fit are removed: without ``export``
        encoder.onnx, before :meth:`update` codec.json as well.
        """
        with io.transaction():  # the checkpoint and its device files, or none of them
            path = io.save(self, path, history=history, extra=extra)
            if self.updated and export:
                self.export(path / ENCODER_FILE)
                return path
            (path / ENCODER_FILE).unlink(missing_ok=True)  # an earlier export: other weights, other tables
            if self.updated:
                io.atomic_write_text(path / TABLES_FILE, json.dumps(self.device_config()))
            else:
                (path / TABLES_FILE).unlink(missing_ok=True)
        return path

    def export(self, onnx_path) -> Path:
        """Write the ONNX encoder to ``onnx_path`` and, beside it, codec.json naming it (with its SHA-256)."""
        onnx_path = self.export_encoder(onnx_path)
        io.atomic_write_text(onnx_path.with_name(TABLES_FILE), json.dumps(self.device_config(onnx_path)))
        return onnx_path

    def device_config(self, encoder=None) -> dict:
        """What the device needs besides the ONNX encoder: shapes, fingerprint and integer tables
        (with their SHA-256 bound to the fingerprint), and the file name and SHA-256 of the ``encoder``
        (a path beside codec.json; None: not exported, the device refuses to run)."""
        t = self.tables
        encoder = None if encoder is None else Path(encoder)
        return {
            "format": TABLES_FORMAT,
            "format_version": TABLES_FORMAT_VERSION,
            "fingerprint": self.fingerprint.hex(),
            "input_shape": list(self.input_shape),
            "latent_shape": list(self.latent_shape),
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "unit_interval": self.unit_interval,
            "precision": t.precision,
            "offsets": t.offsets.tolist(),
            "lengths": t.lengths.tolist(),
            "freqs": [t.freqs[d, : t.lengths[d]].tolist() for d in range(t.dim)],
            "tables_sha256": t.sha256(self.fingerprint),
            "encoder": None if encoder is None else encoder.name,
            "encoder_sha256": None if encoder is None else io.sha256_file(encoder),
        }

    @classmethod
    def load(cls, path, *, device="cpu") -> Codec:
        """Load a codec saved by :meth:`save` (no unpickling); its tables, if any, are checked."""
        model = io.load(path, device=device)
        if not isinstance(model, cls):
            raise CheckpointError(f"{path} holds a {type(model).__name__}, not a Codec")
        if model.table_lengths.any():  # all zero: saved before update(), no tables to check
            try:
                model._read_tables()
            except ValueError as err:
                raise CheckpointError(
                    f"{path}: the entropy tables in {io.WEIGHTS} are corrupted: {err}"
                ) from None
        return model

    def export_encoder(self, path) -> Path:
        """Write g_a as ONNX (input ``x`` (N, *input_shape) float32 -> ``y`` (N, D)), checked by onnx.checker."""
        import onnx

        path = Path(path)
        encoder = _EncoderGraph(self.autoencoder).to("cpu").eval()
        example = torch.zeros(2, *self.input_shape)
        with io.atomic_path(path) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(
                    encoder,
                    (example,),
                    str(tmp),
                    input_names=["x"],
                    output_names=["y"],
                    dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
                    opset_version=17,
                    dynamo=False,
                )
            except (
                Exception
            ):  # the TorchScript exporter is deprecated; fall back to torch.export + onnxscript
                torch.onnx.export(
                    encoder,
                    (example,),
                    str(tmp),
                    input_names=["x"],
                    output_names=["y"],
                    dynamic_shapes=({0: torch.export.Dim("n")},),
                    dynamo=True,
                    verbose=False,
                )
            onnx.checker.check_model(onnx.load(str(tmp)), full_check=True)
        self.autoencoder.to(self.device)
        return path


class _EncoderGraph(nn.Module):
    """g_a flattened to (N, D), the graph that ships to the device."""

    def __init__(self, autoencoder):
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, x):
        return self.autoencoder.encode(x).flatten(1)


def _state_digest(state: dict) -> bytes:
    digest = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return digest.digest()


def _check_settings(lmbda, quantizer, precision, tail_mass, table_width) -> None:
    """The codec's own arguments, checked before anything is built (they may come from a config.json)."""
    if not (isinstance(lmbda, (int, float)) and lmbda >= 0 and math.isfinite(lmbda)):
        raise ValueError(f"lmbda must be a finite number >= 0, got {lmbda!r}")
    if quantizer not in QUANTIZERS:
        raise ValueError(f"quantizer must be one of {', '.join(QUANTIZERS)}, got {quantizer!r}")
    if not isinstance(precision, int) or not 8 <= precision <= 20:
        raise ValueError(f"precision must be an int in 8..20, got {precision!r}")
    if not (isinstance(tail_mass, (int, float)) and 0 < tail_mass < 0.1):
        raise ValueError(f"tail_mass must be in (0, 0.1), got {tail_mass!r}")
    if (
        not isinstance(table_width, int)
        or isinstance(table_width, bool)
        or not 0 <= table_width <= MAX_TABLE_LENGTH
    ):
        raise ValueError(
            f"table_width must be an int in 0..{MAX_TABLE_LENGTH} (symbols per table), got {table_width!r}"
        )


def _args(module) -> dict:
    return module.checkpoint_args() if hasattr(module, "checkpoint_args") else {}


def _build(spec: dict):
    """The autoencoder of ``{"class": name, "args": {...}}``, its size counted before anything is allocated."""
    if not isinstance(spec.get("class"), str) or not isinstance(spec.get("args"), dict):
        raise ValueError(f"autoencoder must be a module or {{'class': name, 'args': {{...}}}}, got {spec!r}")
    if spec["class"] not in registry.known_classes():
        raise ValueError(
            f"unknown autoencoder class {spec['class']!r}; known: {', '.join(registry.known_classes())}"
        )
    cls = registry.model_class(spec["class"])
    size = _size_on_meta(cls, spec["args"])
    if size > MAX_PARAMETERS:
        raise ValueError(
            f"autoencoder {spec['class']} with {spec['args']} has {size:,} weights and buffers, "
            f"more than the allowed {MAX_PARAMETERS:,}"
        )
    return cls(**spec["args"])


def _size_on_meta(cls, args: dict) -> int:
    """Parameters and buffers of ``cls(**args)``, built on the meta device (shapes only, no memory)."""
    try:
        with torch.device("meta"):
            module = cls(**args)
    except (RuntimeError, OverflowError) as err:  # torch's word for an impossible size
        raise ValueError(f"cannot build {cls.__name__} from {args}: {err}") from None
    return sum(t.numel() for t in (*module.parameters(), *module.buffers()))


def _guess_image_shape(input_shape) -> tuple | None:
    if len(input_shape) == 1 and math.isqrt(input_shape[0]) ** 2 == input_shape[0]:
        return (math.isqrt(input_shape[0]),) * 2
    if len(input_shape) == 3 and input_shape[0] in (1, 3):
        return tuple(input_shape[1:]) if input_shape[0] == 1 else (*input_shape[1:], 3)
    if len(input_shape) == 2:
        return tuple(input_shape)
    return None
