"""Checks of the synthetic tissue generator (issue 3): the ground truth is consistent with the voxels."""

from __future__ import annotations

import bz2
import json

import numpy as np
import pandas as pd
import pytest

from syconn.errors import InputError
from syconn.synth import THRESHOLDS, Compartment, synthesize
from syconn.synth import _kernels as K
from syconn.synth.write import write_dataset

SHAPE = (256, 256, 128)


@pytest.fixture(scope="module")
def res():
    return synthesize(shape_xyz=SHAPE, seed=3)


def _cellvol(r):
    lut = np.zeros(int(r.seg.max()) + 1, np.uint64)
    lut[r.supervoxels.sv_id.to_numpy().astype(np.int64)] = r.supervoxels.cell_id.to_numpy()
    return lut[r.seg.astype(np.int64)]


# ------------------------------------------------------------------------------ kernels


def test_rasterize_capsule_volume():
    vs = np.array([0.01, 0.01, 0.02])
    shape = (100, 60, 30)
    lab = np.zeros(shape, np.uint32)
    comp = np.zeros(shape, np.uint8)
    best = np.full(shape, np.inf, np.float32)
    p0 = np.array([[0.2, 0.3, 0.3]])
    p1 = np.array([[0.8, 0.3, 0.3]])
    r = np.array([0.1])
    K.rasterize(lab, comp, best, p0, p1, r, r, np.zeros(1), np.array([5]), np.array([1], np.uint8), vs, 8)
    expected = (np.pi * 0.1**2 * 0.6 + 4 / 3 * np.pi * 0.1**3) / np.prod(vs)
    assert set(np.unique(lab)) == {0, 5}
    assert abs((lab > 0).sum() / expected - 1) < 0.05
    assert np.array_equal(lab > 0, comp == 1)


def test_rasterize_deepest_wins_and_margin():
    vs = np.array([0.01, 0.01, 0.01])
    shape = (40, 20, 20)
    lab = np.zeros(shape, np.uint32)
    comp = np.zeros(shape, np.uint8)
    best = np.full(shape, np.inf, np.float32)
    c = np.array([[0.1, 0.1, 0.1], [0.3, 0.1, 0.1]])
    r = np.array([0.05, 0.05])
    K.rasterize(lab, comp, best, c, c, r, r, np.array([0.05, 0.05]), np.array([1, 2]),
                np.array([1, 2], np.uint8), vs, 8)
    # the two spheres grow by their margin and meet half way (x = 0.2 um)
    assert lab[19, 10, 10] == 1 and lab[20, 10, 10] == 2
    assert lab[0, 0, 0] == 0  # corner farther than r + margin from both


def test_gap_mask_26_neighbourhood():
    lab = np.zeros((6, 4, 4), np.uint32)
    lab[:3] = 1
    lab[3:] = 2
    lab[0, 0, 0] = 3  # same cell as 1 (piece 3 -> cell 1)
    piece_cell = np.array([0, 1, 2, 1])
    mask = np.zeros(lab.shape, np.uint8)
    K.gap_mask(lab, piece_cell, mask)
    assert mask[3].all() and not mask[:3].any() and not mask[4:].any()


def test_grid_free_self_avoidance():
    from syconn.synth.geometry import _Grid

    g = _Grid(np.zeros(3), np.full(3, 2.0), 0.05)
    g.paint(np.array([0.5, 1.0, 1.0]), 0.1, 1, 2)          # old paint of cell 1 (stamp 1)
    g.paint(np.array([1.0, 1.0, 1.0]), 0.1, 1, 2)          # recent paint (stamp 2)
    q = np.array([0.5, 1.0, 1.35])                         # 0.25 um from the old paint's surface
    assert g.free(q, 0.1, 1)                               # own cell never blocks by default
    assert g.free(q, 0.1, 1, min_stamp=2, r_own=0.2)      # gap 0.2 < 0.25: free
    assert not g.free(q, 0.1, 1, min_stamp=2, r_own=0.4)  # gap 0.4 > 0.25: the old part blocks
    assert g.free(q, 0.1, 1, min_stamp=1, r_own=0.4)      # both parts recent: free
    assert g.free(q, 0.1, 2, r_own=0.4)                    # another cell: only r counts
    assert not g.free(np.array([0.5, 1.0, 1.15]), 0.1, 2)  # another cell within r + its radius
    g.paint(np.array([1.5, 1.0, 1.0]), 0.1, 1, 2, exempt=True)
    assert g.free(np.array([1.5, 1.0, 1.3]), 0.1, 1, min_stamp=10, r_own=0.4)  # exempt: free


