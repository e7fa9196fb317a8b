import json

import numpy as np
import pytest
import torch

import aekit
from aekit import Autoencoder
from aekit.errors import TrainingError


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_history_and_loss_falls(digits):
    X, _, X_test, _ = digits
    model = Autoencoder(64, 16)
    history = aekit.fit(model, X, X_val=X_test, epochs=5, batch_size=64, seed=0, progress=False)
    assert history["epoch"] == [1, 2, 3, 4, 5]
    assert len(history["train_loss"]) == len(history["val_loss"]) == len(history["seconds"]) == 5
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert model.history is history and not model.training


def test_same_seed_same_weights_on_cpu(digits):
    X = digits[0]
    runs = []
    for _ in range(2):
        aekit.seed_everything(3)
        model = Autoencoder(64, 8, corruption="masking:0.3")
        aekit.fit(model, X, epochs=2, batch_size=100, seed=3, progress=False)
        runs.append(_weights(model))
    assert _same(*runs)
    aekit.seed_everything(3)
    other = Autoencoder(64, 8, corruption="masking:0.3")
    aekit.fit(other, X, epochs=2, batch_size=100, seed=4, progress=False)
    assert not _same(runs[0], _weights(other))


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_resume_equals_an_uninterrupted_run(digits, tmp_path, optimizer):
    X, _, X_val, _ = digits
    kw = dict(batch_size=128, seed=7, progress=False, optimizer=optimizer, lr=0.05 if optimizer == "sgd" else 1e-3)
    aekit.seed_everything(0)
    full = Autoencoder(64, 8, corruption="gaussian:0.2")
    init = _weights(full)
    aekit.fit(full, X, X_val=X_val, epochs=4, **kw)

    part = Autoencoder(64, 8, corruption="gaussian:0.2")
    part.load_state_dict(init)
    aekit.fit(part, X, X_val=X_val, epochs=2, checkpoint_dir=tmp_path / "run", **kw)
    resumed = Autoencoder(64, 8, corruption="gaussian:0.2")      # fresh weights: all come from the checkpoint
    history = aekit.fit(resumed, X, X_val=X_val, epochs=4, resume_from=tmp_path / "run", **kw)
    assert history["epoch"] == [1, 2, 3, 4]
    assert _same(_weights(full), _weights(resumed))


def test_early_stopping_restores_the_best_weights(digits):
    X, _, X_val, _ = digits
    model = Autoencoder(64, 32)
    history = aekit.fit(model, X[:200], X_val=X_val, epochs=300, batch_size=16, lr=3e-2, patience=2, seed=0,
                        progress=False)
    assert history["stopped_early"] and len(history["epoch"]) < 300
    best = history["best_epoch"]
    assert history["val_loss"][best - 1] == min(history["val_loss"])
    final = float(np.mean(aekit.reconstruction_error(model, X_val)))
    assert final == pytest.approx(min(history["val_loss"]), rel=1e-4)


def test_nan_loss_stops_with_a_clear_error(digits):
    model = Autoencoder(64, 16, activation="linear", output_activation="linear", loss="mse")
    with pytest.raises(TrainingError, match=r"epoch 1.*learning rate"):
        aekit.fit(model, digits[0] * 1.0, epochs=3, lr=1e6, optimizer="sgd", progress=False)


def test_dataloader_is_accepted(digits):
    X = torch.from_numpy(digits[0])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X), batch_size=64, shuffle=True)
    model = Autoencoder(64, 16)
    history = aekit.fit(model, loader, epochs=3, progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_fit_classifier_learns_digits(digits):
    X, y, X_test, y_test = digits
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    history = aekit.fit_classifier(net, X, y, X_val=X_test, y_val=y_test, epochs=15, lr=3e-3, seed=0,
                                   progress=False)
    assert history["val_error"][-1] < 0.1
    assert (aekit.predict(net, X_test) == y_test).mean() > 0.9
    assert np.allclose(aekit.predict_proba(net, X_test).sum(1), 1, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": -1}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"lr": 0}, "lr"),
    ({"optimizer": "rmsprop"}, "optimizer"), ({"patience": 3}, "X_val"), ({"lr_schedule": "step"}, "lr_schedule"),
])
def test_bad_settings_raise(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        aekit.fit(Autoencoder(64, 4), digits[0], progress=False, **kwargs)


def test_a_checkpoint_keeps_the_gpus_random_state(tmp_path, monkeypatch):
    # corruption noise drawn on a GPU comes from the GPU's own generator: resuming there must restore it.
    # The bookkeeping is checked here with torch.cuda's two calls replaced (no GPU needed).
    from aekit import train as train_mod
    from aekit.io import load_tensors
    gpu_state = torch.arange(16, dtype=torch.uint8)
    restored = {}
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device=None: gpu_state.clone())
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device=None: restored.update(state=state))
    model = Autoencoder(8, 2)
    model.to = lambda *args, **kwargs: model           # stays on the CPU when _restore moves it "to the GPU"
    opt = torch.optim.Adam(model.parameters())
    gen = torch.Generator().manual_seed(0)
    state = {"best": float("inf"), "bad_epochs": 0, "best_state": None, "start": 0}
    history = {"epoch": [1], "train_loss": [1.0], "seconds": [0.1]}
    cuda = torch.device("cuda")
    train_mod._checkpoint(tmp_path, model, opt, gen, history, state, 1, finished=False, device=cuda)
    doc = json.loads((tmp_path / train_mod.STATE_JSON).read_text())
    tensors = load_tensors(tmp_path / train_mod.STATE_TENSORS, doc["files"][train_mod.STATE_TENSORS])
    assert torch.equal(tensors["rng.cuda"], gpu_state)
    train_mod._restore(tmp_path, model, opt, gen, {}, dict(state), cuda)
    assert torch.equal(restored["state"], gpu_state)
    # on the CPU there is no GPU state to keep, and resuming on the CPU leaves the GPU's alone
    restored.clear()
    train_mod._checkpoint(tmp_path / "cpu", model, opt, gen, history, state, 1, finished=False)
    doc = json.loads((tmp_path / "cpu" / train_mod.STATE_JSON).read_text())
    assert "rng.cuda" not in load_tensors(tmp_path / "cpu" / train_mod.STATE_TENSORS, doc["files"][train_mod.STATE_TENSORS])
    train_mod._restore(tmp_path, model, opt, gen, {}, dict(state), torch.device("cpu"))
    assert restored == {}
