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


def test_confusion_matrix_and_classification_report_by_hand():
    from aekit.errors import DataError
    from aekit.metrics import classification_report, confusion_matrix

    y, pred = np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2])
    expected = [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    np.testing.assert_array_equal(confusion_matrix(y, pred, 3), expected)
    report = classification_report(y, pred, 3)
    assert report == {
        "n": 6,
        "error_rate": pytest.approx(2 / 6),
        "error_pct": pytest.approx(100 * 2 / 6),
        "confusion_matrix": expected,
    }
    with pytest.raises(DataError, match=r"the labels must be classes 0..2 of this 3-class model, found 5"):
        confusion_matrix([0, 5], [0, 1], 3, name="the labels")
    with pytest.raises(ValueError, match="2 labels but 3 predictions"):
        confusion_matrix([0, 1], [0, 1, 2], 3)


def test_reconstruction_report_gathers_the_figures():
    from aekit.metrics import reconstruction_report

    x, z = np.zeros((2, 4)), np.full((2, 4), 0.5)
    assert reconstruction_report(x, z) == {
        "n": 2,
        "sq_error_per_sample": pytest.approx(1.0),
        "mse": pytest.approx(0.25),
        "psnr_db": pytest.approx(10 * np.log10(4)),
    }
