"""Shared fixtures for the codec tests: one tiny codec trained on the embedded digits."""

import contextlib
import threading
import time

import numpy as np
import pytest
import torch

import aekit
from aekit.codec import Codec, train_codec
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
        return train_codec(
            ae, digits[:1500], lmbda=0.02, epochs=6, batch_size=64, lr=3e-3, seed=0, progress=False
        )
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


@pytest.fixture
def identity_codec():
    """Make a codec whose latents are y = scale · x[:3] of 4 inputs: as large as the inputs."""

    def make(scale: float = 1.0) -> Codec:
        ae = aekit.Autoencoder(
            4, [3], activation="relu", code_activation="linear", output_activation="linear", loss="mse"
        )
        with torch.no_grad():
            ae.encoder_layers[0].weight.copy_(scale * torch.eye(3, 4))
            ae.encoder_layers[0].bias.zero_()
        return Codec(ae).update()

    return make


@contextlib.contextmanager
def _serving(config):
    """A uvicorn server for ``config`` on a thread: started (waited for) on entry, stopped on exit."""
    import uvicorn

    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def serving():
    """``with serving(uvicorn.Config(app, port=...)):`` a live server for the block."""
    return _serving


@pytest.fixture
def live_server(codec_dir, free_port):
    import uvicorn

    from aekit.codec import create_app

    port = free_port()
    with _serving(uvicorn.Config(create_app([codec_dir]), host="127.0.0.1", port=port, log_level="error")):
        yield f"http://127.0.0.1:{port}"
