"""Tests for syconn.proc.synapses."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from syconn.errors import InputError
from syconn.proc.synapses import (NO_ORGANELLE_DST_NM, group_synapses, organelle_proximity,
                                  organelle_surface_points, syn_prob_rule, synapse_direction)

VS = (10.0, 10.0, 20.0)


def _slab(x0, y0, z0, nx, ny, nz):
    g = np.stack(np.meshgrid(np.arange(x0, x0 + nx), np.arange(y0, y0 + ny),
                             np.arange(z0, z0 + nz), indexing="ij"), -1).reshape(-1, 3)
    return g


def _table(vx, a=1, b=2, sym=None, asym=None):
    n = len(vx)
    return pa.table({
        "x": vx[:, 0].astype(np.int64), "y": vx[:, 1].astype(np.int64),
        "z": vx[:, 2].astype(np.int64),
        "cell_a": np.full(n, a, np.uint64), "cell_b": np.full(n, b, np.uint64),
        "sym": np.zeros(n, bool) if sym is None else sym,
        "asym": np.zeros(n, bool) if asym is None else asym})


@pytest.mark.parametrize("gap_vx, n_syn", [(20, 1), (30, 2)])
def test_gap_rule(gap_vx, n_syn):
    # two 10 x 10 x 1 fragments whose closest voxels are 200 nm / 300 nm apart along x
    vx = np.concatenate([_slab(0, 0, 0, 10, 10, 1), _slab(9 + gap_vx, 0, 0, 10, 10, 1)])
    syn, memb = group_synapses(_table(vx), voxel_size_nm=VS, gap_nm=250, min_size_vx=100)
    assert syn["size_vx"].to_pylist() == [200 // n_syn] * n_syn
    assert memb.num_rows == 200


def test_min_size_and_pairs():
    vx = np.concatenate([_slab(0, 0, 0, 10, 10, 1), _slab(100, 0, 0, 3, 3, 1)])
    t = pa.concat_tables([_table(vx), _table(_slab(0, 0, 5, 10, 10, 1), a=1, b=3)])
    syn, memb = group_synapses(t, voxel_size_nm=VS)
    assert list(zip(syn["cell_a"].to_pylist(), syn["cell_b"].to_pylist(),
                    syn["size_vx"].to_pylist())) == [(1, 2, 100), (1, 3, 100)]
    assert memb.num_rows == 200


def test_attributes_and_sign():
    vx = _slab(10, 20, 3, 10, 10, 2)  # 200 voxels
    sym = np.zeros(200, bool)
    asym = np.zeros(200, bool)
    sym[:30] = True
    asym[30:100] = True
    syn, _ = group_synapses(_table(vx, sym=sym, asym=asym), voxel_size_nm=VS)
    r = syn.to_pylist()[0]
    assert (r["bbox_min_x"], r["bbox_min_y"], r["bbox_min_z"]) == (10, 20, 3)
    assert (r["bbox_max_x"], r["bbox_max_y"], r["bbox_max_z"]) == (19, 29, 4)  # inclusive
    # centre of mass (14.5, 24.5, 3.5): first of the equidistant voxels in raster order
    assert (r["rep_x"], r["rep_y"], r["rep_z"]) == (14, 24, 3)
    assert (r["sym_vx"], r["asym_vx"]) == (30, 70)
    assert r["sym_prop"] == 0.15 and r["asym_prop"] == 0.35
    assert r["sym_ratio"] == 0.3 and r["sign"] == -1  # 0.3 > 0.225: symmetric
    # marching-cubes area of a 100 x 100 x 40 nm box, halved: about (2*100*100 + 4*100*40)/2
    assert 0.010 < r["area_um2"] < 0.018
    syn2, _ = group_synapses(_table(vx, asym=np.ones(200, bool)), voxel_size_nm=VS)
    assert syn2["sym_ratio"].to_pylist() == [0.0] and syn2["sign"].to_pylist() == [1]
    syn3, _ = group_synapses(_table(vx), voxel_size_nm=VS)
    assert syn3["sym_ratio"].to_pylist() == [-1.0] and syn3["sign"].to_pylist() == [1]


def test_ids_deterministic_and_order_independent():
    vx = np.concatenate([_slab(0, 0, 0, 10, 10, 1), _slab(50, 0, 0, 10, 10, 1)])
    t = _table(vx)
    syn1, m1 = group_synapses(t, voxel_size_nm=VS)
    perm = np.random.default_rng(0).permutation(t.num_rows)
    syn2, m2 = group_synapses(t.take(perm), voxel_size_nm=VS)
    assert syn1.equals(syn2) and m1.equals(m2)
    ids = syn1["synapse_id"].to_pylist()
    assert len(set(ids)) == 2 and all(0 < i < 2 ** 63 for i in ids)
    # an id depends only on its own synapse: dropping the other one keeps it
    syn3, _ = group_synapses(_table(vx[:100]), voxel_size_nm=VS)
    assert syn3["synapse_id"].to_pylist() == [ids[0]]


def test_group_errors():
    with pytest.raises(InputError, match="missing columns"):
        group_synapses(pa.table({"x": [1]}), voxel_size_nm=VS)
    t = _table(_slab(0, 0, 0, 2, 2, 1), a=3, b=2)
    with pytest.raises(InputError, match="cell_a >= cell_b"):
        group_synapses(t, voxel_size_nm=VS)


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_surface_points(dtype, order):
    lab = np.zeros((8, 8, 8), dtype=dtype, order=order)
    lab[2:6, 2:6, 2:6] = 7  # 4^3 cube: 64 - 8 interior = 56 surface voxels
    t = organelle_surface_points(lab, offset_xyz=(100, 0, 0), halo_vx=1)
    assert t.num_rows == 56 and set(t["org_id"].to_pylist()) == {7}
    assert min(t["x"].to_pylist()) == 101  # core voxel 1 (array 2) + offset 100
    # a sub-sample selected on global coordinates: identical for two block layouts
    big = np.zeros((20, 12, 12), dtype)
    big[3:17, 2:10, 2:10] = 5
    one = organelle_surface_points(big, offset_xyz=(-1, -1, -1), stride=3)
    halves = [organelle_surface_points(big[:11], offset_xyz=(-1, -1, -1), stride=3),
              organelle_surface_points(big[9:], offset_xyz=(8, -1, -1), stride=3)]
    two = pa.concat_tables(halves).sort_by([("org_id", "ascending"), ("z", "ascending"),
                                            ("y", "ascending"), ("x", "ascending")])
    assert one.equals(two) and 0 < one.num_rows < 14 * 8 * 8


def test_organelle_proximity_and_direction():
    syn_vx = _slab(100, 100, 10, 10, 10, 1)
    syn, memb = group_synapses(_table(syn_vx, a=1, b=2), voxel_size_nm=VS)
    orgs = pa.table({"org_id": np.array([11, 12, 13, 14], np.uint64),
                     "cell_id": np.array([1, 1, 2, 3], np.uint64),
                     "size_vx": np.array([200, 50, 80, 1000]),
                     "rep_x": [95, 300, 104, 104], "rep_y": [104, 104, 104, 104],
                     "rep_z": [10, 10, 10, 10]})
    # org 11 (cell 1): points 0 and 40 nm from the synapse; 600 and 1000 nm -> half close
    # org 12 (cell 1): rep 1950 nm away, points 1500 nm away -> candidate, not close
    # org 13 (cell 2): no points -> rep coord, inside the synapse (distance 0)
    # org 14 (cell 3): not a partner
    pts = pa.table({"org_id": np.array([11, 11, 11, 11, 12, 14], np.uint64),
                    "x": [100, 96, 40, 0, 259, 100], "y": [104, 104, 104, 104, 104, 100],
                    "z": [10, 10, 10, 10, 10, 10]})
    f = organelle_proximity(syn, memb, orgs, pts, kind="vc", voxel_size_nm=VS,
                            max_vert_dist_nm=500)
    r = f.to_pylist()[0]
    assert r["n_vc_objs_a"] == 1 and r["n_vc_vxs_a"] == 100.0
    assert r["min_dst_vc_nm_a"] == 0.0
    assert r["n_vc_objs_b"] == 1 and r["n_vc_vxs_b"] == 80.0 and r["min_dst_vc_nm_b"] == 0.0
    f2 = organelle_proximity(syn, memb, orgs.slice(1, 1), pts, kind="mi", voxel_size_nm=VS,
                             max_vert_dist_nm=1000)
    r2 = f2.to_pylist()[0]
    assert r2["n_mi_objs_a"] == 0 and r2["min_dst_mi_nm_a"] == 1500.0
    assert r2["min_dst_mi_nm_b"] == NO_ORGANELLE_DST_NM
    feats = pa.table({"cell_a": np.array([1, 1, 4], np.uint64),
                      "cell_b": np.array([2, 2, 5], np.uint64),
                      "n_vc_vxs_a": [100.0, 10.0, 0.0], "n_vc_vxs_b": [80.0, 30.0, 0.0]})
    pre, post, conf = synapse_direction(feats)
    assert pre.tolist() == [1, 2, 0] and post.tolist() == [2, 1, 0]
    np.testing.assert_allclose(conf, [20 / 180, 0.5, 0.0])


def test_syn_prob_rule():
    vc0 = 1.5 * np.log(1 / 1001)  # no vesicles: about -10
    p = syn_prob_rule([100, 300, 1000, 100], [0, 0, 0, 1000])
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-np.array(
        [-1 + vc0, -1 + np.log(3) + vc0, -1 + np.log(10) + vc0, -1]))))
    # the sj share: 1 adds 3 ln 2, 0.1 subtracts 3 ln 5
    q = syn_prob_rule([1000, 1000], [1000, 1000], sj_share=[1.0, 0.1])
    np.testing.assert_allclose(q, 1 / (1 + np.exp(-np.array(
        [-1 + np.log(10) + 3 * np.log(2), -1 + np.log(10) - 3 * np.log(5)]))))
    assert ((0 <= p) & (p <= 1)).all()
    with pytest.raises(InputError, match="size_vx"):
        syn_prob_rule([0], [0])
