"""Stacked (denoising) autoencoders: greedy pre-training, unrolling, classifier head, checkpoints."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import aekit
import aekit.train.layerwise
from aekit import corruption
from aekit.errors import AekitError
from aekit.nn import StackedAutoencoder, StackedClassifier
from aekit.train import finetune, pretrain


def _count_rows(module):
    """Attach a forward hook counting the rows that pass through ``module``."""
    seen = {"rows": 0, "calls": 0}

    def hook(_mod, inputs, _out):
        seen["rows"] += inputs[0].shape[0]
        seen["calls"] += 1

    module.register_forward_hook(hook)
    return seen


def test_pretraining_computes_each_layer_input_once(digits, monkeypatch):
    X = digits[0][:200]
    torch.manual_seed(0)
    stack = StackedAutoencoder(64, [24, 16, 8], corruption="masking:0.2")
    counters = [_count_rows(layer) for layer in stack.encoder_layers]
    inputs = []
    real_fit = aekit.train.layerwise.fit

    def spy(model, data, **kwargs):
        inputs.append(np.array(data))
        return real_fit(model, data, **kwargs)

    monkeypatch.setattr(aekit.train.layerwise, "fit", spy)
    histories = pretrain(stack, X, epochs=3, batch_size=32, seed=0, progress=False, device="cpu")

    # layers 1 and 2 map the whole data set exactly once (3 epochs x 7 batches would be 21 passes), layer 3 never
    assert [c["rows"] for c in counters] == [200, 200, 0]
    assert [h["layer"] for h in histories] == [1, 2, 3] and all(len(h["train_loss"]) == 3 for h in histories)
    # layer k was trained on the cached codes of layers 1..k-1
    assert [a.shape for a in inputs] == [(200, 64), (200, 24), (200, 16)]
    np.testing.assert_allclose(inputs[1], stack.transform(X, layer=1), atol=1e-6)
    np.testing.assert_allclose(inputs[2], stack.transform(X, layer=2), atol=1e-6)


def test_decoders_are_discarded_after_pretraining(digits):
    stack = StackedAutoencoder(64, [16, 8], tied=False)
    pretrain(stack, digits[0][:100], epochs=1, progress=False, seed=0, device="cpu")
    assert sorted(stack.state_dict()) == [
        "encoder_layers.0.bias",
        "encoder_layers.0.weight",
        "encoder_layers.1.bias",
        "encoder_layers.1.weight",
    ]
    assert stack.decoder_layers is None
    with pytest.raises(AekitError, match="finetune"):
        aekit.reconstruct(stack, digits[0][:5])


def test_pretraining_changes_only_the_requested_layers(digits):
    torch.manual_seed(0)
    stack = StackedAutoencoder(64, [16, 8])
    before = {k: v.clone() for k, v in stack.state_dict().items()}
    pretrain(stack, digits[0][:100], epochs=2, layers=[2], progress=False, seed=0, device="cpu")
    after = stack.state_dict()
    assert torch.equal(before["encoder_layers.0.weight"], after["encoder_layers.0.weight"])
    assert not torch.equal(before["encoder_layers.1.weight"], after["encoder_layers.1.weight"])


def test_unroll_mirrors_the_encoders_and_finetune_lowers_the_error(digits):
    X = digits[0][:300]
    torch.manual_seed(0)
    stack = StackedAutoencoder(64, [32, 16])
    pretrain(stack, X, epochs=3, batch_size=32, progress=False, seed=0, device="cpu")
    stack.unroll()
    for enc, dec in zip(stack.encoder_layers, reversed(stack.decoder_layers)):
        assert torch.equal(dec.weight, enc.weight.t())  # W'_k = W_kᵀ
    before = float(aekit.reconstruction_error(stack, X).mean())
    history = finetune(stack, X, epochs=5, batch_size=32, lr=3e-3, progress=False, seed=0, device="cpu")
    after = float(aekit.reconstruction_error(stack, X).mean())
    assert after < before
    assert stack.history["finetune"] is history and len(stack.history["pretrain"]) == 2


def test_corruption_per_layer_and_config():
    stack = StackedAutoencoder(64, [16, 8, 4], corruption=["masking:0.1", None, "gaussian:0.3"])
    assert stack.config["corruption"][1] is None
    assert [c.spec() if c else None for c in stack.corruptions] == ["masking:0.1", None, "gaussian:0.3"]
    shared = StackedAutoencoder(64, [16, 8], corruption="masking:0.25")
    assert [c.spec() for c in shared.corruptions] == ["masking:0.25", "masking:0.25"]
    with pytest.raises(ValueError, match="2 entries but the stack has 3 layers"):
        StackedAutoencoder(64, [16, 8, 4], corruption=["masking:0.1", "masking:0.2"])
    with pytest.raises(ValueError, match="epochs has 1 entries"):
        pretrain(shared, np.zeros((4, 64), np.float32), epochs=[1], progress=False)


def test_transform_layers_and_errors(digits):
    stack = StackedAutoencoder(64, [16, 8])
    X = digits[0][:10]
    assert stack.transform(X, layer=1).shape == (10, 16)
    assert stack.transform(X).shape == (10, 8)
    np.testing.assert_array_equal(stack.transform(X, layer=-1), stack.transform(X, layer=2))
    for bad in (0, 3, -3, 1.5, True):
        with pytest.raises(ValueError, match="layer must be"):
            stack.transform(X, layer=bad)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stack.transform(X * 3)


def test_finetuned_classifier_beats_logistic_regression(digits):
    X, y, X_test, y_test = digits
    aekit.seed_everything(0)
    stack = StackedAutoencoder(64, [64, 32], corruption=["masking:0.1", "masking:0.2"])
    pretrain(stack, X, epochs=3, batch_size=64, lr=1e-2, progress=False, seed=0, device="cpu")
    clf = stack.to_classifier(10)
    for mine, theirs in zip(stack.encoder_layers, clf.hidden_layers):  # starts from the pre-trained weights
        assert torch.equal(mine.weight, theirs.weight) and mine.weight is not theirs.weight
    history = aekit.fit_classifier(
        clf,
        X,
        y,
        X_val=X_test,
        y_val=y_test,
        epochs=12,
        batch_size=64,
        lr=1e-2,
        progress=False,
        seed=0,
        device="cpu",
    )
    sda_error = float(np.mean(aekit.predict(clf, X_test) != y_test))
    logreg_error = 1 - LogisticRegression(max_iter=2000).fit(X, y).score(X_test, y_test)
    assert sda_error < logreg_error, (sda_error, logreg_error)
    assert "val_error" in history
    proba = aekit.predict_proba(clf, X_test[:5])
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)


def test_save_and_load_stack_and_classifier(tmp_path, digits):
    X = digits[0][:50]
    torch.manual_seed(0)
    stack = StackedAutoencoder(64, [16, 8], corruption=["masking:0.1", "saltpepper:0.1"], tied=True)
    pretrain(stack, X, epochs=1, progress=False, seed=0, device="cpu")
    aekit.save(stack, tmp_path / "stack")
    same = aekit.load(tmp_path / "stack")
    assert isinstance(same, StackedAutoencoder) and same.decoder_layers is None
    assert same.config["corruption"] == stack.config["corruption"]
    assert [h["layer"] for h in same.pretrain_history] == [1, 2]
    np.testing.assert_array_equal(same.transform(X), stack.transform(X))

    stack.unroll()
    aekit.save(stack, tmp_path / "unrolled")
    again = aekit.load(tmp_path / "unrolled")
    np.testing.assert_array_equal(aekit.reconstruct(again, X), aekit.reconstruct(stack, X))

    clf = stack.to_classifier(3, dropout=0.2, input_dropout=0.1)
    aekit.save(clf, tmp_path / "clf")
    loaded = aekit.load(tmp_path / "clf")
    assert isinstance(loaded, StackedClassifier) and loaded.n_classes == 3
    assert (loaded.config["dropout"], loaded.config["input_dropout"]) == (0.2, 0.1)
    np.testing.assert_array_equal(aekit.predict_proba(loaded, X), aekit.predict_proba(clf, X))


def test_classifier_arguments_are_checked():
    with pytest.raises(ValueError, match="n_classes"):
        StackedClassifier(64, [8], 0)
    with pytest.raises(ValueError, match="dropout"):
        StackedClassifier(64, [8], 3, dropout=1.0)
    with pytest.raises(ValueError, match="input_dropout must be in"):
        StackedClassifier(64, [8], 3, input_dropout=-0.1)
    with pytest.raises(ValueError, match="hidden"):
        StackedAutoencoder(64, [])


def test_input_dropout_zeroes_inputs_in_training_only():
    torch.manual_seed(0)
    clf = StackedClassifier(64, [8], 3, input_dropout=0.5)
    x = torch.ones(4, 64)
    seen = []
    clf.hidden_layers[0].register_forward_hook(lambda mod, args, out: seen.append(args[0].clone()))
    clf.train()(x)
    clf.eval()(x)
    zero_fraction = float((seen[0] == 0).float().mean())
    assert 0.3 < zero_fraction < 0.7 and torch.equal(
        seen[0][seen[0] != 0], torch.full_like(seen[0][seen[0] != 0], 2.0)
    )
    assert torch.equal(seen[1], x)


def _layer_inputs_and_noise(stack, X, monkeypatch):
    """Pre-train ``stack`` and return, per layer, (its training input h, its q_D)."""
    seen = []
    real_fit = aekit.train.layerwise.fit

    def spy(model, data, **kwargs):
        seen.append((torch.from_numpy(np.array(data)), model.corruption))
        return real_fit(model, data, **kwargs)

    monkeypatch.setattr(aekit.train.layerwise, "fit", spy)
    pretrain(stack, X, epochs=1, batch_size=64, seed=0, progress=False, device="cpu")
    return seen


@pytest.mark.parametrize("spec", ["gaussian:0.1", "saltpepper:0.3"])
def test_the_noise_of_an_upper_layer_acts_within_the_range_of_the_codes(digits, monkeypatch, spec):
    stack = StackedAutoencoder(64, [32, 16], activation="tanh", corruption=spec)
    (_, first), (h, second) = _layer_inputs_and_noise(stack, digits[0][:300], monkeypatch)
    assert first.value_range == (0.0, 1.0) and second.value_range == (-1.0, 1.0)
    assert (h < 0).float().mean() > 0.2  # tanh codes: many are negative
    torch.manual_seed(0)
    noisy = second.train()(h)
    assert noisy.min() >= -1 and noisy.max() <= 1
    if spec.startswith("gaussian"):  # not clamped to [0, 1]: signs survive
        assert float((noisy < 0).float().mean()) == pytest.approx(float((h < 0).float().mean()), abs=0.05)
    else:  # salt = 1, pepper = -1
        assert set(noisy[noisy != h].unique().tolist()) == {-1.0, 1.0}
    assert stack.config["corruption"] == [corruption.parse(spec).to_config()] * 2  # the config keeps the spec


def test_a_sigmoid_stack_keeps_the_unit_interval_noise(digits, monkeypatch):
    stack = StackedAutoencoder(64, [16, 8], corruption=["masking:0.1", "saltpepper:0.1"])
    (_, _first), (_, second) = _layer_inputs_and_noise(stack, digits[0][:100], monkeypatch)
    assert second.to_config() == {"type": "saltpepper", "nu": 0.1} and second.value_range == (0.0, 1.0)


def test_salt_and_pepper_on_unbounded_codes_fails_before_any_training(digits, monkeypatch):
    stack = StackedAutoencoder(
        64,
        [16, 8],
        activation="relu",
        loss="mse",
        output_activation="linear",
        corruption=["masking:0.1", "saltpepper:0.1"],
    )
    before = stack.encoder_layers[0].weight.detach().clone()
    with pytest.raises(ValueError, match="layer 2 is trained on the relu codes of layer 1.*maximum.*masking"):
        pretrain(stack, digits[0][:100], epochs=1, progress=False, device="cpu")
    assert torch.equal(stack.encoder_layers[0].weight, before)
    relu = StackedAutoencoder(64, [16, 8], activation="relu", corruption="gaussian:0.2")
    assert relu.layer_corruption(1).value_range == (0.0, None)  # clipped at 0 only


def test_pretraining_ends_in_evaluation_mode(digits):
    stack = StackedAutoencoder(64, [16, 8])
    pretrain(stack, digits[0][:100], epochs=1, progress=False, device="cpu")
    assert not any(m.training for m in stack.modules())
