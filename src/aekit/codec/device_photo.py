"""The device and cloud halves of a photo codec as ONNX, without torch.

The phone runs :class:`PhotoDeviceEncoder`: a PNG/JPEG (or pixels) -> uint8 (H, W, C) ->
x = pixel / 255 edge-padded to multiples of 16 (:mod:`aekit.codec.pixels`) -> y = g_a(x)
(``encoder.onnx``, onnxruntime) -> ŷ = clip(round(y)) -> range coding with the integer tables
of ``codec.json`` -> a format-version-3 stream (:func:`aekit.codec.message.encode_photo`, the
torch codec's own path). A cloud without torch runs :class:`PhotoDeviceDecoder`: the stream ->
ŷ (integers only, so identical on every machine) -> x̂ = g_s(ŷ) (``decoder.onnx``) -> pixels.
Ballé et al. 2017: g_a where the photo is taken, g_s where it is looked at.

Needs numpy, Pillow, onnxruntime and constriction only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from . import files, pixels, tiling
from .coder import Tables
from .message import decode_photo, encode_photo

__all__ = ["PhotoDeviceEncoder", "PhotoDeviceDecoder"]


def _session(onnx_file: Path, threads: int) -> Any:
    from .device import _session as session

    return session(onnx_file, threads)


class _PhotoHalf:
    """What both halves read from a photo codec directory (codec.json of kind "photo")."""

    key = "encoder"

    def __init__(self, path: str | os.PathLike, *, threads: int = 1):
        path = Path(path)
        config = files.read(path)
        if config.get("kind") != files.PHOTO:
            raise CheckpointError(f"{path} holds a codec of fixed-shape items, not a photo codec")
        self.fingerprint: bytes = config["fingerprint"]
        self.channels: int = config["channels"]
        self.latent_channels: int = config["latent_channels"]
        self.tables: Tables = config["tables"]
        onnx_file = files.encoder_file(path, config, self.key)
        self.session = _session(onnx_file, threads)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1 or len(inputs[0].shape) != 4:
            raise CheckpointError(
                f"{onnx_file}: not the {self.key} of a photo codec (one 4-D input and output)"
            )
        self.input_name = inputs[0].name
        self.tables.models()  # the coder's models, built once

    def run(self, x: np.ndarray) -> np.ndarray:
        """The ONNX half on one float32 (N, C, h, w) array."""
        return self.session.run(None, {self.input_name: x})[0]


class PhotoDeviceEncoder(_PhotoHalf):
    """Compress photos on the device: ``encoder.onnx`` + ``codec.json``; no torch.

    Parameters
    ----------
    path : path
        A photo codec directory written by :meth:`aekit.codec.PhotoCodec.export`.
    threads : int
        onnxruntime intra-op threads.
    """

    def image(self, photo: object) -> np.ndarray:
        """A path, the bytes of an image file, or pixels -> uint8 (H, W, C), bounded before decoding."""
        if isinstance(photo, (str, os.PathLike, bytes, bytearray, memoryview)):
            return pixels.read_image(photo, self.channels)
        return pixels.as_image(photo, self.channels)

    def latents(self, photo: object, *, tile: int = tiling.DEFAULT_TILE) -> np.ndarray:
        """y = g_a(x) of one photo from the ONNX encoder, (h·w, M) float32, by tiles of ``tile``
        pixels with context (:mod:`aekit.codec.tiling`; 0: all at once)."""
        return tiling.analyse(self.run, self.image(photo), tile)

    def symbols(self, photo: object, *, tile: int = tiling.DEFAULT_TILE) -> np.ndarray:
        """ŷ = clip(round(g_a(x))), (h·w, M) int64."""
        return self.tables.quantize(self.latents(photo, tile=tile))

    def compress(self, photo: object, *, tile: int = tiling.DEFAULT_TILE) -> bytes:
        """The format-version-3 stream of one photo (a PNG/JPEG path or bytes, or uint8 pixels);
        a photo with a side above ``tile`` pixels is analysed by tiles, in bounded memory."""
        image = self.image(photo)
        height, width = image.shape[:2]
        return encode_photo(
            self.latents(image, tile=tile), self.tables, self.fingerprint, height, width, self.channels
        )


class PhotoDeviceDecoder(_PhotoHalf):
    """Decode photo streams without torch: ``decoder.onnx`` (g_s) + ``codec.json``."""

    key = "decoder"

    def decompress(self, data: bytes, *, tile: int = tiling.DEFAULT_TILE) -> np.ndarray:
        """The photo, uint8 (H, W, C), of a stream made by this codec (BitstreamError if corrupt),
        synthesised by tiles of ``tile`` pixels with context (0: all at once)."""
        symbols, height, width = decode_photo(data, self.tables, self.fingerprint, self.channels)
        return tiling.synthesise(self.run, symbols, height, width, tile)
