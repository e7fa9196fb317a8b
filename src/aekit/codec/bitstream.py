"""The aekit codec bitstream, format versions 2 and 3 (specified in ``docs/bitstream.md``).

Version 2, N items of a fixed-shape codec (the dense codec):

    magic 0xAE | version u8 | model id 2 bytes | item count varint | latent ndim u8 |
    latent dims varint... | payload length varint | payload | CRC-32 (big-endian u32)

Version 3, one photo of any size (the convolutional codec; the code's shape follows from
the model and the image's):

    magic 0xAE | 0x03 | model id 2 bytes | height varint | width varint | channels u8 |
    payload length varint | payload | CRC-32 (big-endian u32)

Version 4, one photo coded with a scale hyperprior (two payloads: the hyper-latent z's, then y's):

    magic 0xAE | 0x04 | model id 2 bytes | height varint | width varint | channels u8 |
    z payload length varint | y payload length varint | z payload | y payload | CRC-32

The model id is the first two bytes of the model's fingerprint (a SHA-256 of its
weights and tables); the CRC-32 covers the whole 32-byte fingerprint followed by
every byte before it. So a frame costs 12 bytes for one MNIST image, yet a stream
decoded by any other model fails the CRC unless the 32-bit check collides too.

Every size read from a stream is bounded before anything is allocated, and
every inconsistency (wrong magic, version, truncation, trailing bytes, wrong
model, CRC mismatch) raises :class:`aekit.errors.BitstreamError` saying which.
This module needs only the standard library: it runs on the device and in the cloud.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import BitstreamError, DataError

__all__ = [
    "MAGIC",
    "VERSION",
    "FINGERPRINT_BYTES",
    "MODEL_ID_BYTES",
    "MAX_ITEMS",
    "MAX_LATENT_NDIM",
    "MAX_LATENT_DIM",
    "MAX_LATENT_SIZE",
    "MAX_SYMBOLS",
    "MAX_PAYLOAD",
    "Header",
    "pack",
    "unpack",
    "read_header",
    "read_file",
    "MAX_FILE_BYTES",
    "IMAGE_VERSION",
    "ImageHeader",
    "pack_image",
    "unpack_image",
    "read_image_header",
    "HYPER_VERSION",
    "pack_hyper",
    "unpack_hyper",
]

MAGIC = b"\xae"
VERSION = 2
FINGERPRINT_BYTES = 32  # SHA-256 of the model: bound into the CRC, never sent
MODEL_ID_BYTES = 2  # what is sent: the fingerprint's first bytes, to pick the model
CRC_BYTES = 4
_V1_PREFIX = b"\xae\xc0"  # format version 1 (2-byte magic, 4-byte fingerprint, 15-byte frame)

# bounds on every size field (checked before any allocation)
MAX_ITEMS = 1 << 16  # items (images) in one message
MAX_LATENT_NDIM = 4
MAX_LATENT_DIM = 1 << 16  # each latent axis
MAX_LATENT_SIZE = 1 << 16  # symbols per item
MAX_SYMBOLS = 1 << 24  # symbols per message (items x latent size)
MAX_PAYLOAD = 1 << 28  # payload bytes
_MAX_VARINT_BYTES = 5
MAX_FILE_BYTES = 256 << 20  # a bitstream file read whole

MIN_LENGTH = len(MAGIC) + 1 + MODEL_ID_BYTES + 1 + 1 + 1 + CRC_BYTES  # count, ndim, length (no dims)


@dataclass(frozen=True)
class Header:
    """The fields of a stream around its payload."""

    version: int
    model_id: bytes
    count: int
    latent_shape: tuple[int, ...]
    payload_length: int

    @property
    def latent_size(self) -> int:
        return math.prod(self.latent_shape)


# ------------------------------------------------------------------ varints (LEB128, unsigned)
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int, field: str, maximum: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise BitstreamError(f"truncated bitstream: it ends inside the {field} field (at byte {pos + i})")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if i > 0 and byte == 0:
                raise BitstreamError(
                    f"corrupt bitstream: the {field} field at byte {pos} is not minimally encoded"
                )
            if value > maximum:
                raise BitstreamError(
                    f"corrupt bitstream: {field} is {value}, more than the allowed {maximum}"
                )
            return value, pos + i + 1
    raise BitstreamError(
        f"corrupt bitstream: the {field} field at byte {pos} is longer than {_MAX_VARINT_BYTES} bytes"
    )


# ------------------------------------------------------------------ write
def pack(fingerprint: bytes, count: int, latent_shape: Iterable[int], payload: bytes) -> bytes:
    """Wrap an entropy-coded ``payload`` of ``count`` items with latent shape ``latent_shape``.

    ``fingerprint`` is the model's 32-byte SHA-256: its first bytes go into the stream
    as the model id, all of it into the CRC-32.
    """
    fingerprint = _check_fingerprint(fingerprint)
    latent_shape = tuple(int(s) for s in latent_shape)
    _check_sizes(count, latent_shape, len(payload), error=ValueError)
    parts = [
        MAGIC,
        bytes([VERSION]),
        fingerprint[:MODEL_ID_BYTES],
        _varint(count),
        bytes([len(latent_shape)]),
        *(_varint(s) for s in latent_shape),
        _varint(len(payload)),
        bytes(payload),
    ]
    body = b"".join(parts)
    return body + _crc(fingerprint, body).to_bytes(CRC_BYTES, "big")


def _crc(fingerprint: bytes, body: bytes) -> int:
    """CRC-32 (zlib, IEEE 802.3) of the model's fingerprint followed by the stream's bytes."""
    return zlib.crc32(body, zlib.crc32(fingerprint))


def _check_fingerprint(fingerprint: object) -> bytes:
    if not isinstance(fingerprint, (bytes, bytearray)):
        raise TypeError(f"fingerprint must be bytes (the model's SHA-256), got {type(fingerprint).__name__}")
    if len(fingerprint) != FINGERPRINT_BYTES:
        raise ValueError(
            f"fingerprint must be the model's {FINGERPRINT_BYTES}-byte SHA-256, got {len(fingerprint)} bytes"
        )
    return bytes(fingerprint)


def _check_sizes(
    count: int, latent_shape: tuple[int, ...], payload_length: int, *, error: type[Exception] = BitstreamError
) -> None:
    prefix = "corrupt bitstream: " if error is BitstreamError else ""
    if not 1 <= count <= MAX_ITEMS:
        raise error(f"{prefix}item count {count} is outside 1..{MAX_ITEMS}")
    if not 1 <= len(latent_shape) <= MAX_LATENT_NDIM:
        raise error(f"{prefix}latent shape has {len(latent_shape)} axes, expected 1..{MAX_LATENT_NDIM}")
    if not all(1 <= s <= MAX_LATENT_DIM for s in latent_shape):
        raise error(f"{prefix}latent shape {latent_shape} has an axis outside 1..{MAX_LATENT_DIM}")
    if math.prod(latent_shape) > MAX_LATENT_SIZE:
        raise error(f"{prefix}latent shape {latent_shape} holds more than {MAX_LATENT_SIZE} symbols per item")
    if count * math.prod(latent_shape) > MAX_SYMBOLS:
        raise error(
            f"{prefix}{count} items of latent shape {latent_shape} exceed {MAX_SYMBOLS} symbols per message"
        )
    if not 0 <= payload_length <= MAX_PAYLOAD:
        raise error(f"{prefix}payload length {payload_length} is outside 0..{MAX_PAYLOAD}")


# ------------------------------------------------------------------ read
def _with_magic(data: object) -> bytes:
    """``data`` as bytes, refused unless it starts with the magic."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"a bitstream is bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise BitstreamError(
            f"not an aekit bitstream: it starts with {data[: len(MAGIC)].hex() or 'nothing'}, "
            f"expected the magic {MAGIC.hex()}"
        )
    return data


