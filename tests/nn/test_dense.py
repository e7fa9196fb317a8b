import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

import aekit
from aekit import Autoencoder, DenoisingAutoencoder
from aekit.corruption import Masking


def test_linear_autoencoder_spans_the_pca_subspace(digits):
    """Baldi & Hornik (1989): a linear AE with squared error reaches PCA's reconstruction error."""
    X = digits[0]
    k = 10
    pca = PCA(k).fit(X)
    pca_error = aekit.metrics.squared_error_per_sample(X, pca.inverse_transform(pca.transform(X))).mean()
    model = Autoencoder(64, k, activation="linear", output_activation="linear", loss="mse")
    aekit.fit(model, X, epochs=60, batch_size=128, lr=1e-2, lr_schedule="cosine", seed=0, progress=False)
    ae_error = aekit.metrics.squared_error_per_sample(X, aekit.reconstruct(model, X)).mean()
    assert ae_error <= 1.03 * pca_error
    assert ae_error >= 0.999 * pca_error  # cannot beat the optimum of its own class


def test_tied_weights_share_one_parameter():
    tied = Autoencoder(20, [8, 3], tied=True)
    untied = Autoencoder(20, [8, 3])
    assert (
        tied.decoder_weight(0)._base is tied.encoder_layers[1].weight
        or tied.decoder_weight(0).data_ptr() == tied.encoder_layers[1].weight.data_ptr()
    )
    assert tied.decoder_weight(1).data_ptr() == tied.encoder_layers[0].weight.data_ptr()
    # encoder W (20*8 + 8*3) + encoder b (8 + 3) + decoder b' (8 + 20)
    assert sum(p.numel() for p in tied.parameters()) == 20 * 8 + 8 * 3 + 8 + 3 + 8 + 20
    assert sum(p.numel() for p in untied.parameters()) == 2 * (20 * 8 + 8 * 3) + 8 + 3 + 8 + 20
    assert "decoder_layers.0.weight" not in tied.state_dict()


def test_tied_weight_gradient_collects_both_uses():
    model = Autoencoder(6, 4, tied=True, activation="linear", output_activation="linear", loss="mse")
    x = torch.rand(5, 6)
    model.loss(x).backward()
    total = model.encoder_layers[0].weight.grad.clone()
    # gradient through the encoder use alone (decoder weight detached) and the decoder use alone
    W = model.encoder_layers[0].weight
    for use in ("encoder", "decoder"):
        W.grad = None
        enc_w = W if use == "encoder" else W.detach()
        dec_w = W if use == "decoder" else W.detach()
        y = x @ enc_w.t() + model.encoder_layers[0].bias
        z = y @ dec_w + model.decoder_biases[0]
        (0.5 * (z - x).pow(2).sum(1).mean()).backward()
        if use == "encoder":
            g_enc = W.grad.clone()
        else:
            g_dec = W.grad.clone()
    assert torch.allclose(total, g_enc + g_dec, atol=1e-6)
    assert g_enc.abs().sum() > 0 and g_dec.abs().sum() > 0


def test_losses_are_the_formulas_of_the_notes():
    torch.manual_seed(1)
    x = torch.rand(7, 12)
    for loss in ("mse", "bce"):
        model = Autoencoder(12, 5, loss=loss).eval()
        z = model(x)
        if loss == "mse":
            expected = 0.5 * ((z - x) ** 2).sum(1)  # E = ½‖z − x‖²
        else:
            expected = -(x * torch.log(z) + (1 - x) * torch.log(1 - z)).sum(1)  # L_H(x, z)
        assert torch.allclose(model.reconstruction_error(x), expected, atol=1e-4)
        assert torch.allclose(model.loss(x), expected.mean(), atol=1e-4)


def test_shapes_and_activations():
    x = torch.rand(3, 10)
    for act in ("sigmoid", "tanh", "relu", "gelu", "linear"):
        model = Autoencoder(10, [6, 2], activation=act, output_activation="sigmoid", loss="mse")
        assert model.encode(x).shape == (3, 2)
        assert model.decode(model.encode(x)).shape == (3, 10)
    model = Autoencoder(10, [6, 2], code_activation="linear")
    assert (model.encode(x * 100) < 0).any() or (model.encode(x * 100) > 1).any()  # linear code is unbounded