def test_neurites_keep_a_gap_from_their_own_cell():
    """A wiggly neurite never comes back within the self-avoidance gap of its older parts."""
    from syconn.synth import geometry as G

    b = G._Builder(np.full(3, 6.0), np.random.default_rng(5), ext=1.0)
    cell = b.add_cell("interneuron")
    b.grow(cell, np.array([3.0, 3.0, 3.0]), np.array([1.0, 0, 0]), length=40.0, r_start=0.1,
           r_end=0.1, comp=Compartment.AXON, tortuosity=1.0, branch_per_um=0.0, goal_bias=0.0)
    pts = b.paths[0]["pts"]
    cum = b.paths[0]["cum"]
    assert cum[-1] > 10.0
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    far = np.abs(cum[:, None] - cum[None]) > 3.0          # more than 3 um apart along the path
    inside = np.all((pts > -0.3) & (pts < 6.3), axis=1)    # the grid (volume + 0.3 um)
    both = inside[:, None] & inside[None]
    # centre lines at least 2 r + gap apart, less the grid resolution
    assert dist[far & both].min() >= 2 * 0.1 + G._SELF_GAP - 0.05


def test_branch_direction_needs_a_free_corridor():
    """A side branch leaves at about 55 degrees (atan 1.4) and only where a straight corridor of
    _MIN_BRANCH_UM is clear of other cells and of every painted part of its own cell."""
    from syconn.synth import geometry as G

    b = G._Builder(np.full(3, 8.0), np.random.default_rng(2), ext=1.0)
    cell, other = b.add_cell("spiny"), b.add_cell("spiny")
    p, d = np.array([4.0, 4.0, 4.0]), np.array([1.0, 0.0, 0.0])
    bd = b._branch_direction(cell, p, d, 0.2, 0.16, grace=1.0)
    assert bd is not None and np.isclose(np.degrees(np.arccos(bd @ d)), 54.5, atol=0.1)
    # another cell's sheet across every direction ahead (x = 5, 1.5 um from p): no room
    for y in np.arange(0.0, 8.01, 0.1):
        for z in np.arange(0.0, 8.01, 0.1):
            b.grid.paint(np.array([5.0, y, z]), 0.06, other, int(Compartment.DENDRITE))
    assert b._branch_direction(cell, p, d, 0.2, 0.16, grace=1.0) is None
    # the same sheet painted by the branch's own cell, older than the branch: also no room
    b2 = G._Builder(np.full(3, 8.0), np.random.default_rng(2), ext=1.0)
    own = b2.add_cell("spiny")
    for y in np.arange(0.0, 8.01, 0.1):
        for z in np.arange(0.0, 8.01, 0.1):
            b2.grid.paint(np.array([5.0, y, z]), 0.06, own, int(Compartment.DENDRITE))
    assert b2._branch_direction(own, p, d, 0.2, 0.16, grace=1.0) is None


def test_same_cell_pairs():
    sv = np.array([[[1, 2, 0, 3]]], np.uint32)
    sv2cell = np.array([0, 1, 1, 1])
    assert K.same_cell_pairs(sv, sv2cell).tolist() == [[1, 2]]
    sv2cell = np.array([0, 1, 2, 2])
    assert K.same_cell_pairs(sv, sv2cell).tolist() == []


# ------------------------------------------------------------------------------ contract


