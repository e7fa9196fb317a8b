import json
import re

import numpy as np
import pytest
import torch

import aekit
from aekit import Autoencoder
from aekit.errors import CheckpointError, DataError, TrainingError


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
    kw = dict(
        batch_size=128, seed=7, progress=False, optimizer=optimizer, lr=0.05 if optimizer == "sgd" else 1e-3
    )
    aekit.seed_everything(0)
    full = Autoencoder(64, 8, corruption="gaussian:0.2")
    init = _weights(full)
    aekit.fit(full, X, X_val=X_val, epochs=4, **kw)

    part = Autoencoder(64, 8, corruption="gaussian:0.2")
    part.load_state_dict(init)
    aekit.fit(part, X, X_val=X_val, epochs=2, checkpoint_dir=tmp_path / "run", **kw)
    resumed = Autoencoder(64, 8, corruption="gaussian:0.2")  # fresh weights: all come from the checkpoint
    history = aekit.fit(resumed, X, X_val=X_val, epochs=4, resume_from=tmp_path / "run", **kw)
    assert history["epoch"] == [1, 2, 3, 4]
    assert _same(_weights(full), _weights(resumed))


def test_early_stopping_restores_the_best_weights(digits):
    X, _, X_val, _ = digits
    model = Autoencoder(64, 32)
    history = aekit.fit(
        model, X[:200], X_val=X_val, epochs=300, batch_size=16, lr=3e-2, patience=2, seed=0, progress=False
    )
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
    history = aekit.fit_classifier(
        net, X, y, X_val=X_test, y_val=y_test, epochs=15, lr=3e-3, seed=0, progress=False
    )
    assert history["val_error"][-1] < 0.1
    assert (aekit.predict(net, X_test) == y_test).mean() > 0.9
    assert np.allclose(aekit.predict_proba(net, X_test).sum(1), 1, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": -1}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0}, "lr"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"patience": 3}, "X_val"),
        ({"lr_schedule": "step"}, "lr_schedule"),
    ],
)
def test_bad_settings_raise(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        aekit.fit(Autoencoder(64, 4), digits[0], progress=False, **kwargs)


def test_a_checkpoint_keeps_the_gpus_random_state(tmp_path, monkeypatch):
    # corruption noise drawn on a GPU comes from the GPU's own generator: resuming there must restore it.
    # The bookkeeping is checked here with torch.cuda's two calls replaced (no GPU needed).
    from aekit import io
    from aekit.io import load_tensors
    from aekit.train import resume

    gpu_state = torch.arange(16, dtype=torch.uint8)
    restored = {}
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device=None: gpu_state.clone())
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device=None: restored.update(state=state))
    model = Autoencoder(8, 2)
    opt = torch.optim.Adam(model.parameters())
    history = {"epoch": [1], "train_loss": [1.0], "seconds": [0.1]}
    cuda = torch.device("cuda")

    def checkpoint(directory, device):
        state = io.TrainingState(1, history, opt.state_dict(), resume.capture_rng(device))
        io.write_training_state(directory, model, state)
        doc = json.loads((directory / io.STATE_JSON).read_text())
        return load_tensors(directory / io.STATE_TENSORS, doc["files"][io.STATE_TENSORS])

    tensors = checkpoint(tmp_path, cuda)
    assert torch.equal(tensors["rng.cuda"], gpu_state)
    resume.restore_rng(io.read_training_state(tmp_path).rng, cuda)
    assert torch.equal(restored["state"], gpu_state)
    # on the CPU there is no GPU state to keep, and resuming on the CPU leaves the GPU's alone
    restored.clear()
    assert "rng.cuda" not in checkpoint(tmp_path / "cpu", torch.device("cpu"))
    resume.restore_rng(io.read_training_state(tmp_path).rng, torch.device("cpu"))
    assert restored == {}


# ---------------------------------------------------------------- DataLoaders of (x, y) pairs
def _loader(*tensors, batch_size=64):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tensors), batch_size=batch_size)


