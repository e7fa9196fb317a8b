"""holdout_split: a seeded permutation, the held-out part at its end."""

import numpy as np
import pytest

from aekit.data import holdout_split


def test_holdout_split_partitions_the_samples_the_same_way_for_a_seed():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    X_kept, y_kept, X_held, y_held = holdout_split(X, y, 0.3, seed=1)
    assert len(X_kept) == 7 and len(X_held) == 3
    assert sorted(np.concatenate([y_kept, y_held])) == list(range(10))
    np.testing.assert_array_equal(X_held[:, 0] // 2, y_held)  # rows keep their labels
    again = holdout_split(X, y, 0.3, seed=1)
    np.testing.assert_array_equal(again[2], X_held)
    assert not np.array_equal(holdout_split(X, y, 0.3, seed=2)[3], y_held)


def test_holdout_split_with_nothing_held_out_or_no_labels():
    X = np.zeros((10, 2))
    assert holdout_split(X, None, 0.0, seed=0)[1:] == (None, None, None)
    assert holdout_split(X, None, 0.01, seed=0)[2] is None  # round(0.1) = 0 samples
    kept, y_kept, held, y_held = holdout_split(X, None, 0.5, seed=0)
    assert len(kept) == len(held) == 5 and y_kept is None and y_held is None
    with pytest.raises(ValueError, match=r"--val-fraction must be in \[0, 1\), got 1.0"):
        holdout_split(X, None, 1.0, seed=0, name="--val-fraction")
