"""k-NN accuracy and trustworthiness on constructed examples with known values."""

import numpy as np
import pytest

from aekit.evaluation import knn_accuracy, map_metrics, pca_codes, trustworthiness


def brute_trustworthiness(X, Z, k):
    """T(k) = 1 − 2/(n k (2n − 3k − 1)) Σᵢ Σ_{j ∈ U_k(i)} (r(i, j) − k), written out by hand."""
    n = len(X)
    dx = ((X[:, None] - X[None]) ** 2).sum(-1)
    dz = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    total = 0
    for i in range(n):
        order_x = [j for j in np.argsort(dx[i], kind="stable") if j != i]
        rank = {j: r + 1 for r, j in enumerate(order_x)}
        nn_x = set(order_x[:k])
        nn_z = [j for j in np.argsort(dz[i], kind="stable") if j != i][:k]
        total += sum(rank[j] - k for j in nn_z if j not in nn_x)
    return 1 - 2 / (n * k * (2 * n - 3 * k - 1)) * total


def test_knn_separated_clusters_is_perfect_and_swapped_labels_are_all_wrong():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    y_tr = np.repeat([0, 1, 2], 20)
    Z_tr = centres[y_tr] + rng.normal(0, 0.5, (60, 2))
    y_te = np.array([0, 1, 2, 0])
    Z_te = centres[y_te] + rng.normal(0, 0.5, (4, 2))
    assert knn_accuracy(Z_tr, y_tr, Z_te, y_te, k=5) == 1.0
    assert knn_accuracy(Z_tr, y_tr, Z_te, (y_te + 1) % 3, k=5) == 0.0
    # one test point of four sits in the wrong cluster: exactly 3/4
    Z_te[3] = centres[1]
    assert knn_accuracy(Z_tr, y_tr, Z_te, y_te, k=5) == 0.75


def test_knn_majority_vote_of_k_neighbours():
    # on a line: 0,1,2 labelled a; 3,4 labelled b. A query at 2.6 has neighbours 2,3,4 (k=3) -> b, but with
    # k=5 the three a's win.
    Z_tr = np.arange(5.0)[:, None]
    y_tr = np.array(["a", "a", "a", "b", "b"])
    assert knn_accuracy(Z_tr, y_tr, [[2.6]], ["b"], k=3) == 1.0
    assert knn_accuracy(Z_tr, y_tr, [[2.6]], ["b"], k=5) == 0.0


def test_trustworthiness_of_an_isometry_is_one_and_matches_the_formula():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 5))
    Z = X[:, :2]
    assert trustworthiness(X, X[:, ::-1] * 3.0 + 1.0, k=5) == pytest.approx(1.0)
    expected = brute_trustworthiness(X, Z, 5)
    assert expected < 0.99
    assert trustworthiness(X, Z, k=5) == pytest.approx(expected, abs=1e-12)


def test_trustworthiness_hand_computed_line():
    # X on a line 0..7; the map swaps the two ends: Z = [7, 1, 2, ..., 6, 0] (tiny offsets break distance ties
    # so that a map's nearer end wins). With k = 1 the false map neighbours are: 0 -> 6 (input rank 6, penalty
    # 6 - 1 = 5), 7 -> 1 (5), 1 -> 7 (rank 7, penalty 6), 6 -> 0 (6): Σ = 22, T = 1 - 2/(8·1·(16-3-1))·22.
    X = np.arange(8.0)[:, None] + np.linspace(0, 0.01, 8)[:, None] ** 2
    Z = np.array([7.0, 1, 2, 3, 4, 5, 6, 0])[:, None] + np.linspace(0, 0.01, 8)[:, None] ** 2
    t = trustworthiness(X, Z, k=1, max_samples=None)
    assert t == pytest.approx(1 - 44 / 96)
    assert t == pytest.approx(brute_trustworthiness(X, Z, 1))


def test_trustworthiness_subsample_and_errors():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    t = trustworthiness(X, X[:, :2], k=5, max_samples=100)
    assert 0.5 < t < 1.0
    with pytest.raises(ValueError, match="samples"):
        trustworthiness(X, X[:10, :2])
    with pytest.raises(ValueError, match="k must be"):
        trustworthiness(X[:6], X[:6, :2], k=3)
    with pytest.raises(ValueError, match="NaN"):
        trustworthiness(X[:20], np.full((20, 2), np.nan))


def test_knn_errors_name_the_problem():
    Z = np.zeros((5, 2))
    with pytest.raises(ValueError, match="k must be"):
        knn_accuracy(Z, np.zeros(5), Z, np.zeros(5), k=6)
    with pytest.raises(ValueError, match="labels"):
        knn_accuracy(Z, np.zeros(4), Z, np.zeros(5))
    with pytest.raises(ValueError, match="components"):
        knn_accuracy(Z, np.zeros(5), np.zeros((5, 3)), np.zeros(5))
    assert knn_accuracy(Z, np.zeros(5), Z, np.zeros(5), k=np.int64(3)) == 1.0  # numpy integers are ints


def test_pca_codes_and_map_metrics_on_two_clusters():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 50)
    X = rng.normal(0, 0.1, (100, 10))
    X[y == 1, 0] += 5.0  # the classes differ along the first principal direction
    P_tr, P_te = pca_codes(X[::2], X[1::2])
    assert P_tr.shape == (50, 2) and P_te.shape == (50, 2)
    m = map_metrics(P_tr, y[::2], P_te, y[1::2], X[1::2], k=5)
    assert m["knn_accuracy"] == 1.0
    assert 0.0 < m["trustworthiness"] <= 1.0 and m["k"] == 5 and m["trustworthiness_samples"] == 50
