"""Tests for syconn.proc.synapses."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from syconn.errors import InputError
from syconn.proc.synapses import (NO_ORGANELLE_DST_NM, add_sj_counts, group_synapses,
                                  organelle_proximity,
                                  main_sj_objects, organelle_surface_points, rival_ratio,
                                  sj_centre_offsets, sj_fragment_counts, sj_object_shares,
                                  sj_voxel_counts, split_organelles,
                                  synapse_direction, synapse_rows)

VS = (10.0, 10.0, 20.0)


def _slab(x0, y0, z0, nx, ny, nz):
    g = np.stack(np.meshgrid(np.arange(x0, x0 + nx), np.arange(y0, y0 + ny),
                             np.arange(z0, z0 + nz), indexing="ij"), -1).reshape(-1, 3)
    return g


def _table(vx, a=1, b=2, sym=None, asym=None, sj=None):
    n = len(vx)
    cols = {
        "x": vx[:, 0].astype(np.int64), "y": vx[:, 1].astype(np.int64),
        "z": vx[:, 2].astype(np.int64),
        "cell_a": np.full(n, a, np.uint64), "cell_b": np.full(n, b, np.uint64),
        "sym": np.zeros(n, bool) if sym is None else sym,
        "asym": np.zeros(n, bool) if asym is None else asym}
    if sj is not None:
        cols["sj"] = np.asarray(sj, np.uint8)
    return pa.table(cols)


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
    assert (r["bbox_max_x"], r["bbox_max_y"], r["bbox_max_z"]) == (20, 30, 5)  # exclusive
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


def test_sj_probability_at_the_synapse():
    vx = _slab(0, 0, 0, 10, 10, 1)
    sj = np.full(100, 51)
    sj[:50] = 102  # half at 0.4, half at 0.2
    syn, _ = group_synapses(_table(vx, sj=sj), voxel_size_nm=VS)
    assert syn["sj_prob_mean"].to_pylist() == [pytest.approx(0.3)]
    assert syn["sj_prob_max"].to_pylist() == [pytest.approx(0.4)]
    syn0, _ = group_synapses(_table(vx), voxel_size_nm=VS)  # no sj column
    assert syn0["sj_prob_mean"].to_pylist() == [0.0]


def test_two_clefts_are_not_chained_by_a_fragment_between_them():
    # clefts of 100 voxels at x 0-9 and x 40-49; a 4-voxel fragment at x 25-26: 160 nm from
    # the first cleft's last voxel (x 9), 140 nm from the second's first (x 40)
    a = _slab(0, 0, 0, 10, 10, 1)
    b = _slab(40, 0, 0, 10, 10, 1)
    bridge = _slab(25, 0, 0, 2, 2, 1)
    t = _table(np.concatenate([a, bridge, b]))
    chained, _ = group_synapses(t, voxel_size_nm=VS, gap_nm=250, min_size_vx=100)
    assert chained["size_vx"].to_pylist() == [204]  # SyConn's single linkage: one synapse
    apart, memb = group_synapses(t, voxel_size_nm=VS, gap_nm=250, min_size_vx=100,
                                 large_gap_nm=150)
    # the fragment joins the nearer cleft (140 nm), the clefts (300 nm apart) stay two
    assert sorted(apart["size_vx"].to_pylist()) == [100, 104]
    big = apart.filter(pa.compute.equal(apart["size_vx"], 104))
    assert big["bbox_min_x"].to_pylist() == [25]
    # two clefts 100 nm apart are one synapse either way
    near = _table(np.concatenate([a, _slab(20, 0, 0, 10, 10, 1)]))
    one, _ = group_synapses(near, voxel_size_nm=VS, gap_nm=250, min_size_vx=100,
                            large_gap_nm=150)
    assert one["size_vx"].to_pylist() == [200]


def test_split_organelles_by_cell():
    # object 7 (100 voxels): 3 points in supervoxel 1 (cell 10), 1 in supervoxel 2 (cell 20);
    # object 8: both points outside any cell (supervoxel 0)
    objs = pa.table({"id": np.array([7, 8], np.uint64), "size_vx": [100, 40]})
    pts = pa.table({"org_id": np.array([7, 7, 7, 7, 8, 8], np.uint64),
                    "sv_id": np.array([1, 1, 1, 2, 0, 0], np.uint64),
                    "x": [0, 1, 2, 9, 5, 5], "y": [0, 0, 0, 0, 5, 5], "z": [0, 0, 0, 0, 5, 5]})
    sv, cell = np.array([1, 2], np.uint64), np.array([10, 20], np.uint64)
    o, p = split_organelles(objs, pts, sv, cell, [10, 20])
    assert o.to_pylist() == [
        {"org_id": 1, "cell_id": 10, "size_vx": 75, "rep_x": 1, "rep_y": 0, "rep_z": 0},
        {"org_id": 2, "cell_id": 20, "size_vx": 25, "rep_x": 9, "rep_y": 0, "rep_z": 0}]
    assert p["org_id"].to_pylist() == [1, 1, 1, 2]
    o2, _ = split_organelles(objs, pts, sv, cell, [20])
    assert o2["size_vx"].to_pylist() == [25]
    o3, p3 = split_organelles(objs, pts, sv, cell, [99])
    assert o3.num_rows == 0 and p3.num_rows == 0
    # cell 20's point alone, with the objects' point counts over all cells (4 and 2): 1 of
    # object 7's 4 points, 25 of its 100 voxels; counted in the one point, all 100
    in20 = pts.slice(3, 1)
    o4, p4 = split_organelles(objs, in20, sv, cell, [20], n_points=[4, 2])
    assert o4.equals(o2) and p4["x"].to_pylist() == [9]
    assert split_organelles(objs, in20, sv, cell, [20])[0]["size_vx"].to_pylist() == [100]
    with pytest.raises(InputError, match=r"n_points: 1 values, expected one per row of objects \(2\)"):
        split_organelles(objs, in20, sv, cell, [20], n_points=[4])


def test_sj_object_shares():
    # synapse 1: 3 voxels of sj object 5; synapse 2: 1 voxel of object 5, 2 of object 6;
    # synapse 3: a voxel on no object.  Object 5 has 8 voxels, object 6 has 2.
    memb = pa.table({"synapse_id": np.array([1, 1, 1, 2, 2, 2, 3], np.uint64),
                     "x": [0, 1, 2, 9, 20, 21, 40], "y": [0] * 7, "z": [0] * 7})
    sjv = pa.table({"x": [0, 1, 2, 9, 20, 21, 40], "y": [0] * 7, "z": [0] * 7,
                    "sj_id": np.array([5, 5, 5, 5, 6, 6, 0], np.uint64)})
    sizes = pa.table({"id": np.array([5, 6], np.uint64), "size_vx": [8, 2]})
    share, overlap = sj_object_shares([1, 2, 3], memb, sjv, sizes)
    assert share.tolist() == [0.75, 1.0, 0.0]
    assert overlap.tolist() == [0.375, 1.0, 0.0]
    share, overlap = sj_object_shares([1, 2, 3], memb, None)
    assert share.tolist() == overlap.tolist() == [1.0, 1.0, 1.0]


def test_sj_centre_offsets():
    # object 5: box x 0-9, y 0-3, z 0-1 (inclusive), centre (4.5, 1.5, 0.5); object 6: box
    # x 30, y 0-1, z 0, centre (30, 0.5, 0).  Synapse 1: voxels x 4, 5 at y 1, 2, z 0, 1: centre (4.5, 1.5, 0.5),
    # on the object's centre.  Synapse 2: 1 voxel of 5 at x 9 and 2 of 6 (y 0, 1): main object 6,
    # its centre (23, 1/3, 0) lies about 7 voxels (70 nm) from 6's.  Synapse 3: on no object.
    # Synapse 4: on object 7, which the object table does not know.
    s1 = _slab(4, 1, 0, 2, 2, 2)
    xyz = np.concatenate([s1, [[9, 0, 0], [30, 0, 0], [30, 1, 0], [50, 0, 0], [60, 0, 0]]])
    sid = np.array([1] * 8 + [2, 2, 2, 3, 4], np.uint64)
    memb = pa.table({"synapse_id": sid, "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]})
    sjv = pa.table({"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
                    "sj_id": np.array([5] * 9 + [6, 6, 0, 7], np.uint64)})
    objs = pa.table({"id": np.array([6, 5], np.uint64), "bb_min_x": [30, 0], "bb_min_y": [0, 0],
                     "bb_min_z": [0, 0], "bb_max_x": [31, 10], "bb_max_y": [2, 4],
                     "bb_max_z": [1, 2]})
    dist, extent = sj_centre_offsets([1, 2, 3, 4], memb,
                                     main_sj_objects([1, 2, 3, 4], memb, sjv), objs, VS)
    # synapse 2's centre: x (9 + 30 + 30) / 3 = 23, y 1/3; object 6's centre (30, 0.5, 0)
    d2 = float(np.linalg.norm([(23 - 30) * 10, (1 / 3 - 0.5) * 10, 0]))
    assert np.allclose(dist[:2], [0.0, d2]) and np.isnan(dist[2:]).all()
    # half diagonals: |(100, 40, 40)| / 2 and |(10, 20, 20)| / 2 nm
    assert np.allclose(extent[:2], [np.sqrt(100**2 + 40**2 + 40**2) / 2, 15.0])
    assert np.isnan(extent[2:]).all()
    # no sj input or no object table: unknown for all
    assert np.isnan(sj_centre_offsets([1, 2], memb, main_sj_objects([1, 2], memb, None), objs,
                                      VS)[0]).all()
    assert np.isnan(sj_centre_offsets([1, 2], memb, main_sj_objects([1, 2], memb, sjv), None,
                                      VS)[1]).all()


def test_main_sj_objects_and_rival_ratio():
    # synapse 1: 2 voxels of object 5, 1 of 6 -> 5; synapse 2: 1 of 5, 1 of 6 -> 5 (the
    # smaller id); synapse 3: 1 of 6; synapse 4: on none
    memb = pa.table({"synapse_id": np.array([1, 1, 1, 2, 2, 3, 4], np.uint64),
                     "x": [0, 1, 2, 3, 4, 5, 6], "y": [0] * 7, "z": [0] * 7})
    sjv = pa.table({"x": [0, 1, 2, 3, 4, 5], "y": [0] * 6, "z": [0] * 6,
                    "sj_id": np.array([5, 5, 6, 6, 5, 6], np.uint64)})
    main = main_sj_objects([4, 3, 2, 1], memb, sjv)
    assert main.tolist() == [0, 6, 5, 5]
    assert main_sj_objects([1], memb, None).tolist() == [0]
    # a bouton (cell 7) on object 5 with its cleft (0.6) and a bystander contact (0.3); another
    # cell's candidate on 5 (cell 8) and one of unknown direction are compared with nobody
    r = rival_ratio([0.6, 0.3, 0.2, 0.4, 0.0], [5, 5, 5, 5, 0], [7, 7, 8, 0, 7])
    assert r.tolist() == [1.0, 0.5, 1.0, 1.0, 0.0]


def test_synapse_rows_turn_features_into_pre_and_post():
    vx = np.concatenate([_slab(0, 0, 0, 10, 10, 1), _slab(100, 0, 0, 10, 10, 1)])
    syn, _ = group_synapses(_table(vx), voxel_size_nm=VS)
    feats = {"cell_a": syn["cell_a"], "cell_b": syn["cell_b"]}
    for kind in ("mi", "vc"):
        for side, vals in (("a", [1.0, 7.0]), ("b", [5.0, 2.0])):
            feats[f"n_{kind}_objs_{side}"] = np.array(vals, np.int64)
            feats[f"n_{kind}_vxs_{side}"] = np.array(vals) * 100.4
            feats[f"min_dst_{kind}_nm_{side}"] = np.array(vals) * 10
    rows = synapse_rows(syn, pa.table(feats), cs_ids=np.array([3, 3]),
                        extra={"sj_share": [1.0, 0.5]},
                        partner_extra={"radius_nm": ([100.0, 120.0], [300.0, 340.0])})
    r = rows.to_pylist()
    # synapse 0: cell 2 (b) has more vesicle-cloud voxels: it is presynaptic
    assert (r[0]["cell_pre"], r[0]["cell_post"]) == (2, 1)
    assert (r[0]["n_vc_vxs_pre"], r[0]["n_vc_vxs_post"]) == (502, 100)
    assert (r[1]["cell_pre"], r[1]["cell_post"]) == (1, 2)
    assert (r[1]["min_dst_mi_nm_pre"], r[1]["min_dst_mi_nm_post"]) == (70.0, 20.0)
    assert [x["sj_share"] for x in r] == [1.0, 0.5]
    # per-partner extras follow the direction: synapse 0's presynaptic cell is b
    assert [(x["radius_nm_pre"], x["radius_nm_post"]) for x in r] == [(300.0, 100.0),
                                                                        (120.0, 340.0)]
    assert r[0]["bb_max_x"] == 10 and r[0]["contact_site_id"] == 3


def test_spill_over_of_another_pairs_cleft_chains_nothing():
    # pair (1, 2): clefts at x 0-9 and x 40-49 (sj objects 5 and 6), and between them a piece
    # at x 20-29 on sj object 7, 100 nm from each.  Object 7 is pair (1, 3)'s cleft: 400 of its
    # 500 synapse voxels lie there, so pair (1, 2) holds 0.2 of it: spill-over.
    a = _slab(0, 0, 0, 10, 10, 1)
    b = _slab(40, 0, 0, 10, 10, 1)
    spill = _slab(20, 0, 0, 10, 10, 1)
    t12 = _table(np.concatenate([a, spill, b]))
    t12 = t12.append_column("sj_id", pa.array(np.repeat(np.array([5, 7, 6], np.uint64), 100)))
    t13 = _table(_slab(20, 0, 1, 20, 20, 1), a=1, b=3)
    t13 = t13.append_column("sj_id", pa.array(np.full(400, 7, np.uint64)))
    t = pa.concat_tables([t12, t13])
    kw = dict(voxel_size_nm=VS, gap_nm=250, min_size_vx=100, large_gap_nm=150)
    merged, _ = group_synapses(t, **kw)
    assert merged["size_vx"].to_pylist() == [300, 400]  # 100 nm apart: one synapse
    apart, _ = group_synapses(t, spill_share=0.25, **kw)
    pair12 = apart.filter(pa.compute.equal(apart["cell_b"], 2))
    assert sorted(pair12["size_vx"].to_pylist()) == [100, 100, 100]
    # at 0.2 the piece holds exactly the share: not spill-over
    kept, _ = group_synapses(t, spill_share=0.2, **kw)
    assert kept["size_vx"].to_pylist() == [300, 400]


def _spill_tables():
    """The two pairs of the spill-over test: (1, 2) with a piece on pair (1, 3)'s object 7."""
    a = _slab(0, 0, 0, 10, 10, 1)
    b = _slab(40, 0, 0, 10, 10, 1)
    spill = _slab(20, 0, 0, 10, 10, 1)
    t12 = _table(np.concatenate([a, spill, b]))
    t12 = t12.append_column("sj_id", pa.array(np.repeat(np.array([5, 7, 6], np.uint64), 100)))
    t13 = _table(_slab(20, 0, 1, 20, 20, 1), a=1, b=3)
    t13 = t13.append_column("sj_id", pa.array(np.full(400, 7, np.uint64)))
    return t12, t13