def test_corruption_is_applied_in_training_only():
    model = Autoencoder(50, 10, corruption=Masking(0.5))
    x = torch.rand(64, 50)
    model.eval()
    assert model.loss(x) == model.loss(x)  # deterministic without noise
    model.train()
    assert model.loss(x) != model.loss(x)  # fresh noise every call
    assert isinstance(DenoisingAutoencoder(50, 10).corruption, Masking)


def test_denoising_beats_plain_at_reconstructing_corrupted_digits(digits):
    X, _, X_test, _ = digits
    q = Masking(0.4)
    errors = {}
    for name, corr in (("plain", None), ("denoising", q)):
        aekit.seed_everything(0)
        model = Autoencoder(64, 64, corruption=corr)
        aekit.fit(model, X, epochs=40, batch_size=32, lr=3e-3, seed=0, progress=False)
        torch.manual_seed(123)
        noisy = q(torch.from_numpy(X_test)).numpy()
        errors[name] = aekit.metrics.mse(X_test, aekit.reconstruct(model, noisy))
    assert errors["denoising"] < 0.8 * errors["plain"]


def test_sparsity_and_contractive_penalties_add_to_the_loss():
    x = torch.rand(16, 12)
    base = Autoencoder(12, 6).eval()
    for kwargs in (
        {"sparsity": "l1", "sparsity_weight": 0.5},
        {"sparsity": "kl", "sparsity_weight": 0.5},
        {"contractive": 0.5},
    ):
        model = Autoencoder(12, 6, **kwargs).eval()
        model.load_state_dict(base.state_dict())
        assert model.loss(x) > base.loss(x)
        assert torch.allclose(model.reconstruction_error(x), base.reconstruction_error(x))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "gelu"])
def test_contractive_penalty_equals_jacobian_norm(activation):
    # the penalty is built from activations.derivative(φ): autograd's Jacobian checks it for each φ
    model = Autoencoder(5, 3, contractive=1.0, activation=activation, output_activation="sigmoid", loss="mse")
    plain = Autoencoder(5, 3, activation=activation, output_activation="sigmoid", loss="mse")
    plain.load_state_dict(model.state_dict())
    x = torch.rand(1, 5) * 4 - 2
    jac = torch.autograd.functional.jacobian(lambda v: model.encode(v), x).reshape(3, 5)
    assert torch.allclose(model.loss(x) - plain.loss(x), jac.pow(2).sum(), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"input_dim": 0, "hidden": 4}, "input_dim"),
        ({"input_dim": 8, "hidden": []}, "hidden"),
        ({"input_dim": 8, "hidden": [4, -1]}, "hidden"),
        ({"input_dim": 8, "hidden": 4, "activation": "swish"}, "activation"),
        ({"input_dim": 8, "hidden": 4, "loss": "l1"}, "loss"),
        ({"input_dim": 8, "hidden": 4, "output_activation": "linear", "loss": "bce"}, "bce"),
        ({"input_dim": 8, "hidden": 4, "sparsity": "kl", "activation": "relu"}, "sigmoid"),
        ({"input_dim": 8, "hidden": [4, 2], "contractive": 0.1}, "one hidden layer"),
        ({"input_dim": 8, "hidden": 4, "corruption": "blur:0.1"}, "corruption"),
    ],
)
def test_bad_constructor_arguments_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Autoencoder(**kwargs)


def test_inputs_are_validated(digits):
    model = Autoencoder(64, 8)
    with pytest.raises(ValueError, match="shape"):
        aekit.fit(model, np.zeros((10, 63), np.float32), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        aekit.fit(model, digits[0] * 16, epochs=1, progress=False)
    bad = digits[0].copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        aekit.fit(model, bad, epochs=1, progress=False)
