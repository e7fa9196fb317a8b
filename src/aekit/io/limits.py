"""Bounds on what a checkpoint's ``config.json`` may ask a constructor to build.

A model is rebuilt from the arguments in ``config.json`` before its tensors are checked,
so the work of that rebuild is bounded by these limits, checked first: at most
:data:`MAX_LAYERS` entries in any list (layer sizes, channels), at most
:data:`MAX_DEPTH` levels of nesting and :data:`MAX_VALUES` values in all. A file
asking for more is a :class:`~aekit.errors.CheckpointError` naming the limit, raised
in well under a second whatever the file's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CheckpointError

__all__ = ["MAX_LAYERS", "MAX_DEPTH", "MAX_VALUES", "check_args"]

MAX_LAYERS = 64  # entries of any list in the constructor arguments: layers of a stack, channels
MAX_DEPTH = 16  # nesting of objects and lists (a codec nests its autoencoder's arguments)
MAX_VALUES = 4096  # values of every kind, in all


def check_args(args: Any, where: Path) -> None:
    """Refuse constructor arguments over the limits before anything is built (iterative: no recursion).

    Raises
    ------
    CheckpointError
        A list longer than :data:`MAX_LAYERS`, nesting deeper than :data:`MAX_DEPTH`, or more than
        :data:`MAX_VALUES` values, naming the field and the limit.
    """
    stack: list[tuple[str, Any, int]] = [("args", args, 1)]
    seen = 0
    while stack:
        name, value, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise CheckpointError(
                f"{where}: the model's arguments hold more than {MAX_VALUES} values (the limit)"
            )
        if depth > MAX_DEPTH:
            raise CheckpointError(f"{where}: {name} is nested deeper than the limit of {MAX_DEPTH} levels")
        if isinstance(value, list) and len(value) > MAX_LAYERS:
            raise CheckpointError(
                f"{where}: {name} has {len(value)} entries, over the limit of {MAX_LAYERS} layers"
            )
        if isinstance(value, dict):
            stack.extend((f"{name}[{key!r}]", child, depth + 1) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend((f"{name}[{i}]", child, depth + 1) for i, child in enumerate(value))
