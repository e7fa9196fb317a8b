"""``codec.json``: what the device needs besides the ONNX encoder, written and read in one place.

A codec directory for the device holds the exported encoder (``encoder.onnx`` by default) and
``codec.json``: the format name and version, the model fingerprint, the shapes, the integer
CDF tables of the entropy model (Ballé et al. 2018, "the entropy model is tabulated for the
decoder") with their SHA-256 bound to the fingerprint, and the encoder's file name and SHA-256.
:meth:`aekit.codec.Codec.save` writes it through :func:`device_config` and :func:`write`;
:class:`aekit.codec.DeviceEncoder` reads it through :func:`read`, every field bounded.

Reading needs numpy only (no torch): it runs on the device.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from . import bitstream
from .coder import MAX_PRECISION, MAX_TABLE_LENGTH, Tables
from .hyper_message import HyperTables
from .intnet import IntegerNet

__all__ = [
    "FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "ENCODER_FILE",
    "DECODER_FILE",
    "PHOTO",
    "HYPERPRIOR",
    "HYPER_ENCODER_FILE",
    "HYPER_SYNTHESIS_FILE",
    "device_config",
    "hyper_device_config",
    "write_integer_net",
    "read_integer_net",
    "photo_device_config",
    "kind",
    "write",
    "read",
    "encoder_file",
]

FILE = "codec.json"
FORMAT = "aekit-codec"
FORMAT_VERSION = 3  # 2: "fingerprint" is the whole 32-byte SHA-256 (bitstream v2 needs it);
# 3: "tables_sha256" binds the tables to it, the encoder is named and hashed
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"  # a photo codec's g_s, for a cloud without torch
PHOTO = "photo"  # "kind" of a photo codec's codec.json (absent: a codec of fixed-shape items)
HYPERPRIOR = "hyperprior"  # "kind" of a hyperprior photo codec's codec.json
HYPER_ENCODER_FILE = "hyper_encoder.onnx"  # h_a, on the device after g_a
HYPER_SYNTHESIS_FILE = "hyper_synthesis.safetensors"  # h_s as int64 arrays (both sides)
MAX_NET_BYTES = 64 << 20
MAX_LATENT_CHANNELS = 1024
MAX_CONFIG_BYTES = 64 << 20
MAX_INPUT_NDIM = 4
MAX_INPUT_SIZE = 1 << 26  # values per item


# ------------------------------------------------------------------ write
def device_config(
    *,
    fingerprint: bytes,
    tables: Tables,
    input_shape: tuple[int, ...],
    latent_shape: tuple[int, ...],
    image_shape: tuple[int, ...] | None,
    unit_interval: bool,
    encoder: str | None = None,
    encoder_sha256: str | None = None,
) -> dict:
    """The content of ``codec.json``; ``encoder`` None: not exported (the device refuses to run)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fingerprint": fingerprint.hex(),
        "input_shape": list(input_shape),
        "latent_shape": list(latent_shape),
        "image_shape": None if image_shape is None else list(image_shape),
        "unit_interval": unit_interval,
        **_table_fields(tables, fingerprint),
        "encoder": encoder,
        "encoder_sha256": encoder_sha256,
    }


