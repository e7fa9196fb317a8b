"""keep_freed_memory: the allocator setting of CPU training (it must not change what is computed)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

from aekit.train import memory

SRC = Path(__file__).resolve().parents[1] / "src"


def test_keep_freed_memory_is_in_effect_with_glibc_and_refused_elsewhere(monkeypatch):
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert memory.keep_freed_memory() is True
        assert memory.keep_freed_memory() is True  # once per process, then remembered
    monkeypatch.setattr(memory, "_done", False)
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert memory.keep_freed_memory() is False


_STEPS = """
import sys, numpy as np, torch
torch.set_num_threads(1)
from aekit.codec.photo_training import PhotoSet, train_photo_codec
rng = np.random.default_rng(0)
images = PhotoSet([rng.integers(0, 256, (40, 56, 3), dtype=np.uint8) for _ in range(2)])
codec = train_photo_codec({"N": 8, "M": 8}, images, lmbda=0.01, steps=3, batch_size=2, crop=32,
                          lr=1e-3, log=None, log_every=1, keep_memory=sys.argv[1] == "on")
np.savez(sys.argv[2], loss=np.array(codec.history["loss"]),
         **{k: v.numpy() for k, v in codec.state_dict().items() if v.is_floating_point()})
"""


def test_training_with_freed_memory_kept_is_the_same_training(tmp_path):
    """Three steps with the setting (in a fresh process) and without it: the same losses and weights."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SRC)}
    out = {}
    for mode in ("on", "off"):
        out[mode] = tmp_path / f"{mode}.npz"
        subprocess.run([sys.executable, "-c", _STEPS, mode, str(out[mode])], env=env, check=True, timeout=120)
    on, off = np.load(out["on"]), np.load(out["off"])
    assert set(on.files) == set(off.files) and "loss" in on.files and len(on["loss"]) == 3
    for key in on.files:
        np.testing.assert_allclose(on[key], off[key], rtol=1e-6, atol=1e-7, err_msg=key)
