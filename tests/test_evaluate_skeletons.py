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
                             VS, SHAPE, soma_margin_um=0.0)
    df = df.set_index("cell_id")
    assert np.isclose(df.loc[7, "true_um"], 8.0) and np.isclose(df.loc[7, "pred_um"], 7.6)
    assert np.isclose(df.loc[8, "true_um"], 3.0) and np.isclose(df.loc[8, "pred_um"], 2.9)
    assert ev.n_neurons == 2 and ev.n_skeletonized == 2 and ev.n_evaluated == 2
    assert ev.fraction_within == 1.0 and np.isclose(ev.median_abs_error, (0.05 + 0.1 / 3) / 2)
    # the bridged part, (8.6, 8) and (8.6, 9), lies outside cell 7, the rest inside
    assert np.isclose(ev.nodes_inside, 12 / 14) and ev.max_components == 1
    # a tolerance of 4 % leaves only cell 8 (3.3 %) within
    assert score_skeletons({7: s7, 8: s8}, {}, cells, gt, _cell_at, VS, SHAPE,
                           tolerance=0.04, soma_margin_um=0.0)[0].fraction_within == 0.5
    # by default the soma margin is TEASAR's soma_invalidation_const (2 um): the sphere then
    # reaches x = 7.8 um, and of cell 8 only the edge 7.5 -> 8.5 (midpoint 8) counts, both sides
    df = score_skeletons({7: s7, 8: s8}, {}, cells, gt, _cell_at, VS, SHAPE,
                         min_cable_um=0.5)[1].set_index("cell_id")
    assert np.isclose(df.loc[8, "true_um"], 1.0) and np.isclose(df.loc[8, "pred_um"], 1.0)


def test_small_neurons_are_not_scored_and_regions_cut_both_sides():
    cells, gt = _gt()
    s8 = _skel([(5.6, 1, 1), (6.5, 1, 1), (7.5, 1, 1), (8.5, 1, 1)], [[0, 1], [1, 2], [2, 3]])
    ev, df = score_skeletons({8: s8}, {}, cells, gt, _cell_at, VS, SHAPE, min_cable_um=3.5)
    assert ev.n_skeletonized == 1 and ev.n_evaluated == 0 and not df["scored"].any()
    # 1.5 um soma margin: the sphere reaches x = 7.3 um, leaving 7.5 -> 8.5 on both sides
    ev, df = score_skeletons({8: s8}, {}, cells, gt, _cell_at, VS, SHAPE, soma_margin_um=1.5,
                             min_cable_um=0.5)
    assert np.isclose(df["true_um"].iloc[0], 1.0) and np.isclose(df["pred_um"].iloc[0], 1.0)


def test_prediction_along_a_dendrite_is_not_given_to_a_spine():
    """A spine's first edge starts on the dendrite axis; a predicted edge on the dendrite beside
    it still belongs to the dendrite (the tube it lies deepest in, not the nearest midpoint)."""
    cells = pd.DataFrame({"cell_id": [5], "type": ["spiny"], "is_glia": [False],
                          "has_soma": [False], "soma_x": [0.0], "soma_y": [0.0], "soma_z": [0.0],
                          "soma_radius_um": [0.0]})
    rows = [(5, 0, -1, 1000.0, 5000.0, 1000.0, 0.3, "dendrite"),
            (5, 1, 0, 1500.0, 5000.0, 1000.0, 0.3, "dendrite"),   # a 0.5 um edge, 1 -> 1.5 um
            (5, 2, 1, 9000.0, 5000.0, 1000.0, 0.3, "dendrite"),   # then 1.5 -> 9 um
            (5, 3, 1, 1500.0, 5050.0, 1000.0, 0.1, "spine_neck"),  # neck from the axis, up
            (5, 4, 3, 1500.0, 6000.0, 1000.0, 0.3, "spine_head")]
    gt = pd.DataFrame(rows, columns=["cell_id", "node_id", "parent_id", "x_nm", "y_nm", "z_nm",
                                     "radius_um", "compartment"])
    # predicted edge 1.52 -> 1.58 um lies on the dendrite: its midpoint (1.55, 5) is 56 nm
    # from the neck's midpoint (1.5, 5.025) but 300 nm from the nearest dendrite edge midpoint
    # (1.25, 5); the dendrite itself passes through it
    s5 = _skel([(1, 5, 1), (1.52, 5, 1), (1.58, 5, 1), (9, 5, 1)], [[0, 1], [1, 2], [2, 3]])
    _, df = score_skeletons({5: s5}, {}, cells, gt, _cell_at_5, VS, SHAPE)
    assert np.isclose(df["true_um"].iloc[0], 8.0) and np.isclose(df["pred_um"].iloc[0], 8.0)