def photo_device_config(
    *,
    fingerprint: bytes,
    tables: Tables,
    channels: int,
    encoder: str | None = None,
    encoder_sha256: str | None = None,
    decoder: str | None = None,
    decoder_sha256: str | None = None,
) -> dict:
    """The ``codec.json`` of a photo codec (``"kind": "photo"``): one table per code channel, the
    image channels, and the two ONNX halves (g_a for the device, g_s for the cloud) with their SHA-256."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": PHOTO,
        "fingerprint": fingerprint.hex(),
        "channels": channels,
        "latent_channels": tables.dim,
        **_table_fields(tables, fingerprint),
        "encoder": encoder,
        "encoder_sha256": encoder_sha256,
        "decoder": decoder,
        "decoder_sha256": decoder_sha256,
    }


def hyper_device_config(
    *, fingerprint: bytes, tables: HyperTables, channels: int, onnx: dict[str, Path]
) -> dict:
    """The ``codec.json`` of a hyperprior codec (``"kind": "hyperprior"``): z's tables at the top (one per
    channel of z), the scale tables under ``"scale_tables"``, and the files ``onnx`` names (``encoder``,
    ``hyper_encoder``, ``decoder``, ``hyper_synthesis``), each with its SHA-256."""
    from .. import io

    names: dict = {}
    for key, path in onnx.items():
        names[key] = Path(path).name
        names[f"{key}_sha256"] = io.sha256_file(Path(path))
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": HYPERPRIOR,
        "fingerprint": fingerprint.hex(),
        "channels": channels,
        "latent_channels": tables.latent_channels,
        "hyper_channels": tables.z.dim,
        **_table_fields(tables.z, fingerprint),
        "scale_tables": _table_fields(tables.y, fingerprint),
        **names,
    }


def write_integer_net(directory: str | Path, net: IntegerNet) -> Path:
    """h_s as int64 arrays in ``directory/hyper_synthesis.safetensors`` (atomically); returns the path."""
    from safetensors.numpy import save

    from .. import io

    path = Path(directory) / HYPER_SYNTHESIS_FILE
    with io.atomic_path(path) as tmp:
        tmp.write_bytes(save(net.state()))
    return path


def read_integer_net(file: Path) -> IntegerNet:
    """The integer h_s of ``file`` (safetensors: no pickle), size-bounded and checked (CheckpointError)."""
    from safetensors.numpy import load

    if file.stat().st_size > MAX_NET_BYTES:
        raise CheckpointError(f"{file} is {file.stat().st_size} bytes, more than {MAX_NET_BYTES}")
    try:
        return IntegerNet.from_state(load(file.read_bytes()))
    except Exception as err:  # safetensors' own errors, or a network that does not check
        raise CheckpointError(f"{file} is not a valid integer hyper-synthesis: {err}") from None


def _table_fields(tables: Tables, fingerprint: bytes) -> dict:
    return {
        "precision": tables.precision,
        "offsets": tables.offsets.tolist(),
        "lengths": tables.lengths.tolist(),
        "freqs": [tables.freqs[d, : tables.lengths[d]].tolist() for d in range(tables.dim)],
        "tables_sha256": tables.sha256(fingerprint),
    }


def write(directory: str | Path, config: dict) -> Path:
    """Write ``config`` (from :func:`device_config`) as ``directory/codec.json``, atomically; return its path."""
    from .. import io  # the torch side writes codec.json; the device only reads it

    path = Path(directory) / FILE
    io.atomic_write_text(path, json.dumps(config))
    return path


# ------------------------------------------------------------------ read
def read(path: str | Path) -> dict:
    """Read and check ``codec.json`` (a file, or a directory holding it), bounded in size and every field.

    Returns the JSON fields, with ``fingerprint`` as bytes, the shapes as tuples and ``tables``
    as :class:`~aekit.codec.coder.Tables`.

    Raises
    ------
    CheckpointError
        Missing, too large, not JSON, another format or version, a field out of bounds, or
        tables that do not match their SHA-256 and the fingerprint.
    """
    path = Path(path)
    file = path / FILE if path.is_dir() else path
    config = _load_json(file)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{file} is not an aekit codec file")
    if config.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{file} has codec format version {config.get('format_version')!r}; this aekit "
            f"reads version {FORMAT_VERSION} (export the codec again: `aekit codec export DIR` "
            "or Codec.save)"
        )
    try:
        if config.get("kind") == HYPERPRIOR:
            fields = _check_hyper_fields(config)
        elif config.get("kind") == PHOTO:
            fields = _check_photo_fields(config)
        else:
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


def kind(path: str | os.PathLike) -> str | None:
    """The ``kind`` of the codec.json at ``path`` (a file or its directory): "photo", or None."""
    path = Path(path)
    config = _load_json(path / FILE if path.is_dir() else path)
    return config.get("kind") if isinstance(config, dict) else None


def _load_json(file: Path) -> object:
    """The JSON value of ``file``, which must exist and be at most MAX_CONFIG_BYTES long."""
    if not file.is_file():
        raise CheckpointError(
            f"{file} not found: a codec directory holds {FILE} and {ENCODER_FILE} "
            "(write them with Codec.save or `aekit codec export`)"
        )
    if file.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(
            f"{file} is {file.stat().st_size} bytes, more than {MAX_CONFIG_BYTES}: not a codec file"
        )
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as err:  # not UTF-8, not JSON, nested too deep, too long a number
        raise CheckpointError(f"{file} is corrupted: not valid JSON ({err})") from None


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


def _check_photo_fields(config: dict) -> dict:
    """The fields of a photo codec's codec.json, each bounded."""
    fingerprint = bytes.fromhex(config["fingerprint"])
    if len(fingerprint) != bitstream.FINGERPRINT_BYTES:
        raise ValueError(f"fingerprint has {len(fingerprint)} bytes, expected {bitstream.FINGERPRINT_BYTES}")
    channels = config["channels"]
    if channels not in bitstream.IMAGE_CHANNELS or isinstance(channels, bool):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    latent_channels = _int(config["latent_channels"], "latent_channels", 1, MAX_LATENT_CHANNELS)
    return {
        "fingerprint": fingerprint,
        "channels": channels,
        "latent_channels": latent_channels,
        "tables": _tables(config, latent_channels),
    }


