"""Tests for syconn.ml.celltypes: fit, predict, certainty, file round trip, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.errors import InputError, ModelError
from syconn.ml.cardfile import write_card_file
from syconn.ml.celltypes import fit_celltype_forest, load_celltype_model
from syconn.proc.celltypes import FEATURE_NAMES


def _data(seed=0, n=40):
    """Two separable kinds of cell: thick (dendrite_radius_nm ~ 400) and thin (~ 80)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (2 * n, len(FEATURE_NAMES)))
    k = FEATURE_NAMES.index("dendrite_radius_nm")
    X[:n, k] = rng.normal(400, 20, n)
    X[n:, k] = rng.normal(80, 10, n)
    return X, np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)]


def test_fit_predict_save_load(tmp_path):
    X, y = _data()
    m = fit_celltype_forest(X, y, ["pyramidal", "basket"], n_trees=20, card={"min_cable_um": 5})
    Xt, yt = _data(seed=1)
    cls, p, cert = m.predict(Xt)
    assert (cls == yt).mean() > 0.95 and p.shape == (len(yt), 2)
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert ((cert >= 0) & (cert <= 1)).all()
    path = m.save(tmp_path / "ct.npz")
    back = load_celltype_model(path)
    assert back.classes == ("pyramidal", "basket") and back.min_cable_um == 5
    assert back.digest == m.digest
    np.testing.assert_array_equal(back.proba(Xt), m.proba(Xt))
    # reproducible from the seed
    assert fit_celltype_forest(X, y, ["pyramidal", "basket"], n_trees=20,
                               card={"min_cable_um": 5}).digest == m.digest


def test_fit_needs_two_classes_each_present():
    X, y = _data()
    with pytest.raises(InputError, match="at least 2"):
        fit_celltype_forest(X, np.zeros(len(y), np.int64), ["a"])
    with pytest.raises(InputError, match="no cell of class"):
        fit_celltype_forest(X, y, ["a", "b", "c"])
    with pytest.raises(InputError, match="shape"):
        fit_celltype_forest(X, y, ["a", "b"], n_trees=3).proba(X[:, :3])


def test_bad_files_are_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"no model")
    with pytest.raises(ModelError, match="bad.npz: not a readable model file"):
        load_celltype_model(bad)
    with pytest.raises(ModelError, match="no such model file"):
        load_celltype_model(tmp_path / "missing.npz")
    X, y = _data()
    m = fit_celltype_forest(X, y, ["a", "b"], n_trees=3)
    arrays = m.forest.arrays()
    card = dict(m.card, format="syconn-celltype-model", format_version=1)
    write_card_file(tmp_path / "f.npz", dict(card, features=["x"]), arrays)
    with pytest.raises(ModelError, match="f.npz: its features"):
        load_celltype_model(tmp_path / "f.npz")
    write_card_file(tmp_path / "c.npz", dict(card, classes=["a", "b", "c"]), arrays)
    with pytest.raises(ModelError, match="c.npz: corrupt model"):
        load_celltype_model(tmp_path / "c.npz")
    write_card_file(tmp_path / "o.npz", dict(card, format="syconn-compartment-model"), arrays)
    with pytest.raises(ModelError, match="not a syconn cell type model"):
        load_celltype_model(tmp_path / "o.npz")
