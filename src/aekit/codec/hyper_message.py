"""One hyperprior photo: latents y, hyper-latents z -> symbols -> a format-version-4 stream, and back.

The one path the torch codec (:class:`aekit.codec.HyperpriorCodec`) and the device
(:mod:`aekit.codec.device_hyper`) share (Ballé et al. 2018, scale hyperprior):

    encode:  ẑ = clip(round(z)) with z's integer tables (one per channel)
             j = h_s(ẑ) in integers (:mod:`.intnet`), cropped to y's size
             ŷ_i = clip(round(y_i)) into the range of scale table j_i
             z payload: ẑ channel by channel;  y payload: ŷ grouped by j (:meth:`Tables.encode_indexed`)
    decode:  ẑ from the z payload -> the same j (integers only) -> ŷ from the y payload

Needs numpy and constriction only (no torch): it runs on the device.
"""

from __future__ import annotations

import numpy as np

from ..errors import BitstreamError
from . import bitstream
from .coder import Tables
from .intnet import IntegerNet
from .pixels import latent_size

__all__ = [
    "HyperTables",
    "hyper_size",
    "encode_hyper",
    "decode_hyper",
    "decode_hyper_symbols",
    "hyper_symbols",
    "scale_indices",
]

HYPER_STRIDE = 4  # h_a's two stride-2 layers: z is y at 1/4


class HyperTables:
    """What coding a hyperprior photo needs: z's tables (one per channel), y's (one per scale), h_s as integers."""

    def __init__(self, z_tables: Tables, y_tables: Tables, net: IntegerNet):
        if net.in_channels != z_tables.dim or net.top != y_tables.dim - 1:
            raise ValueError(
                f"h_s takes {net.in_channels} channels to indices 0..{net.top}; the tables have "
                f"{z_tables.dim} z channels and {y_tables.dim} scales"
            )
        if net.input_max < int(np.abs(np.concatenate([z_tables.low, z_tables.high])).max()):
            raise ValueError("h_s is not bounded for the whole range of z's tables")
        self.z, self.y, self.net = z_tables, y_tables, net

    @property
    def latent_channels(self) -> int:
        return self.net.out_channels


def hyper_size(h: int, w: int) -> tuple[int, int]:
    """(⌈h/4⌉, ⌈w/4⌉): the size of z for a y of size (h, w)."""
    return -(-h // HYPER_STRIDE), -(-w // HYPER_STRIDE)


def scale_indices(z_symbols: np.ndarray, net: IntegerNet, h: int, w: int) -> np.ndarray:
    """j = h_s(ẑ) cropped to (h, w): ẑ (B, N, hz, wz) int64 -> (B, M, h, w) int64 (integers only)."""
    return net(z_symbols)[:, :, :h, :w]


def encode_hyper(
    y: np.ndarray,
    z: np.ndarray,
    tables: HyperTables,
    fingerprint: bytes,
    height: int,
    width: int,
    channels: int,
) -> bytes:
    """The format-version-4 stream of one H×W photo from y (M, h, w) and z (N, hz, wz), floats."""
    z_sym, _, y_sym = hyper_symbols(y, z, tables)
    z_payload = tables.z.encode(z_sym.reshape(z_sym.shape[0], -1).T)
    j = scale_indices(z_sym[None], tables.net, *y.shape[1:])[0]
    y_payload = tables.y.encode_indexed(y_sym, j)
    return bitstream.pack_hyper(fingerprint, height, width, channels, z_payload, y_payload)


def hyper_symbols(
    y: np.ndarray, z: np.ndarray, tables: HyperTables
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ẑ (N, hz, wz), j (M, h, w), ŷ (M, h, w))`` of one photo's float y and z: what the stream codes."""
    n = z.shape[0]
    z_sym = tables.z.quantize(z.reshape(n, -1).T).T.reshape(z.shape)
    j = scale_indices(z_sym[None], tables.net, *y.shape[1:])[0]
    y_sym = tables.y.quantize_indexed(y, j).reshape(y.shape)
    return z_sym, j, y_sym


def decode_hyper(
    data: bytes, tables: HyperTables, fingerprint: bytes, channels: int
) -> tuple[np.ndarray, int, int]:
    """``(ŷ (M, h, w) int64, H, W)`` of a format-version-4 stream made with ``fingerprint``.

    Raises
    ------
    BitstreamError
        Corrupt, truncated, not a hyperprior photo stream, made by another model, or of other channels.
    """
    _, _, y_sym, height, width = decode_hyper_symbols(data, tables, fingerprint, channels)
    return y_sym, height, width


def decode_hyper_symbols(
    data: bytes, tables: HyperTables, fingerprint: bytes, channels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """``(ẑ (N, hz, wz), j (M, h, w), ŷ (M, h, w), H, W)`` of a format-version-4 stream: all the decoder computes."""
    header, z_payload, y_payload = bitstream.unpack_hyper(data, fingerprint)
    if header.channels != channels:
        raise BitstreamError(f"corrupt bitstream: {header.channels} channels, this codec codes {channels}")
    h, w = latent_size(header.height, header.width)
    hz, wz = hyper_size(h, w)
    z_sym = tables.z.decode(z_payload, hz * wz).T.reshape(1, -1, hz, wz)
    j = scale_indices(z_sym, tables.net, h, w)[0]
    y_sym = tables.y.decode_indexed(y_payload, j).reshape(j.shape)
    return z_sym[0], j, y_sym, header.height, header.width
