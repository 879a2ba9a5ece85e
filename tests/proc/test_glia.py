"""Glia split (reference §1.4), point -> supervoxel lookup and the glia features, on hand-made
graphs, blocks and shapes."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.errors import InputError
from syconn.proc.glia import (FEATURE_NAMES, SUM_COLUMNS, component_labels, glia_block_sums,
                              glia_features, nearest_labels, split_glia)

THR = {"mi": 128, "vc": 128, "sj": 128}


def chain_boxes(n: int, start: float = 0.0):
    """n supervoxels of 3 x 1 x 1 um in a row along x (one alone: 3.3 um diagonal)."""
    lo = np.zeros((n, 3))
    lo[:, 0] = start + 3000.0 * np.arange(n)
    return lo, lo + [3000.0, 1000.0, 1000.0]


def test_component_labels_do_not_depend_on_edge_order():
    e = np.array([[4, 2], [2, 0], [5, 6]])
    a = component_labels(7, e)
    b = component_labels(7, e[::-1, ::-1])
    assert a.tolist() == b.tolist() == [0, 1, 0, 3, 0, 5, 5]


def test_tiny_glia_stays_and_small_neuron_rest_leaves():
    # N G N N G G G N: glia {1} is 3.3 um (stays neuron), glia {4,5,6} 9.1 um leaves;
    # afterwards neuron {7} is 3.3 um and goes with the glia
    g = np.array([0, 1, 0, 0, 1, 1, 1, 0], bool)
    e = np.stack([np.arange(7), np.arange(1, 8)], 1)
    lo, hi = chain_boxes(8)
    assert split_glia(e, g, lo, hi).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_cells_are_split_independently_in_one_call():
    # cell A: N N G G (splits); cell B: N G N N (tiny glia: all neuron); cell C: G alone
    lo_a, hi_a = chain_boxes(4)
    lo_b, hi_b = chain_boxes(4, start=1e6)
    lo_c, hi_c = chain_boxes(1, start=2e6)
    lo, hi = np.concatenate([lo_a, lo_b, lo_c]), np.concatenate([hi_a, hi_b, hi_c])
    g = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1], bool)
    e = np.array([[0, 1], [1, 2], [2, 3], [4, 5], [5, 6], [6, 7]])
    out = split_glia(e, g, lo, hi)
    assert out.tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 1]
    # the same as each cell alone
    assert split_glia(e[:3], g[:4], lo[:4], hi[:4]).tolist() == out[:4].tolist()


def test_without_a_large_part_the_largest_part_decides():
    # N G G: glia {1,2} 6.2 um is large, neuron {0} 3.3 um is not: all glia
    lo, hi = chain_boxes(3)
    e = np.array([[0, 1], [1, 2]])
    assert split_glia(e, np.array([0, 1, 1], bool), lo, hi).tolist() == [1, 1, 1]
    # one 3.3 um supervoxel each: the original made a lone neuron piece glia, here it stays
    one = np.zeros((0, 2), int)
    assert split_glia(one, np.array([False]), lo[:1], hi[:1]).tolist() == [False]
    assert split_glia(one, np.array([True]), lo[:1], hi[:1]).tolist() == [True]
    # N G with a 1.7 um neuron piece beside a 3.3 um glia piece: glia wins
    hi2 = hi[:2].copy()
    hi2[0] = lo[0] + [1500, 500, 500]
    assert split_glia(e[:1], np.array([0, 1], bool), lo[:2], hi2).tolist() == [1, 1]


def test_split_rejects_bad_edges():
    with pytest.raises(InputError, match="edges"):
        split_glia(np.array([[0, 3]]), np.zeros(2, bool), np.zeros((2, 3)), np.ones((2, 3)))


def test_nearest_labels_use_physical_distance():
    b = np.zeros((6, 6, 3), np.uint64)
    b[0, 2, 1] = 5            # 3 voxels in x from (3, 2, 1): 30 nm
    b[3, 2, 0] = 8            # 1 voxel in z: 20 nm
    b[3, 4, 1] = 9            # not allowed
    pts = np.array([[3.0, 2.0, 1.0], [0.2, 2.1, 1.3], [50.0, 0, 0]])
    out = nearest_labels(pts, b, np.array([5, 8]), voxel_size_nm=(10, 10, 20), radius_nm=40)
    assert out.tolist() == [8, 5, 0]
    # the block's offset is honoured (global coordinates)
    shifted = nearest_labels(pts + [100, 0, 0], b, np.array([5, 8]), offset_vx=(100, 0, 0),
                             voxel_size_nm=(10, 10, 20), radius_nm=40)
    assert shifted.tolist() == out.tolist()
    # nothing within the radius: 0
    assert nearest_labels(pts[:1], b, np.array([5]), voxel_size_nm=(10, 10, 20),
                          radius_nm=25).tolist() == [0]


def _zeros_maps(shape):
    return {k: np.zeros(shape, np.uint8) for k in ("mi", "vc", "sj")}


def test_block_sums_by_hand():
    """Supervoxels 1 and 2 of one cell side by side (2 x 1 x 1 voxels each, 10 x 10 x 20 nm),
    supervoxel 3 of another cell touching 2 at +x, background around: supervoxel 1 has 1 face
    towards -x (10 x 20 nm), 2 faces in y and 2 in z per voxel... counted here face by face."""
    lab = np.zeros((7, 3, 3), np.uint64)
    lab[1:3, 1, 1] = 1
    lab[3:5, 1, 1] = 2
    lab[5, 1, 1] = 3
    cell = lab.copy()
    cell[lab == 2] = 1                               # 1 and 2 are one cell
    maps = _zeros_maps((7, 3, 3))
    maps["mi"][3, 1, 1] = 200                        # one mitochondrion voxel in supervoxel 2
    s = glia_block_sums(lab, cell, maps, THR, (10, 10, 20), (0, 0, 0), (7, 3, 3),
                        raw=np.full((7, 3, 3), 100, np.uint8))
    assert s["sv_id"].tolist() == [1, 2, 3]
    yz, xz, xy = 10 * 20, 10 * 20, 10 * 10
    # sv 1: -x face to background; 2 voxels x (2 y faces + 2 z faces); the face to sv 2 is inside
    # the cell; sv 2: the +x face to cell 3 is surface
    assert s["area_nm2"].tolist() == [yz + 2 * (2 * xz + 2 * xy), yz + 2 * (2 * xz + 2 * xy),
                                      2 * yz + 2 * xz + 2 * xy]
    assert s["n_vx"].tolist() == [2, 2, 1]
    assert s["mi_vx"].tolist() == [0, 1, 0] and s["vc_vx"].tolist() == [0, 0, 0]
    # the cell's inscribed radius: a 1-voxel rod, 10 nm (half of nothing: edt counts the voxel)
    assert s["edt_max"].tolist() == [10.0, 10.0, 10.0]
    assert s["raw_sum"].tolist() == [200.0, 200.0, 100.0]
    assert s["raw_sq_sum"].tolist() == [2e4, 2e4, 1e4]


def test_block_sums_add_up_to_the_whole_volume():
    """Blocks with the halo give the sums of the whole volume (radii below the halo's reach)."""
    from syconn.glia import volume_sums

    rng = np.random.default_rng(3)
    lab = np.zeros((40, 36, 20), np.uint64)
    lab[2:30, 4:8, 3:7] = 1          # a rod (4 x 4 voxels of 100 nm: radius 200 nm)
    lab[20:38, 10:16, 5:12] = 2      # a thicker box, cut into two supervoxels of one cell
    lab[29:38, 10:16, 5:12] = 3
    lab[5:12, 20:34, 2:18] = 4
    cell = lab.copy()
    cell[lab == 3] = 2
    maps = {k: rng.integers(0, 256, lab.shape).astype(np.uint8) for k in ("mi", "vc", "sj")}
    raw = rng.integers(0, 256, lab.shape).astype(np.uint8)
    vs = (100.0, 100.0, 100.0)       # halo 5 voxels
    whole = volume_sums(lab, cell, maps, THR, vs, lab.shape, raw=raw)
    for block in ((16, 16, 16), (16, 32, 16)):
        parts = volume_sums(lab, cell, maps, THR, vs, block, raw=raw)
        assert parts["sv_id"].tolist() == [1, 2, 3, 4]
        for k in SUM_COLUMNS:
            np.testing.assert_allclose(parts[k], whole[k], rtol=1e-9, err_msg=k)


def test_features_tell_a_thin_rod_from_a_thick_box():
    lab = np.zeros((60, 30, 30), np.uint64)
    lab[2:58, 3:5, 3:5] = 1                          # 2 x 2 voxels across: radius ~ 1 voxel
    lab[5:25, 10:28, 10:28] = 2                      # 18 x 18 across
    s = glia_block_sums(lab, lab, _zeros_maps(lab.shape), THR, (40, 40, 40), (0, 0, 0),
                        lab.shape)
    lo = np.array([[80, 120, 120], [200, 400, 400]], float)
    hi = np.array([[2320, 200, 200], [1000, 1120, 1120]], float)
    X = glia_features(s, lo, hi, np.zeros((0, 2), np.int64), (40, 40, 40))
    f = [dict(zip(FEATURE_NAMES, x)) for x in X]
    assert f[0]["sv_area_per_volume"] > 5 * f[1]["sv_area_per_volume"]
    assert f[0]["sv_edt_max_nm"] <= 80 < 300 < f[1]["sv_edt_max_nm"]
    # the box is 800 x 720 x 720 nm: the voxels 250 nm from every face are an inner box of
    # 300 x 220 x 220 nm, 0.035 of it (0.044 in whole voxels)
    assert f[0]["sv_share_edt_ge_250"] == 0 and 0.02 < f[1]["sv_share_edt_ge_250"] < 0.08
    assert f[0]["sv_elongation"] > 3 * f[1]["sv_elongation"]
    # no agglomeration edges: every supervoxel is its own cell and its own neighbour
    assert f[0]["cell_log_volume_um3"] == f[0]["sv_log_volume_um3"]
    assert f[0]["nbr_edt_mean_nm"] == f[0]["sv_edt_mean_nm"] and f[0]["nbr_log_count"] == 0


def test_interior_voxels_are_away_from_every_other_cell():
    """A 5-voxel cube: with 10 nm voxels (2 voxels in) its centre alone is interior, with
    20 nm voxels (1 voxel in) its inner 3 x 3 x 3; the raw sums over them follow."""
    lab = np.zeros((9, 9, 9), np.uint64)
    lab[2:7, 2:7, 2:7] = 5
    raw = np.arange(lab.size, dtype=np.uint8).reshape(lab.shape)
    for vs, n_in in ((10, 1), (20, 27)):
        s = glia_block_sums(lab, lab, _zeros_maps(lab.shape), THR, (vs, vs, vs), (0, 0, 0),
                            lab.shape, raw=raw)
        assert s["n_in"].tolist() == [n_in]
        inner = raw[4:5, 4:5, 4:5] if vs == 10 else raw[3:6, 3:6, 3:6]
        assert s["raw_in_sum"][0] == inner.astype(float).sum()
        assert s["raw_in_sq_sum"][0] == (inner.astype(float) ** 2).sum()
    # the core is the cube's lower half in x: interior needs the halo above it
    s = glia_block_sums(lab, lab, _zeros_maps((4, 9, 9)), THR, (20, 20, 20), (0, 0, 0),
                        (4, 9, 9))
    assert s["n_in"].tolist() == [9]                  # x = 3 of the inner 3 x 3 x 3
