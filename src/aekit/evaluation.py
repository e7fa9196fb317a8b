"""Measuring a low-dimensional map: k-NN accuracy and trustworthiness, for codes and for PCA.

The notes end with "Visualize Mnist Dataset using CAE (represent each digit with
2 values): similar digit shapes have similar representations"; Hinton &
Salakhutdinov (Science 2006, Fig. 3) show a 784-1000-500-250-2 autoencoder's
2-D codes of MNIST beside the first two principal components. Two numbers make
"similar digits are close" measurable:

* k-NN accuracy: a k-nearest-neighbour classifier (k = 5) fitted on the
  training codes and scored on the test codes (fraction correct).
* trustworthiness (Venna & Kaski 2001, ``sklearn.manifold.trustworthiness``):

      T(k) = 1 − 2 / (n k (2n − 3k − 1)) · Σᵢ Σ_{j ∈ U_k(i)} (r(i, j) − k)

  where U_k(i) are the points among the k nearest neighbours of i in the map
  but not in the input space and r(i, j) is j's rank among i's input-space
  neighbours: 1 when the map invents no neighbours.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness as _sk_trustworthiness
from sklearn.neighbors import KNeighborsClassifier

__all__ = ["knn_accuracy", "trustworthiness", "pca_codes", "map_metrics"]


def _check_codes(Z, name: str) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or len(Z) == 0:
        raise ValueError(f"{name} must be a non-empty (n_samples, n_components) array, got shape {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return Z


def _labels(y, n: int, name: str) -> np.ndarray:
    y = np.asarray(y).ravel()
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels for {n} samples")
    return y


def knn_accuracy(Z_train, y_train, Z_test, y_test, *, k: int = 5) -> float:
    """Accuracy on ``(Z_test, y_test)`` of a k-nearest-neighbour classifier fitted on ``(Z_train, y_train)``.

    Parameters
    ----------
    Z_train, Z_test : array (n, m)
        Codes (any m; 2 for a map).
    y_train, y_test : array (n,)
        Class labels.
    k : int
        Neighbours voting (uniform weights, Euclidean distance).
    """
    Z_train, Z_test = _check_codes(Z_train, "Z_train"), _check_codes(Z_test, "Z_test")
    y_train, y_test = _labels(y_train, len(Z_train), "y_train"), _labels(y_test, len(Z_test), "y_test")
    if Z_train.shape[1] != Z_test.shape[1]:
        raise ValueError(f"Z_train has {Z_train.shape[1]} components but Z_test has {Z_test.shape[1]}")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= len(Z_train):
        raise ValueError(f"k must be an int in [1, {len(Z_train)}] (the training size), got {k!r}")
    clf = KNeighborsClassifier(n_neighbors=k).fit(Z_train, y_train)
    return float(np.mean(clf.predict(Z_test) == y_test))


def trustworthiness(X, Z, *, k: int = 5, max_samples: int | None = 3000, seed: int = 0) -> float:
    """Trustworthiness T(k) of the map ``Z`` of ``X`` (1 = no false neighbours in the map).

    Its cost is O(n²) memory and time, so at most ``max_samples`` rows (a seeded random
    subset; None for all) are used.
    """
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    Z = _check_codes(Z, "Z")
    if len(X) != len(Z):
        raise ValueError(f"X has {len(X)} samples but Z has {len(Z)}")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k < len(X) / 2:
        raise ValueError(f"k must be an int in [1, n_samples / 2) = [1, {len(X) / 2:g}), got {k!r}")
    if max_samples is not None and len(X) > max_samples:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), size=max_samples, replace=False))
        X, Z = X[keep], Z[keep]
    return float(_sk_trustworthiness(X, Z, n_neighbors=k))


def pca_codes(X_train, X_test, *, n_components: int = 2):
    """``(Z_train, Z_test)``: projections on the first ``n_components`` principal components of X_train."""
    X_train = np.asarray(X_train, dtype=np.float32).reshape(len(X_train), -1)
    X_test = np.asarray(X_test, dtype=np.float32).reshape(len(X_test), -1)
    pca = PCA(n_components=n_components, svd_solver="randomized", random_state=0).fit(X_train)
    return pca.transform(X_train), pca.transform(X_test)


def map_metrics(
    Z_train, y_train, Z_test, y_test, X_test, *, k: int = 5, trust_samples: int | None = 3000
) -> dict:
    """``{"knn_accuracy", "trustworthiness", "k", "trustworthiness_samples"}`` of one map."""
    n_trust = len(Z_test) if trust_samples is None else min(trust_samples, len(Z_test))
    return {
        "knn_accuracy": knn_accuracy(Z_train, y_train, Z_test, y_test, k=k),
        "trustworthiness": trustworthiness(X_test, Z_test, k=k, max_samples=trust_samples),
        "k": k,
        "trustworthiness_samples": n_trust,
    }