def test_fit_takes_the_first_item_of_a_loaders_tuples(digits):
    X, y = torch.from_numpy(digits[0][:256]), torch.from_numpy(digits[1][:256]).long()
    runs = []
    for loader in (_loader(X), _loader(X, y)):  # the labels of (x, y) pairs are left out
        aekit.seed_everything(0)
        model = Autoencoder(64, 16)
        history = aekit.fit(model, loader, epochs=2, seed=0, progress=False)
        runs.append((_weights(model), history["train_loss"]))
    assert _same(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


def test_fit_classifier_takes_x_y_pairs_from_a_loader(digits):
    X, y = torch.from_numpy(digits[0]), torch.from_numpy(digits[1]).long()
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    ones = torch.ones(len(X))  # a third item (say, sample weights) is left out
    history = aekit.fit_classifier(net, _loader(X, y, ones), None, epochs=3, lr=3e-3, seed=0, progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0]
    with pytest.raises(DataError, match=r"\(x, y\) pairs.*\(Tensor\)"):
        aekit.fit_classifier(net, _loader(X), None, epochs=1, progress=False)


def test_a_loader_of_something_else_is_a_data_error(digits):
    X = torch.from_numpy(digits[0][:64])
    loader = torch.utils.data.DataLoader([{"x": x} for x in X], batch_size=16)
    with pytest.raises(DataError, match=r"input tensor.*\(dict\)"):
        aekit.fit(Autoencoder(64, 4), loader, epochs=1, progress=False)


# ---------------------------------------------------------------- resuming
def _early_stopping_run(Xtr, Xva, epochs, patience=50, **kw):
    torch.manual_seed(0)
    model = Autoencoder(64, [256], loss="mse", output_activation="sigmoid", activation="relu")
    history = aekit.fit(
        model,
        Xtr,
        X_val=Xva,
        epochs=epochs,
        batch_size=4,
        lr=0.03,
        seed=0,
        progress=False,
        patience=patience,
        **kw,
    )
    return model, history


def test_extending_a_finished_run_with_patience_equals_an_uninterrupted_run(digits, tmp_path):
    Xtr, Xva = digits[0][:20], digits[2]
    full, full_history = _early_stopping_run(Xtr, Xva, 14)
    part, part_history = _early_stopping_run(Xtr, Xva, 11, checkpoint_dir=tmp_path / "run")
    assert part_history["best_epoch"] < 11  # the run handed back an earlier epoch's weights
    assert _same(_weights(aekit.load(tmp_path / "run")), _weights(part))  # and so does its checkpoint
    resumed, history = _early_stopping_run(Xtr, Xva, 14, resume_from=tmp_path / "run")
    assert (
        history["val_loss"] == full_history["val_loss"]
        and history["best_epoch"] == full_history["best_epoch"]
    )
    assert _same(_weights(resumed), _weights(full))
    # resumed without patience, the run hands back its last epoch's weights, not the best ones of before
    last, _ = _early_stopping_run(Xtr, Xva, 12, patience=None)
    resumed, _ = _early_stopping_run(Xtr, Xva, 12, patience=None, resume_from=tmp_path / "run")
    assert _same(_weights(resumed), _weights(last))


def test_resuming_a_run_that_stopped_early_trains_no_further(digits, tmp_path):
    X, _, X_val, _ = digits
    kw = dict(X_val=X_val, epochs=300, batch_size=16, lr=3e-2, patience=2, seed=0, progress=False)
    torch.manual_seed(0)
    model = Autoencoder(64, 32)
    history = aekit.fit(model, X[:200], checkpoint_dir=tmp_path, **kw)
    assert history["stopped_early"]
    again = Autoencoder(64, 32)
    resumed = aekit.fit(again, X[:200], resume_from=tmp_path, **kw)  # as the uninterrupted run: stopped
    assert resumed["epoch"] == history["epoch"] and resumed["stopped_early"]
    assert resumed["best_epoch"] == history["best_epoch"] and _same(_weights(again), _weights(model))


def _tamper(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d.update(history=[1]), "'history'"),
        (lambda d: d["optimizer"].update(scalars=[1]), "'optimizer'"),
        (lambda d: d.update(best="x"), "'best'"),
        (lambda d: d.update(epoch=-1), "'epoch'"),
        (lambda d: d.pop("bad_epochs"), "'bad_epochs' is missing"),
        (lambda d: d["files"].update({"training_state.safetensors": "x"}), "'files'"),
    ],
)
def test_a_tampered_training_state_is_a_checkpoint_error(digits, tmp_path, change, match):
    X, _, X_val, _ = digits
    aekit.fit(Autoencoder(64, 4), X[:64], epochs=1, checkpoint_dir=tmp_path, progress=False)
    _tamper(tmp_path / "training_state.json", change)
    with pytest.raises(CheckpointError, match=match):
        aekit.fit(Autoencoder(64, 4), X[:64], X_val=X_val, epochs=2, resume_from=tmp_path, progress=False)


def test_a_tampered_weights_manifest_is_a_checkpoint_error(digits, tmp_path):
    aekit.fit(Autoencoder(64, 4), digits[0][:64], epochs=1, checkpoint_dir=tmp_path, progress=False)
    _tamper(tmp_path / "config.json", lambda c: c["files"].update({"model.safetensors": "deadbeef"}))
    with pytest.raises(CheckpointError, match="manifest"):
        aekit.fit(Autoencoder(64, 4), digits[0][:64], epochs=2, resume_from=tmp_path, progress=False)


def test_resuming_needs_the_runs_optimizer_and_model_class(digits, tmp_path):
    X = digits[0][:64]
    aekit.fit(Autoencoder(64, 4), X, epochs=1, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"optimizer='adam', not 'sgd'.*resume with optimizer='adam'"):
        aekit.fit(Autoencoder(64, 4), X, epochs=2, optimizer="sgd", resume_from=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="run of Autoencoder, not of this DenoisingAutoencoder"):
        aekit.fit(aekit.DenoisingAutoencoder(64, 4), X, epochs=2, resume_from=tmp_path, progress=False)