def _check_hyper_fields(config: dict) -> dict:
    """The fields of a hyperprior codec's codec.json, each bounded: z's ``tables``, y's ``scale_tables``."""
    fields = _check_photo_fields({**config, "latent_channels": config["hyper_channels"]})
    scale = config["scale_tables"]
    if not isinstance(scale, dict):
        raise ValueError("scale_tables must be an object")
    scale_tables = _tables(scale, len(scale["lengths"]) if isinstance(scale.get("lengths"), list) else 0)
    if scale_tables.sha256(fields["fingerprint"]) != scale.get("tables_sha256"):
        raise ValueError("the scale tables do not match their SHA-256 (scale_tables.tables_sha256)")
    latent = _int(config["latent_channels"], "latent_channels", 1, MAX_LATENT_CHANNELS)
    return {
        **fields,
        "latent_channels": latent,
        "hyper_channels": fields["latent_channels"],
        "scale_tables": scale_tables,
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


def _int(value: object, name: str, low: int, high: int) -> int:
    """A JSON integer (not a float, string or bool) in low..high."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    return value


def _ints(values: object, name: str, low: int, high: int) -> list[int]:
    if not isinstance(values, list) or not values:
        raise ValueError(f"{name} must be a non-empty list of integers, got {type(values).__name__}")
    return [_int(v, f"{name}[{i}]", low, high) for i, v in enumerate(values)]


def _shape(values: object, name: str, max_ndim: int, max_size: int) -> tuple[int, ...]:
    shape = tuple(_ints(values, name, 1, max_size))
    if len(shape) > max_ndim or math.prod(shape) > max_size:
        raise ValueError(f"{name} {list(shape)} must have 1..{max_ndim} axes and at most {max_size} values")
    return shape


def encoder_file(directory: str | Path, config: dict, key: str = "encoder") -> Path:
    """The exported ONNX file that ``config`` names under ``key`` ("encoder", or a photo codec's
    "decoder"): a plain file name in ``directory``, present, with its SHA-256 (``key_sha256``).

    Raises
    ------
    CheckpointError
        No file named (not exported), a name that is not a plain file name, a missing file,
        or one whose SHA-256 differs from the recorded one.
    """
    path = Path(directory)
    name, expected = config.get(key), config.get(f"{key}_sha256")
    if name is None or expected is None:
        raise CheckpointError(
            f"{path / FILE} names no exported {key} ({key}: {name!r}, "
            f"{key}_sha256: {expected!r}): export it with `aekit codec export {path}` "
            "or Codec.save(dir) (export=True)"
        )
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or any(c in name for c in "/\\\0")
        or not isinstance(expected, str)
    ):
        raise CheckpointError(
            f"{path / FILE} is corrupted: {key} must be a file name in {path} "
            f"with its SHA-256 as hex, got {name!r} and {expected!r}"
        )
    file = path / name
    if not file.is_file():
        raise CheckpointError(f"{file} not found: export the {key} first (`aekit codec export`)")
    if hashlib.sha256(file.read_bytes()).hexdigest() != expected:
        raise CheckpointError(
            f"{file} does not match the SHA-256 in {FILE}: it belongs to another codec or is corrupted"
        )
    return file
