"""Tests for syconn.ml.compartments: fit, predict (smoothing, boutons), file round trip and
the one-line errors of a bad file."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.errors import InputError, ModelError
from syconn.ml.cardfile import write_card_file
from syconn.ml.compartments import (
    CompartmentModel, fit_forest, load_compartment_model, macro_f1,
)
from syconn.ml.forest import Forest
from syconn.proc.compartments import FEATURE_NAMES, node_features


def _cell(kind: str, rng, n: int = 30):
    """A straight cable: thick without organelles (dendrite), thin with vesicle clouds every
    2 um (axon with boutons), very thick (soma)."""
    v = np.zeros((n, 3))
    v[:, 0] = np.arange(n) * 400.0
    e = np.stack([np.arange(n - 1), np.arange(1, n)], 1)
    r = {"dendrite": 400.0, "axon": 60.0, "soma": 3000.0}[kind] * rng.uniform(0.9, 1.1, n)
    orgs = {}
    if kind == "axon":
        pos = v[::5] + [0, 50, 0]
        orgs["vc"] = (pos, np.full(len(pos), 0.02))
    y = np.full(n, {"dendrite": 0, "axon": 1, "soma": 2}[kind])
    if kind == "axon":
        y[::5] = 3
    return v, e, node_features(v, e, r, orgs), y


def _training(seed: int = 0):
    rng = np.random.default_rng(seed)
    cells = [_cell(k, rng) for k in ("dendrite", "axon", "soma") for _ in range(4)]
    X = np.concatenate([c[2] for c in cells])
    y = np.concatenate([c[3] for c in cells])
    return cells, X, y


def test_fit_predict_save_load_round_trip(tmp_path):
    cells, X, y = _training()
    m = fit_forest(X, y, np.ones(len(y)), n_trees=10, card={"smooth_um": 0.0})
    v, e, f, truth = _cell("axon", np.random.default_rng(5))
    lab, p = m.predict(v, e, f)
    assert set(lab.tolist()) <= {1, 3, 4} and p.shape == (len(v), 3)
    # a thick cable is dendrite, a very thick one soma
    for kind, code in (("dendrite", 0), ("soma", 2)):
        v2, e2, f2, _ = _cell(kind, np.random.default_rng(6))
        assert (m.predict(v2, e2, f2)[0] == code).all()
    path = m.save(tmp_path / "m.npz")
    back = load_compartment_model(path)
    assert back.digest == m.digest
    np.testing.assert_array_equal(back.node_proba(f), m.node_proba(f))
    # the same seed and data give the same forest
    assert fit_forest(X, y, np.ones(len(y)), n_trees=10, card={"smooth_um": 0.0}).digest == \
        m.digest


def test_boutons_by_hand_terminal_at_tips():
    # a forest of one stump: vesicle cloud volume within 0.5 um above 0 -> bouton, else axon
    k = FEATURE_NAMES.index("vc_um3_per_um_0.5um")
    stump = Forest.from_arrays({"left": [1, -1, -1], "right": [2, -1, -1],
                                "feature": [k, 0, 0], "threshold": [1e-6, 0, 0],
                                "value": [[0, .5, 0, .5], [0, 1, 0, 0], [0, 0, 0, 1]],
                                "roots": [0]}, n_features=len(FEATURE_NAMES))
    m = CompartmentModel(forest=stump, card={"features": list(FEATURE_NAMES), "smooth_um": 2})
    n = 26
    v = np.zeros((n, 3))
    v[:, 0] = np.arange(n) * 600.0                 # nodes 0.6 um apart
    e = np.stack([np.arange(n - 1), np.arange(1, n)], 1)
    pos = v[::5] + [0, 50, 0]                      # a cloud at nodes 0, 5, ..., 25
    f = node_features(v, e, np.full(n, 60.0), {"vc": (pos, np.full(len(pos), 0.02))})
    lab, p = m.predict(v, e, f)
    want = np.ones(n, int)
    want[[5, 10, 15, 20]] = 3                      # en passant
    want[[0, 25]] = 4                              # at the tips: terminal
    assert lab.tolist() == want.tolist()
    # smoothing keeps dendrite / axon / soma apart only: everything here is axon
    np.testing.assert_allclose(p[:, 1], 1.0)


def test_fit_needs_every_class():
    _, X, y = _training()
    with pytest.raises(InputError, match="expected all of"):
        fit_forest(X[y != 2], y[y != 2])


def test_bad_model_files_are_one_line(tmp_path):
    missing = tmp_path / "none.npz"
    with pytest.raises(ModelError, match=f"{missing}: no such model file"):
        load_compartment_model(missing)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"hello")
    with pytest.raises(ModelError, match="not a readable model file"):
        load_compartment_model(junk)
    other = write_card_file(tmp_path / "other.npz", {"format": "something-else"}, {})
    with pytest.raises(ModelError, match="not a syconn compartment model"):
        load_compartment_model(other)
    old = write_card_file(tmp_path / "old.npz", {"format": "syconn-compartment-model",
                                                 "format_version": 1,
                                                 "features": ["a", "b"]}, {})
    with pytest.raises(ModelError, match="not this syconn's compartment features"):
        load_compartment_model(old)
    cells, X, y = _training()
    m = fit_forest(X, y, None, n_trees=3)
    arrays = m.forest.arrays()
    arrays["value"] = arrays["value"][:, :2]          # leaf values of two classes
    bad = write_card_file(tmp_path / "bad.npz", {**m.card, "format": "syconn-compartment-model",
                                                 "format_version": 1}, arrays)
    with pytest.raises(ModelError, match="leaf values"):
        load_compartment_model(bad)


def test_shipped_model_loads_with_its_card():
    m = load_compartment_model()
    assert list(m.card["features"]) == list(FEATURE_NAMES)
    assert m.card["training_seeds"] and m.card["validation_seeds"]
    assert not set(m.card["training_seeds"]) & set(m.card["validation_seeds"])
    assert isinstance(m, CompartmentModel) and m.smooth_um >= 0


def test_macro_f1_by_hand():
    # class 0: tp 1 (w 2), fn 1 (w 1) -> 2*2/(4+1) = 0.8; class 1: tp 1, fp 1 -> 2/(2+1)
    f, per = macro_f1(np.array([0, 0, 1, -1]), np.array([0, 1, 1, 0]),
                      np.array([2.0, 1.0, 1.0, 5.0]), [0, 1])
    assert per == {0: pytest.approx(0.8), 1: pytest.approx(2 / 3)}
    assert f == pytest.approx((0.8 + 2 / 3) / 2)
