"""The one dense block y = φ(W x + b) and the activation registry."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit.nn import activations
from aekit.nn.layers import Dense, DenseStack, batched_dense, dense

NAMES = list(activations.ACTIVATIONS)
BY_HAND = {
    "sigmoid": lambda a: 1 / (1 + torch.exp(-a)),
    "tanh": lambda a: (torch.exp(a) - torch.exp(-a)) / (torch.exp(a) + torch.exp(-a)),
    "relu": lambda a: torch.where(a > 0, a, torch.zeros_like(a)),
    "gelu": lambda a: a * 0.5 * (1 + torch.erf(a / 2**0.5)),
    "linear": lambda a: a,
}


@pytest.mark.parametrize("name", NAMES)
def test_batched_dense_is_one_dense_layer_per_member(name):
    k, n, fan_in, fan_out = 3, 5, 7, 4
    x = torch.randn(k, n, fan_in, dtype=torch.float64)
    weight = torch.randn(k, fan_in, fan_out, dtype=torch.float64)  # W_kᵀ
    bias = torch.randn(k, 1, fan_out, dtype=torch.float64)
    got = batched_dense(x, weight, bias, name)
    assert got.shape == (k, n, fan_out)
    for i in range(k):
        torch.testing.assert_close(got[i], dense(x[i], weight[i].T, bias[i, 0], name))
        torch.testing.assert_close(got[i], BY_HAND[name](x[i] @ weight[i] + bias[i]))


@pytest.mark.parametrize("name", NAMES)
def test_a_dense_layer_is_phi_of_x_times_w_transposed_plus_b(name):
    layer = Dense(7, 4, name)
    torch.nn.init.normal_(layer.bias)  # a zero bias would hide a missing + b
    x = torch.randn(5, 7, dtype=torch.float64)
    layer = layer.double()
    want = BY_HAND[name](x @ layer.weight.T + layer.bias)
    torch.testing.assert_close(layer(x), want)
    pre, out = layer.forward_with_pre(x)
    torch.testing.assert_close(pre, x @ layer.weight.T + layer.bias)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(dense(x, layer.weight, layer.bias, name), want)


def test_a_dense_stack_applies_its_layers_in_turn_and_its_logits_skip_the_top_phi():
    stack = DenseStack.from_sizes([6, 5, 3], ["tanh", "sigmoid"]).double()
    x = torch.randn(4, 6, dtype=torch.float64)
    (w1, b1), (w2, b2) = ((layer.weight, layer.bias) for layer in stack)
    h1 = torch.tanh(x @ w1.T + b1)
    torch.testing.assert_close(stack(x, 1), h1)
    torch.testing.assert_close(stack(x), torch.sigmoid(h1 @ w2.T + b2))
    torch.testing.assert_close(stack(h1, start=1), torch.sigmoid(h1 @ w2.T + b2))
    torch.testing.assert_close(stack.logits(x), h1 @ w2.T + b2)
    assert sorted(stack.state_dict()) == ["0.bias", "0.weight", "1.bias", "1.weight"]  # nn.Linear's keys
    with pytest.raises(ValueError, match="one activation per layer"):
        DenseStack.from_sizes([6, 5, 3], ["tanh"])


def test_a_tied_autoencoder_decodes_with_the_transposed_encoder_weight():
    model = aekit.Autoencoder(6, [4], tied=True, activation="tanh", loss="mse", output_activation="linear")
    x = torch.randn(3, 6)
    W, b = model.encoder_layers[0].weight, model.encoder_layers[0].bias
    torch.nn.init.normal_(model.decoder_biases[0])
    y = torch.tanh(x @ W.T + b)
    torch.testing.assert_close(model(x), y @ W + model.decoder_biases[0])  # W' = Wᵀ


def test_every_model_builds_its_dense_layers_from_the_one_block():
    models = [
        aekit.Autoencoder(6, [4, 2]),
        aekit.Autoencoder(6, [4, 2], tied=True),
        aekit.StackedAutoencoder(6, [4, 2], unrolled=True),
        aekit.StackedClassifier(6, [4, 2], 3),
    ]
    for model in models:
        linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        assert linear and all(isinstance(m, Dense) for m in linear), type(model).__name__


@pytest.mark.parametrize("name", NAMES)
def test_the_registry_has_everything_for_every_activation(name):
    act = activations.ACTIVATIONS[name]
    a = torch.linspace(-4, 4, 101, dtype=torch.float64, requires_grad=True)
    y = act.function(a)
    torch.testing.assert_close(act.module()(a), y)
    torch.testing.assert_close(activations.apply(name, a), y)
    # φ' against autograd (a = 0 skipped: ReLU has no derivative there)
    (grad,) = torch.autograd.grad(y.sum(), a)
    keep = a.detach() != 0
    torch.testing.assert_close(act.derivative(a.detach(), y.detach())[keep], grad[keep])
    # the range holds the values φ takes, far out too
    low, high = act.value_range
    far = act.function(torch.linspace(-50, 50, 2001, dtype=torch.float64))
    assert low is None or far.min() >= low
    assert high is None or far.max() <= high
    assert activations.RANGES[name] == act.value_range
    # the initialisation fills W (not left as it was) with a spread that depends on the fan-in
    w = torch.zeros(300, 200)
    act.init(w)
    assert w.abs().max() > 0 and w.abs().max() <= (6 / 200) ** 0.5 + 1e-6


def test_rectifiers_get_he_and_saturating_units_glorot():
    for name in NAMES:
        layer = Dense(200, 300, name)
        torch.manual_seed(0)
        layer.init_weights()
        bound = (6 / 200) ** 0.5 if name in ("relu", "gelu") else (6 / 500) ** 0.5
        assert float(layer.weight.detach().abs().max()) == pytest.approx(bound, rel=0.02), name
        assert torch.equal(layer.bias.detach(), torch.zeros(300))


def test_an_unknown_activation_names_the_registry_choices():
    with pytest.raises(
        ValueError, match="activation must be one of sigmoid, tanh, relu, gelu, linear, got 'elu'"
    ):
        Dense(3, 2, "elu")


def test_nn_imports_nothing_above_it():
    """DESIGN.md: nn holds modules only; training, inference, files and the CLI sit above it."""
    root = Path(aekit.nn.__file__).parent
    above = re.compile(r"from \.\.(train|inference|pretrain|io|codec|cli|sklearn|viz|report)\b")
    found = [
        f"{path.name}: {line.strip()}"
        for path in sorted(root.glob("*.py"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if above.search(line)
    ]
    assert found == []


def test_the_old_corruption_module_is_the_nn_one():
    from aekit import corruption
    from aekit.nn import corruption as nn_corruption

    assert corruption.Masking is nn_corruption.Masking and corruption.parse is nn_corruption.parse
    assert np.isclose(float(corruption.Gaussian(0.1, value_range=(-1, 1)).value_range[0]), -1.0)
