"""One message: latents -> symbols -> range-coded payload -> container bytes, and back.

The one path from codes to bytes that the torch codec (:meth:`aekit.codec.Codec.compress`)
and the device (:meth:`aekit.codec.DeviceEncoder.compress`) share, so both write the same
stream for the same symbols: ŷ = clip(round(y)) (:meth:`~aekit.codec.coder.Tables.quantize`),
entropy-coded with the integer tables (:mod:`aekit.codec.coder`, after Ballé et al. 2018),
framed by :mod:`aekit.codec.bitstream` (``docs/bitstream.md``). Needs numpy and
constriction only (no torch): it runs on the device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import BitstreamError
from . import bitstream
from .coder import Tables
from .pixels import STRIDE

__all__ = ["encode_message", "encode_symbols", "decode_message", "encode_photo", "decode_photo"]


def encode_message(
    latents: np.ndarray, tables: Tables, fingerprint: bytes, latent_shape: Sequence[int]
) -> bytes:
    """The bitstream of float codes ``latents`` (N, D): symbols ŷ = clip(round(y)), coded and framed.

    Raises
    ------
    DataError
        A code is NaN or infinite (it has no symbol).
    """
    return encode_symbols(tables.quantize(latents), tables, fingerprint, latent_shape)


def encode_symbols(
    symbols: np.ndarray, tables: Tables, fingerprint: bytes, latent_shape: Sequence[int]
) -> bytes:
    """The bitstream of integer ``symbols`` (N, D), each within its table's range."""
    payload = tables.encode(symbols)
    return bitstream.pack(fingerprint, len(symbols), latent_shape, payload)


def decode_message(
    data: bytes, tables: Tables, fingerprint: bytes, latent_shape: Sequence[int]
) -> np.ndarray:
    """The integer symbols (N, D) of a bitstream made for the model with ``fingerprint``.

    Raises
    ------
    BitstreamError
        Corrupt, truncated, of another format version, made by another model, or of
        another latent shape.
    """
    header, payload = bitstream.unpack(data, fingerprint)
    if tuple(header.latent_shape) != tuple(latent_shape):
        raise BitstreamError(
            f"corrupt bitstream: latent shape {header.latent_shape}, the model's is {tuple(latent_shape)}"
        )
    return tables.decode(payload, header.count)


def encode_photo(
    latents: np.ndarray, tables: Tables, fingerprint: bytes, height: int, width: int, channels: int
) -> bytes:
    """The format-version-3 stream of one H×W photo from its float code (h·w, M), channel-major coded."""
    payload = tables.encode(tables.quantize(latents))
    return bitstream.pack_image(fingerprint, height, width, channels, payload)


def decode_photo(
    data: bytes, tables: Tables, fingerprint: bytes, channels: int
) -> tuple[np.ndarray, int, int]:
    """``(symbols (h·w, M), H, W)`` of a photo stream made for the model with ``fingerprint``.

    Raises
    ------
    BitstreamError
        Corrupt, truncated, not a photo stream, made by another model, or of other channels.
    """
    header, payload = bitstream.unpack_image(data, fingerprint)
    if header.channels != channels:
        raise BitstreamError(f"corrupt bitstream: {header.channels} channels, this codec codes {channels}")
    h, w = -(-header.height // STRIDE), -(-header.width // STRIDE)
    return tables.decode(payload, h * w), header.height, header.width