def test_resuming_with_a_new_lr_and_weight_decay_applies_them(digits, tmp_path, caplog):
    X = digits[0][:64]
    aekit.fit(Autoencoder(64, 4), X, epochs=1, lr=1e-3, checkpoint_dir=tmp_path, progress=False)
    with caplog.at_level("WARNING", logger="aekit"):
        aekit.fit(
            Autoencoder(64, 4),
            X,
            epochs=2,
            lr=0.5,
            weight_decay=0.1,
            resume_from=tmp_path,
            checkpoint_dir=tmp_path,
            progress=False,
        )
    assert "lr=0.5 (was 0.001), weight_decay=0.1 (was 0.0)" in caplog.text
    state = json.loads((tmp_path / "training_state.json").read_text())
    assert {k: state["optimizer"]["param_groups"][0][k] for k in ("lr", "weight_decay")} == {
        "lr": 0.5,
        "weight_decay": 0.1,
    }
    assert state["settings"]["lr"] == 0.5 and state["settings"]["optimizer"] == "adam"


def test_data_outside_the_range_of_the_corruption_is_a_data_error(digits):
    X = digits[0][:128] * 2 - 1  # in [-1, 1]
    linear = dict(loss="mse", output_activation="linear")
    with pytest.raises(
        DataError, match=r"X has values in \[-1, 1\].*'gaussian:0.3' takes inputs in \[0, 1\]"
    ):
        aekit.fit(Autoencoder(64, 8, corruption="gaussian:0.3", **linear), X, epochs=1, progress=False)
    X_odd = X * 0.987654321  # the suggested range fits data whose bounds print rounded
    with pytest.raises(DataError, match="e.g. '([^']+)'") as info:
        aekit.fit(Autoencoder(64, 8, corruption="gaussian:0.3", **linear), X_odd, epochs=1, progress=False)
    suggested = re.search("e.g. '([^']+)'", str(info.value)).group(1)
    aekit.fit(Autoencoder(64, 8, corruption=suggested, **linear), X_odd, epochs=1, progress=False)
    for q in (aekit.Gaussian(0.3, value_range=(-1, 1)), "gaussian:0.3:noclip", "saltpepper:0.1:-1..1"):
        aekit.fit(Autoencoder(64, 8, corruption=q, **linear), X, epochs=1, progress=False)


@pytest.mark.parametrize("file", ["config.json", "training_state.safetensors", "training_state.json"])
def test_ctrl_c_inside_a_checkpoint_leaves_the_previous_epochs_whole(digits, tmp_path, monkeypatch, file):
    X, _, X_val, _ = digits
    kw = dict(batch_size=128, seed=7, progress=False)
    aekit.seed_everything(0)
    full = Autoencoder(64, 8, corruption="gaussian:0.2")
    init = _weights(full)
    aekit.fit(full, X, X_val=X_val, epochs=4, **kw)

    writes = {"n": 0}
    write_text, save_tensors = aekit.io.atomic.atomic_write_text, aekit.io.files.save_tensors

    def interrupt_the_third(path):
        if path.name == file:
            writes["n"] += 1
            if writes["n"] == 3:  # epoch 3's checkpoint, after its weights were written
                raise KeyboardInterrupt

    def text(path, *a):
        interrupt_the_third(path)
        return write_text(path, *a)

    def tensors(t, path):
        interrupt_the_third(path)
        return save_tensors(t, path)

    monkeypatch.setattr(aekit.io.atomic, "atomic_write_text", text)
    monkeypatch.setattr(aekit.io.files, "save_tensors", tensors)
    part = Autoencoder(64, 8, corruption="gaussian:0.2")
    part.load_state_dict(init)
    with pytest.raises(KeyboardInterrupt):
        aekit.fit(part, X, X_val=X_val, epochs=4, checkpoint_dir=tmp_path, **kw)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "model.safetensors",
        "training_state.json",
        "training_state.safetensors",
    ]
    assert json.loads((tmp_path / "training_state.json").read_text())["epoch"] == 2
    assert aekit.load(tmp_path).history["epoch"] == [1, 2]
    resumed = Autoencoder(64, 8, corruption="gaussian:0.2")
    aekit.fit(resumed, X, X_val=X_val, epochs=4, resume_from=tmp_path, **kw)
    assert _same(_weights(full), _weights(resumed))


def test_a_training_state_of_other_weights_is_a_torn_checkpoint(digits, tmp_path):
    X = digits[0][:64]
    aekit.fit(Autoencoder(64, 4), X, epochs=1, checkpoint_dir=tmp_path / "a", seed=0, progress=False)
    aekit.fit(Autoencoder(64, 4), X, epochs=2, checkpoint_dir=tmp_path / "b", seed=0, progress=False)
    for name in ("training_state.json", "training_state.safetensors"):  # epoch 1's state, epoch 2's weights
        (tmp_path / "b" / name).write_bytes((tmp_path / "a" / name).read_bytes())
    with pytest.raises(CheckpointError, match="torn"):
        aekit.fit(Autoencoder(64, 4), X, epochs=3, resume_from=tmp_path / "b", progress=False)
