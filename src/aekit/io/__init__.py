"""Files of aekit: checkpoints, training state, atomic writes.

A checkpoint is a directory with ``config.json`` and ``model.safetensors``
(:mod:`~aekit.io.checkpoint`); a training run adds ``training_state.json`` and
``training_state.safetensors`` for ``fit(..., resume_from=dir)``
(:mod:`~aekit.io.state`). Tensors are stored with safetensors (loading never
unpickles anything) and checked against the SHA-256 recorded for them
(:mod:`~aekit.io.files`); every file is written atomically, and files that belong
together in one transaction (:mod:`~aekit.io.atomic`).
"""

from ..registry import register
from .atomic import atomic_path, atomic_write_text, transaction
from .checkpoint import (
    CONFIG,
    FORMAT_VERSION,
    WEIGHTS,
    load,
    load_state_into,
    read_config,
    save,
    write_checkpoint,
)
from .files import file_entry, load_tensors, read_json, save_tensors, sha256_file
from .state import (
    RUN_FILES,
    STATE_JSON,
    STATE_TENSORS,
    TrainingState,
    load_run_weights,
    read_training_state,
    write_training_state,
)

__all__ = [
    "register",
    "load",
    "save",
    "write_checkpoint",
    "read_config",
    "load_state_into",
    "sha256_file",
    "save_tensors",
    "load_tensors",
    "atomic_path",
    "atomic_write_text",
    "transaction",
    "file_entry",
    "read_json",
    "CONFIG",
    "WEIGHTS",
    "FORMAT_VERSION",
    "STATE_JSON",
    "STATE_TENSORS",
    "RUN_FILES",
    "TrainingState",
    "write_training_state",
    "read_training_state",
    "load_run_weights",
]