def test_deterministic_per_seed():
    a = synthesize(shape_xyz=(96, 96, 48), seed=7, n_cells=8)
    b = synthesize(shape_xyz=(96, 96, 48), seed=7, n_cells=8)
    c = synthesize(shape_xyz=(96, 96, 48), seed=8, n_cells=8)
    for name in ("raw", "seg", "mi", "vc", "sj", "sym", "asym", "compartments", "mito", "edges"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for name in ("cells", "supervoxels", "synapses", "mitochondria", "skeletons"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.seg, c.seg)


def test_dtypes_and_shapes(res):
    assert res.seg.dtype == np.uint64 and res.seg.shape == SHAPE
    for name in ("raw", "mi", "vc", "sj", "sym", "asym", "compartments"):
        arr = getattr(res, name)
        assert arr.dtype == np.uint8 and arr.shape == SHAPE, name
    assert res.edges.dtype == np.uint64 and res.edges.shape[1] == 2


def test_every_supervoxel_in_exactly_one_cell(res):
    sv = res.supervoxels
    assert sv.sv_id.is_unique
    ids = np.unique(res.seg)
    assert set(ids[ids > 0].tolist()) == set(sv.sv_id.tolist())
    assert set(sv.cell_id) == set(res.cells.cell_id)
    # the cell id is the smallest supervoxel id of the cell
    assert (sv.groupby("cell_id").sv_id.min().sort_index().index.to_numpy()
            == sv.groupby("cell_id").sv_id.min().sort_index().to_numpy()).all()


def test_agglomeration_graph_gives_the_cells(res):
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    n = int(res.seg.max()) + 1
    e = res.edges.astype(np.int64)
    g = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    sv = res.supervoxels
    comp = lab[sv.sv_id.to_numpy().astype(np.int64)]
    # one component per cell and one cell per component
    assert (pd.Series(comp).groupby(sv.cell_id.to_numpy()).nunique() == 1).all()
    assert (pd.Series(sv.cell_id.to_numpy()).groupby(comp).nunique() == 1).all()
    assert set(np.unique(e)) == set(sv.sv_id.astype(np.int64))  # every supervoxel is listed


def test_no_two_cells_touch_without_gap(res):
    cell = _cellvol(res)
    nx, ny, nz = cell.shape
    for d in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1), (0, 1, 1),
              (0, 1, -1), (1, 1, 1), (1, 1, -1), (1, -1, 1), (1, -1, -1)]:
        a = cell[max(0, -d[0]):nx - max(0, d[0]), max(0, -d[1]):ny - max(0, d[1]), max(0, -d[2]):nz - max(0, d[2])]
        b = cell[max(0, d[0]):nx - max(0, -d[0]) or None, max(0, d[1]):ny - max(0, -d[1]) or None,
                 max(0, d[2]):nz - max(0, -d[2]) or None]
        touch = (a != 0) & (b != 0) & (a != b)
        assert not touch.any(), d


def test_compartments_cover_foreground(res):
    comp = res.compartments
    fg = res.seg > 0
    assert (comp[fg] > 0).all()
    assert (comp[~fg] == 0).all()
    cell = _cellvol(res)
    glia_ids = res.cells.cell_id[res.cells.is_glia].to_numpy()
    is_glia = np.isin(cell, glia_ids)
    assert (comp[is_glia] == Compartment.GLIA).all()
    assert (comp[fg & ~is_glia] != Compartment.GLIA).all()


def test_cell_types_and_glia_present(res):
    c = res.cells
    assert c.is_glia.any()
    assert c[~c.is_glia].type.nunique() >= 3
    assert (c[c.type == "afferent"].has_soma == False).all()  # noqa: E712


def test_synapses_lie_on_contacts_with_sj_and_vc(res):
    syn = res.synapses
    assert len(syn) >= 5
    cell = _cellvol(res)
    sj_thr, vc_thr = THRESHOLDS["sj"], THRESHOLDS["vc"]
    for s in syn.itertuples():
        x, y, z = s.x, s.y, s.z
        win = (slice(max(0, x - 6), x + 7), slice(max(0, y - 6), y + 7), slice(max(0, z - 3), z + 4))
        w = cell[win]
        assert (w == s.pre_cell_id).any() and (w == s.post_cell_id).any(), s
        assert res.sj[x, y, z] > sj_thr, s
        # contact with sj above threshold on both sides
        assert ((w == s.pre_cell_id) & (res.sj[win] > sj_thr)).sum() >= 20
        assert ((w == s.post_cell_id) & (res.sj[win] > sj_thr)).sum() >= 20
        # vesicle cloud on the presynaptic side, not on the postsynaptic side
        big = tuple(slice(max(0, c - h), c + h + 1) for c, h in zip((x, y, z), (30, 30, 15)))
        pre = cell[big] == s.pre_cell_id
        post = cell[big] == s.post_cell_id
        vcm = res.vc[big] > vc_thr
        assert (vcm & pre).sum() >= 100, s
        # the presynaptic vesicle cloud is the one next to the cleft
        off = np.array([sl.start for sl in big])
        vs = np.array(res.voxel_size_nm)
        loc = np.array([x, y, z])

        def dmin(m):
            idx = np.argwhere(m)
            return np.inf if len(idx) == 0 else np.min(np.linalg.norm((idx + off - loc) * vs, axis=1))

        assert dmin(vcm & pre) < 400  # nm; the pipeline maps vc within 500 nm of a synapse
        assert dmin(vcm & pre) < dmin(vcm & post)


