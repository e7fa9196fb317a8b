"""The model classes that a checkpoint can name: ``{class name: class}``.

The bottom layer: :mod:`aekit.nn` and :mod:`aekit.codec` register their classes here with
:func:`register`; :mod:`aekit.io` looks them up with :func:`model_class` when it rebuilds a saved model.
Nothing here knows about files.
"""

from __future__ import annotations

import importlib

from .errors import CheckpointError

__all__ = ["register", "model_class", "known_classes"]

_CLASSES: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make ``cls`` loadable from a checkpoint under its name."""
    _CLASSES[cls.__name__] = cls
    return cls


def known_classes() -> list[str]:
    """The registered class names, sorted (after importing :mod:`aekit.nn`, which registers its models)."""
    importlib.import_module("aekit.nn")
    return sorted(_CLASSES)


def model_class(name: str, where: object = "checkpoint") -> type:
    """The class registered as ``name``; a :class:`~aekit.errors.CheckpointError` naming ``where`` if none is."""
    importlib.import_module("aekit.nn")  # registers every model class (aekit imports it lazily)
    cls = _CLASSES.get(name)
    if cls is None:
        raise CheckpointError(
            f"{where} holds a {name!r}, which this aekit cannot build; known classes: {', '.join(known_classes())}"
        )
    return cls
