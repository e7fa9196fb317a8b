"""aekit.train.pretrain: the one greedy layer-wise routine, for the dense stack, the conv stack and a deep autoencoder."""

import numpy as np
import pytest
import torch

import aekit
import aekit.train.layerwise
from aekit.train import finetune, pretrain


def _rows(module):
    seen = {"rows": 0}
    module.register_forward_hook(
        lambda _m, inputs, _out: seen.__setitem__("rows", seen["rows"] + len(inputs[0]))
    )
    return seen


def _spy(monkeypatch, after_fit):
    """Record what every fit call trained on; ``after_fit(model)`` runs after each."""
    calls = []
    real = aekit.train.layerwise.fit

    def spy(model, data, **kwargs):
        calls.append((model, np.array(data)))
        history = real(model, data, **kwargs)
        after_fit(model)
        return history

    monkeypatch.setattr(aekit.train.layerwise, "fit", spy)
    return calls


@pytest.mark.parametrize("cache", [True, False])
def test_the_conv_stack_runs_the_level_below_once_per_level_when_cached(digits, monkeypatch, cache):
    X = digits[0][:96].reshape(-1, 1, 8, 8)
    stack = aekit.StackedConvAutoencoder(1, (3, 4), block="modern", channels_last=False)
    block = stack.layers[0].encoder_blocks[0]
    below = _rows(block)
    marks = []
    _spy(monkeypatch, lambda model: marks.append((below["rows"], block.bn.running_mean.clone())))
    pretrain(stack, X, epochs=3, batch_size=32, seed=0, progress=False, device="cpu", cache=cache)
    after_level_1 = below["rows"] - marks[0][0]  # level 1 no longer trains: what runs it now feeds level 2
    assert after_level_1 == (len(X) if cache else 3 * len(X))  # once, or in every batch of 3 epochs
    assert torch.equal(block.bn.running_mean, marks[0][1])  # and in evaluation mode: its statistics stay
    assert stack.input_size == [8, 8] and stack.history["pretrain"][1]["layer"] == 2


def test_recomputing_the_layers_below_trains_on_the_same_inputs_at_a_pass_per_batch(digits):
    X = digits[0][:128]
    runs = {}
    for cache in (True, False):
        torch.manual_seed(0)
        stack = aekit.StackedAutoencoder(64, [24, 16, 8], corruption="masking:0.2")
        first = _rows(stack.encoder_layers[0])
        histories = pretrain(
            stack, X, epochs=2, batch_size=32, seed=0, progress=False, device="cpu", cache=cache
        )
        runs[cache] = (
            first["rows"],
            [h["train_loss"] for h in histories],
            stack.encoder_layers[2].weight.detach(),
        )
    assert runs[True][0] == len(X)  # once, for layer 2's data; layer 3 trains on cached codes of layer 2
    assert runs[False][0] == 2 * 2 * len(X)  # every batch of layers 2 and 3, 2 epochs each
    np.testing.assert_allclose(runs[True][1], runs[False][1], rtol=1e-5)  # the very same inputs and noise
    torch.testing.assert_close(runs[True][2], runs[False][2])


def test_a_deep_autoencoder_is_pretrained_as_hinton_and_salakhutdinov_unrolled(digits, monkeypatch):
    X = digits[0][:200]
    deep = aekit.Autoencoder(64, [32, 16, 4], code_activation="linear")
    calls = _spy(monkeypatch, lambda model: None)
    histories = pretrain(deep, X, epochs=2, batch_size=50, seed=0, progress=False, device="cpu")
    assert [h["layer"] for h in histories] == [1, 2, 3]
    layer_aes = [model for model, _ in calls]
    assert all(ae.tied for ae in layer_aes)
    assert [ae.encoder_activations for ae in layer_aes] == [["sigmoid"], ["sigmoid"], ["linear"]]
    assert [(ae.loss_name, ae.decoder_activations) for ae in layer_aes] == [("bce", ["sigmoid"])] * 3
    np.testing.assert_allclose(calls[1][1], aekit.encode(layer_aes[0], X), atol=1e-6)  # layer 2 on h⁽¹⁾
    n = deep.n_layers
    for k, ae in enumerate(layer_aes):
        torch.testing.assert_close(deep.encoder_layers[k].weight, ae.encoder_layers[0].weight)
        torch.testing.assert_close(deep.decoder_layers[n - 1 - k].weight, deep.encoder_layers[k].weight.T)
        torch.testing.assert_close(deep.decoder_layers[n - 1 - k].bias, ae.decoder_biases[0])
    error = aekit.reconstruction_error(deep, X).mean()
    assert (
        error
        < aekit.reconstruction_error(aekit.Autoencoder(64, [32, 16, 4], code_activation="linear"), X).mean()
    )


def test_a_tied_deep_autoencoder_keeps_the_layer_decoder_biases():
    X = np.random.default_rng(0).random((64, 10), dtype=np.float32)
    deep = aekit.Autoencoder(10, [6, 3], tied=True)
    pretrain(deep, X, epochs=1, progress=False, device="cpu")
    assert sorted(deep.state_dict()) == [
        "decoder_biases.0",
        "decoder_biases.1",
        "encoder_layers.0.bias",
        "encoder_layers.0.weight",
        "encoder_layers.1.bias",
        "encoder_layers.1.weight",
    ]
    assert all(float(b.detach().abs().sum()) > 0 for b in deep.decoder_biases)  # trained, not left at zero


def test_errors():
    X = np.zeros((4, 6), np.float32)
    stack = aekit.StackedAutoencoder(6, [4, 2])
    with pytest.raises(TypeError, match="StackedAutoencoder, a StackedConvAutoencoder or an Autoencoder"):
        pretrain(aekit.StackedClassifier(6, [4], 2), X)
    with pytest.raises(TypeError, match="checkpoint_dir"):
        pretrain(stack, X, checkpoint_dir="somewhere")
    with pytest.raises(ValueError, match="at least one layer"):
        pretrain(stack, X, layers=[])
    with pytest.raises(ValueError, match="layer must be an int in 1..2"):
        pretrain(stack, X, layers=[3])
    with pytest.raises(TypeError, match="finetune needs a StackedAutoencoder"):
        finetune(aekit.Autoencoder(6, 2), X)