def test_sj_fragment_counts_add_over_disjoint_parts():
    # block 1: voxels (0,0,0) and (1,0,0) of pair (1, 2) on object 5, (1,0,0) repeated, one
    # voxel on no object; block 2: two voxels of pair (1, 3) on 5 and one on 9
    b1 = pa.table({"x": [0, 1, 1, 3], "y": [0] * 4, "z": [0] * 4,
                   "cell_a": np.array([1] * 4, np.uint64), "cell_b": np.array([2] * 4, np.uint64),
                   "sj_id": np.array([5, 5, 5, 0], np.uint64)})
    b2 = pa.table({"x": [8, 9, 9], "y": [0, 0, 1], "z": [0] * 3,
                   "cell_a": np.array([1] * 3, np.uint64), "cell_b": np.array([3] * 3, np.uint64),
                   "sj_id": np.array([9, 5, 5], np.uint64)})
    assert sj_fragment_counts(b1).to_pylist() == [{"sj_id": 5, "n_vx": 2}]
    total = add_sj_counts([sj_fragment_counts(b2), sj_fragment_counts(b1)])
    assert total.to_pylist() == [{"sj_id": 5, "n_vx": 4}, {"sj_id": 9, "n_vx": 1}]
    assert total.equals(sj_fragment_counts(pa.concat_tables([b1, b2])))
    assert add_sj_counts([]).num_rows == 0


