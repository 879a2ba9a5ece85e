"""Tests for syconn.proc.celltypes: per-cell features worked out by hand, certainty."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.errors import InputError
from syconn.proc.celltypes import FEATURE_NAMES, cell_type_features, type_certainty


def _f(X, row, name):
    return float(X[row, FEATURE_NAMES.index(name)])


def test_two_cells_by_hand():
    # cell 1: soma (2 um of cable, radius 3 um) and 8 um of dendrite (radii 300 and 500 nm);
    # cell 2: 6 um of axon (radii 60, 80, 100 nm) and 2 um of en-passant boutons (2 runs);
    # cell 3: no skeleton
    cells = {"id": [2, 1, 3], "volume_um3": [0.5, 40.0, 1.0], "mesh_area_um2": [10.0, 90.0,
                                                                                np.nan],
             "n_mi": [0, 4, 0], "n_vc": [6, 0, 0], "n_boutons": [2, 0, 0]}
    nodes = {"cell_id": [1, 1, 1, 2, 2, 2, 2],
             "compartment": [2, 0, 0, 1, 1, 1, 3],
             "radius_nm": [3000, 300, 500, 60, 80, 100, 250],
             "cable_um": [2, 4, 4, 2, 2, 2, 2],
             "degree": [3, 1, 1, 1, 2, 2, 1]}
    # synapses: 2 -> 1 twice onto the dendrite (symmetric, 0.3 um^2; asymmetric 0.1 um^2),
    # 2 -> 1 onto the soma (symmetric), 9 -> 2 onto cell 2's axon (not a dendritic input)
    syn = {"cell_pre": [2, 2, 2, 9], "cell_post": [1, 1, 1, 2], "sign": [-1, 1, -1, 1],
           "area_um2": [0.3, 0.1, 0.2, 0.1], "comp_pre": [3, 1, 3, 1],
           "comp_post": [0, 0, 2, 1]}
    X = cell_type_features(cells, nodes, syn)
    assert X.shape == (3, len(FEATURE_NAMES))
    c1, c2, c3 = 1, 0, 2   # rows follow the order of cells["id"]
    assert _f(X, c1, "cable_um") == 10 and _f(X, c2, "cable_um") == 8
    assert _f(X, c1, "soma_share") == 0.2 and _f(X, c1, "dendrite_share") == 0.8
    assert _f(X, c2, "axon_share") == 0.75 and _f(X, c2, "bouton_share") == 0.25
    assert _f(X, c2, "boutons_per_um_axon") == 2 / 8
    assert _f(X, c1, "boutons_per_um_axon") == -1          # no axon
    assert _f(X, c1, "branch_points_per_um") == 0.1 and _f(X, c1, "tips_per_um") == 0.2
    assert _f(X, c1, "dendrite_tips_per_um_dendrite") == 2 / 8
    assert _f(X, c1, "max_radius_nm") == 3000
    assert _f(X, c1, "dendrite_radius_nm") == 300          # lower median of 300, 500
    assert _f(X, c1, "dendrite_radius_p90_nm") == 300      # floor((2-1) * 0.9) = 0
    assert _f(X, c2, "axon_radius_nm") == 80 and _f(X, c2, "dendrite_radius_nm") == -1
    assert _f(X, c1, "volume_um3_per_um") == 4.0 and _f(X, c1, "area_um2_per_um") == 9.0
    assert _f(X, c1, "mi_per_um") == 0.4 and _f(X, c2, "vc_per_um_axon") == 6 / 8
    # cell 2's outputs: all three from axon or bouton; 0.5 of 0.6 um^2 symmetric
    assert _f(X, c2, "syn_out_per_um_axon") == 3 / 8
    assert _f(X, c2, "sym_share_out") == pytest.approx(0.5 / 0.6)
    assert _f(X, c2, "mean_area_out_um2") == pytest.approx(0.2)
    # cell 1's dendritic inputs: 2 on 8 um, 0.3 of 0.4 um^2 symmetric; the soma input apart
    assert _f(X, c1, "syn_in_per_um_dendrite") == 2 / 8
    assert _f(X, c1, "sym_share_in") == pytest.approx(0.75)
    assert _f(X, c1, "sym_share_in_soma") == 1.0
    assert _f(X, c1, "syn_in_soma_per_um2") == pytest.approx(1 / (4 * np.pi * 9))
    # cell 2's axonal input is no dendritic input; cell 3 has nothing but its volume
    assert _f(X, c2, "sym_share_in") == -1 and _f(X, c2, "syn_in_per_um_dendrite") == -1
    assert _f(X, c3, "cable_um") == 0 and _f(X, c3, "max_radius_nm") == -1
    assert _f(X, c3, "area_um2_per_um") == -1 and _f(X, c3, "sym_share_out") == -1


def test_no_cells_and_missing_columns():
    assert cell_type_features({"id": [], "volume_um3": [], "mesh_area_um2": [], "n_mi": [],
                               "n_vc": [], "n_boutons": []},
                              {k: [] for k in ("cell_id", "compartment", "radius_nm",
                                               "cable_um", "degree")},
                              {k: [] for k in ("cell_pre", "cell_post", "sign", "area_um2",
                                               "comp_pre", "comp_post")}).shape == \
        (0, len(FEATURE_NAMES))
    with pytest.raises(InputError, match="n_boutons"):
        cell_type_features({"id": [1], "volume_um3": [1.0], "mesh_area_um2": [1.0],
                            "n_mi": [0], "n_vc": [0]},
                           {k: [] for k in ("cell_id", "compartment", "radius_nm", "cable_um",
                                            "degree")},
                           {k: [] for k in ("cell_pre", "cell_post", "sign", "area_um2",
                                            "comp_pre", "comp_post")})


def test_certainty():
    # four classes: one sure call, a uniform one, and two equal classes (ln 2 / ln 4 = 0.5)
    c = type_certainty(np.array([[1, 0, 0, 0], [.25, .25, .25, .25], [.5, .5, 0, 0]]))
    np.testing.assert_allclose(c, [1.0, 0.0, 0.5], atol=1e-12)
    with pytest.raises(InputError):
        type_certainty(np.ones((3, 1)))
