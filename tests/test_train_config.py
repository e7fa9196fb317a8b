"""TrainConfig: the settings of fit as one object; keywords and a config train the same."""

import dataclasses

import pytest
import torch

import aekit
from aekit import Autoencoder
from aekit.train import TrainConfig


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _fit(X, **kw):
    aekit.seed_everything(0)
    model = Autoencoder(64, 8, corruption="masking:0.2")
    history = aekit.fit(model, X, **kw)
    return _weights(model), history


def test_keywords_and_a_config_train_the_same(digits):
    X, X_val = digits[0][:300], digits[2][:100]
    settings = dict(
        epochs=3, batch_size=32, lr=3e-3, optimizer="adamw", weight_decay=0.01, seed=5, progress=False
    )
    w_kw, h_kw = _fit(X, X_val=X_val, **settings)
    w_cfg, h_cfg = _fit(X, X_val=X_val, config=TrainConfig(**settings))
    assert all(torch.equal(w_kw[k], w_cfg[k]) for k in w_kw)
    assert h_kw["train_loss"] == h_cfg["train_loss"] and h_kw["val_loss"] == h_cfg["val_loss"]
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    assert names >= set(settings) | {"patience", "checkpoint_dir", "resume_from", "device", "distributed"}


def test_keywords_override_the_config(digits):
    config = TrainConfig(epochs=5, batch_size=64, seed=1, progress=False)
    _, history = _fit(digits[0][:128], config=config, epochs=2)
    assert history["epoch"] == [1, 2]
    assert config.epochs == 5  # the caller's config is left as it was
    changed = TrainConfig.of(config, lr=0.1, patience=3)
    assert (changed.lr, changed.patience, changed.epochs, changed.batch_size) == (0.1, 3, 5, 64)
    assert TrainConfig.of() == TrainConfig()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": -1}, ValueError, "epochs must be an int >= 0, got -1"),
        ({"epochs": 2.5}, ValueError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got 0"),
        ({"lr": float("nan")}, ValueError, "lr must be a finite number > 0"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of adam, adamw, sgd, got 'rmsprop'"),
        ({"patience": 0}, ValueError, "patience must be None or an int >= 1, got 0"),
        ({"lr_schedule": "step"}, ValueError, "lr_schedule must be None or 'cosine', got 'step'"),
        ({"distributed": "yes"}, TypeError, "distributed must be None, True or False, got 'yes'"),
    ],
)
def test_bad_settings_are_refused_by_the_config_and_by_fit(digits, kwargs, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)
    with pytest.raises(error, match=match):
        TrainConfig.of(TrainConfig(), **kwargs)
    with pytest.raises(error, match=match):
        aekit.fit(Autoencoder(64, 4), digits[0][:32], progress=False, **kwargs)


def test_an_unknown_setting_is_named(digits):
    with pytest.raises(TypeError, match=r"unknown training setting\(s\) 'epoch'.*epochs"):
        aekit.fit(Autoencoder(64, 4), digits[0][:32], epoch=3)
    with pytest.raises(TypeError, match="config must be a TrainConfig, got dict"):
        aekit.fit(Autoencoder(64, 4), digits[0][:32], config={"epochs": 1}, progress=False)


def test_fit_classifier_takes_a_config(digits):
    X, y = digits[0][:200], digits[1][:200]
    net = torch.nn.Sequential(torch.nn.Linear(64, 10))
    history = aekit.fit_classifier(net, X, y, config=TrainConfig(epochs=2, progress=False, seed=0))
    assert history["epoch"] == [1, 2]
