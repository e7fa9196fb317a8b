"""The fit loop's speed-ups keep its behaviour: fused optimizers, one-kernel batch losses."""

import numpy as np
import pytest
import torch

import aekit
from aekit.data import load_digits
from aekit.nn import losses
from aekit.train import _make_optimizer


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_mean_reconstruction_error_is_the_batch_mean(loss):
    torch.manual_seed(0)
    x, logits = torch.rand(16, 20), torch.randn(16, 20)
    z = torch.sigmoid(logits)
    expected = losses.reconstruction_error(loss, logits, z, x).mean()
    torch.testing.assert_close(losses.mean_reconstruction_error(loss, logits, z, x), expected)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_optimizers_are_fused_on_cpu(name):
    opt = _make_optimizer(torch.nn.Linear(3, 2), name, 1e-3, 0.9, 0.0)
    assert opt.defaults.get("fused") is True


def test_unfusable_parameters_fall_back():
    opt = _make_optimizer(torch.nn.Linear(3, 2).to(torch.bfloat16), "adam", 1e-3, 0.9, 0.0)
    assert not opt.defaults.get("fused")


def _train(epochs, **kw):
    aekit.seed_everything(0)
    model = aekit.Autoencoder(64, [16], corruption="masking:0.2")
    X = load_digits()[0][:300]
    aekit.fit(model, X, X_val=X[:60], epochs=epochs, batch_size=32, seed=0, progress=False, **kw)
    return model


def test_same_seed_same_weights_and_resume_equals_uninterrupted(tmp_path):
    a, b = _train(3), _train(3)
    _train(1, checkpoint_dir=tmp_path)
    c = _train(3, checkpoint_dir=tmp_path, resume_from=tmp_path)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
        assert torch.equal(v, c.state_dict()[k]), k
    assert np.isfinite(c.history["train_loss"]).all() and len(c.history["train_loss"]) == 3
