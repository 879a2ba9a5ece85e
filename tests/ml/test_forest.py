"""Tests for syconn.ml.forest: trees as arrays give scikit-learn's probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from syconn.errors import InputError
from syconn.ml.forest import Forest, forest_from_sklearn, forest_proba


def test_one_stump_by_hand():
    # one tree: x0 <= 0.5 -> leaf P = 0.25, else leaf P = 1.0
    f = Forest.from_arrays({"left": [1, -1, -1], "right": [2, -1, -1], "feature": [0, 0, 0],
                            "threshold": [0.5, 0, 0], "value": [0.5, 0.25, 1.0],
                            "roots": [0]}, n_features=1)
    assert forest_proba(f, [[0.0], [0.5], [0.51], [7.0]]).tolist() == [0.25, 0.25, 1.0, 1.0]
    # two trees average: the second says 0 everywhere
    f2 = Forest.from_arrays({"left": [1, -1, -1, -1], "right": [2, -1, -1, -1],
                             "feature": [0, 0, 0, 0], "threshold": [0.5, 0, 0, 0],
                             "value": [0.5, 0.25, 1.0, 0.0], "roots": [0, 3]}, n_features=1)
    assert forest_proba(f2, [[0.0], [1.0]]).tolist() == [0.125, 0.5]


def test_same_as_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + 0.5 * X[:, 3] ** 2 + rng.normal(scale=0.5, size=400) > 0.5).astype(int)
    rf = RandomForestClassifier(n_estimators=25, min_samples_leaf=2, random_state=3).fit(X, y)
    f = forest_from_sklearn(rf)
    Xt = rng.normal(size=(300, 5)).astype(np.float64)
    np.testing.assert_allclose(forest_proba(f, Xt), rf.predict_proba(Xt)[:, 1], rtol=0,
                               atol=1e-12)
    assert f.n_trees == 25 and f.n_nodes == sum(e.tree_.node_count for e in rf.estimators_)


def test_bad_input_and_bad_arrays():
    f = Forest.from_arrays({"left": [-1], "right": [-1], "feature": [0], "threshold": [0],
                            "value": [1.0], "roots": [0]}, n_features=2)
    with pytest.raises(InputError, match=r"shape \(2, 3\), expected \(n, 2\)"):
        forest_proba(f, np.zeros((2, 3)))
    with pytest.raises(InputError, match="NaN"):
        forest_proba(f, [[np.nan, 0.0]])
    # a child pointing back up (a cycle) or out of range is refused
    for left in ([0, -1, -1], [1, -1, 5]):
        with pytest.raises(InputError, match="do not form trees"):
            Forest.from_arrays({"left": left, "right": [2, -1, -1], "feature": [0, 0, 0],
                                "threshold": [0, 0, 0], "value": [0, 0, 0], "roots": [0]},
                               n_features=1)
    with pytest.raises(InputError, match="two-class"):
        forest_from_sklearn(RandomForestClassifier(n_estimators=2).fit(
            np.arange(9.0).reshape(-1, 1), np.arange(9) % 3))


def test_multiclass_same_as_sklearn_and_by_hand():
    # one stump of three classes: x0 <= 0.5 -> (0.5, 0.5, 0), else (0, 0, 1)
    f = Forest.from_arrays({"left": [1, -1, -1], "right": [2, -1, -1], "feature": [0, 0, 0],
                            "threshold": [0.5, 0, 0],
                            "value": [[0.25, 0.25, 0.5], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]],
                            "roots": [0]}, n_features=1)
    assert forest_proba(f, [[0.0], [2.0]]).tolist() == [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    y = np.digitize(X[:, 0] + 0.3 * X[:, 2], [-0.5, 0.5])      # three classes
    rf = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    Xt = rng.normal(size=(200, 4))
    np.testing.assert_allclose(forest_proba(forest_from_sklearn(rf, multiclass=True), Xt),
                               rf.predict_proba(Xt), rtol=0, atol=1e-12)
