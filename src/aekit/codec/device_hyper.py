"""The device and cloud halves of a hyperprior photo codec, without torch.

The phone runs :class:`HyperDeviceEncoder`: a photo -> x (edge-padded to multiples of 16) ->
y = g_a(x) (``encoder.onnx``) -> z = h_a(|y|) of y zero-padded to multiples of 4
(``hyper_encoder.onnx``) -> ẑ, the scale indices j = h_s(ẑ) in integers
(``hyper_synthesis.safetensors``, :mod:`.intnet`), ŷ -> a format-version-4 stream
(:func:`aekit.codec.hyper_message.encode_hyper`, the torch codec's own path). A cloud without
torch runs :class:`HyperDeviceDecoder`: the stream -> ẑ -> the same j (integers only) -> ŷ ->
x̂ = g_s(ŷ) (``decoder.onnx``). Since j is computed with integers on both sides, the symbols
decode the same whatever the runtime, machine or thread count (``docs/bit-exact.md``).

Needs numpy, Pillow, onnxruntime, safetensors and constriction only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from . import files, pixels, tiling
from .hyper_message import HYPER_STRIDE, HyperTables, decode_hyper, encode_hyper, hyper_symbols

__all__ = ["HyperDeviceEncoder", "HyperDeviceDecoder"]


def _session(onnx_file: Path, threads: int) -> Any:
    from .device import _session as session

    return session(onnx_file, threads)


class _HyperHalf:
    """What both halves read from a hyperprior codec directory (codec.json of kind "hyperprior")."""

    keys: tuple[str, ...] = ("encoder", "hyper_encoder")

    def __init__(self, path: str | os.PathLike, *, threads: int = 1):
        path = Path(path)
        config = files.read(path)
        if config.get("kind") != files.HYPERPRIOR:
            raise CheckpointError(
                f"{path} does not hold a hyperprior photo codec (codec.json kind {config.get('kind')!r})"
            )
        self.fingerprint: bytes = config["fingerprint"]
        self.channels: int = config["channels"]
        net = files.read_integer_net(files.encoder_file(path, config, "hyper_synthesis"))
        try:
            self.tables = HyperTables(config["tables"], config["scale_tables"], net)
        except ValueError as err:
            raise CheckpointError(f"{path}: {err}") from None
        self.sessions = {key: _session(files.encoder_file(path, config, key), threads) for key in self.keys}
        for key, session in self.sessions.items():
            if len(session.get_inputs()) != 1 or len(session.get_outputs()) != 1:
                raise CheckpointError(f"{path}: {key} is not a one-input, one-output graph")
        self.tables.z.models()  # the coder's models, built once
        self.tables.y.models()

    def _run(self, key: str, x: np.ndarray) -> np.ndarray:
        session = self.sessions[key]
        return session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x)})[0]


class HyperDeviceEncoder(_HyperHalf):
    """Compress photos on the device: ``encoder.onnx``, ``hyper_encoder.onnx``, the integer h_s, ``codec.json``."""

    def image(self, photo: object) -> np.ndarray:
        """A path, the bytes of an image file, or pixels -> uint8 (H, W, C), bounded before decoding."""
        if isinstance(photo, (str, os.PathLike, bytes, bytearray, memoryview)):
            return pixels.read_image(photo, self.channels)
        return pixels.as_image(photo, self.channels)

    def analyse(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(y, z)`` of a padded batch x (B, C, H', W') from the two ONNX graphs."""
        y = self._run("encoder", x)
        h, w = y.shape[-2:]
        padded = np.pad(y, ((0, 0), (0, 0), (0, -h % HYPER_STRIDE), (0, -w % HYPER_STRIDE)))
        return y, self._run("hyper_encoder", padded)

    def analyse_tiled(
        self, image: np.ndarray, tile: int = tiling.DEFAULT_TILE
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(y (M, h, w), z)`` of one photo, g_a run by tiles of ``tile`` pixels with context
        (:mod:`aekit.codec.tiling`; the same y in bounded memory; 0: all at once), h_a on the whole y."""
        h, w = pixels.latent_size(*image.shape[:2])
        flat = tiling.analyse(lambda x: self._run("encoder", x), image, tile)  # (h·w, M)
        y = np.ascontiguousarray(flat.T.reshape(1, -1, h, w))
        padded = np.pad(y, ((0, 0), (0, 0), (0, -h % HYPER_STRIDE), (0, -w % HYPER_STRIDE)))
        return y[0], self._run("hyper_encoder", padded)[0]

    def symbols(
        self, photo: object, *, tile: int = tiling.DEFAULT_TILE
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ẑ, j, ŷ)`` of one photo (as :meth:`aekit.codec.HyperpriorCodec.symbols`)."""
        return hyper_symbols(*self.analyse_tiled(self.image(photo), tile), self.tables)

    def compress(self, photo: object, *, tile: int = tiling.DEFAULT_TILE) -> bytes:
        """The format-version-4 stream of one photo (a PNG/JPEG path or bytes, or uint8 pixels); a
        photo with a side above ``tile`` pixels is analysed by tiles, in bounded memory."""
        image = self.image(photo)
        y, z = self.analyse_tiled(image, tile)
        height, width = image.shape[:2]
        return encode_hyper(y, z, self.tables, self.fingerprint, height, width, self.channels)

    def compress_batch(self, photos: list) -> list[bytes]:
        """The streams of photos of one size, g_a and h_a run as one batch."""
        images = [self.image(p) for p in photos]
        if len({im.shape for im in images}) != 1:
            raise ValueError("compress_batch takes photos of one size; compress others one by one")
        height, width = images[0].shape[:2]
        y, z = self.analyse(np.concatenate([pixels.to_input(im) for im in images]))
        return [
            encode_hyper(y[b], z[b], self.tables, self.fingerprint, height, width, self.channels)
            for b in range(len(images))
        ]


class HyperDeviceDecoder(_HyperHalf):
    """Decode hyperprior photo streams without torch: ``decoder.onnx`` (g_s), the integer h_s, ``codec.json``."""

    keys = ("decoder",)

    def decompress_symbols(self, data: bytes) -> tuple[np.ndarray, int, int]:
        """``(ŷ (M, h, w), H, W)`` of a stream made by this codec."""
        return decode_hyper(data, self.tables, self.fingerprint, self.channels)

    def decompress(self, data: bytes, *, tile: int = tiling.DEFAULT_TILE) -> np.ndarray:
        """The photo, uint8 (H, W, C), of a stream made by this codec (BitstreamError if corrupt),
        synthesised by tiles of ``tile`` pixels with context (0: all at once)."""
        symbols, height, width = self.decompress_symbols(data)
        code = np.ascontiguousarray(symbols.reshape(len(symbols), -1).T)  # (h·w, M), as tiling takes it
        return tiling.synthesise(lambda y: self._run("decoder", y), code, height, width, tile)
