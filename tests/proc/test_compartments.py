"""Tests for syconn.proc.compartments: node features, bouton kinds, smoothing, cable per class."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.errors import InputError
from syconn.proc.compartments import (
    COMPARTMENTS, FEATURE_NAMES, SWC_TYPES, bouton_kinds, cable_per_class, labels_from_volume,
    node_features, smooth_proba,
)


def _line(n: int, step_nm: float = 500.0):
    v = np.zeros((n, 3))
    v[:, 0] = np.arange(n) * step_nm
    e = np.stack([np.arange(n - 1), np.arange(1, n)], 1)
    return v, e


def test_features_of_a_straight_cable_by_hand():
    v, e = _line(21)                                       # 10 um of cable, nodes every 0.5 um
    r = np.full(21, 100.0)
    # one vesicle cloud of 0.2 um^3 at node 10
    f = node_features(v, e, r, {"vc": (np.array([[5000.0, 0, 0]]), np.array([0.2]))})
    col = {n: f[:, i] for i, n in enumerate(FEATURE_NAMES)}
    assert f.shape == (21, len(FEATURE_NAMES)) and f.dtype == np.float32
    np.testing.assert_allclose(col["log_radius_nm"], np.log(100.0), rtol=1e-6)
    assert col["degree"].tolist() == [1] + [2] * 19 + [1]
    # 1 um around node 10: nodes 8..12, cable 0.5 each = 2.5 um; the cloud is 0 um away
    assert col["vc_um3_per_um_1um"][10] == pytest.approx(0.2 / 2.5)
    # node 7 is 1.5 um from the cloud: not within 1 um, within 3 um
    assert col["vc_um3_per_um_1um"][7] == 0.0 and col["vc_um3_per_um_3um"][7] > 0
    # no branch points; tips within 1 um of node 0: itself (0.25 um) and nodes 1, 2 (0.5 each)
    assert col["branch_per_um_8um"].max() == 0.0
    assert col["tips_per_um_1um"][0] == pytest.approx(1 / 1.25)
    assert col["radius_rel_cell_max"].tolist() == [1.0] * 21
    assert col["log_cell_cable_um"][0] == pytest.approx(np.log(10.0), rel=1e-6)


def test_a_thick_node_stands_out_at_small_scales_only():
    v, e = _line(41)
    r = np.full(41, 100.0)
    r[20] = 2000.0
    col = dict(zip(FEATURE_NAMES, node_features(v, e, r).T))
    assert col["log_radius_max_1um"][20] == pytest.approx(np.log(2000.0))
    assert col["log_radius_max_1um"][10] == pytest.approx(np.log(100.0))   # 5 um away
    assert col["log_radius_max_8um"][10] == pytest.approx(np.log(2000.0))


def test_bad_input():
    v, e = _line(3)
    with pytest.raises(InputError, match="radii_nm"):
        node_features(v, e, np.ones(2))
    with pytest.raises(InputError, match="edges"):
        node_features(v, np.array([[0, 5]]), np.ones(3))
    assert node_features(np.zeros((0, 3)), np.zeros((0, 2)), np.zeros(0)).shape == \
        (0, len(FEATURE_NAMES))


def test_bouton_kinds_terminal_only_where_the_run_holds_a_tip():
    # 0-1-2-3-4 chain with a side branch 2-5; boutons at 1 (en passant) and 4, 5 (tips)
    e = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [2, 5]])
    lab = np.array([1, 3, 1, 1, 3, 3])
    assert bouton_kinds(lab, e).tolist() == [1, 3, 1, 1, 4, 4]
    # a run of two bouton nodes at the tip is terminal as a whole
    assert bouton_kinds(np.array([1, 1, 1, 3, 3, 1]), e).tolist() == [1, 1, 1, 4, 4, 1]
    assert bouton_kinds(np.array([0, 0]), np.array([[0, 1]])).tolist() == [0, 0]


def test_smoothing_takes_the_majority_of_the_neighbourhood():
    v, e = _line(11)                                       # nodes every 0.5 um
    p = np.tile([0.9, 0.1], (11, 1))
    p[5] = [0.2, 0.8]                                       # one node disagrees
    out = smooth_proba(v, e, p, 1.0)
    assert out.argmax(1).tolist() == [0] * 11
    np.testing.assert_allclose(out.sum(1), 1.0)
    assert smooth_proba(v, e, p, 0).tolist() == p.tolist()


def test_cable_per_class_leaves_bridges_out():
    v, e = _line(4, 1000.0)                                # three 1 um edges
    lab = np.array([0, 0, 1, 1])
    assert cable_per_class(v, e, lab, 2).tolist() == [1.5, 1.5]
    assert cable_per_class(v, e, lab, 2, bridges=np.array([0, 1, 0], bool)).tolist() == \
        [1.0, 1.0]


def test_labels_from_the_generator_volume():
    # codes 0 bg, 1 dendrite, 2 axon, 3 soma, 4 neck, 5 head, 6 bouton, 7 glia
    vol = np.arange(8, dtype=np.uint8).reshape(8, 1, 1)
    pts = np.array([[x * 10 + 5, 5, 5] for x in range(8)], float)
    assert labels_from_volume(pts, vol, (10, 10, 10)).tolist() == [-1, 0, 1, 2, 0, 0, 3, -1]


def test_swc_types_per_class():
    assert dict(zip(COMPARTMENTS, SWC_TYPES.tolist())) == {
        "dendrite": 3, "axon": 2, "soma": 1, "en_passant_bouton": 2, "terminal_bouton": 2}


def test_direction_by_compartments_overrules_the_vesicle_rule():
    from syconn.proc.compartments import DIRECTION_SOURCES, combine_direction, \
        compartment_direction

    # cell_a axon / bouton against cell_b dendrite / soma: a presynaptic; reversed: b; axon
    # against axon, dendrite against soma, or a side without compartment: undecided
    comp_a = np.array([1, 3, 4, 0, 2, 1, 0, -1, 1])
    comp_b = np.array([0, 2, 0, 1, 4, 1, 2, 0, -1])
    c = compartment_direction(comp_a, comp_b)
    assert c.tolist() == [1, 1, 1, -1, -1, 0, 0, 0, 0]
    vesicle = np.array([1, -1, 0, -1, 1, -1, 1, 0, 0])
    d, s = combine_direction(vesicle, c)
    assert d.tolist() == [1, 1, 1, -1, -1, -1, 1, 0, 0]
    names = [DIRECTION_SOURCES[i] if i >= 0 else None for i in s]
    assert names == ["both", "compartments", "compartments", "both", "compartments",
                     "vesicles", "vesicles", None, None]
