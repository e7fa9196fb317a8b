"""The HTTP contract between the device and the decode service: the path and the media types.

Shared by :mod:`aekit.codec.client` and :mod:`aekit.codec.service` (standard library only).
"""

__all__ = ["DECODE_PATH", "OCTET_STREAM", "NPY", "PNG"]

DECODE_PATH = "/v1/decode"
OCTET_STREAM = "application/octet-stream"  # what the client posts: one bitstream (docs/bitstream.md)
NPY = "application/x-npy"  # the reconstructions, (N, *input_shape) float32, as .npy
PNG = "image/png"  # the reconstructions drawn: one image, or a grid
