"""scikit-learn estimators: scikit-learn's own checks, Pipeline, clone, GridSearchCV, outliers."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit.sklearn import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    StackedDenoisingClassifier,
    StackedDenoisingTransformer,
)

# every estimator with its DEFAULT parameters, as a user gets it: scikit-learn's checks fit each one dozens
# of times on ~100-300 samples (check_classifiers_train wants a training accuracy above 0.83 on its blobs)
CHECKED = [
    AutoencoderTransformer(),
    StackedDenoisingTransformer(),
    StackedDenoisingClassifier(),
    AutoencoderOutlierDetector(),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_pipeline_with_linear_svc(digits):
    X, y, X_test, y_test = digits
    pipe = Pipeline(
        [
            (
                "sda",
                StackedDenoisingTransformer(
                    hidden=(64, 64), pretrain_epochs=5, lr=3e-3, batch_size=32, random_state=0
                ),
            ),
            ("svm", LinearSVC(C=1.0)),
        ]
    )
    pipe.fit(X, y)
    assert pipe.named_steps["sda"].transform(X_test).shape == (len(X_test), 64)
    assert pipe.score(X_test, y_test) > 0.9


def test_transformer_layers_fit_transform_and_names(digits):
    X = digits[0][:200]
    sdt = StackedDenoisingTransformer(hidden=(12, 6), layers=(1, 2), pretrain_epochs=1, random_state=0)
    Z = sdt.fit_transform(X)
    assert Z.shape == (200, 18)
    np.testing.assert_allclose(Z, sdt.transform(X))
    assert list(sdt.get_feature_names_out()[:2]) == [
        "stackeddenoisingtransformer0",
        "stackeddenoisingtransformer1",
    ]
    with pytest.raises(ValueError, match="layers must be"):
        StackedDenoisingTransformer(hidden=(12, 6), layers=3).fit(X)


def test_autoencoder_transformer_inverse_and_score(digits):
    X = digits[0][:300].astype(np.float64)
    ae = AutoencoderTransformer(hidden=(32,), epochs=30, lr=3e-3, random_state=0).fit(X)
    codes = ae.transform(X)
    assert codes.shape == (300, 32) and codes.dtype == np.float64
    recon = ae.inverse_transform(codes)
    assert recon.shape == X.shape
    assert np.mean((recon - X) ** 2) < np.mean((X.mean(0) - X) ** 2)  # better than the mean image
    assert ae.score(X) > ae.score(np.random.default_rng(0).random(X.shape))
    with pytest.raises(ValueError, match="codes of shape"):
        ae.inverse_transform(np.zeros((2, 5)))


def test_clone_and_grid_search(digits):
    X, y = digits[0][:400], digits[1][:400]
    est = StackedDenoisingClassifier(hidden=(16,), pretrain_epochs=1, epochs=5, random_state=0)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "model_")
    grid = GridSearchCV(est, {"hidden": [(8,), (32,)]}, cv=2).fit(X, y)
    assert grid.best_params_["hidden"] in [(8,), (32,)]
    assert 0 <= grid.best_score_ <= 1


def test_classifier_with_string_labels_and_early_stopping(digits):
    X, y, X_test, y_test = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = StackedDenoisingClassifier(
        hidden=(64,),
        pretrain_epochs=3,
        epochs=30,
        lr=3e-3,
        batch_size=32,
        validation_fraction=0.2,
        patience=5,
        random_state=0,
    ).fit(X, names[y])
    assert set(clf.classes_) == set(names)
    assert clf.score(X_test, names[y_test]) > 0.9
    assert "val_error" in clf.history_
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(1), 1)
    with pytest.raises(ValueError, match="validation_fraction"):
        StackedDenoisingClassifier(patience=3).fit(X[:20], y[:20])


def test_outlier_detector_ranks_corrupted_digits_above_clean(digits):
    X, _, X_test, _ = digits
    det = AutoencoderOutlierDetector(
        hidden=(16,), epochs=30, lr=3e-3, contamination=0.05, random_state=0
    ).fit(X)
    rng = np.random.default_rng(0)
    noisy = np.clip(X_test + rng.normal(0, 0.5, X_test.shape), 0, 1)
    clean_err, noisy_err = det.reconstruction_error(X_test), det.reconstruction_error(noisy)
    auc = np.mean(noisy_err[:, None] > clean_err[None, :])  # P(score(noisy) > score(clean))
    assert auc > 0.95
    assert np.mean(det.predict(noisy) == -1) > 0.8
    assert np.mean(det.predict(X_test) == 1) > 0.8
    np.testing.assert_allclose(det.decision_function(X_test), det.threshold_ - clean_err)
    with pytest.raises(ValueError, match="contamination"):
        AutoencoderOutlierDetector(contamination=0.7).fit(X)


def test_refit_resets_history_and_numpy_scalars_are_accepted(digits):
    X = digits[0][:120]
    sdt = StackedDenoisingTransformer(hidden=(6,), pretrain_epochs=1, finetune_epochs=1, random_state=0).fit(
        X
    )
    assert sdt.finetune_history_ is not None
    sdt.set_params(finetune_epochs=0).fit(X)
    assert sdt.finetune_history_ is None  # not the previous fit's history
    det = AutoencoderOutlierDetector(
        hidden=(4,), epochs=1, contamination=np.float32(0.1), random_state=0
    ).fit(X)
    assert np.isclose(np.mean(det.predict(X) == -1), 0.1, atol=0.02)
    with pytest.raises(ValueError, match="validation_fraction=0.9 of 2 samples leaves none to train on"):
        StackedDenoisingClassifier(hidden=(4,), pretrain_epochs=1, epochs=1, validation_fraction=0.9).fit(
            X[:2], [0, 1]
        )
