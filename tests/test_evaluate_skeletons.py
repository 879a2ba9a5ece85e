"""score_skeletons on hand-made skeletons (units: um in the comments, nm in the arrays)."""

import numpy as np
import pandas as pd

from syconn.evaluate import score_skeletons
from syconn.proc.skeletons import Skeleton

VS = (10.0, 10.0, 20.0)
SHAPE = (1000, 1000, 100)  # 10 x 10 x 2 um


def _gt():
    cells = pd.DataFrame({
        "cell_id": [7, 8, 9], "type": ["afferent", "spiny", "glia"],
        "is_glia": [False, False, True], "has_soma": [False, True, False],
        # soma of cell 8 centred at (5, 1, 1) um, radius 0.8 um (voxels: 500, 100, 50)
        "soma_x": [0.0, 500.0, 0.0], "soma_y": [0.0, 100.0, 0.0], "soma_z": [0.0, 50.0, 0.0],
        "soma_radius_um": [0.0, 0.8, 0.0]})
    rows = []

    def node(cell, xyz, comp, parent):
        rows.append((cell, len(rows), parent, *(np.asarray(xyz) * 1000.0), 0.05, comp))
        return len(rows) - 1

    # cell 7: an axon along x at y = 5 from 1 to 9 um (8 um) ...
    prev = -1
    axon = {}
    for x in range(1, 10):
        prev = axon[x] = node(7, (x, 5, 1), "axon", prev)
    node(7, (5, 5.4, 1), "axon", axon[5])            # ... a 0.4 um twig (pruned) ...
    neck = node(7, (3, 5.5, 1), "spine_neck", axon[3])  # ... and a spine (not neurite)
    node(7, (3, 6.2, 1), "spine_head", neck)
    # cell 8: soma node, then an axon leaving it: 5 -> 5.5 lies in the soma, 5.5 -> 8.5 counts
    prev = node(8, (5, 1, 1), "soma", -1)
    prev = node(8, (5.5, 1, 1), "axon", prev)
    for x in (6.5, 7.5, 8.5):
        prev = node(8, (x, 1, 1), "axon", prev)
    skel = pd.DataFrame(rows, columns=["cell_id", "node_id", "parent_id", "x_nm", "y_nm", "z_nm",
                                       "radius_um", "compartment"])
    return cells, skel


def _cell_at(points_vx):
    """Cell 7 fills y 4.5-6.5 um, x 0.5-9.5 um; cell 8 y 0-2 um; all z."""
    x, y = points_vx[:, 0] * 0.01, points_vx[:, 1] * 0.01
    out = np.zeros(len(points_vx), np.int64)
    out[(x > 0.5) & (x < 9.5) & (y > 4.5) & (y < 6.5)] = 7
    out[(x > 0.5) & (x < 9.5) & (y >= 0) & (y < 2)] = 8
    return out


def _skel(points_um, edges):
    return Skeleton(np.asarray(points_um, np.float32) * 1000, np.asarray(edges, np.uint32))


def test_neurite_cable_by_hand():
    cells, gt = _gt()
    # cell 7: path 1 -> 8.6 um (7.6 um), a 0.4 um stub at x = 6 (a twig), a 1.2 um trace into
    # the spine (its midpoint is nearest to the spine), and a bridge to a part outside the cell
    # (in the real data that part would belong to the cell; here it tests the bridge rule)
    p7 = [(1, 5.05, 1), (3, 5.05, 1), (6, 5.05, 1), (8.6, 5.05, 1), (6, 5.4, 1),
          (3, 6.25, 1), (8.6, 8.0, 1), (8.6, 9.0, 1)]
    s7 = _skel(p7, [[0, 1], [1, 2], [2, 3], [2, 4], [1, 5], [3, 6], [6, 7]])
    # cell 8: a fan inside the soma and the axon; the first edge (centre -> 5.6) is in the soma
    p8 = [(5, 1, 1), (5, 1.7, 1), (5.6, 1, 1), (6.5, 1, 1), (7.5, 1, 1), (8.5, 1, 1)]
    s8 = _skel(p8, [[0, 1], [0, 2], [2, 3], [3, 4], [4, 5]])
    ev, df = score_skeletons({7: s7, 8: s8}, {7: "ok", 8: "ok", 9: "ok"}, cells, gt, _cell_at,
                             VS, SHAPE)
    df = df.set_index("cell_id")
    assert np.isclose(df.loc[7, "true_um"], 8.0) and np.isclose(df.loc[7, "pred_um"], 7.6)
    assert np.isclose(df.loc[8, "true_um"], 3.0) and np.isclose(df.loc[8, "pred_um"], 2.9)
    assert ev.n_neurons == 2 and ev.n_skeletonized == 2 and ev.n_evaluated == 2
    assert ev.fraction_within == 1.0 and np.isclose(ev.median_abs_error, (0.05 + 0.1 / 3) / 2)
    # the bridged part, (8.6, 8) and (8.6, 9), lies outside cell 7, the rest inside
    assert np.isclose(ev.nodes_inside, 12 / 14) and ev.max_components == 1
    # a tolerance of 4 % leaves only cell 8 (3.3 %) within
    assert score_skeletons({7: s7, 8: s8}, {}, cells, gt, _cell_at, VS, SHAPE,
                           tolerance=0.04)[0].fraction_within == 0.5


def test_small_neurons_are_not_scored_and_regions_cut_both_sides():
    cells, gt = _gt()
    s8 = _skel([(5.6, 1, 1), (6.5, 1, 1), (7.5, 1, 1), (8.5, 1, 1)], [[0, 1], [1, 2], [2, 3]])
    ev, df = score_skeletons({8: s8}, {}, cells, gt, _cell_at, VS, SHAPE, min_cable_um=3.5)
    assert ev.n_skeletonized == 1 and ev.n_evaluated == 0 and not df["scored"].any()
    # 1.5 um soma margin: the sphere reaches x = 7.3 um, leaving 7.5 -> 8.5 on both sides
    ev, df = score_skeletons({8: s8}, {}, cells, gt, _cell_at, VS, SHAPE, soma_margin_um=1.5,
                             min_cable_um=0.5)
    assert np.isclose(df["true_um"].iloc[0], 1.0) and np.isclose(df["pred_um"].iloc[0], 1.0)
