"""Checkpoints written before the dense block was factored out (tests/nn/data/ckpt_*) still load, same outputs."""

from pathlib import Path

import numpy as np
import pytest
import torch

import aekit

DATA = Path(__file__).parent / "data"
NAMES = ["autoencoder", "autoencoder_tied", "stacked", "stacked_unrolled", "classifier", "conv_stacked"]


@pytest.mark.parametrize("name", NAMES)
def test_an_old_checkpoint_loads_and_gives_the_same_outputs(name):
    want = np.load(DATA / "ckpt_outputs.npz")
    model = aekit.load(DATA / f"ckpt_{name}")
    x = torch.from_numpy(want["xi" if name.startswith("conv") else "x"])
    with torch.no_grad():
        np.testing.assert_allclose(model.encode(x).numpy(), want[f"{name}/encode"], rtol=1e-6, atol=1e-6)
        if f"{name}/forward" in want and not name.startswith("conv"):  # the conv stack unpools at random
            np.testing.assert_allclose(model(x).numpy(), want[f"{name}/forward"], rtol=1e-6, atol=1e-6)