def test_synapse_sign_follows_pre_type_and_maps(res):
    syn = res.synapses
    cells = res.cells.set_index("cell_id")
    assert (syn.sign.to_numpy() == cells.loc[syn.pre_cell_id.to_numpy(), "sign"].to_numpy()).all()
    thr = THRESHOLDS["syntype"]
    for s in syn.itertuples():
        win = (slice(max(0, s.x - 6), s.x + 7), slice(max(0, s.y - 6), s.y + 7), slice(max(0, s.z - 3), s.z + 4))
        m = res.sj[win] > THRESHOLDS["sj"]
        n_sym = int(((res.sym[win] >= thr) & m).sum())
        n_asym = int(((res.asym[win] >= thr) & m).sum())
        ratio = n_sym / max(1, n_sym + n_asym)
        assert (ratio > 0.225) == (s.sign < 0), (s, n_sym, n_asym)
    assert set(syn.post_compartment) <= {"spine_head", "spine_neck", "shaft", "soma"}


def test_mitochondria_inside_their_cell(res):
    m = res.mitochondria
    cell = _cellvol(res)
    ids = res.mito[res.mito > 0]
    owners = cell[res.mito > 0]
    lut = dict(zip(m.mito_id.astype(np.int64), m.cell_id))
    assert all(lut[int(i)] == o for i, o in zip(ids[::97], owners[::97]))
    assert (res.mi[res.mito > 0] > 0).mean() > 0.9


def test_skeletons(res):
    sk = res.skeletons
    assert set(sk.compartment) <= {"axon", "dendrite", "soma", "spine_neck", "spine_head", "glia"}
    assert set(sk.cell_id) <= set(res.cells.cell_id)
    par = sk.parent_id.to_numpy()
    assert (par < len(sk)).all()
    assert (res.cells.cable_length_um >= 0).all() and res.cells.cable_length_um.sum() > 10


def _edge_lengths(sk):
    """(child row, length in um) of every skeleton edge, computed from the table alone."""
    par = sk.parent_id.to_numpy()
    child = np.nonzero(par >= 0)[0]
    xyz = sk[["x_nm", "y_nm", "z_nm"]].to_numpy() / 1000.0
    return child, np.linalg.norm(xyz[child] - xyz[par[child]], axis=1)


def test_skeleton_nodes_inside_volume_and_dense(res):
    sk = res.skeletons
    v = sk[["x", "y", "z"]].to_numpy()
    assert (v >= 0).all() and (v < np.array(SHAPE)).all()
    nm = sk[["x_nm", "y_nm", "z_nm"]].to_numpy()
    assert np.allclose(nm, v * np.array(res.voxel_size_nm))
    child, length = _edge_lengths(sk)
    assert length.max() <= 0.5 + 1e-6
    # a forest: node ids are row numbers, parents come first and belong to the same cell
    par = sk.parent_id.to_numpy()
    assert np.array_equal(sk.node_id.to_numpy(), np.arange(len(sk)))
    assert (par[child] < child).all()
    assert (sk.cell_id.to_numpy()[par[child]] == sk.cell_id.to_numpy()[child]).all()


