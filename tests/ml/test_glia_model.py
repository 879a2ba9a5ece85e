"""Tests for syconn.ml.glia: fit, predict, file round trip, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.errors import InputError, ModelError
from syconn.ml.cardfile import write_card_file
from syconn.ml.glia import GLIA_CLASSES, GliaModel, fit_glia_forest, load_glia_model
from syconn.proc.glia import FEATURE_NAMES


def _data(seed=0, n=60):
    """Neurons and glia told apart by their brightness (every ``*raw*_z`` feature)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (2 * n, len(FEATURE_NAMES)))
    for k, name in enumerate(FEATURE_NAMES):
        if name.endswith("_z"):
            X[:, k] = np.r_[rng.normal(-1, 0.2, n), rng.normal(1, 0.2, n)]
    return X, np.repeat([0, 1], n)


def test_fit_predict_save_load(tmp_path):
    X, y = _data()
    m = fit_glia_forest(X, y, n_trees=10, threshold=0.4)
    Xt, yt = _data(seed=1)
    p = m.glia_proba(Xt)
    assert p.shape == (len(yt),) and ((p >= m.threshold) == yt).mean() > 0.95
    back = load_glia_model(m.save(tmp_path / "g.npz"))
    assert back.digest == m.digest and back.threshold == 0.4
    assert back.card["classes"] == list(GLIA_CLASSES)
    np.testing.assert_array_equal(back.glia_proba(Xt), p)
    assert fit_glia_forest(X, y, n_trees=10, threshold=0.4).digest == m.digest
    # the threshold decides, so it is part of the digest
    assert GliaModel(forest=m.forest, card={**m.card, "threshold": 0.5}).digest != m.digest


def test_fit_needs_both_classes_and_the_features():
    X, y = _data()
    with pytest.raises(InputError, match="0 glia and 60 neuron; both are needed"):
        fit_glia_forest(X[y == 0], y[y == 0], n_trees=3)
    with pytest.raises(InputError, match="glia features: shape"):
        fit_glia_forest(X, y, n_trees=3).glia_proba(X[:, :3])


def test_bad_files_are_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"no model")
    with pytest.raises(ModelError, match="bad.npz: not a readable model file"):
        load_glia_model(bad)
    with pytest.raises(ModelError, match="missing.npz: no such model file"):
        load_glia_model(tmp_path / "missing.npz")
    X, y = _data()
    m = fit_glia_forest(X, y, n_trees=3)
    card = dict(m.card, format="syconn-glia-model", format_version=1,
                classes=list(GLIA_CLASSES))
    write_card_file(tmp_path / "f.npz", dict(card, features=["x"]), m.forest.arrays())
    with pytest.raises(ModelError, match="f.npz: its features"):
        load_glia_model(tmp_path / "f.npz")
    write_card_file(tmp_path / "t.npz", dict(card, threshold=2), m.forest.arrays())
    with pytest.raises(ModelError, match=r"t.npz: corrupt model \(threshold 2"):
        load_glia_model(tmp_path / "t.npz")
    write_card_file(tmp_path / "c.npz", dict(card, classes=["a", "b"]), m.forest.arrays())
    with pytest.raises(ModelError, match="c.npz: corrupt model"):
        load_glia_model(tmp_path / "c.npz")
