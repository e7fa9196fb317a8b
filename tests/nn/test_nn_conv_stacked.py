"""StackedConvAutoencoder: greedy pre-training, to_cnn copying the filters, the random baseline."""

import numpy as np
import pytest
import torch

import aekit
from aekit.data import load_dataset
from aekit.train import pretrain


@pytest.fixture(scope="module")
def digit_images():
    X, y = load_dataset("digits", split="train", flatten=False)
    return X[:300], y[:300]


@pytest.mark.parametrize("block, unpool", [("masci", "random"), ("modern", "switches")])
def test_to_cnn_copies_the_pretrained_filters_exactly(digit_images, block, unpool):
    X, _ = digit_images
    aekit.seed_everything(0)
    stack = aekit.StackedConvAutoencoder(1, (4, 6), block=block, unpool=unpool)
    histories = pretrain(stack, X, epochs=[2, 1], batch_size=64, seed=0, progress=False)
    assert [len(h["epoch"]) for h in histories] == [2, 1]
    assert stack.input_size == [8, 8]
    cnn = stack.to_cnn(10, hidden=16)
    for blk, layer in zip(cnn.features, stack.layers):
        for name, tensor in layer.encoder_blocks[0].state_dict().items():
            assert torch.equal(blk.state_dict()[name], tensor), name
    # the CNN's features are the stack's codes
    x = torch.from_numpy(X[:7])
    cnn.cpu().eval(), stack.cpu().eval()  # compare on one device (pre-training ran on a GPU if there is one)
    assert torch.allclose(cnn.encode(x), stack.encode(x).flatten(1), atol=1e-6)
    assert cnn(x).shape == (7, 10)
    # the copy is a copy: training the CNN leaves the stack alone
    before = stack.layers[0].encoder_blocks[0].conv.weight.detach().clone()
    aekit.fit_classifier(cnn, X, digit_images[1], epochs=1, batch_size=64, progress=False)
    assert torch.equal(stack.layers[0].encoder_blocks[0].conv.weight, before)
    assert not torch.equal(cnn.features[0].conv.weight.cpu(), before)


def test_random_baseline_has_the_same_topology_and_other_weights(digit_images):
    X, _ = digit_images
    aekit.seed_everything(0)
    stack = aekit.StackedConvAutoencoder(1, (4, 6))
    pretrain(stack, X, epochs=1, batch_size=64, progress=False)
    pre, rand = stack.to_cnn(10), stack.to_cnn(10, pretrained=False)
    shapes = lambda m: {k: tuple(v.shape) for k, v in m.state_dict().items()}  # noqa: E731
    assert shapes(pre) == shapes(rand)
    assert not torch.equal(pre.features[0].conv.weight, rand.features[0].conv.weight)


def test_higher_levels_train_on_the_pooled_maps_below(digit_images):
    X, _ = digit_images
    aekit.seed_everything(0)
    stack = aekit.StackedConvAutoencoder(1, (4, 6), block="masci")
    pretrain(stack, X, epochs=[1, 0], batch_size=64, progress=False)
    level1 = stack.layers[1]
    assert level1.config["in_channels"] == 4 and level1.loss_name == "mse"
    assert level1.output_activation == "tanh"  # it reconstructs tanh codes in [-1, 1]
    maps = aekit.encode(stack.layers[0], X)
    assert maps.shape == (300, 4, 4, 4) and np.abs(maps).max() <= 1


def test_pretrained_cnn_classifies_digits(digit_images):
    X, y = digit_images
    X_test, y_test = load_dataset("digits", split="test", flatten=False)
    aekit.seed_everything(0)
    stack = aekit.StackedConvAutoencoder(1, (8, 8))
    pretrain(stack, X, epochs=3, batch_size=32, lr=3e-3, seed=0, progress=False)
    cnn = stack.to_cnn(10, hidden=32)
    aekit.fit_classifier(cnn, X, y, epochs=15, batch_size=32, lr=3e-3, seed=0, progress=False)
    error = np.mean(aekit.predict(cnn, X_test) != y_test)
    assert error < 0.25


def test_save_load_stack_and_cnn(tmp_path, digit_images):
    X, _ = digit_images
    stack = aekit.StackedConvAutoencoder(1, (4,), block="modern", unpool="upsample")
    pretrain(stack, X, epochs=1, batch_size=64, progress=False)
    aekit.save(stack, tmp_path / "stack")
    again = aekit.load(tmp_path / "stack")
    assert again.input_size == [8, 8]
    np.testing.assert_allclose(aekit.encode(again, X), aekit.encode(stack, X), atol=1e-6)
    cnn = again.to_cnn(10)
    aekit.save(cnn, tmp_path / "cnn")
    np.testing.assert_allclose(
        aekit.predict_proba(aekit.load(tmp_path / "cnn"), X), aekit.predict_proba(cnn, X), atol=1e-6
    )


def test_errors():
    stack = aekit.StackedConvAutoencoder(1, (4, 4))
    with pytest.raises(ValueError, match="pretrain"):
        stack.to_cnn(10)
    with pytest.raises(ValueError, match="epochs"):
        pretrain(stack, np.zeros((2, 1, 8, 8), np.float32), epochs=[1])
    with pytest.raises(ValueError, match="n_classes"):
        stack.to_cnn(1, input_size=8)


def test_pretraining_ends_in_evaluation_mode_and_encoding_keeps_the_statistics(digit_images):
    X, _ = digit_images
    aekit.seed_everything(0)
    stack = aekit.StackedConvAutoencoder(1, (4, 4), block="modern", unpool="upsample")
    pretrain(stack, X, epochs=1, batch_size=64, seed=0, progress=False, device="cpu")
    assert not any(m.training for m in stack.modules())
    bn = stack.layers[0].encoder_blocks[0].bn
    running_mean = bn.running_mean.clone()
    codes = aekit.encode(stack, X[:50])
    with torch.no_grad():
        plain = stack.encode(torch.from_numpy(X[:50]))  # running statistics, not the batch's
    np.testing.assert_allclose(plain.numpy(), codes, atol=1e-6)
    assert torch.equal(bn.running_mean, running_mean)
    assert torch.equal(stack.to_cnn(10).features[0].bn.running_mean, running_mean)