def test_cable_length_is_sum_of_clipped_edges(res):
    sk = res.skeletons
    child, length = _edge_lengths(sk)
    cid = sk.cell_id.to_numpy()[child]
    comp = sk.compartment.to_numpy()[child]
    cells = res.cells.set_index("cell_id")
    vs_um = np.array(res.voxel_size_nm) / 1000.0
    border = np.isclose(sk[["x", "y", "z"]].to_numpy(), 0, atol=1e-6) | np.isclose(
        sk[["x", "y", "z"]].to_numpy(), np.array(SHAPE), atol=1e-6)
    crossing = set(sk.cell_id[border.any(axis=1)])
    assert len(crossing) >= 3  # cells cut by the volume border end in nodes on it
    for c in cells.index:
        m = cid == c
        assert cells.cable_length_um[c] == pytest.approx(length[m].sum(), abs=1e-9)
        no_sp = length[m & ~np.isin(comp, ["spine_neck", "spine_head"])].sum()
        assert cells.cable_length_no_spines_um[c] == pytest.approx(no_sp, abs=1e-9)
    assert (cells.cable_length_no_spines_um <= cells.cable_length_um + 1e-12).all()
    spiny = cells[cells.type == "spiny"]
    assert (spiny.cable_length_no_spines_um < spiny.cable_length_um).any()
    # independent check: the in-volume length of the scene's centre lines, by dense sampling
    from syconn.synth.geometry import build_scene, default_cell_counts

    size = np.array(SHAPE) * vs_um
    scene = build_scene(size, default_cell_counts(size), np.random.default_rng(res.seed))
    nodes = np.array([n[1:4] for n in scene.nodes])
    parent = np.array([n[6] for n in scene.nodes])
    e = np.nonzero(parent >= 0)[0]
    a, b = nodes[parent[e]], nodes[e]
    t = (np.arange(400) + 0.5) / 400
    total = 0.0
    for k in range(0, len(e), 256):
        p = a[k:k + 256, None] + (b - a)[k:k + 256, None] * t[None, :, None]
        frac = np.all((p >= 0) & (p < size), axis=2).mean(axis=1)
        total += (frac * np.linalg.norm((b - a)[k:k + 256], axis=1)).sum()
    assert res.cells.cable_length_um.sum() == pytest.approx(total, rel=2e-3, abs=0.05)


def test_skeleton_clipping_by_hand():
    from syconn.synth.core import _cable_length, _skeleton_table
    from syconn.synth.geometry import Scene

    size = np.array([1.0, 1.0, 1.0])
    vs = np.array([0.01, 0.01, 0.02])
    s = Scene(size_um=size)
    D, A, N, H, S = (int(Compartment.DENDRITE), int(Compartment.AXON), int(Compartment.SPINE_NECK),
                     int(Compartment.SPINE_HEAD), int(Compartment.SOMA))
    # cell 1: soma outside (x = -0.5) -> dendrite node inside -> leaves at x = 1 (length 0.5 + 0.5)
    soma = s.add_node(1, np.array([-0.5, 0.5, 0.5]), 0.6, S, -1)
    d0 = s.add_node(1, np.array([0.5, 0.5, 0.5]), 0.2, D, soma)
    s.add_node(1, np.array([1.5, 0.5, 0.5]), 0.1, D, d0)
    # a spine whose head pokes out at y = 1: 0.1 + 0.3 + 0.1 inside
    n0 = s.add_node(1, np.array([0.5, 0.6, 0.5]), 0.05, N, d0)
    n1 = s.add_node(1, np.array([0.5, 0.9, 0.5]), 0.05, N, n0)
    s.add_node(1, np.array([0.5, 1.1, 0.5]), 0.2, H, n1)
    # cell 2: an axon edge with both ends outside that crosses the box (1.0 inside), one outside
    a0 = s.add_node(2, np.array([-0.2, 0.2, 0.2]), 0.1, A, -1)
    a1 = s.add_node(2, np.array([1.2, 0.2, 0.2]), 0.1, A, a0)
    s.add_node(2, np.array([2.0, 2.0, 2.0]), 0.1, A, a1)
    # cell 3: in the scene but not in the volume
    s.add_node(3, np.array([0.5, 0.5, 0.5]), 0.1, A, -1)
    cell_id = np.array([0, 10, 20, 0])
    sk = _skeleton_table(s, cell_id, vs, size)
    assert set(sk.cell_id) == {10, 20}
    v = sk[["x", "y", "z"]].to_numpy()
    assert (v >= 0).all() and (v < size / vs).all()
    _, length = _edge_lengths(sk)
    assert length.max() <= 0.5 + 1e-9
    total = _cable_length(sk, np.array([10, 20]))
    assert total == pytest.approx([1.5, 1.0], abs=1e-8)
    assert _cable_length(sk, np.array([10, 20]), no_spines=True) == pytest.approx([1.0, 1.0], abs=1e-8)
    c1 = sk[sk.cell_id == 10].reset_index(drop=True)
    # border node of the soma edge (a root, labelled like its edge), then the original dendrite node
    assert c1.x_nm[0] == pytest.approx(0) and c1.parent_id[0] == -1 and c1.compartment[0] == "soma"
    assert c1.radius_um[0] == pytest.approx(0.4)  # interpolated half way along the edge
    assert c1.x_nm[1] == pytest.approx(500) and c1.compartment[1] == "dendrite"
    assert c1.compartment.tolist().count("spine_head") == 1
    assert sk[sk.cell_id == 10].y_nm.max() == pytest.approx(1000, abs=1e-3)
    # the crossing axon edge: 1.0 um, split into two 0.5 um edges, root and leaf on the border
    c2 = sk[sk.cell_id == 20]
    assert len(c2) == 3 and (c2.compartment == "axon").all()
    assert c2.x_nm.tolist() == pytest.approx([0, 500, 1000], abs=1e-3)
    assert (c2.parent_id == -1).sum() == 1