def test_spill_share_of_one_pair_with_the_totals_of_all():
    # pair (1, 2) alone: object 7 looks like its own (100 of 100 voxels) and chains its two
    # clefts; with the totals of both pairs (object 7: 100 + 400) it is spill-over again, as
    # when both pairs are grouped together
    t12, t13 = _spill_tables()
    kw = dict(voxel_size_nm=VS, gap_nm=250, min_size_vx=100, large_gap_nm=150,
              spill_share=0.25)
    alone, _ = group_synapses(t12, **kw)
    assert alone["size_vx"].to_pylist() == [300]
    totals = sj_fragment_counts(pa.concat_tables([t12, t13]))
    assert totals.to_pylist() == [{"sj_id": 5, "n_vx": 100}, {"sj_id": 6, "n_vx": 100},
                                  {"sj_id": 7, "n_vx": 500}]
    part, part_memb = group_synapses(t12, sj_totals=totals, **kw)
    both, both_memb = group_synapses(pa.concat_tables([t12, t13]), **kw)
    assert part["size_vx"].to_pylist() == [100, 100, 100]
    assert part.equals(both.slice(0, 3))
    assert part_memb.equals(both_memb.slice(0, 300))
    # the totals must cover the objects and at least the voxels given
    with pytest.raises(InputError, match=r"sj_totals: no row for sj object\(s\) \[7\]"):
        group_synapses(t12, sj_totals=totals.slice(0, 2), **kw)
    few = pa.table({"sj_id": np.array([5, 6, 7], np.uint64), "n_vx": [100, 100, 50]})
    with pytest.raises(InputError, match=r"fewer voxels than syn_voxels holds .* \[7\]"):
        group_synapses(t12, sj_totals=few, **kw)