def _check_total(data: bytes, expected: int, length: int) -> None:
    """The stream holds exactly the ``expected`` bytes its header announces (``length`` of payload)."""
    if len(data) < expected:
        raise BitstreamError(
            f"truncated bitstream: the header announces {expected} bytes "
            f"({length} of payload), but only {len(data)} arrived"
        )
    if len(data) > expected:
        raise BitstreamError(
            f"corrupt bitstream: {len(data) - expected} unexpected bytes after the "
            f"{expected}-byte stream the header announces"
        )


def read_header(data: bytes) -> tuple[Header, int]:
    """Parse and bound the header of ``data``; return it and the offset of the payload.

    Checks magic, version and every size field, and that the stream holds exactly the
    payload and CRC it announces; does not check the CRC (see :func:`unpack`).
    """
    data = _with_magic(data)
    if data[: len(_V1_PREFIX)] == _V1_PREFIX:
        raise BitstreamError(
            f"bitstream format version 1 is not supported: this aekit reads version {VERSION} "
            "(re-encode the images with this aekit)"
        )
    if len(data) > len(MAGIC) and data[len(MAGIC)] in PHOTO_VERSIONS:
        raise BitstreamError(
            f"bitstream format version {data[len(MAGIC)]} is not supported here: it is a photo stream, "
            f"this reads streams of codes (version {VERSION}); decode it with a photo codec "
            "(`aekit codec decompress`, PhotoCodec.decompress)"
        )
    if len(data) > len(MAGIC) and data[len(MAGIC)] != VERSION:
        raise BitstreamError(
            f"bitstream format version {data[len(MAGIC)]} is not supported: this aekit reads "
            f"version {VERSION}"
        )
    if len(data) < MIN_LENGTH:
        raise BitstreamError(f"truncated bitstream: {len(data)} bytes, a stream has at least {MIN_LENGTH}")
    pos = len(MAGIC) + 1
    model_id = data[pos : pos + MODEL_ID_BYTES]
    pos += MODEL_ID_BYTES
    count, pos = _read_varint(data, pos, "item count", MAX_ITEMS)
    if pos >= len(data):
        raise BitstreamError("truncated bitstream: it ends before the latent shape")
    ndim = data[pos]
    pos += 1
    if not 1 <= ndim <= MAX_LATENT_NDIM:
        raise BitstreamError(
            f"corrupt bitstream: latent shape has {ndim} axes, expected 1..{MAX_LATENT_NDIM}"
        )
    shape = []
    for axis in range(ndim):
        dim, pos = _read_varint(data, pos, f"latent axis {axis}", MAX_LATENT_DIM)
        shape.append(dim)
    length, pos = _read_varint(data, pos, "payload length", MAX_PAYLOAD)
    _check_sizes(count, tuple(shape), length)
    _check_total(data, pos + length + CRC_BYTES, length)
    return Header(VERSION, model_id, count, tuple(shape), length), pos