def test_raw_em_contrast(res):
    raw = res.raw.astype(np.float32)
    fg = res.compartments > 0
    # membranes / gaps darker than cytoplasm
    assert raw[~fg].mean() < raw[fg].mean() - 30


def test_merge_and_split_errors():
    r = synthesize(shape_xyz=(128, 128, 64), seed=2, merge_errors=2, split_errors=2)
    err = r.agglomeration_errors
    assert (err.kind == "merge").sum() == 2
    assert (err.kind == "split").sum() >= 2
    e = {tuple(x) for x in r.edges.tolist()}
    for row in err[err.kind == "merge"].itertuples():
        assert (min(row.sv_a, row.sv_b), max(row.sv_a, row.sv_b)) in e


def test_glia_merges_join_a_glia_and_a_neuron_supervoxel():
    plain = synthesize(shape_xyz=(128, 128, 64), seed=2)
    r = synthesize(shape_xyz=(128, 128, 64), seed=2, glia_merges=2)
    err = r.agglomeration_errors
    assert (err.kind == "glia_merge").sum() == 2 and set(err.kind) == {"glia_merge"}
    glia_cells = set(r.cells.cell_id[r.cells.is_glia].tolist())
    cell_of = dict(zip(r.supervoxels.sv_id.tolist(), r.supervoxels.cell_id.tolist()))
    e = {tuple(x) for x in r.edges.tolist()}
    for row in err.itertuples():
        assert (min(row.sv_a, row.sv_b), max(row.sv_a, row.sv_b)) in e
        assert (cell_of[row.sv_a] in glia_cells) != (cell_of[row.sv_b] in glia_cells)
    # nothing else changes: the same tissue, the same edges plus the merges
    np.testing.assert_array_equal(r.seg, plain.seg)
    assert e - {tuple(x) for x in plain.edges.tolist()} == \
        {(min(a, b), max(a, b)) for a, b in zip(err.sv_a, err.sv_b)}
    with pytest.raises(InputError, match="glia_merges"):
        synthesize(shape_xyz=(64, 64, 64), glia_merges=-1)


def test_bad_arguments():
    with pytest.raises(InputError, match="shape_xyz"):
        synthesize(shape_xyz=(8, 64, 64))
    with pytest.raises(InputError, match="voxel_size_nm"):
        synthesize(shape_xyz=(64, 64, 64), voxel_size_nm=(0, 10, 20))
    with pytest.raises(InputError, match="n_cells"):
        synthesize(shape_xyz=(64, 64, 64), n_cells=2)


