import numpy as np
import pytest

from aekit import metrics


def test_squared_error_mse_psnr_by_hand():
    x = np.zeros((2, 4))
    z = np.array([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0]])
    assert metrics.squared_error_per_sample(x, z).tolist() == [1.0, 0.5]
    assert metrics.mse(x, z) == pytest.approx(1.5 / 8)
    per_image = metrics.psnr(x, z, reduction="none")
    assert per_image == pytest.approx([10 * np.log10(4), 10 * np.log10(8)])
    assert metrics.psnr(x, z) == pytest.approx(per_image.mean())


def test_bce_by_hand():
    x = np.array([[1.0, 0.0]])
    z = np.array([[0.8, 0.3]])
    assert metrics.bce(x, z) == pytest.approx(-np.log(0.8) - np.log(0.7))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.mse(np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.mark.parametrize("fn", [metrics.mse, metrics.bce, metrics.psnr, metrics.squared_error_per_sample])
@pytest.mark.parametrize("shape", [(0,), (0, 4), (3, 0)])
def test_empty_input_is_an_error_not_nan(fn, shape):
    with pytest.raises(ValueError, match="nothing to compare"):
        fn(np.zeros(shape), np.zeros(shape))
