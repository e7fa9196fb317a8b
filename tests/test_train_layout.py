"""Memory layout in fit: conv nets train channels-last on the CPU, are handed back as they came,
and a resumed run's optimizer states are laid out like the weights they belong to."""

import numpy as np
import pytest
import torch
from torch import nn

import aekit
from aekit.errors import CheckpointError


class TinyConvAE(nn.Module):
    """A user's own conv autoencoder with aekit's model interface (``loss(x)``)."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1)
        )
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid()
        )
        self.layouts = []  # a (4, 4, 3, 3) filter bank's layout at every training step

    def loss(self, x):
        if self.training:
            self.layouts.append(self.enc[2].weight.is_contiguous(memory_format=torch.channels_last))
        return 0.5 * (self.dec(self.enc(x)) - x).pow(2).flatten(1).sum(1).mean()


class KeepsItsLayout(TinyConvAE):
    channels_last = False  # a model that chooses its own layout is left alone


def _images(n=96, seed=0):
    return np.random.default_rng(seed).random((n, 1, 8, 8), dtype=np.float32)


def _init(cls):
    torch.manual_seed(0)
    return cls()


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


FIT = dict(epochs=3, batch_size=16, seed=1, progress=False, device="cpu")


def test_a_users_conv_net_trains_channels_last_and_comes_back_contiguous():
    model = _init(TinyConvAE)
    aekit.fit(model, _images(), **FIT)
    assert model.layouts and all(model.layouts)
    assert all(p.is_contiguous() for p in model.parameters())
    plain = _init(KeepsItsLayout)
    aekit.fit(plain, _images(), **FIT)
    assert not any(plain.layouts)
    for k, v in _weights(plain).items():  # the same training, another order of the sums
        torch.testing.assert_close(model.state_dict()[k], v, atol=1e-5, rtol=1e-4)


def test_the_layout_is_restored_when_training_fails(tmp_path):
    model = _init(TinyConvAE)
    with pytest.raises(CheckpointError):  # fails after the conversion: nothing to resume
        aekit.fit(model, _images(), **FIT, resume_from=tmp_path / "missing")
    assert all(p.is_contiguous() for p in model.parameters())


def test_dense_models_are_untouched():
    model = aekit.Autoencoder(64, 8)
    aekit.fit(model, _images().reshape(-1, 64), **FIT)
    assert all(p.is_contiguous() for p in model.parameters())


@pytest.mark.parametrize(
    "make",
    [lambda: _init(TinyConvAE), lambda: (torch.manual_seed(0), aekit.ConvAutoencoder(1, [4]))[1]],
    ids=["users-conv-net", "ConvAutoencoder"],
)
def test_resume_equals_an_uninterrupted_run_for_channels_last_weights(tmp_path, make):
    # checkpoints hold contiguous optimizer states; fused Adam walks a weight and its states in memory
    # order, so states not laid out like channels-last weights would update the wrong elements
    X = _images()
    full = make()
    aekit.fit(full, X, **FIT)
    aekit.fit(make(), X, **{**FIT, "epochs": 1}, checkpoint_dir=tmp_path / "run")
    resumed = make()
    aekit.fit(resumed, X, **FIT, resume_from=tmp_path / "run")
    for k, v in _weights(full).items():
        assert torch.equal(resumed.state_dict()[k], v), k


def test_a_users_model_resumes_only_from_its_own_intact_weights(tmp_path):
    X = _images()
    aekit.fit(_init(TinyConvAE), X, **{**FIT, "epochs": 1}, checkpoint_dir=tmp_path / "run")
    weights = tmp_path / "run" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit of the last weight
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="model.safetensors"):
        aekit.fit(_init(TinyConvAE), X, **FIT, resume_from=tmp_path / "run")
    with pytest.raises(CheckpointError, match="config.json not found"):  # not an aekit model's checkpoint
        aekit.fit(aekit.Autoencoder(64, 8), X.reshape(-1, 64), **FIT, resume_from=tmp_path / "run")


class FlattensWithView(TinyConvAE):
    """``h.view(n, -1)`` of a conv map, as in many tutorials: fails on channels-last maps."""

    def loss(self, x):
        h = self.enc(x)
        flat = h.view(len(h), -1)  # would raise on channels-last maps
        if self.training:
            self.layouts.append(self.enc[2].weight.is_contiguous(memory_format=torch.channels_last))
        return 0.5 * (self.dec(flat.view_as(h)) - x).pow(2).flatten(1).sum(1).mean()


def test_a_model_that_needs_the_contiguous_layout_trains_in_it():
    model = _init(FlattensWithView)
    history = aekit.fit(model, _images(), **FIT)
    assert model.layouts and not any(model.layouts)
    assert history["train_loss"][-1] < history["train_loss"][0]
    reference = _init(KeepsItsLayout)
    aekit.fit(reference, _images(), **FIT)
    for k, v in _weights(reference).items():  # the same model, trained exactly as if never probed
        assert torch.equal(model.state_dict()[k], v), k


def test_the_probe_leaves_no_trace_in_batch_norm_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Conv2d(4, 1, 3, padding=1))
    model = TinyConvAE()
    model.enc, model.dec = net, nn.Identity()
    aekit.fit(model, _images(), **{**FIT, "epochs": 1})
    batches = -(-96 // 16)
    assert int(net[1].num_batches_tracked) == batches  # the training batches, not one more