def test_sj_shares_and_main_objects_from_counts_of_shards():
    # the memberships of test_sj_object_shares cut in two shards: synapses 1 and 3, synapse 2
    memb = pa.table({"synapse_id": np.array([1, 1, 1, 2, 2, 2, 3], np.uint64),
                     "x": [0, 1, 2, 9, 20, 21, 40], "y": [0] * 7, "z": [0] * 7})
    sjv = pa.table({"x": [0, 1, 2, 9, 20, 21, 40], "y": [0] * 7, "z": [0] * 7,
                    "sj_id": np.array([5, 5, 5, 5, 6, 6, 0], np.uint64)})
    sizes = pa.table({"id": np.array([5, 6], np.uint64), "size_vx": [8, 2]})
    c13 = sj_voxel_counts(memb.filter(pa.array([True] * 3 + [False] * 3 + [True])), sjv)
    c2 = sj_voxel_counts(memb.filter(pa.array([False] * 3 + [True] * 3 + [False])), sjv)
    assert c13.to_pylist() == [{"synapse_id": 1, "sj_id": 5, "n_vx": 3}]
    assert c2.to_pylist() == [{"synapse_id": 2, "sj_id": 5, "n_vx": 1},
                              {"synapse_id": 2, "sj_id": 6, "n_vx": 2}]
    counts = pa.concat_tables([c2, c13])  # in any order
    share, overlap = sj_object_shares([1, 2, 3], None, None, sizes, counts=counts)
    assert share.tolist() == [0.75, 1.0, 0.0]  # object 5: 3 of 4 synapse voxels on 1
    assert overlap.tolist() == [0.375, 1.0, 0.0]
    # a shard alone sees only its voxels of object 5: synapse 1 would hold all of them
    assert sj_object_shares([1, 3], None, None, sizes, counts=c13)[0].tolist() == [1.0, 0.0]
    assert main_sj_objects([3, 2, 1], None, None, counts=counts).tolist() == [0, 6, 5]
    assert main_sj_objects([3, 2, 1], None, None, counts=counts).tolist() == \
        main_sj_objects([3, 2, 1], memb, sjv).tolist()