def _cell_at_5(points_vx):
    y = points_vx[:, 1] * 0.01
    return np.where((y > 4.5) & (y < 6.5), 5, 0)


def _dendrite_with_spine(z_um=1.0):
    """Cell 5: a dendrite (radius 0.3 um) along x from 1 to 9 um at y = 5, a spine neck
    (radius 0.05) from the axis at x = 5 up to y = 5.8 and a head to y = 6.1."""
    cells = pd.DataFrame({"cell_id": [5], "type": ["spiny"], "is_glia": [False],
                          "has_soma": [False], "soma_x": [0.0], "soma_y": [0.0], "soma_z": [0.0],
                          "soma_radius_um": [0.0]})
    z = z_um * 1000
    rows = [(5, 0, -1, 1000.0, 5000.0, z, 0.3, "dendrite"),
            (5, 1, 0, 5000.0, 5000.0, z, 0.3, "dendrite"),
            (5, 2, 1, 9000.0, 5000.0, z, 0.3, "dendrite"),
            (5, 3, 1, 5000.0, 5800.0, z, 0.05, "spine_neck"),
            (5, 4, 3, 5000.0, 6100.0, z, 0.15, "spine_head")]
    gt = pd.DataFrame(rows, columns=["cell_id", "node_id", "parent_id", "x_nm", "y_nm", "z_nm",
                                     "radius_um", "compartment"])
    return cells, gt


def test_a_traced_spine_is_left_out_down_to_the_dendrite_axis():
    """The prediction traces the spine from the dendrite's axis: 5 -> 5.2 lies deepest in the
    dendrite's tube (0.1 - 0.3 < 0 - 0.05) but crosses it at 90 degrees, 5.2 -> 5.6 and
    5.6 -> 6.0 lie in the neck's and head's tubes: the whole branch is spine, 8 um remain."""
    cells, gt = _dendrite_with_spine()
    s5 = _skel([(1, 5, 1), (5, 5, 1), (9, 5, 1), (5, 5.2, 1), (5, 5.6, 1), (5, 6, 1)],
               [[0, 1], [1, 2], [1, 3], [3, 4], [4, 5]])
    _, df = score_skeletons({5: s5}, {}, cells, gt, _cell_at_5, VS, SHAPE)
    assert np.isclose(df["true_um"].iloc[0], 8.0) and np.isclose(df["pred_um"].iloc[0], 8.0)
    assert np.isclose(df["pred_all_um"].iloc[0], 9.0)


def test_a_neurite_cut_lengthwise_by_a_face_is_not_scored():
    """The dendrite's axis 0.2 um above the z = 0 face, closer than its 0.3 um radius: the
    volume holds a sliver of it; neither side counts it (the spine's head, 0.15 um, would be
    in, but it is not neurite)."""
    cells, gt = _dendrite_with_spine(z_um=0.2)
    s5 = _skel([(1, 5, 0.2), (9, 5, 0.2)], [[0, 1]])
    _, df = score_skeletons({5: s5}, {}, cells, gt, _cell_at_5, VS, SHAPE, min_cable_um=0.0)
    assert df["true_um"].iloc[0] == 0.0 and df["pred_um"].iloc[0] == 0.0


