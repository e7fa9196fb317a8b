"""The analysis transform g_a as ONNX, the graph that runs on the device (onnxruntime, no torch).

The input ``x`` (N, *input_shape) float32 maps to the codes ``y`` (N, D); N stays free.
The file is checked by ``onnx.checker`` before it replaces anything (Ballé et al. 2017:
only g_a runs where the images are taken; g_s stays in the cloud).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import io

__all__ = ["export_onnx"]

OPSET = 17


def export_onnx(
    graph: nn.Module,
    input_shape: tuple[int, ...],
    path: str | Path,
    *,
    names: tuple[str, str] = ("x", "y"),
    dynamic_axes: dict[str, dict[int, str]] | None = None,
) -> Path:
    """Write ``graph`` (N, *input_shape) -> (N, D) as ONNX to ``path`` (atomically), checked; return the path.

    ``names`` are the input's and the output's; ``dynamic_axes`` (default: axis 0 of both, N) the
    axes left free (a photo's height and width too).
    """
    import onnx

    path = Path(path)
    example = torch.zeros(2, *input_shape)
    source, target = names
    dynamic_axes = dynamic_axes or {source: {0: "n"}, target: {0: "n"}}
    with io.atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        common: dict[str, Any] = {"input_names": [source], "output_names": [target]}
        try:
            torch.onnx.export(
                graph,
                (example,),
                str(tmp),
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                dynamo=False,
                **common,
            )
        except Exception:  # the TorchScript exporter is deprecated; fall back to torch.export + onnxscript
            dims = {a: torch.export.Dim(n) for a, n in dynamic_axes[source].items()}
            dynamic = (dims,)
            torch.onnx.export(
                graph, (example,), str(tmp), dynamic_shapes=dynamic, dynamo=True, verbose=False, **common
            )
        onnx.checker.check_model(onnx.load(str(tmp)), full_check=True)
    return path
