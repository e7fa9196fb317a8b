"""Shared helpers for the aekit.data tests: small fake MNIST-style IDX files."""

import numpy as np
import pytest

from aekit.data import save_idx


def write_fake_mnist(directory, *, n_train=20, n_test=10, gz=True, dotted=False, seed=0):
    """Write the four MNIST files with random 28x28 images; return the arrays written."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        sep = "." if dotted else "-"
        ext = ".gz" if gz else ""
        save_idx(directory / f"{prefix}-images{sep}idx3-ubyte{ext}", images)
        save_idx(directory / f"{prefix}-labels{sep}idx1-ubyte{ext}", labels)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.fixture
def fake_mnist():
    """The :func:`write_fake_mnist` helper, as a fixture so tests need no import."""
    return write_fake_mnist


@pytest.fixture
def no_data_env(monkeypatch, tmp_path):
    """Point $AEKIT_DATA and the home directory at empty temporary directories."""
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "aekit-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path