def test_anisotropic_coarse_voxels():
    r = synthesize(shape_xyz=(96, 96, 48), voxel_size_nm=(20, 20, 40), seed=1, n_cells=12)
    assert r.voxel_size_nm == (20.0, 20.0, 40.0)
    assert (r.seg > 0).mean() > 0.4


# ------------------------------------------------------------------------------ output


def test_write_h5(tmp_path, res):
    import h5py

    write_dataset(res, tmp_path, preview=tmp_path / "p.png")
    meta = json.loads((tmp_path / "synth.json").read_text())
    assert meta["voxel_size_nm"] == [10.0, 10.0, 20.0] and meta["shape_xyz"] == list(SHAPE)
    assert meta["volumes"]["seg"] == "seg.h5" and meta["agglomeration"] == "neuron_rag.bz2"
    for name in ("raw", "seg", "mi", "vc", "sj", "sym", "asym"):
        with h5py.File(tmp_path / f"{name}.h5", "r") as f:
            assert f[name].shape == SHAPE
    with h5py.File(tmp_path / "seg.h5", "r") as f:
        assert np.array_equal(f["seg"][:], res.seg) and f["seg"].dtype == np.uint64
    with bz2.open(tmp_path / "neuron_rag.bz2", "rt") as f:
        edges = np.array([list(map(int, line.split())) for line in f], np.uint64)
    assert np.array_equal(edges, res.edges)
    syn = pd.read_parquet(tmp_path / "gt" / "synapses.parquet")
    pd.testing.assert_frame_equal(syn, res.synapses)
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_command_rejects_bad_format(tmp_path):
    from syconn.synth.command import synth_command

    with pytest.raises(InputError, match="--format"):
        synth_command(tmp_path, shape=(64, 64, 32), format="tiff")
    with pytest.raises(InputError, match="--shape"):
        synth_command(tmp_path, shape=(4, 64, 32))


@pytest.mark.parametrize("fmt", ["zarr", "knossos"])
def test_write_other_formats(tmp_path, fmt):
    io = pytest.importorskip("syconn.io")
    if not hasattr(io, "create_volume"):
        pytest.skip("syconn.io.create_volume not available yet")
    r = synthesize(shape_xyz=(64, 64, 32), seed=0, n_cells=6)
    write_dataset(r, tmp_path, fmt=fmt)
    meta = json.loads((tmp_path / "synth.json").read_text())
    assert meta["format"] == fmt
    for rel in meta["volumes"].values():
        assert (tmp_path / rel).exists()


# ------------------------------------------------------------------------------ variation


def _min_gap_vx(cell, reach):
    """Smallest Chebyshev distance (voxels, up to ``reach``) between voxels of two cells."""
    nx, ny, nz = cell.shape
    best = reach + 1
    for dx in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            for dz in range(0, reach + 1):
                if (dz, dy, dx) <= (0, 0, 0):
                    continue
                d = (dx, dy, dz)
                a = cell[max(0, -d[0]):nx - max(0, d[0]), max(0, -d[1]):ny - max(0, d[1]),
                         max(0, -d[2]):nz - max(0, d[2])]
                b = cell[max(0, d[0]):nx - max(0, -d[0]) or None,
                         max(0, d[1]):ny - max(0, -d[1]) or None,
                         max(0, d[2]):nz - max(0, -d[2]) or None]
                if ((a != 0) & (b != 0) & (a != b)).any():
                    best = min(best, max(abs(dx), abs(dy), abs(dz)))
    return best


def test_variation_draws_are_deterministic_and_in_range():
    from syconn.synth.variation import VOXEL_SIZES_NM, Variation

    assert Variation().is_default and not Variation.draw(0).is_default
    draws = [Variation.draw(s) for s in range(40)]
    assert draws[7] == Variation.draw(7)
    assert {d.voxel_size_nm for d in draws} == set(VOXEL_SIZES_NM)
    assert {d.gap_vx for d in draws} == {0, 1, 2, 3}
    for d in draws:
        assert 0.02 <= d.sj_half_width_um <= 0.08 and 0 <= d.sj_offset_um <= d.sj_half_width_um
        assert d.sj_peak[0] < d.sj_peak[1] <= 255 and d.bouton_radius_um[0] < d.bouton_radius_um[1]
        assert 0 <= d.noise_sd <= 25 and 0 <= d.blur_nm <= 15


