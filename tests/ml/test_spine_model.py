"""Tests for syconn.ml.spines: fit, predict, file round trip, one-line errors, the shipped
model's card."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.errors import InputError, ModelError
from syconn.ml.cardfile import write_card_file
from syconn.ml.spines import fit_spine_forest, load_spine_model
from syconn.proc.spines import FEATURE_NAMES, SPINE_CLASSES


def _data(seed=0, n=50):
    """Four kinds of voxel told apart by their inscribed radii (every thick_* feature)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (4 * n, len(FEATURE_NAMES)))
    for name in [f for f in FEATURE_NAMES if f.startswith("thick_")]:
        k = FEATURE_NAMES.index(name)
        for c, r in enumerate((50, 200, 400, 900)):
            X[c * n:(c + 1) * n, k] = rng.normal(r, 10, n)
    return X, np.repeat(np.arange(4), n)


def test_fit_predict_save_load(tmp_path):
    X, y = _data()
    m = fit_spine_forest(X, y, n_trees=10, min_samples_leaf=2)
    Xt, yt = _data(seed=1)
    p = m.proba(Xt)
    assert p.shape == (len(yt), 4) and (p.argmax(1) == yt).mean() > 0.95
    np.testing.assert_allclose(p.sum(1), 1.0)
    back = load_spine_model(m.save(tmp_path / "sp.npz"))
    assert back.digest == m.digest and back.card["classes"] == list(SPINE_CLASSES)
    np.testing.assert_array_equal(back.proba(Xt), p)
    assert fit_spine_forest(X, y, n_trees=10, min_samples_leaf=2).digest == m.digest


def test_fit_needs_every_class_and_the_features():
    X, y = _data()
    with pytest.raises(InputError, match=r"no voxel of class\(es\) \['other'\]"):
        fit_spine_forest(X[y < 3], y[y < 3], n_trees=3)
    with pytest.raises(InputError, match="shape"):
        fit_spine_forest(X, y, n_trees=3).proba(X[:, :3])


def test_bad_files_are_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"no model")
    with pytest.raises(ModelError, match="bad.npz: not a readable model file"):
        load_spine_model(bad)
    with pytest.raises(ModelError, match="missing.npz: no such model file"):
        load_spine_model(tmp_path / "missing.npz")
    X, y = _data()
    m = fit_spine_forest(X, y, n_trees=3)
    card = dict(m.card, format="syconn-spine-model", format_version=1,
                classes=list(SPINE_CLASSES))
    write_card_file(tmp_path / "f.npz", dict(card, features=["x"]), m.forest.arrays())
    with pytest.raises(ModelError, match="f.npz: its features"):
        load_spine_model(tmp_path / "f.npz")
    write_card_file(tmp_path / "c.npz", dict(card, classes=["a", "b"]), m.forest.arrays())
    with pytest.raises(ModelError, match="c.npz: corrupt model"):
        load_spine_model(tmp_path / "c.npz")


def test_the_shipped_model_loads_with_its_card():
    m = load_spine_model()
    card = m.card
    assert card["radius_nm"] in (100.0, 150.0, 250.0)
    assert set(card["training_seeds"]).isdisjoint(card["validation_seeds"])
    assert m.proba(np.zeros((2, len(FEATURE_NAMES)))).shape == (2, 4)