def test_a_path_through_a_spine_to_another_branch_loses_both_bases():
    """A spine of dendrite A (y = 5) whose head touches dendrite B (y = 6.95) of the same cell:
    the prediction runs A -> neck -> head -> B.  The path is not a terminal branch, but its
    stretches across A (5 -> 5.2, deepest in A's tube: 0.1 - 0.3 < 0 - 0.05) and across B
    (6.75 -> 6.95, deepest in B's: 0.1 - 0.3 < 0.4 - 0.15) belong to the spine: 16 um remain,
    not 16.4."""
    cells = pd.DataFrame({"cell_id": [5], "type": ["spiny"], "is_glia": [False],
                          "has_soma": [False], "soma_x": [0.0], "soma_y": [0.0], "soma_z": [0.0],
                          "soma_radius_um": [0.0]})
    rows = [(5, 0, -1, 1000.0, 5000.0, 1000.0, 0.3, "dendrite"),
            (5, 1, 0, 5000.0, 5000.0, 1000.0, 0.3, "dendrite"),
            (5, 2, 1, 9000.0, 5000.0, 1000.0, 0.3, "dendrite"),
            (5, 3, 1, 5000.0, 5800.0, 1000.0, 0.05, "spine_neck"),
            (5, 4, 3, 5000.0, 6450.0, 1000.0, 0.15, "spine_head"),
            (5, 5, -1, 1000.0, 6950.0, 1000.0, 0.3, "dendrite"),
            (5, 6, 5, 5000.0, 6950.0, 1000.0, 0.3, "dendrite"),
            (5, 7, 6, 9000.0, 6950.0, 1000.0, 0.3, "dendrite")]
    gt = pd.DataFrame(rows, columns=["cell_id", "node_id", "parent_id", "x_nm", "y_nm", "z_nm",
                                     "radius_um", "compartment"])

    def cell_at(points_vx):
        y = points_vx[:, 1] * 0.01
        return np.where((y > 4.5) & (y < 7.5), 5, 0)

    s5 = _skel([(1, 5, 1), (5, 5, 1), (9, 5, 1), (1, 6.95, 1), (5, 6.95, 1), (9, 6.95, 1),
                (5, 5.2, 1), (5, 5.6, 1), (5, 6, 1), (5, 6.45, 1), (5, 6.75, 1)],
               [[0, 1], [1, 2], [3, 4], [4, 5], [1, 6], [6, 7], [7, 8], [8, 9], [9, 10], [10, 4]])
    _, df = score_skeletons({5: s5}, {}, cells, gt, cell_at, VS, SHAPE)
    assert np.isclose(df["true_um"].iloc[0], 16.0) and np.isclose(df["pred_um"].iloc[0], 16.0)
    assert np.isclose(df["pred_all_um"].iloc[0], 17.95)


def test_bridges_are_not_cable_even_inside_the_cell():
    """A bridge (merge_skeletons joined two parts) whose midpoint lies inside the cell is still
    no cable: the skeleton says which edges are bridges."""
    cells, gt = _dendrite_with_spine()
    s5 = Skeleton(np.asarray([(1, 5, 1), (4, 5, 1), (6, 5, 1), (9, 5, 1)], np.float32) * 1000,
                  np.asarray([[0, 1], [1, 2], [2, 3]], np.uint32), bridges=[False, True, False])
    _, df = score_skeletons({5: s5}, {}, cells, gt, _cell_at_5, VS, SHAPE)
    assert np.isclose(df["true_um"].iloc[0], 8.0) and np.isclose(df["pred_um"].iloc[0], 6.0)


def test_true_cable_outside_its_own_segmentation_is_not_scored():
    """Where another cell took the voxels of the true axis (a spine head on a thin axon), no
    skeleton of the segmentation can pass: the true edge from 5 to 9 um lies mostly (6 to 9 um)
    outside cell 5 in the segmentation, so it is not scored on either side: 4 of the 8 um
    remain, and the prediction's 0.9 um along that edge is left out with it."""
    cells, gt = _dendrite_with_spine()

    def cell_at(points_vx):
        x, y = points_vx[:, 0] * 0.01, points_vx[:, 1] * 0.01
        return np.where((y > 4.5) & (y < 6.5) & (x < 6.0), 5, 0)

    s5 = _skel([(1, 5, 1), (5, 5, 1), (5.9, 5, 1)], [[0, 1], [1, 2]])
    _, df = score_skeletons({5: s5}, {}, cells, gt, cell_at, VS, SHAPE)
    assert np.isclose(df["true_um"].iloc[0], 4.0) and np.isclose(df["pred_um"].iloc[0], 4.0)


def test_predicted_cable_far_outside_every_true_tube_is_not_scored():
    """A 3 um path inside the cell but 1.1 um from the dendrite's axis (0.8 um outside its
    0.3 um tube, more than twig_um): a part of the cell the truth has no skeleton for (on real
    runs, a sliver on a volume face of a neurite whose axis lies outside the volume)."""
    cells, gt = _dendrite_with_spine()
    s5 = _skel([(1, 5, 1), (9, 5, 1), (1, 6.4, 1), (4, 6.4, 1)], [[0, 1], [2, 3]])
    _, df = score_skeletons({5: s5}, {}, cells, gt, _cell_at_5, VS, SHAPE)
    assert np.isclose(df["true_um"].iloc[0], 8.0) and np.isclose(df["pred_um"].iloc[0], 8.0)
    assert np.isclose(df["pred_all_um"].iloc[0], 11.0)
