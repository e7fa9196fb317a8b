"""The autoencoder-ensemble outlier detector: planted outliers, determinism, PyOD surface, tables."""

import numpy as np
import pytest
from scipy.io import savemat

from aekit.data.tables import check_table, load_table
from aekit.errors import DataError
from aekit.sklearn import AutoencoderOutlierDetector


def planted(n=400, d=12, n_out=20, seed=0):
    """Normal rows on a (fixed) 3-D linear manifold with noise; outliers off it (one far out in a tail)."""
    basis = np.random.default_rng(100 + d).normal(size=(3, d))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) @ basis + 0.1 * rng.normal(size=(n, d))
    X[:n_out] = rng.normal(size=(n_out, d)) * 2.0
    X[0, 0] = 50.0
    y = np.zeros(n, dtype=int)
    y[:n_out] = 1
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = planted()
    return X, y, AutoencoderOutlierDetector(contamination=0.05, random_state=0).fit(X)


def test_planted_outliers_rank_on_top(fitted):
    _X, y, det = fitted
    train = det.decision_scores_
    assert np.mean(train[y == 1][:, None] > train[y == 0][None, :]) > 0.98  # ROC-AUC on the training rows
    assert np.argmax(train) == 0  # the row far out in a tail scores highest
    X_new, y_new = planted(seed=1)
    scores = det.reconstruction_error(X_new)
    auc = np.mean(scores[y_new == 1][:, None] > scores[y_new == 0][None, :])
    assert auc > 0.97


def test_pyod_surface(fitted):
    X, _y, det = fitted
    n = len(X)
    assert det.decision_scores_.shape == (n,) and det.labels_.dtype.kind == "i"
    assert set(np.unique(det.labels_)) == {0, 1}
    assert abs(det.labels_.mean() - 0.05) <= 0.01
    np.testing.assert_array_equal(det.labels_, (det.decision_scores_ > det.threshold_).astype(int))
    np.testing.assert_allclose(det.reconstruction_error(X), det.decision_scores_)
    np.testing.assert_array_equal(det.predict(X) == -1, det.labels_ == 1)
    np.testing.assert_allclose(det.decision_function(X), det.threshold_ - det.decision_scores_)
    for method in ("linear", "unify"):
        proba = det.predict_proba(X, method=method)
        assert proba.shape == (n, 2) and proba.min() >= 0 and proba.max() <= 1
        np.testing.assert_allclose(proba.sum(1), 1)
        order = np.argsort(det.decision_scores_)
        assert np.all(np.diff(proba[order, 1]) >= 0)  # monotone in the score
    linear = det.predict_proba(X, method="linear")[:, 1]
    assert linear.min() == 0 and linear.max() == 1  # min-max over the training scores
    with pytest.raises(ValueError, match="method must be 'linear' or 'unify'"):
        det.predict_proba(X, method="softmax")
    conf = det.predict_confidence(X)
    assert conf.shape == (n,) and np.all((conf >= 0) & (conf <= 1))
    assert conf[np.argmax(det.decision_scores_)] > 0.99 and conf[np.argmin(det.decision_scores_)] > 0.99


def test_same_random_state_same_scores_twice():
    X, _ = planted(n=200)
    a = AutoencoderOutlierDetector(random_state=3).fit(X).decision_scores_
    b = AutoencoderOutlierDetector(random_state=3).fit(X).decision_scores_
    c = AutoencoderOutlierDetector(random_state=4).fit(X).decision_scores_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_estimators": 0}, "n_estimators must be an int >= 1"),
        ({"max_features": 1.5}, "max_features must be None or a float in"),
        ({"validation_fraction": 0.9}, "validation_fraction must be in"),
        ({"scale": "minmax"}, "scale must be 'robust' or None"),
        ({"hidden": ()}, "hidden must be"),
    ],
)
def test_bad_parameters_name_the_value(params, message):
    with pytest.raises(ValueError, match=message):
        AutoencoderOutlierDetector(**params).fit(np.random.default_rng(0).normal(size=(30, 3)))


def test_small_table_and_explicit_sizes():
    X, _y = planted(n=60, d=4, n_out=3)
    det = AutoencoderOutlierDetector(hidden=(6, 2), n_estimators=3, max_features=0.75, random_state=0).fit(X)
    assert det.decision_scores_.shape == (60,)
    assert det.ensemble_.masks_.sum(1).tolist() == [3, 3, 3]


def test_load_table_reads_mat_csv_npy(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    savemat(tmp_path / "t.mat", {"X": X, "y": np.array([[0], [1], [0], [0]])})
    got, y = load_table(tmp_path / "t.mat")
    np.testing.assert_array_equal(got, X)
    assert y.tolist() == [0, 1, 0, 0]
    (tmp_path / "t.csv").write_text("a,b,c\n" + "\n".join(",".join(map(str, r)) for r in X) + "\n")
    got, y = load_table(tmp_path / "t.csv")
    np.testing.assert_array_equal(got, X)
    assert y is None
    np.save(tmp_path / "t.npy", X)
    np.testing.assert_array_equal(load_table(tmp_path / "t.npy")[0], X)


def test_load_table_refuses_what_it_cannot_read(tmp_path):
    savemat(tmp_path / "nox.mat", {"A": np.ones((2, 2))})
    with pytest.raises(DataError, match="no data array"):
        load_table(tmp_path / "nox.mat")
    savemat(tmp_path / "text.mat", {"X": "hello"})
    with pytest.raises(DataError, match="MATLAB char"):
        load_table(tmp_path / "text.mat")
    savemat(tmp_path / "bady.mat", {"X": np.ones((3, 2)), "y": np.ones(2)})
    with pytest.raises(DataError, match="2 labels for 3 rows"):
        load_table(tmp_path / "bady.mat")
    (tmp_path / "t.xlsx").write_bytes(b"x")
    with pytest.raises(DataError, match="unsupported table file"):
        load_table(tmp_path / "t.xlsx")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(DataError, match="cannot read"):
        load_table(tmp_path / "junk.mat")


def test_load_table_bounds_sizes_before_reading(tmp_path, monkeypatch):
    import aekit.data.tables as tables

    savemat(tmp_path / "t.mat", {"X": np.ones((50, 4))})
    monkeypatch.setattr(tables, "MAX_CELLS", 100)
    with pytest.raises(DataError, match="up to 100 cells"):
        load_table(tmp_path / "t.mat")
    monkeypatch.setattr(tables, "MAX_BYTES", 10)
    with pytest.raises(DataError, match="bytes"):
        load_table(tmp_path / "t.mat")


def test_check_table():
    with pytest.raises(DataError, match="NaN or infinite"):
        check_table(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(DataError, match="constant column"):
        check_table(np.array([[1.0, 5.0], [2.0, 5.0]]))
    with pytest.raises(DataError, match="at least 10"):
        check_table(np.ones((3, 2)), min_rows=10)


def test_readme_outlier_example_runs():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Outlier detection", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert sorted(namespace["top"]) == list(range(10))
    assert namespace["det"].labels_.sum() == 10
    assert namespace["proba"].shape == (500,) and namespace["confidence"].shape == (500,)
