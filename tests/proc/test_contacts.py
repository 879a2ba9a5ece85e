"""Tests for syconn.proc.contacts (hand-worked cubes, a brute-force reference, block layouts)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import scipy.ndimage as ndi

from syconn.errors import InputError
from syconn.proc.contacts import contact_halo_vx, find_contacts, merge_contact_stats

VS = (10.0, 10.0, 20.0)
HALO = contact_halo_vx(voxel_size_nm=VS)
DTYPES = [np.uint32, np.uint64]
ORDERS = ["C", "F"]


def _run(seg, sj=None, sym=None, asym=None, **kw):
    """find_contacts on the whole array as the core (padded with the halo, outside = 0)."""
    pad = [(h, h) for h in HALO]
    p = lambda a: None if a is None else np.pad(a, pad)  # noqa: E731
    return find_contacts(p(seg), p(sj), sym=p(sym), asym=p(asym), offset_xyz=(0, 0, 0),
                         halo_vx=HALO, voxel_size_nm=VS, **kw)


def _arr(shape, dtype, order):
    return np.zeros(shape, dtype=dtype, order=order)


def _pairs(res):
    t = res.contact_stats
    return list(zip(t["cell_a"].to_pylist(), t["cell_b"].to_pylist()))


def test_halo_default():
    assert HALO == (20, 20, 18)  # window half-widths (6, 6, 4) + 2 * 6 closing + 2 dilation
    assert contact_halo_vx(voxel_size_nm=VS, closing_iterations=0, dilation_iterations=0,
                           sj_struct="aniso") == (8, 8, 4)  # 4 sj steps of 5 x 5 x 3: (2, 2, 1)
    assert contact_halo_vx(voxel_size_nm=VS, closing_iterations=0, dilation_iterations=0) == (
        6, 6, 4)  # the in-plane cross reaches (1, 1, 0) per step: the window decides
    assert contact_halo_vx(voxel_size_nm=VS, closing_iterations=0, dilation_iterations=0,
                           sj_morph_ops=(), filtersize_vx=(13, 13, 7)) == (6, 6, 3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ORDERS)
def test_two_cubes_6_apart_x_boundary_faces(dtype, order):
    # cubes x 1..4 and 10..13: facing faces x=4 and x=10 are 6 apart, within the half-width 6
    seg = _arr((16, 8, 8), dtype, order)
    seg[1:5, 2:6, 2:6] = 1
    seg[10:14, 2:6, 2:6] = 2
    res = _run(seg, closing_iterations=0, dilation_iterations=0, return_labels=True)
    assert res.contact_stats.to_pylist() == [{
        "cell_a": 1, "cell_b": 2, "n_vx": 32, "n_sj_vx": 0,
        "sum_x": 16 * 4 + 16 * 10, "sum_y": 2 * 4 * (2 + 3 + 4 + 5),
        "sum_z": 2 * 4 * (2 + 3 + 4 + 5),
        "bbox_min_x": 4, "bbox_min_y": 2, "bbox_min_z": 2,
        "bbox_max_x": 11, "bbox_max_y": 6, "bbox_max_z": 6}]
    assert set(np.nonzero(res.labels)[0]) == {4, 10}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ORDERS)
def test_two_cubes_6_apart_x_closed_over_gap(dtype, order):
    seg = _arr((16, 16, 12), dtype, order)
    seg[0:5, 1:15, 1:11] = 1
    seg[10:15, 1:15, 1:11] = 2
    res = _run(seg, return_labels=True)
    assert _pairs(res) == [(1, 2)]
    lab = res.labels
    # the cleft x = 5..9 is covered in the middle of the faces; dilation adds 2 voxels each side
    assert (lab[2:13, 7, 5] == 1).all() and lab[1, 7, 5] == 0 and lab[13, 7, 5] == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_cubes_8_apart_no_contact(dtype):
    seg = _arr((16, 8, 8), dtype, "F")
    seg[0:4, 2:6, 2:6] = 1
    seg[11:15, 2:6, 2:6] = 2  # faces x=3 and x=11: 8 apart
    res = _run(seg)
    assert res.contact_stats.num_rows == 0 and res.syn_voxels.num_rows == 0


@pytest.mark.parametrize("gap, n", [(4, 1), (5, 0)])
def test_cubes_along_z(gap, n):
    # faces ``gap`` slices apart; the window half-width in z is 4 slices
    seg = _arr((8, 8, 16), np.uint64, "C")
    seg[2:6, 2:6, 1:5] = 1
    seg[2:6, 2:6, 4 + gap:8 + gap] = 2
    res = _run(seg)
    assert _pairs(res) == [(1, 2)] * n


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ORDERS)
def test_cube_touching_two_others_and_pair_order(dtype, order):
    seg = _arr((20, 12, 8), dtype, order)
    seg[6:10, 0:4, 2:6] = 9    # faces y=3 / y=6 of 9 and 5: 3 apart
    seg[6:13, 6:10, 2:6] = 5
    seg[16:20, 6:10, 2:6] = 3  # faces x=12 / x=16 of 5 and 3: 4 apart; 9 and 3: 7 apart in x
    res = _run(seg)
    assert _pairs(res) == [(3, 5), (5, 9)]


def _voronoi(shape, n, seed):
    rng = np.random.default_rng(seed)
    pts = rng.random((n, 3)) * np.array(shape)
    g = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    d = ((g[..., None, :] - pts) ** 2 * np.array([1, 1, 4])).sum(-1)
    seg = (d.argmin(-1) + 1).astype(np.uint64)
    gap = np.zeros(shape, bool)
    for ax in range(3):
        dd = np.diff(seg, axis=ax) != 0
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[ax] = slice(0, -1)
        hi[ax] = slice(1, None)
        gap[tuple(lo)] |= dd
        gap[tuple(hi)] |= dd
    seg[gap] = 0
    return seg, gap


def _reference_labels(seg, hw=(6, 6, 4), r=6, dil=2):
    """Brute force: window histograms per voxel, then scipy closing/dilation per sorted pair."""
    P = np.pad(seg, [(h + 1, h + 1) for h in hw])
    hx, hy, hz = hw
    found = {}
    for x, y, z in zip(*np.nonzero(seg)):
        c = seg[x, y, z]
        px, py, pz = x + hx + 1, y + hy + 1, z + hz + 1
        nb = P[[px - 1, px + 1, px, px, px, px], [py, py, py - 1, py + 1, py, py],
               [pz, pz, pz, pz, pz - 1, pz + 1]]
        if (nb == c).all():
            continue
        w = P[px - hx:px + hx + 1, py - hy:py + hy + 1, pz - hz:pz + hz + 1].ravel()
        w = w[(w != 0) & (w != c)]
        if w.size:
            u, cnt = np.unique(w, return_counts=True)
            b = u[np.argmax(cnt)]  # sorted unique: ties go to the smaller id
            found[(x, y, z)] = (min(c, b), max(c, b))
    keys = sorted(set(found.values()))
    kid = {k: i + 1 for i, k in enumerate(keys)}
    pad = r + dil + 2
    cont = np.zeros(seg.shape, np.int64)
    for v, k in found.items():
        cont[v] = kid[k]
    C = np.pad(cont, pad)
    res = C.copy()
    for k in keys:
        m = ndi.binary_dilation(C == kid[k], iterations=r)
        m = ndi.binary_erosion(m, iterations=r)
        m = ndi.binary_dilation(m, iterations=dil)
        res[m & (res == 0)] = kid[k]
    res = res[pad:-pad, pad:-pad, pad:-pad]
    return res, keys


def test_matches_brute_force_reference():
    seg, _ = _voronoi((20, 20, 12), 10, seed=1)
    ref, keys = _reference_labels(seg)
    res = _run(seg, return_labels=True)
    mine = _pairs(res)
    to_pair = lambda lab, ks: np.array([(0, 0)] + [tuple(k) for k in ks])[lab]  # noqa: E731
    assert len(mine) >= 10
    np.testing.assert_array_equal(to_pair(res.labels, mine), to_pair(ref, keys))


def _blocks(seg, sj, sym, asym, block):
    pad = [(h, h) for h in HALO]
    P = [np.pad(a, pad) for a in (seg, sj, sym, asym)]
    stats, syns = [], []
    for x0 in range(0, seg.shape[0], block[0]):
        for y0 in range(0, seg.shape[1], block[1]):
            for z0 in range(0, seg.shape[2], block[2]):
                x1, y1, z1 = (min(a + b, s) for a, b, s in zip((x0, y0, z0), block, seg.shape))
                sl = tuple(slice(a, b + 2 * h) for a, b, h in zip((x0, y0, z0), (x1, y1, z1),
                                                                    HALO))
                r = find_contacts(P[0][sl], P[1][sl], sym=P[2][sl], asym=P[3][sl],
                                  offset_xyz=(x0, y0, z0), halo_vx=HALO, voxel_size_nm=VS)
                stats.append(r.contact_stats)
                syns.append(r.syn_voxels)
    syn = pa.concat_tables(syns).sort_by([(c, "ascending") for c in
                                          ("cell_a", "cell_b", "z", "y", "x")])
    return merge_contact_stats(stats), syn


def test_block_size_independence():
    seg, gap = _voronoi((36, 28, 16), 14, seed=2)
    rng = np.random.default_rng(0)
    sj = np.zeros(seg.shape, np.uint8)
    for c in rng.integers(0, np.array(seg.shape), size=(6, 3)):
        sj[tuple(slice(max(a - 4, 0), a + 4) for a in c)] = 200
    sym = rng.integers(0, 256, seg.shape).astype(np.uint8)
    asym = rng.integers(0, 256, seg.shape).astype(np.uint8)
    whole = _blocks(seg, sj, sym, asym, seg.shape)
    tiled = _blocks(seg, sj, sym, asym, (12, 10, 7))
    assert whole[0].num_rows >= 10 and whole[1].num_rows > 100
    assert whole[0].equals(tiled[0])
    assert whole[1].equals(tiled[1])
    # centroids and totals are consistent with the syn voxel table
    assert sum(whole[0]["n_sj_vx"].to_pylist()) == whole[1].num_rows


@pytest.mark.parametrize("order", ORDERS)
def test_syn_voxels_threshold_and_flags(order):
    seg = _arr((16, 16, 8), np.uint64, order)
    seg[0:5, 0:16, 0:8] = 1
    seg[7:12, 0:16, 0:8] = 2
    sj = _arr(seg.shape, np.uint8, order)
    sym = _arr(seg.shape, np.uint8, order)
    asym = _arr(seg.shape, np.uint8, order)
    sj[6, 4, 4] = 49   # > 0.19047619 * 255 = 48.57
    sj[6, 5, 4] = 48   # below
    sj[6, 6, 4] = 49
    sym[6, 6, 4] = 123
    asym[6, 6, 4] = 122
    res = _run(seg, sj, sym, asym, sj_morph_ops=())
    assert res.syn_voxels.to_pylist() == [
        {"x": 6, "y": 4, "z": 4, "cell_a": 1, "cell_b": 2, "sym": False, "asym": False,
         "sj": 49},
        {"x": 6, "y": 6, "z": 4, "cell_a": 1, "cell_b": 2, "sym": True, "asym": False,
         "sj": 49}]
    assert res.contact_stats["n_sj_vx"].to_pylist() == [2]
    # with the default opening, isolated sj voxels vanish; a 5 x 5 x 3 block survives
    sj[4:9, 8:13, 2:5] = 255
    res = _run(seg, sj, sym, asym)
    t = res.syn_voxels
    assert t.num_rows > 0 and set(t["y"].to_pylist()) <= set(range(8, 13))


def _facing_slabs(axis, gap, sides):
    """Cells 1 and 2 fill a 24^3 box on either side of ``gap`` background layers across
    ``axis`` (cell 1 up to layer 11, cell 2 from 12 + gap); an sj band of value 200 fills
    the gap and 3 layers of each cell in ``sides`` ("a" = cell 1, "b" = cell 2), 12 x 12 wide."""
    shape = (24, 24, 24)
    seg = np.zeros(shape, np.uint64)
    sj = np.zeros(shape, np.uint8)
    lo = [slice(None)] * 3
    hi = [slice(None)] * 3
    lo[axis], hi[axis] = slice(0, 12), slice(12 + gap, 24)
    seg[tuple(lo)] = 1
    seg[tuple(hi)] = 2
    band = [slice(6, 18)] * 3
    band[axis] = slice(9 if "a" in sides else 12, 15 + gap if "b" in sides else 12 + gap)
    sj[tuple(band)] = 200
    return seg, sj


@pytest.mark.parametrize("axis", [0, 2])
@pytest.mark.parametrize("gap", [0, 1, 2, 3])
@pytest.mark.parametrize("sides", ["ab", "a"])
def test_contact_and_sj_across_a_gap(axis, gap, sides):
    """A contact across a gap of 0-3 voxels (x at 10 nm, z at 20 nm) keeps its sj voxels.

    By hand, on the line through the middle of the band: the boundary voxels are layer 11
    (cell 1) and 12 + gap (cell 2); the closing fills the gap between them and the dilation
    (2) adds two layers on each side, so the contact spans layers 9 .. 14 + gap.  The sj band
    spans 9 .. 14 + gap (both sides) or 9 .. 11 + gap (cell 1's side only) and survives the
    in-plane opening (it is at least 3 voxels wide in x and y), so the synapse-fragment voxels
    on the line are gap + 6 or gap + 3 layers."""
    seg, sj = _facing_slabs(axis, gap, sides)
    res = _run(seg, sj)
    assert _pairs(res) == [(1, 2)]
    t = res.syn_voxels.to_pandas()
    other = [a for a in range(3) if a != axis]
    line = t[(t["xyz"[other[0]]] == 12) & (t["xyz"[other[1]]] == 12)]
    last = 14 + gap if sides == "ab" else 11 + gap
    assert sorted(line["xyz"[axis]].tolist()) == list(range(9, last + 1))
    assert (line["sj"] == 200).all()
    assert res.contact_stats["n_sj_vx"].to_pylist() == [len(t)]


def test_syconn_window_and_element_lose_such_contacts():
    # SyConn's 13 x 13 x 7 window: no partner 4 slices away in z, so no contact at all
    seg, sj = _facing_slabs(2, 3, "ab")
    assert _pairs(_run(seg, sj, filtersize_vx=(13, 13, 7))) == []
    # SyConn's 5 x 5 x 3 element opens away a band 3 voxels thick in x (one side, no gap)
    seg, sj = _facing_slabs(0, 0, "a")
    assert _run(seg, sj, sj_struct="aniso").syn_voxels.num_rows == 0
    assert _run(seg, sj).syn_voxels.num_rows > 0


def test_errors():
    seg = np.zeros((50, 50, 40), np.float32)
    with pytest.raises(InputError, match="cells: dtype float32"):
        find_contacts(seg, offset_xyz=(0, 0, 0), halo_vx=HALO, voxel_size_nm=VS)
    seg = np.zeros((50, 50, 40), np.uint32)
    with pytest.raises(InputError, match=r"halo_vx: \(4, 4, 4\), expected at least"):
        find_contacts(seg, offset_xyz=(0, 0, 0), halo_vx=(4, 4, 4), voxel_size_nm=VS)
    with pytest.raises(InputError, match="sj: dtype int64"):
        find_contacts(seg, np.zeros(seg.shape, np.int64), offset_xyz=(0, 0, 0), halo_vx=HALO,
                      voxel_size_nm=VS)
    with pytest.raises(InputError, match="no core"):
        find_contacts(seg, offset_xyz=(0, 0, 0), halo_vx=(20, 25, 20), voxel_size_nm=VS)


def _reference_partners(seg, hw):
    """Brute force partner of every boundary voxel: ``{(x, y, z): (own, partner)}``."""
    hx, hy, hz = hw
    P = np.pad(seg, [(h + 1, h + 1) for h in hw])
    out = {}
    for x, y, z in zip(*np.nonzero(seg)):
        c = seg[x, y, z]
        px, py, pz = x + hx + 1, y + hy + 1, z + hz + 1
        nb = P[[px - 1, px + 1, px, px, px, px], [py, py, py - 1, py + 1, py, py],
               [pz, pz, pz, pz, pz - 1, pz + 1]]
        if (nb == c).all():
            continue
        w = P[px - hx:px + hx + 1, py - hy:py + hy + 1, pz - hz:pz + hz + 1].ravel()
        w = w[(w != 0) & (w != c)]
        if w.size:
            u, cnt = np.unique(w, return_counts=True)
            out[(int(x), int(y), int(z))] = (int(c), int(u[np.argmax(cnt)]))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("hw", [(6, 6, 3), (2, 3, 1)])
def test_partner_search_matches_full_histogram_at_junctions(seed, hw):
    # small touching Voronoi cells (many 3- and 4-cell junctions inside one window), random
    # labels and background holes, some cells fragmented into specks: every way the kernel
    # reuses a histogram (slid along x, moved along y or z from an earlier row / plane) must
    # give the full histogram's partner, ties to the smaller label included
    from scipy.spatial import cKDTree

    from syconn.proc import _contact_kernels as _k

    rng = np.random.default_rng(seed)
    shape = (26, 22, 14)
    pts = rng.random((40, 3)) * np.array(shape)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    _, lab = cKDTree(pts).query(grid.reshape(-1, 3))
    ids = rng.permutation(10 ** 6)[:40].astype(np.uint64) + 1
    seg = ids[lab].reshape(shape)
    seg[rng.random(shape) < 0.08] = 0
    specks = rng.random(shape) < 0.03
    seg[specks] = ids[rng.integers(0, 5, specks.sum())]
    ref = _reference_partners(seg, hw)
    pad = [(h + 1, h + 1) for h in hw]
    P = np.asfortranarray(np.pad(seg, pad))
    runx = _k.run_lengths_x(P)
    runy = _k.run_lengths_y(P)
    lo = [h + 1 for h in hw]
    xs, ys, zs, own, par = _k.find_partners(P, runx, runy, *hw, lo[0], lo[0] + shape[0],
                                            lo[1], lo[1] + shape[1], lo[2], lo[2] + shape[2])
    got = {(int(x) - lo[0], int(y) - lo[1], int(z) - lo[2]): (int(a), int(b))
           for x, y, z, a, b in zip(xs, ys, zs, own, par)}
    assert len(ref) > 1000
    assert got == ref
