"""The device side of the codec: ONNX encoder + quantisation + entropy coding, without torch.

What ships to a phone is a codec directory's ``encoder.onnx`` and ``codec.json``
(:mod:`aekit.codec.files`: shapes, fingerprint, integer CDF tables bound to the
fingerprint, the encoder's file name and SHA-256) and this module, which needs numpy,
onnxruntime and constriction only: x -> y = g_a(x) (onnxruntime) -> ŷ = clip(round(y))
-> range coding -> bitstream (:func:`aekit.codec.message.encode_message`, the same path
as the torch codec's). Because the decoder side works on the integers ŷ, any encoder
that reaches the same symbols decodes identically in the cloud (Ballé et al. 2018).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, DataError
from . import files
from .coder import Tables
from .message import encode_message

__all__ = ["DeviceEncoder"]


class DeviceEncoder:
    """Compress on the device: ONNX encoder (onnxruntime) + integer tables (constriction); no torch.

    Parameters
    ----------
    path : path
        A codec directory written by :meth:`aekit.codec.Codec.save` (``encoder.onnx`` + ``codec.json``).
    threads : int
        onnxruntime intra-op threads (1, as on a phone core).
    """

    def __new__(cls, path: str | os.PathLike, *, threads: int = 1) -> Any:
        """A photo codec's directory (codec.json of kind "photo") gives a
        :class:`~aekit.codec.device_photo.PhotoDeviceEncoder`: photos of any size, PNG/JPEG paths;
        a hyperprior codec's (kind "hyperprior") a :class:`~aekit.codec.device_hyper.HyperDeviceEncoder`."""
        if cls is DeviceEncoder and files.kind(path) == files.PHOTO:
            from .device_photo import PhotoDeviceEncoder

            return PhotoDeviceEncoder(path, threads=threads)
        if cls is DeviceEncoder and files.kind(path) == files.HYPERPRIOR:
            from .device_hyper import HyperDeviceEncoder

            return HyperDeviceEncoder(path, threads=threads)
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike, *, threads: int = 1):
        path = Path(path)
        config = files.read(path)
        self.fingerprint: bytes = config["fingerprint"]
        self.input_shape: tuple = config["input_shape"]
        self.latent_shape: tuple = config["latent_shape"]
        self.image_shape: tuple | None = config["image_shape"]
        self.unit_interval = bool(config.get("unit_interval", False))
        onnx_file = files.encoder_file(path, config)
        self.session = _session(onnx_file, threads)
        _check_graph(self.session, onnx_file, self.input_shape, math.prod(self.latent_shape))
        self.input_name = self.session.get_inputs()[0].name
        self.tables: Tables = config["tables"]
        self.tables.models()  # build the coder's models once, not per message

    def _check(self, X: object) -> np.ndarray:
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

    def latents(self, X: object) -> np.ndarray:
        """y = g_a(x) from the ONNX encoder, (N, D) float32."""
        X = self._check(X)
        return self.session.run(None, {self.input_name: X})[0].reshape(len(X), -1)

    def symbols(self, X: object) -> np.ndarray:
        """ŷ = clip(round(g_a(x))), (N, D) int64 (DataError for a NaN or infinite latent)."""
        return self.tables.quantize(self.latents(X))

    def compress(self, X: object) -> bytes:
        """One bitstream holding every item of ``X`` (N, *input_shape) (or one item of ``input_shape``)."""
        return encode_message(self.latents(X), self.tables, self.fingerprint, self.latent_shape)


def _session(onnx_file: Path, threads: int) -> Any:  # an onnxruntime.InferenceSession
    """An onnxruntime session on the CPU (CheckpointError if the file is not a loadable ONNX model)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(os.fspath(onnx_file), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own types: InvalidProtobuf, Fail, InvalidGraph, ...
        raise CheckpointError(f"{onnx_file} is not a loadable ONNX model: {err}") from None


def _check_graph(session: Any, onnx_file: Path, input_shape: tuple, dim: int) -> None:
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
                f"{onnx_file}: its {what} has shape {shape}, but {files.FILE} says "
                f"(N, {', '.join(map(str, wanted))}): they belong to different codecs"
            )
