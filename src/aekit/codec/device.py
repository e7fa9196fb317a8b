"""The device side of the codec: ONNX encoder + quantisation + entropy coding, without torch.

What ships to a phone is a codec directory's ``encoder.onnx`` and ``codec.json``
(shapes, fingerprint, integer CDF tables, the SHA-256 of the tables bound to the
fingerprint and the encoder's file name and SHA-256) and this module, which needs numpy,
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
TABLES_FORMAT_VERSION = 3  # 2: "fingerprint" is the whole 32-byte SHA-256 (bitstream v2 needs it);
# 3: "tables_sha256" binds the tables to it, the encoder is named and hashed
MAX_CONFIG_BYTES = 64 << 20
MAX_INPUT_NDIM = 4
MAX_INPUT_SIZE = 1 << 26  # values per item


def read_device_config(path) -> dict:
    """Read and check ``codec.json`` of a codec directory (bounded in size and in every field)."""
    path = Path(path)
    file = path / TABLES_FILE if path.is_dir() else path
    if not file.is_file():
        raise CheckpointError(
            f"{file} not found: a codec directory holds {TABLES_FILE} and encoder.onnx "
            "(write them with Codec.save or `aekit codec export`)"
        )
    if file.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(
            f"{file} is {file.stat().st_size} bytes, more than {MAX_CONFIG_BYTES}: not a codec file"
        )
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as err:  # not UTF-8, not JSON, nested too deep, too long a number
        raise CheckpointError(f"{file} is corrupted: not valid JSON ({err})") from None
    if not isinstance(config, dict) or config.get("format") != "aekit-codec":
        raise CheckpointError(f"{file} is not an aekit codec file")
    if config.get("format_version") != TABLES_FORMAT_VERSION:
        raise CheckpointError(
            f"{file} has codec format version {config.get('format_version')!r}; this aekit "
            f"reads version {TABLES_FORMAT_VERSION} (export the codec again: `aekit codec export DIR` "
            "or Codec.save)"
        )
    try:
        fields = _check_fields(config)
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise CheckpointError(f"{file} is corrupted: {err}") from None
    if fields["tables"].sha256(fields["fingerprint"]) != config.get("tables_sha256"):
        raise CheckpointError(
            f"{file}: its tables do not match their SHA-256 (tables_sha256) and the model "
            "fingerprint: they were edited or come from another model; export the codec again "
            "(`aekit codec export`)"
        )
    return {**config, **fields}


def _check_fields(config: dict) -> dict:
    """Parse every field the device uses, each bounded; ValueError naming the first bad one."""
    fingerprint = bytes.fromhex(config["fingerprint"])
    if len(fingerprint) != bitstream.FINGERPRINT_BYTES:
        raise ValueError(f"fingerprint has {len(fingerprint)} bytes, expected {bitstream.FINGERPRINT_BYTES}")
    input_shape = _shape(config["input_shape"], "input_shape", MAX_INPUT_NDIM, MAX_INPUT_SIZE)
    latent_shape = _shape(
        config["latent_shape"], "latent_shape", bitstream.MAX_LATENT_NDIM, bitstream.MAX_LATENT_SIZE
    )
    image_shape = config.get("image_shape")
    if image_shape is not None:
        image_shape = _shape(image_shape, "image_shape", 3, MAX_INPUT_SIZE)
        if not 2 <= len(image_shape) <= 3 or math.prod(image_shape) != math.prod(input_shape):
            raise ValueError(
                f"image_shape {image_shape} is not (H, W) or (H, W, C) of the "
                f"{math.prod(input_shape)} values of an item"
            )
    if not isinstance(config.get("unit_interval", False), bool):
        raise ValueError(f"unit_interval must be true or false, got {config['unit_interval']!r}")
    return {
        "fingerprint": fingerprint,
        "input_shape": input_shape,
        "latent_shape": latent_shape,
        "image_shape": image_shape,
        "tables": _tables(config, math.prod(latent_shape)),
    }


def _tables(config: dict, dim: int) -> Tables:
    precision = _int(config["precision"], "precision", 1, MAX_PRECISION)
    lengths = _ints(config["lengths"], "lengths", 2, MAX_TABLE_LENGTH)
    offsets = _ints(config["offsets"], "offsets", -(1 << 30), 1 << 30)
    rows = config["freqs"]
    if not (isinstance(rows, list) and len(lengths) == len(offsets) == len(rows) == dim):
        raise ValueError(f"{dim} latent dimensions need {dim} offsets, lengths and frequency rows")
    freqs = np.zeros((dim, max(lengths)), dtype=np.int64)
    for d, row in enumerate(rows):
        row = _ints(row, f"freqs[{d}]", 1, 1 << precision)
        if len(row) != lengths[d]:
            raise ValueError(f"table {d} has {len(row)} frequencies, its length says {lengths[d]}")
        freqs[d, : lengths[d]] = row
    return Tables(np.array(offsets), np.array(lengths), freqs, precision)


def _int(value, name: str, low: int, high: int) -> int:
    """A JSON integer (not a float, string or bool) in low..high."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    return value


