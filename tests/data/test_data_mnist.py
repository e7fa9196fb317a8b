import numpy as np
import pytest

from aekit.data import load_idx_dataset, load_idx_pair, load_mnist, save_idx
from aekit.errors import DataError


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dotted", [False, True])
@pytest.mark.parametrize("split, prefix, n", [("train", "train", 20), ("test", "t10k", 10)])
def test_load_mnist_from_dir(tmp_path, fake_mnist, gz, dotted, split, prefix, n):
    written = fake_mnist(tmp_path / "mnist", gz=gz, dotted=dotted)
    images, labels = written[prefix]
    X, y = load_mnist(tmp_path / "mnist", split)
    assert X.shape == (n, 784) and X.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert X.min() >= 0.0 and X.max() <= 1.0
    np.testing.assert_allclose(X * 255, images.reshape(n, -1), atol=1e-4)
    np.testing.assert_array_equal(y, labels)


def test_load_mnist_not_flat(tmp_path, fake_mnist):
    images, _ = fake_mnist(tmp_path)["train"]
    X, _ = load_mnist(tmp_path, flatten=False)
    assert X.shape == (20, 1, 28, 28) and X.dtype == np.float32
    assert X.flags.c_contiguous
    np.testing.assert_allclose(X[:, 0] * 255, images, atol=1e-4)


def test_search_order(monkeypatch, no_data_env, fake_mnist):
    data = no_data_env / "aekit-data"
    fake_mnist(data, n_train=5)  # $AEKIT_DATA itself
    fake_mnist(data / "mnist", n_train=7)  # $AEKIT_DATA/mnist wins
    assert load_mnist()[0].shape == (7, 784)
    (data / "mnist" / "train-images-idx3-ubyte.gz").unlink()
    assert load_mnist()[0].shape == (5, 784)
    monkeypatch.delenv("AEKIT_DATA")
    fake_mnist(no_data_env / "home" / ".cache" / "aekit" / "mnist", n_train=3)
    assert load_mnist()[0].shape == (3, 784)


def test_missing_files_message(no_data_env):
    with pytest.raises(DataError) as info:
        load_mnist()
    message = str(info.value)
    data = no_data_env / "aekit-data"
    for place in (data / "mnist", data, no_data_env / "home" / ".cache" / "aekit" / "mnist"):
        assert str(place) in message
    assert "train-images-idx3-ubyte" in message
    assert "download=True" in message and "root=" in message


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="not found; looked in:\n  .*nowhere"):
        load_mnist(tmp_path / "nowhere", "test")


def test_bad_split(tmp_path):
    with pytest.raises(DataError, match="split must be 'train' or 'test', got 'valid'"):
        load_mnist(tmp_path, "valid")


def test_count_mismatch(tmp_path, fake_mnist):
    fake_mnist(tmp_path)
    save_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(19, dtype=np.uint8))
    with pytest.raises(DataError, match="20 images .* but 19 labels"):
        load_mnist(tmp_path)


def test_wrong_image_size(tmp_path):
    save_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 8, 8), dtype=np.uint8))
    save_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(DataError, match="must be 28x28, got 8x8"):
        load_mnist(tmp_path)
    X, _ = load_idx_dataset(tmp_path, "train")  # the generic loader accepts any size
    assert X.shape == (3, 64)


def test_load_idx_pair_other_names(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    save_idx(tmp_path / "emnist-letters-train-images-idx3-ubyte.gz", images)
    save_idx(tmp_path / "emnist-letters-train-labels-idx1-ubyte.gz", np.array([1, 26], np.uint8))
    X, y = load_idx_pair(
        tmp_path / "emnist-letters-train-images-idx3-ubyte.gz",
        tmp_path / "emnist-letters-train-labels-idx1-ubyte.gz",
        flatten=False,
    )
    assert X.shape == (2, 1, 3, 4) and y.tolist() == [1, 26]


@pytest.mark.parametrize(
    "images, labels, match",
    [
        (np.zeros((2, 3), np.uint8), np.zeros(2, np.uint8), "uint8 images of shape"),
        (np.zeros((2, 3, 3), np.float32), np.zeros(2, np.uint8), "got float32"),
        (np.zeros((2, 3, 3), np.uint8), np.zeros(2, np.float64), "integer labels"),
        (np.zeros((2, 3, 3), np.uint8), np.zeros((2, 1), np.uint8), "integer labels"),
    ],
)
def test_load_idx_pair_rejects(tmp_path, images, labels, match):
    save_idx(tmp_path / "i.idx", images)
    save_idx(tmp_path / "l.idx", labels)
    with pytest.raises(DataError, match=match):
        load_idx_pair(tmp_path / "i.idx", tmp_path / "l.idx")


def test_load_idx_dataset_missing(tmp_path):
    with pytest.raises(DataError, match="expected t10k-images-idx3-ubyte and t10k-labels"):
        load_idx_dataset(tmp_path, "test")
