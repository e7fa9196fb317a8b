"""Fixtures shared by the whole suite: small seeded data, no network, CPU only."""

import socket
from collections.abc import Callable

import numpy as np
import pytest
import torch

from aekit.data import load_dataset

# The suite's models are tiny: one thread avoids OpenMP hand-off costs that dominate their steps
# (and keeps the suite fast on shared CI cores).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits in [0, 1]: (X_train, y_train, X_test, y_test), 1437 / 360 samples."""
    X, y = load_dataset("digits", split="train")
    X_test, y_test = load_dataset("digits", split="test")
    return X, y, X_test, y_test


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the system picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A function giving a free TCP port on 127.0.0.1 each call (for a server or a rendezvous)."""
    return _free_port


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    np.random.seed(0)
    yield