def _ints(values, name: str, low: int, high: int) -> list[int]:
    if not isinstance(values, list) or not values:
        raise ValueError(f"{name} must be a non-empty list of integers, got {type(values).__name__}")
    return [_int(v, f"{name}[{i}]", low, high) for i, v in enumerate(values)]


def _shape(values, name: str, max_ndim: int, max_size: int) -> tuple[int, ...]:
    shape = tuple(_ints(values, name, 1, max_size))
    if len(shape) > max_ndim or math.prod(shape) > max_size:
        raise ValueError(f"{name} {list(shape)} must have 1..{max_ndim} axes and at most {max_size} values")
    return shape


def _encoder_file(path: Path, config: dict) -> Path:
    """The exported encoder that codec.json names: a plain file name in ``path``, present, with its SHA-256."""
    name, expected = config.get("encoder"), config.get("encoder_sha256")
    if name is None or expected is None:
        raise CheckpointError(
            f"{path / TABLES_FILE} names no exported encoder (encoder: {name!r}, "
            f"encoder_sha256: {expected!r}): export it with `aekit codec export {path}` "
            "or Codec.save(dir) (export=True)"
        )
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or any(c in name for c in "/\\\0")
        or not isinstance(expected, str)
    ):
        raise CheckpointError(
            f"{path / TABLES_FILE} is corrupted: encoder must be a file name in {path} "
            f"with its SHA-256 as hex, got {name!r} and {expected!r}"
        )
    file = path / name
    if not file.is_file():
        raise CheckpointError(f"{file} not found: export the encoder first (`aekit codec export`)")
    if hashlib.sha256(file.read_bytes()).hexdigest() != expected:
        raise CheckpointError(
            f"{file} does not match the SHA-256 in {TABLES_FILE}: it belongs to another codec or is corrupted"
        )
    return file


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
        path = Path(path)
        config = read_device_config(path)
        self.fingerprint: bytes = config["fingerprint"]
        self.input_shape: tuple = config["input_shape"]
        self.latent_shape: tuple = config["latent_shape"]
        self.image_shape: tuple | None = config["image_shape"]
        self.unit_interval = bool(config.get("unit_interval", False))
        onnx_file = _encoder_file(path, config)
        self.session = _session(onnx_file, threads)
        _check_graph(self.session, onnx_file, self.input_shape, math.prod(self.latent_shape))
        self.input_name = self.session.get_inputs()[0].name
        self.tables: Tables = config["tables"]
        self.tables.models()  # build the coder's models once, not per message

    def _check(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1:] != self.input_shape:
            if X.shape == self.input_shape:
                X = X[None]
            else:
                raise DataError(
                    f"X has shape {X.shape}, expected (N, {', '.join(map(str, self.input_shape))})"
                )
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
        """ŷ = clip(round(g_a(x))), (N, D) int64 (DataError for a NaN or infinite latent)."""
        return self.tables.quantize(self.latents(X))

    def compress(self, X) -> bytes:
        """One bitstream holding every item of ``X`` (N, *input_shape) (or one item of ``input_shape``)."""
        symbols = self.symbols(X)
        payload = self.tables.encode(symbols)
        return bitstream.pack(self.fingerprint, len(symbols), self.latent_shape, payload)


def _session(onnx_file: Path, threads: int):
    """An onnxruntime session on the CPU (CheckpointError if the file is not a loadable ONNX model)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(os.fspath(onnx_file), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own types: InvalidProtobuf, Fail, InvalidGraph, ...
        raise CheckpointError(f"{onnx_file} is not a loadable ONNX model: {err}") from None


def _check_graph(session, onnx_file: Path, input_shape: tuple, dim: int) -> None:
    """The ONNX graph maps one input (N, *input_shape) to one output (N, D), as codec.json says."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise CheckpointError(
            f"{onnx_file} has {len(inputs)} inputs and {len(outputs)} outputs; an exported "
            "encoder has one of each"
        )
    for what, shape, wanted in (
        ("input", inputs[0].shape, input_shape),
        ("output", outputs[0].shape, (dim,)),
    ):
        per_item = list(shape[1:])  # axis 0 is N; a named (dynamic) axis fits any size
        if len(per_item) != len(wanted) or any(
            isinstance(s, int) and s != w for s, w in zip(per_item, wanted)
        ):
            raise CheckpointError(
                f"{onnx_file}: its {what} has shape {shape}, but {TABLES_FILE} says "
                f"(N, {', '.join(map(str, wanted))}): they belong to different codecs"
            )