def unpack(data: bytes, fingerprint: bytes) -> tuple[Header, bytes]:
    """Check a whole stream against the model with ``fingerprint`` and return ``(header, payload)``.

    Checks the header bounds and length, then that the model id is this model's
    (``wrong model`` otherwise), then the CRC-32 over the fingerprint and the stream.
    """
    fingerprint = _check_fingerprint(fingerprint)
    header, pos = read_header(data)
    data = bytes(data)
    _check_model_and_crc(data, header.model_id, fingerprint)
    return header, data[pos:-CRC_BYTES]


def read_file(path: str | Path) -> bytes:
    """The bytes of the bitstream file ``path``, refused beyond :data:`MAX_FILE_BYTES` before reading.

    Raises
    ------
    FileNotFoundError
        No such file.
    DataError
        The file is larger than any bitstream.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such bitstream file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise DataError(f"{path} is {path.stat().st_size} bytes, more than {MAX_FILE_BYTES}: not a bitstream")
    return path.read_bytes()


# ------------------------------------------------------------------ format version 3: one photo
IMAGE_VERSION = 3
HYPER_VERSION = 4  # a photo with a hyperprior: z's and y's payloads
PHOTO_VERSIONS = (IMAGE_VERSION, HYPER_VERSION)
MAX_IMAGE_SIDE = 1 << 15  # pixels along one side (as aekit.codec.pixels.MAX_SIDE)
MAX_IMAGE_PIXELS = 1 << 26  # H·W (as aekit.codec.pixels.MAX_PIXELS)
IMAGE_CHANNELS = (1, 3)
MIN_IMAGE_LENGTH = len(MAGIC) + 1 + MODEL_ID_BYTES + 1 + 1 + 1 + 1 + CRC_BYTES  # H, W, C, length


@dataclass(frozen=True)
class ImageHeader:
    """The fields of a photo stream (format version 3, or 4 with ``side_length`` bytes of z first) around its payload."""

    version: int
    model_id: bytes
    height: int
    width: int
    channels: int
    payload_length: int  # all of the payload (version 4: z's and y's)
    side_length: int = 0  # version 4: the first bytes of the payload, z's

    @property
    def pixels(self) -> int:
        return self.height * self.width


def pack_image(fingerprint: bytes, height: int, width: int, channels: int, payload: bytes) -> bytes:
    """Wrap the entropy-coded ``payload`` of one H×W photo of ``channels`` (format version 3).

    The code's shape follows from the model and (H, W), so the stream carries the image's.
    """
    fingerprint = _check_fingerprint(fingerprint)
    _check_image(height, width, channels, len(payload), error=ValueError)
    body = b"".join(
        [
            MAGIC,
            bytes([IMAGE_VERSION]),
            fingerprint[:MODEL_ID_BYTES],
            _varint(height),
            _varint(width),
            bytes([channels]),
            _varint(len(payload)),
            bytes(payload),
        ]
    )
    return body + _crc(fingerprint, body).to_bytes(CRC_BYTES, "big")


def _check_image(
    height: int, width: int, channels: int, payload_length: int, *, error: type[Exception] = BitstreamError
) -> None:
    prefix = "corrupt bitstream: " if error is BitstreamError else ""
    if not (1 <= height <= MAX_IMAGE_SIDE and 1 <= width <= MAX_IMAGE_SIDE):
        raise error(f"{prefix}image size {width}×{height} has a side outside 1..{MAX_IMAGE_SIDE}")
    if height * width > MAX_IMAGE_PIXELS:
        raise error(f"{prefix}image size {width}×{height} is more than {MAX_IMAGE_PIXELS} pixels")
    if channels not in IMAGE_CHANNELS:
        raise error(f"{prefix}{channels} channels, expected 1 (grayscale) or 3 (RGB)")
    if not 0 <= payload_length <= MAX_PAYLOAD:
        raise error(f"{prefix}payload length {payload_length} is outside 0..{MAX_PAYLOAD}")


def read_image_header(data: bytes) -> tuple[ImageHeader, int]:
    """Parse and bound the header of a photo stream (version 3 or 4); return it and the offset of the payload.

    Checks magic, version, every size field and the announced length; not the CRC
    (see :func:`unpack_image`, :func:`unpack_hyper`).
    """
    data = _with_magic(data)
    version = data[len(MAGIC)] if len(data) > len(MAGIC) else None
    if version not in PHOTO_VERSIONS:
        what = "nothing" if version is None else f"format version {version}"
        if data[: len(_V1_PREFIX)] == _V1_PREFIX:
            what = "format version 1"
        raise BitstreamError(
            f"not a photo stream: it holds {what}, a photo is format version {IMAGE_VERSION} or {HYPER_VERSION}"
            + (" (a stream of codes: decode it with a Codec)" if version == VERSION else "")
        )
    if len(data) < MIN_IMAGE_LENGTH:
        raise BitstreamError(
            f"truncated bitstream: {len(data)} bytes, a photo stream has at least {MIN_IMAGE_LENGTH}"
        )
    pos = len(MAGIC) + 1
    model_id = data[pos : pos + MODEL_ID_BYTES]
    pos += MODEL_ID_BYTES
    height, pos = _read_varint(data, pos, "height", MAX_IMAGE_SIDE)
    width, pos = _read_varint(data, pos, "width", MAX_IMAGE_SIDE)
    if pos >= len(data):
        raise BitstreamError("truncated bitstream: it ends before the channels field")
    channels = data[pos]
    pos += 1
    side = 0
    if version == HYPER_VERSION:
        side, pos = _read_varint(data, pos, "z payload length", MAX_PAYLOAD)
    what = "y payload length" if version == HYPER_VERSION else "payload length"
    length, pos = _read_varint(data, pos, what, MAX_PAYLOAD)
    length += side
    _check_image(height, width, channels, length)
    _check_total(data, pos + length + CRC_BYTES, length)
    return ImageHeader(version, model_id, height, width, channels, length, side), pos


def unpack_image(data: bytes, fingerprint: bytes) -> tuple[ImageHeader, bytes]:
    """Check a whole format-version-3 photo stream against the model with ``fingerprint``; return ``(header, payload)``."""
    fingerprint = _check_fingerprint(fingerprint)
    header, pos = read_image_header(data)
    if header.version != IMAGE_VERSION:
        raise BitstreamError(
            f"a format-version-{header.version} stream (a hyperprior photo) cannot be decoded by a "
            f"factorized photo codec (version {IMAGE_VERSION}); decode it with its HyperpriorCodec"
        )
    _check_model_and_crc(bytes(data), header.model_id, fingerprint)
    return header, bytes(data)[pos:-CRC_BYTES]


def pack_hyper(
    fingerprint: bytes, height: int, width: int, channels: int, z_payload: bytes, y_payload: bytes
) -> bytes:
    """Wrap the two payloads of one H×W hyperprior photo (format version 4)."""
    fingerprint = _check_fingerprint(fingerprint)
    for name, payload in (("z", z_payload), ("y", y_payload)):
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"the {name} payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    _check_image(height, width, channels, len(z_payload) + len(y_payload), error=ValueError)
    body = b"".join(
        [
            MAGIC,
            bytes([HYPER_VERSION]),
            fingerprint[:MODEL_ID_BYTES],
            _varint(height),
            _varint(width),
            bytes([channels]),
            _varint(len(z_payload)),
            _varint(len(y_payload)),
            bytes(z_payload),
            bytes(y_payload),
        ]
    )
    return body + _crc(fingerprint, body).to_bytes(CRC_BYTES, "big")


def unpack_hyper(data: bytes, fingerprint: bytes) -> tuple[ImageHeader, bytes, bytes]:
    """Check a whole format-version-4 stream against the model with ``fingerprint``;
    return ``(header, z payload, y payload)``."""
    fingerprint = _check_fingerprint(fingerprint)
    header, pos = read_image_header(data)
    if header.version != HYPER_VERSION:
        raise BitstreamError(
            f"a format-version-{header.version} photo stream (factorized) cannot be decoded by a "
            f"hyperprior codec (version {HYPER_VERSION}); decode it with its PhotoCodec"
        )
    data = bytes(data)
    _check_model_and_crc(data, header.model_id, fingerprint)
    split = pos + header.side_length
    return header, data[pos:split], data[split:-CRC_BYTES]


def _check_model_and_crc(data: bytes, model_id: bytes, fingerprint: bytes) -> None:
    """BitstreamError unless ``model_id`` is the fingerprint's and the CRC-32 over it and the stream holds."""
    if model_id != fingerprint[:MODEL_ID_BYTES]:
        raise BitstreamError(
            f"wrong model: the bitstream was made by model {model_id.hex()}, "
            f"this codec is {fingerprint[:MODEL_ID_BYTES].hex()}"
        )
    body, crc = data[:-CRC_BYTES], int.from_bytes(data[-CRC_BYTES:], "big")
    actual = _crc(fingerprint, body)
    if actual != crc:
        raise BitstreamError(
            f"corrupt bitstream: CRC-32 mismatch (stored {crc:08x}, computed {actual:08x}); "
            f"the stream is damaged, or was made by another model whose id is also {model_id.hex()}"
        )