@pytest.mark.parametrize("gap", [0, 2, 3])
def test_varied_tissue_keeps_its_gap_and_ground_truth(gap, tmp_path):
    import dataclasses

    from syconn.synth.variation import Variation

    var = dataclasses.replace(Variation.draw(11), gap_vx=gap, decoy_contacts_per_synapse=1.0)
    vs = var.voxel_size_nm
    r = synthesize(shape_xyz=(256, 256, 96), voxel_size_nm=vs, seed=5, variation=var)
    cell = _cellvol(r)
    # two cells come no closer than the drawn gap (a gap of g: g background voxels between)
    assert _min_gap_vx(cell, 4) == gap + 1
    assert len(r.synapses) >= 10 and len(r.decoys) >= 1
    # every synapse and decoy lies where its two cells face each other within gap + 1 voxels
    for t in (r.synapses.rename(columns={"pre_cell_id": "a", "post_cell_id": "b"}),
              r.decoys.rename(columns={"cell_a": "a", "cell_b": "b"})):
        for row in t.itertuples():
            h = gap + 3
            box = cell[max(row.x - h, 0):row.x + h + 1, max(row.y - h, 0):row.y + h + 1,
                       max(row.z - h, 0):row.z + h + 1]
            assert {int(row.a), int(row.b)} <= set(np.unique(box).tolist()), row
    # no decoy is a synapse: they keep 1 um from every cleft
    syn = r.synapses[["x", "y", "z"]].to_numpy() * np.asarray(vs) / 1000
    dec = r.decoys[["x", "y", "z"]].to_numpy() * np.asarray(vs) / 1000
    assert np.linalg.norm(syn[:, None] - dec[None], axis=-1).min() > 0.9
    path = write_dataset(r, tmp_path / "d")
    meta = json.loads(path.read_text())
    assert meta["variation"]["gap_vx"] == gap and meta["voxel_size_nm"] == list(vs)
    assert len(pd.read_parquet(tmp_path / "d" / "gt" / "decoys.parquet")) == len(r.decoys)


def test_candidates_record_every_synapse_and_the_connection_rule(res, tmp_path):
    from syconn.synth.core import CANDIDATE_FATES
    from syconn.synth.types import CONNECTION_PROB, TYPE_NAMES

    c = res.candidates
    assert set(c.fate) <= set(CANDIDATE_FATES) and len(c) > len(res.synapses)
    # each synapse is one candidate of its pair that became one, the rest did not
    syn = c[c.fate == "synapse"]
    assert len(syn) == len(res.synapses)
    assert sorted(zip(syn.pre_cell_id, syn.post_cell_id)) == \
        sorted(zip(res.synapses.pre_cell_id, res.synapses.post_cell_id))
    # never a glia partner, never a pair the rule forbids; drawn ones are in the volume
    assert (c.pre_type != "glia").all() and (c.post_type != "glia").all()
    p = [CONNECTION_PROB[TYPE_NAMES.index(a), TYPE_NAMES.index(b)]
         for a, b in zip(c.pre_type, c.post_type)]
    assert all(q > 0 for q, f in zip(p, c.fate) if f != "not_drawn")
    shape = np.asarray(res.shape_xyz)
    xyz = c[["x", "y", "z"]].to_numpy()
    assert ((xyz >= 0) & (xyz < shape)).all()
    write_dataset(res, tmp_path / "d")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "d" / "gt" / "candidates.parquet"),
                                  c, check_dtype=False)


def test_default_tissue_has_no_variation_record(res, tmp_path):
    meta = json.loads(write_dataset(res, tmp_path / "d").read_text())
    assert meta["variation"] is None and len(res.decoys) == 0


def test_command_variation_draws_the_voxel_size(tmp_path):
    from typer.testing import CliRunner

    from syconn.cli import app
    from syconn.synth.variation import Variation

    r = CliRunner().invoke(app, ["synth", str(tmp_path / "v"), "--shape", "96", "96", "48",
                                 "--seed", "4", "--variation"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "v" / "synth.json").read_text())
    assert tuple(meta["voxel_size_nm"]) == Variation.draw(4).voxel_size_nm
    assert "variation of seed 4" in r.output
