import numpy as np
import pytest

from aekit.data import check_array, check_labels
from aekit.errors import DataError


class FakeTensor:
    """Duck-typed stand-in for a torch tensor (aekit.data must not need torch)."""

    def __init__(self, array):
        self.array = array

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.array


@pytest.mark.parametrize(
    "X",
    [
        [[0, 1], [2, 3]],
        np.arange(4, dtype=np.int64).reshape(2, 2),
        np.arange(8, dtype=np.float64).reshape(2, 4)[:, ::2],  # not contiguous
        FakeTensor(np.arange(4, dtype=np.float32).reshape(2, 2)),
    ],
)
def test_accepts_and_converts(X):
    out = check_array(X, ndim=2)
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape == (2, 2)


def test_torch_tensor():
    torch = pytest.importorskip("torch")
    out = check_array(torch.ones(3, 2, requires_grad=True), ndim=2, unit_interval=True)
    assert out.dtype == np.float32 and out.shape == (3, 2)


@pytest.mark.parametrize(
    "X, kwargs, match",
    [
        (np.array([["a", "b"]]), {}, "X must be numeric .* got dtype <U1"),
        (np.array([[1, None]], dtype=object), {}, "got dtype object"),
        (np.zeros(3), {"ndim": 2}, r"X must be 2-D \(n_samples, n_features\), got shape \(3,\)"),
        (np.zeros((2, 3)), {"ndim": (1, 4)}, r"1-D \(n_samples,\) or 4-D .* got shape \(2, 3\)"),
        (np.float32(1), {}, "got a scalar"),
        (np.zeros((0, 3)), {}, r"at least 1 sample\(s\), got shape \(0, 3\)"),
        (np.zeros((2, 3)), {"min_samples": 3}, "at least 3 sample"),
        (np.zeros((2, 0)), {}, "X is empty"),
        ([[1, 2], [3]], {}, "cannot be converted to an array"),
        (np.array([[0, np.nan], [np.inf, 1]]), {}, r"2 non-finite value\(s\).* index \(0, 1\)"),
        (np.array([[0.0, 1e300]]), {}, "too large for float32"),
        (np.array([[0, 255]]), {"unit_interval": True}, r"\[0, 1\].*min=0, max=255.*255"),
        (np.array([[-0.5, 0.5]]), {"unit_interval": True}, "min=-0.5, max=0.5.*MinMaxScaler"),
    ],
)
def test_rejects(X, kwargs, match):
    with pytest.raises(DataError, match=match):
        check_array(X, **kwargs)


def test_unit_interval_message_names_loss_and_name():
    with pytest.raises(DataError, match="images values .*sigmoid output .*cross-entropy"):
        check_array(np.full((1, 2), 2.0), name="images", unit_interval=True)


def test_data_error_is_value_error():
    with pytest.raises(ValueError):
        check_array([["x"]])


def test_check_labels():
    assert check_labels([0, 1, 2], 3).dtype == np.int64
    assert check_labels(np.array([1.0, 2.0]), 2).tolist() == [1, 2]
    assert check_labels(FakeTensor(np.array([3, 4])), 2).tolist() == [3, 4]


@pytest.mark.parametrize(
    "y, n, match",
    [
        ([0, 1], 3, "y has 2 labels, expected 3"),
        ([[0, 1]], 2, r"1-D \(n_samples,\), got shape \(1, 2\)"),
        (["a", "b"], 2, "integer labels, got dtype <U1"),
        ([0.5, 1.0], 2, "whole-number labels, found 0.5 at index 0"),
        ([1.0, np.nan], 2, "found nan at index 1"),
    ],
)
def test_check_labels_rejects(y, n, match):
    with pytest.raises(DataError, match=match):
        check_labels(y, n)


def test_aekit_data_does_not_import_torch():
    import subprocess
    import sys
    from pathlib import Path

    import aekit.data

    code = (
        "import sys, types\n"
        "pkg = types.ModuleType('aekit'); pkg.__path__ = [sys.argv[1]]\n"
        "sys.modules['aekit'] = pkg; sys.modules['torch'] = None\n"  # importing torch fails
        "import aekit.data\n"
    )
    src = str(Path(aekit.data.__file__).parents[1])
    subprocess.run([sys.executable, "-c", code, src], check=True, capture_output=True)
