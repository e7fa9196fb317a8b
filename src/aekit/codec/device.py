"""The device side of the codec: ONNX encoder + quantisation + entropy coding, without torch.

What ships to a phone is a codec directory's ``encoder.onnx`` and ``codec.json``
(shapes, fingerprint, integer CDF tables) and this module, which needs numpy,
onnxruntime and constriction only: x -> y = g_a(x) (onnxruntime) ->
ŷ = clip(round(y)) -> range coding -> bitstream. Because the decoder side works
on the integers ŷ, any encoder that reaches the same symbols decodes
identically in the cloud.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, DataError
from . import bitstream
from .coder import MAX_PRECISION, MAX_TABLE_LENGTH, Tables

__all__ = ["DeviceEncoder", "read_device_config"]

TABLES_FILE = "codec.json"
TABLES_FORMAT_VERSION = 2        # 2: "fingerprint" is the whole 32-byte SHA-256 (bitstream v2 needs it)
MAX_CONFIG_BYTES = 64 << 20


def read_device_config(path) -> dict:
    """Read and check ``codec.json`` of a codec directory (bounded in size and in every field)."""
    path = Path(path)
    file = path / TABLES_FILE if path.is_dir() else path
    if not file.is_file():
        raise CheckpointError(f"{file} not found: a codec directory holds {TABLES_FILE} and encoder.onnx "
                              "(write them with Codec.save or `aekit codec export`)")
    if file.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{file} is {file.stat().st_size} bytes, more than {MAX_CONFIG_BYTES}: not a codec file")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{file} is corrupted: not valid JSON ({err})") from None
    if not isinstance(config, dict) or config.get("format") != "aekit-codec":
        raise CheckpointError(f"{file} is not an aekit codec file")
    if config.get("format_version") != TABLES_FORMAT_VERSION:
        raise CheckpointError(f"{file} has codec format version {config.get('format_version')!r}; this aekit "
                              f"reads version {TABLES_FORMAT_VERSION} (re-save the codec with Codec.save)")
    try:
        fingerprint = bytes.fromhex(config["fingerprint"])
        input_shape = tuple(int(s) for s in config["input_shape"])
        latent_shape = tuple(int(s) for s in config["latent_shape"])
        precision = int(config["precision"])
        lengths = [int(n) for n in config["lengths"]]
        offsets = [int(o) for o in config["offsets"]]
        rows = config["freqs"]
        if len(fingerprint) != bitstream.FINGERPRINT_BYTES or not 1 <= precision <= MAX_PRECISION:
            raise ValueError("fingerprint or precision out of range")
        if not 1 <= len(latent_shape) <= bitstream.MAX_LATENT_NDIM or \
                math.prod(latent_shape) > bitstream.MAX_LATENT_SIZE or min(latent_shape) < 1:
            raise ValueError(f"latent shape {latent_shape} out of range")
        dim = math.prod(latent_shape)
        if not (len(lengths) == len(offsets) == len(rows) == dim):
            raise ValueError(f"{dim} latent dimensions but {len(lengths)} tables")
        if max(lengths) > MAX_TABLE_LENGTH or min(lengths) < 2:
            raise ValueError("table lengths out of range")
        freqs = np.zeros((dim, max(lengths)), dtype=np.int64)
        for d, row in enumerate(rows):
            if len(row) != lengths[d]:
                raise ValueError(f"table {d} has {len(row)} frequencies, its length says {lengths[d]}")
            freqs[d, :lengths[d]] = row
        tables = Tables(np.array(offsets), np.array(lengths), freqs, precision)
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise CheckpointError(f"{file} is corrupted: {err}") from None
    return {**config, "fingerprint": fingerprint, "input_shape": input_shape, "latent_shape": latent_shape,
            "tables": tables}


class DeviceEncoder:
    """Compress on the device: ONNX encoder (onnxruntime) + integer tables (constriction); no torch.

    Parameters
    ----------
    path : path
        A codec directory written by :meth:`aekit.codec.Codec.save` (``encoder.onnx`` + ``codec.json``).
    threads : int
        onnxruntime intra-op threads (1, as on a phone core).
    """

    def __init__(self, path, *, threads: int = 1):
        import onnxruntime as ort
        path = Path(path)
        config = read_device_config(path)
        onnx_file = path / (config.get("encoder") or "encoder.onnx")
        if not onnx_file.is_file():
            raise CheckpointError(f"{onnx_file} not found: export the encoder first (`aekit codec export`)")
        expected = config.get("encoder_sha256")
        if expected and hashlib.sha256(onnx_file.read_bytes()).hexdigest() != expected:
            raise CheckpointError(f"{onnx_file} does not match the SHA-256 in {TABLES_FILE}: "
                                  "it belongs to another codec or is corrupted")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(os.fspath(onnx_file), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.fingerprint: bytes = config["fingerprint"]
        self.input_shape: tuple = config["input_shape"]
        self.latent_shape: tuple = config["latent_shape"]
        self.image_shape = tuple(config["image_shape"]) if config.get("image_shape") else None
        self.unit_interval = bool(config.get("unit_interval", False))
        self.tables: Tables = config["tables"]
        self.tables.models()                     # build the coder's models once, not per message

    def _check(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1:] != self.input_shape:
            if X.shape == self.input_shape:
                X = X[None]
            else:
                raise DataError(f"X has shape {X.shape}, expected (N, {', '.join(map(str, self.input_shape))})")
        if len(X) == 0:
            raise DataError("X is empty: nothing to compress")
        if not np.isfinite(X).all():
            raise DataError("X contains NaN or infinite values")
        if self.unit_interval and (X.min() < 0 or X.max() > 1):
            raise DataError(f"X must lie in [0, 1] for this codec, got values in [{X.min():g}, {X.max():g}]")
        return np.ascontiguousarray(X)

    def latents(self, X) -> np.ndarray:
        """y = g_a(x) from the ONNX encoder, (N, D) float32."""
        X = self._check(X)
        return self.session.run(None, {self.input_name: X})[0].reshape(len(X), -1)

    def symbols(self, X) -> np.ndarray:
        """ŷ = clip(round(g_a(x))), (N, D) int64."""
        return self.tables.clip(np.rint(self.latents(X)).astype(np.int64))

    def compress(self, X) -> bytes:
        """One bitstream holding every item of ``X`` (N, *input_shape) (or one item of ``input_shape``)."""
        symbols = self.symbols(X)
        payload = self.tables.encode(symbols)
        return bitstream.pack(self.fingerprint, len(symbols), self.latent_shape, payload)
