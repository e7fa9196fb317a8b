"""Shared fixtures for the codec tests: one tiny codec trained on the embedded digits."""

import numpy as np
import pytest
import torch

import aekit
from aekit.codec import train_codec
from aekit.data import load_digits


@pytest.fixture(scope="session")
def digits():
    X, _ = load_digits()
    return X


@pytest.fixture(scope="session")
def codec(digits):
    """A 64-32-8 dense codec, a few seconds of training (one torch thread: the CI box is shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        aekit.seed_everything(0)
        ae = aekit.Autoencoder(64, [32, 8], activation="relu", code_activation="linear", loss="mse")
        return train_codec(ae, digits[:1500], lmbda=0.02, epochs=6, batch_size=64, lr=3e-3, seed=0, progress=False)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def codec_dir(codec, tmp_path_factory):
    """The codec saved with its ONNX encoder and device tables."""
    return codec.save(tmp_path_factory.mktemp("codec") / "digits")


@pytest.fixture(scope="session")
def test_items(digits):
    return np.ascontiguousarray(digits[1500:1600])


@pytest.fixture
def one_thread():
    """Train with one torch thread (two cores shared by many jobs), then restore."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
