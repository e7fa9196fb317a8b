"""Callbacks of fit: a user's own, early stopping, CSV and TensorBoard logs."""

import csv
import sys
import types

import pytest
import torch

import aekit
from aekit import Autoencoder
from aekit.train import Callback, CSVLogger, EarlyStopping, ProgressBar, TensorBoard


class Recorder(Callback):
    """Writes down every event it is told of."""

    def __init__(self):
        self.events = []

    def on_fit_start(self, run):
        self.events.append(("fit_start", run.start_epoch, run.n_batches))

    def on_epoch_start(self, run, epoch):
        self.events.append(("epoch_start", epoch))

    def on_batch_end(self, run, batch, loss):
        assert torch.is_tensor(loss) and loss.dim() == 0
        self.events.append(("batch_end", batch))

    def on_epoch_end(self, run, epoch, logs):
        assert run.history["epoch"][-1] == epoch and run.history["train_loss"][-1] == logs["train_loss"]
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_fit_end(self, run):
        self.events.append(("fit_end", run.history["epoch"][-1]))


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_users_callback_gets_the_events_in_order(digits, tmp_path):
    X, X_val = digits[0][:100], digits[2][:50]
    kw = dict(X_val=X_val, batch_size=64, seed=0, progress=False)
    recorder = Recorder()
    aekit.fit(Autoencoder(64, 4), X, epochs=2, checkpoint_dir=tmp_path, callbacks=[recorder], **kw)
    epoch = lambda e: [  # noqa: E731
        ("epoch_start", e),
        ("batch_end", 0),
        ("batch_end", 1),
        ("epoch_end", e, ["seconds", "train_loss", "val_loss"]),
    ]
    assert recorder.events == [("fit_start", 0, 2), *epoch(1), *epoch(2), ("fit_end", 2)]
    # a resumed run starts from the epochs its checkpoint holds
    resumed = Recorder()
    aekit.fit(Autoencoder(64, 4), X, epochs=3, resume_from=tmp_path, callbacks=[resumed], **kw)
    assert resumed.events == [("fit_start", 2, 2), *epoch(3), ("fit_end", 3)]


def test_a_callback_stops_training(digits):
    class StopAfterTwo(Callback):
        def on_epoch_end(self, run, epoch, logs):
            run.stop_training = epoch == 2

    history = aekit.fit(
        Autoencoder(64, 4), digits[0][:64], epochs=5, progress=False, callbacks=[StopAfterTwo()]
    )
    assert history["epoch"] == [1, 2] and history["stopped_early"]


def test_early_stopping_as_a_callback_equals_patience(digits):
    X, X_val = digits[0][:200], digits[2]
    kw = dict(X_val=X_val, epochs=300, batch_size=16, lr=3e-2, seed=0, progress=False)
    runs = []
    for extra in (dict(patience=2), dict(callbacks=[EarlyStopping(patience=2)])):
        torch.manual_seed(0)
        model = Autoencoder(64, 32)
        runs.append((aekit.fit(model, X, **kw, **extra), _weights(model)))
    (h1, w1), (h2, w2) = runs
    assert h1["stopped_early"] and h2["stopped_early"] and len(h1["epoch"]) < 300
    assert h1["val_loss"] == h2["val_loss"] and h1["best_epoch"] == h2["best_epoch"]
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


def test_early_stopping_is_asked_for_once_and_needs_validation_data(digits):
    X = digits[0][:64]
    with pytest.raises(ValueError, match="patience= or one EarlyStopping"):
        aekit.fit(Autoencoder(64, 4), X, X_val=X, patience=2, callbacks=[EarlyStopping(3)], progress=False)
    with pytest.raises(ValueError, match="needs validation data: pass X_val"):
        aekit.fit(Autoencoder(64, 4), X, callbacks=[EarlyStopping(3)], progress=False)
    with pytest.raises(ValueError, match="patience must be None or an int >= 1, got 0"):
        EarlyStopping(0)
    with pytest.raises(TypeError, match="Callback instances, got function"):
        aekit.fit(Autoencoder(64, 4), X, callbacks=[lambda run: None], progress=False)


def test_csv_logger_writes_the_history(digits, tmp_path):
    path = tmp_path / "logs" / "history.csv"
    history = aekit.fit(
        Autoencoder(64, 4),
        digits[0][:64],
        X_val=digits[2][:32],
        epochs=3,
        progress=False,
        callbacks=[CSVLogger(path)],
    )
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["epoch", "train_loss", "seconds", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for key in ("train_loss", "val_loss", "seconds"):
        assert [float(r[key]) for r in rows] == history[key]


def test_tensorboard_without_tensorboard_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install aekit\[tensorboard\]"):
        TensorBoard(tmp_path)


def test_tensorboard_logs_every_epochs_losses(digits, monkeypatch, tmp_path):
    scalars = []

    class SummaryWriter:  # the part of torch.utils.tensorboard's writer the callback uses
        def __init__(self, log_dir):
            self.log_dir = log_dir

        def add_scalar(self, tag, value, step):
            scalars.append((tag, step))

        def close(self):
            scalars.append(("closed", self.log_dir))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = SummaryWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    aekit.fit(Autoencoder(64, 4), digits[0][:64], epochs=2, progress=False, callbacks=[TensorBoard(tmp_path)])
    assert scalars == [
        ("train_loss", 1),
        ("seconds", 1),
        ("train_loss", 2),
        ("seconds", 2),
        ("closed", str(tmp_path)),
    ]


def test_the_progress_bar_is_closed_when_training_fails(digits):
    closed = []

    class Bar(ProgressBar):
        def close(self):
            closed.append(self.bar is not None)
            super().close()

    class Fail(Callback):
        def on_epoch_end(self, run, epoch, logs):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        aekit.fit(Autoencoder(64, 4), digits[0][:64], epochs=2, callbacks=[Fail(), Bar(enabled=False)])
    assert closed == [True]
