"""Cell-level synapses from synapse-fragment voxels (SyConn steps 6b-6d).

Input are the ``syn_voxels`` tables of :func:`syconn.proc.contacts.find_contacts` (all blocks
concatenated).  Column naming: before the direction is known the two partners are ``cell_a <
cell_b`` and per-partner features end in ``_a`` / ``_b`` (``n_vc_vxs_a`` = vesicle-cloud voxels of
``cell_a`` near the synapse).  :func:`synapse_direction` turns ``_a``/``_b`` into pre/post.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from syconn.errors import InputError
from syconn.proc.cells import map_supervoxels

__all__ = [
    "group_synapses",
    "sj_fragment_counts",
    "add_sj_counts",
    "sj_voxel_counts",
    "organelle_surface_points",
    "organelle_proximity",
    "split_organelles",
    "main_sj_objects",
    "rival_ratio",
    "sj_centre_offsets",
    "sj_object_shares",
    "synapse_direction",
    "synapse_ids",
    "synapse_rows",
    "SYNAPSES_SCHEMA",
    "NO_ORGANELLE_DST_NM",
]

NO_ORGANELLE_DST_NM = 1e12  #: min_dst_*_nm when no candidate organelle (as SyConn)

SYNAPSES_SCHEMA = pa.schema([
    ("synapse_id", pa.uint64()), ("cell_a", pa.uint64()), ("cell_b", pa.uint64()),
    ("size_vx", pa.int64()), ("area_um2", pa.float64()),
    ("rep_x", pa.int64()), ("rep_y", pa.int64()), ("rep_z", pa.int64()),
    ("bbox_min_x", pa.int64()), ("bbox_min_y", pa.int64()), ("bbox_min_z", pa.int64()),
    ("bbox_max_x", pa.int64()), ("bbox_max_y", pa.int64()), ("bbox_max_z", pa.int64()),
    ("sym_vx", pa.int64()), ("asym_vx", pa.int64()),
    ("sym_prop", pa.float64()), ("asym_prop", pa.float64()),
    ("sym_ratio", pa.float64()), ("sign", pa.int8()),
    ("sj_prob_mean", pa.float64()), ("sj_prob_max", pa.float64()),
])

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix(v: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised on uint64 (wrap-around arithmetic)."""
    with np.errstate(over="ignore"):
        z = v + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _hash_cols(*cols) -> np.ndarray:
    h = np.zeros(len(cols[0]), np.uint64)
    for c in cols:
        h = _splitmix(h ^ np.asarray(c).astype(np.int64).view(np.uint64))
    return h


def synapse_ids(cell_a, cell_b, x, y, z) -> np.ndarray:
    """Stable 63-bit synapse ids: splitmix64 hash of (cell_a, cell_b, first voxel), never 0.

    The first voxel is the synapse's smallest voxel in raster order (z, then y, then x), so the id
    depends on the synapse itself only, not on the block layout or the other synapses.
    """
    h = _hash_cols(cell_a, cell_b, x, y, z) >> np.uint64(1)
    h[h == 0] = 1
    return h


def _vec3(v, name, typ=float):
    try:
        out = tuple(typ(a) for a in v)
    except (TypeError, ValueError):
        raise InputError(f"{name}: {v!r}, expected three numbers (x, y, z)") from None
    if len(out) != 3 or min(out) <= 0:
        raise InputError(f"{name}: {v!r}, expected three positive numbers (x, y, z)")
    return out


def _require(table: pa.Table, name: str, cols: Sequence[str]):
    if not isinstance(table, pa.Table):
        raise InputError(f"{name}: {type(table).__name__}, expected a pyarrow.Table")
    missing = [c for c in cols if c not in table.column_names]
    if missing:
        raise InputError(f"{name}: missing columns {missing}, has {table.column_names}")


def _np(table, col, dtype=None):
    a = table.column(col).to_numpy()
    return a.astype(dtype, copy=False) if dtype is not None else a


def _cluster(xyz_nm: np.ndarray, gap_nm: float, link_nm: float, *, large_vx: int = 0,
             large_gap_nm: float | None = None, alone: np.ndarray | None = None) -> np.ndarray:
    """Components of points: pieces (points within ``link_nm``) joined when closer than
    ``gap_nm`` (strictly), closest first; two clusters of at least ``large_vx`` points each are
    joined only when closer than ``large_gap_nm`` (None: always, plain single linkage); a
    piece whose points are mostly ``alone`` joins nothing."""
    n = len(xyz_nm)
    if n == 1:
        return np.zeros(1, np.int64)
    strict_gap = np.nextafter(gap_nm, 0)
    r1 = min(link_nm, strict_gap)
    tree = cKDTree(xyz_nm)
    pairs = tree.query_pairs(r1, output_type="ndarray")
    g = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    ncomp, comp = connected_components(g, directed=False)
    if r1 >= strict_gap or ncomp == 1:
        return comp
    # join components whose minimum distance is < gap (bbox pre-filter, then KD-tree query)
    order = np.argsort(comp, kind="stable")
    starts = np.searchsorted(comp[order], np.arange(ncomp + 1))
    pts = [xyz_nm[order[starts[i]:starts[i + 1]]] for i in range(ncomp)]
    lo = np.array([p.min(0) for p in pts])
    hi = np.array([p.max(0) for p in pts])
    joins = []  # (minimum distance, i, j) of pieces closer than the gap
    for i in range(ncomp):
        gapv = np.maximum(0, np.maximum(lo[i + 1:] - hi[i], lo[i] - hi[i + 1:]))
        near = np.nonzero(np.sqrt((gapv ** 2).sum(1)) < gap_nm)[0] + i + 1
        if not len(near):
            continue
        tree = cKDTree(pts[i])
        for j in near:
            d = float(tree.query(pts[j], k=1, distance_upper_bound=gap_nm)[0].min())
            if d < gap_nm:
                joins.append((d, i, int(j)))
    joins.sort()
    parent = np.arange(ncomp)
    size = np.array([len(p) for p in pts])
    lone = np.zeros(ncomp, bool) if alone is None else \
        np.bincount(comp, weights=alone, minlength=ncomp) * 2 > np.bincount(comp, minlength=ncomp)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for d, i, j in joins:
        ri, rj = find(i), find(j)
        if ri == rj or lone[i] or lone[j]:
            continue
        if (large_gap_nm is not None and d >= large_gap_nm and size[ri] >= large_vx
                and size[rj] >= large_vx):
            continue
        lo_r, hi_r = min(ri, rj), max(ri, rj)
        parent[hi_r] = lo_r
        size[lo_r] += size[hi_r]
    roots = np.array([find(i) for i in range(ncomp)])
    return roots[comp]


def _spill_voxels(ca, cb, obj, min_share: float, totals: pa.Table | None = None
                  ) -> np.ndarray:
    """Voxels on an sj object of which their cell pair holds less than ``min_share`` of the
    object's fragment voxels (the spill-over of another pair's cleft); 0 = no object.  The
    object's voxels are counted in ``obj`` or, given, taken from ``totals`` (``sj_id``,
    ``n_vx``: over all pairs, :func:`sj_fragment_counts`)."""
    out = np.zeros(len(obj), bool)
    has = obj != 0
    if not has.any():
        return out
    objs, oi = np.unique(obj[has], return_inverse=True)
    oi = oi.ravel()
    total = np.bincount(oi)
    key = np.stack([ca[has], cb[has], obj[has]], axis=1)
    _, ki, kc = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    if totals is not None:
        _require(totals, "sj_totals", ["sj_id", "n_vx"])
        rows, found = _positions(_np(totals, "sj_id", np.uint64), objs)
        if not found.all():
            raise InputError(f"sj_totals: no row for sj object(s) "
                             f"{objs[~found][:5].tolist()} of syn_voxels, expected the counts "
                             f"of every object over all pairs (sj_fragment_counts)")
        given = _np(totals, "n_vx", np.int64)[rows]
        if np.any(given < total):
            bad = objs[given < total][:5].tolist()
            raise InputError(f"sj_totals: fewer voxels than syn_voxels holds for sj object(s) "
                             f"{bad}, expected the counts over all pairs (sj_fragment_counts)")
        total = given
    out[has] = kc[ki.ravel()] < min_share * total[oi]
    return out


def _dedup_rows(x, y, z, ca, cb) -> np.ndarray:
    """Indices that sort the rows by (cell_a, cell_b, z, y, x), exact repeats dropped."""
    order = np.lexsort((x, y, z, cb, ca))
    if len(order) > 1:
        xs, ys, zs, cas, cbs = (a[order] for a in (x, y, z, ca, cb))
        dup = np.zeros(len(order), bool)
        dup[1:] = ((xs[1:] == xs[:-1]) & (ys[1:] == ys[:-1]) & (zs[1:] == zs[:-1])
                   & (cas[1:] == cas[:-1]) & (cbs[1:] == cbs[:-1]))
        order = order[~dup]
    return order


def sj_fragment_counts(syn_voxels: pa.Table) -> pa.Table:
    """Synapse-fragment voxels per sj object (all pairs), for :func:`group_synapses`'
    ``sj_totals`` where the voxels are grouped in parts (one cell-pair shard at a time).

    Exact repeats (same voxel, same pair) count once, as in :func:`group_synapses`.  Counts of
    disjoint parts (blocks: their voxels are core voxels) add up: :func:`add_sj_counts`.

    >>> t = pa.table({"x": [0, 1, 1, 5], "y": [0] * 4, "z": [0] * 4, "cell_a": [1, 1, 1, 1],
    ...               "cell_b": [2, 2, 2, 3], "sj_id": pa.array([5, 5, 5, 0], pa.uint64())})
    >>> sj_fragment_counts(t).to_pylist()
    [{'sj_id': 5, 'n_vx': 2}]
    """
    _require(syn_voxels, "syn_voxels", ["x", "y", "z", "cell_a", "cell_b", "sj_id"])
    cols = [_np(syn_voxels, c, np.int64) for c in "xyz"]
    cols += [_np(syn_voxels, c, np.uint64) for c in ("cell_a", "cell_b")]
    obj = _np(syn_voxels, "sj_id", np.uint64)[_dedup_rows(*cols)]
    ids, n = np.unique(obj[obj != 0], return_counts=True)
    return pa.table({"sj_id": pa.array(ids, pa.uint64()), "n_vx": pa.array(n, pa.int64())})


def add_sj_counts(tables: Sequence[pa.Table]) -> pa.Table:
    """The sum of :func:`sj_fragment_counts` tables of disjoint parts, sorted by ``sj_id``."""
    ids = np.concatenate([np.zeros(0, np.uint64)]
                         + [_np(t, "sj_id", np.uint64) for t in tables])
    n = np.concatenate([np.zeros(0, np.int64)] + [_np(t, "n_vx", np.int64) for t in tables])
    u, inv = np.unique(ids, return_inverse=True)
    tot = np.bincount(inv.ravel(), weights=n, minlength=len(u)).astype(np.int64)
    return pa.table({"sj_id": pa.array(u, pa.uint64()), "n_vx": pa.array(tot, pa.int64())})


def _area_um2(vx: np.ndarray, voxel_size_nm) -> float:
    """Half the marching-cubes surface area of a voxel set (SyConn's mesh_area / 2), um^2."""
    from skimage.measure import marching_cubes, mesh_surface_area

    lo = vx.min(0)
    shape = vx.max(0) - lo + 3
    m = np.zeros(shape, np.float32)
    m[tuple((vx - lo + 1).T)] = 1
    verts, faces, _, _ = marching_cubes(m, 0.5, spacing=tuple(voxel_size_nm))
    return float(mesh_surface_area(verts, faces)) / 2.0 / 1e6


def group_synapses(syn_voxels: pa.Table, *, voxel_size_nm: Sequence[float],
                   gap_nm: float = 250.0, min_size_vx: int = 100,
                   sym_thresh: float = 0.225, large_gap_nm: float | None = None,
                   spill_share: float | None = None, sj_totals: pa.Table | None = None):
    """Group synapse-fragment voxels into synapses, per cell pair, and measure them.

    Rule: within a cell pair, voxels at most a voxel diagonal apart form pieces; pieces closer
    than ``gap_nm`` (minimum Euclidean distance in nm, anisotropic voxels) are joined, closest
    first.  With ``large_gap_nm``, two clusters that hold at least ``min_size_vx`` voxels each
    (a synapse each) are joined only when closer than ``large_gap_nm``: under SyConn's plain
    single linkage (``large_gap_nm=None``, its two-step rule without the 20 um cut-off on the
    fragments' first voxels) a small fragment between two clefts of one cell pair, each less
    than ``gap_nm`` from it, chains them into one synapse, and one true synapse is lost.
    Clusters with fewer than ``min_size_vx`` voxels are dropped.  Implementation: per pair, a
    cKDTree ``query_pairs`` at the voxel diagonal and connected components; then the minimum
    distances of pieces whose bounding boxes are closer than the gap, joined in order.

    Parameters
    ----------
    syn_voxels : pyarrow.Table
        Columns x, y, z (global voxels), cell_a, cell_b, sym, asym and optionally sj (the sj
        map's value) and sj_id (the sj object) (as from
        :func:`~syconn.proc.contacts.find_contacts` plus the objects, all blocks concatenated).
    voxel_size_nm : (float, float, float)
    gap_nm : float
        SyConn ``cs_gap_nm``.
    min_size_vx : int
        SyConn ``min_obj_vx['syn_ssv']``.
    sym_thresh : float
        ``sign = -1`` if ``sym_ratio > sym_thresh``.
    large_gap_nm : float, optional
        The gap between two synapse-sized clusters (above).
    spill_share : float, optional
        With an ``sj_id`` column (the sj object of each voxel, 0 for none): a piece whose
        voxels lie on an sj object of which their pair holds less than this share of the
        object's voxels (all pairs) joins nothing.  That is the spill-over of another pair's
        cleft onto this contact; between two clefts of one pair it would chain them.
    sj_totals : pyarrow.Table, optional
        ``sj_id``, ``n_vx``: each sj object's fragment voxels over ALL pairs
        (:func:`sj_fragment_counts`), for ``spill_share`` when ``syn_voxels`` holds only some
        pairs (a shard of them).  Default: counted in ``syn_voxels``.  Grouping is per pair
        otherwise, so the synapses of a set of pairs are the same whether the other pairs'
        voxels are given or only their counts.

    Returns
    -------
    synapses : pyarrow.Table
        :data:`SYNAPSES_SCHEMA`, sorted by ``(cell_a, cell_b, first voxel)``.  ``synapse_id``:
        :func:`synapse_ids` (63-bit hash of cell pair and first voxel in raster order z, y, x).
        ``area_um2``: marching-cubes area of the voxel mask (crop padded by 1, voxel spacing)
        / 2, as SyConn's ``mesh_area / 2``.  ``rep_*``: member voxel closest to the centre of
        mass in nm, ties to the first in raster order.  ``bbox_min_*``/``bbox_max_*``: voxel
        bounds, max EXCLUSIVE (as every table here; SyConn's syn_ssv bounds are inclusive).
        ``sj_prob_mean``/``sj_prob_max``: the sj map at the voxels, as probabilities (value /
        255; 0 without an ``sj`` column).  ``sym_prop``/``asym_prop``: fraction of
        voxels flagged sym/asym; ``sym_ratio = sym_vx / (sym_vx + asym_vx)``, -1 if both are 0;
        ``sign = -1`` (symmetric, inhibitory) if ``sym_ratio > sym_thresh`` else +1.  (SyConn's
        docstring says the opposite; its code, followed here, gives -1 for symmetric.)
    membership : pyarrow.Table
        synapse_id, x, y, z of every voxel of a kept synapse, sorted by synapse row order then
        raster order.
    """
    _require(syn_voxels, "syn_voxels", ["x", "y", "z", "cell_a", "cell_b", "sym", "asym"])
    vs = np.array(_vec3(voxel_size_nm, "voxel_size_nm"))
    if not gap_nm > 0:
        raise InputError(f"gap_nm: {gap_nm}, expected > 0")
    x = _np(syn_voxels, "x", np.int64)
    y = _np(syn_voxels, "y", np.int64)
    z = _np(syn_voxels, "z", np.int64)
    ca = _np(syn_voxels, "cell_a", np.uint64)
    cb = _np(syn_voxels, "cell_b", np.uint64)
    sym = _np(syn_voxels, "sym", bool)
    asym = _np(syn_voxels, "asym", bool)
    sjv = _np(syn_voxels, "sj", np.float64) if "sj" in syn_voxels.column_names else \
        np.zeros(len(x))
    obj = _np(syn_voxels, "sj_id", np.uint64) if "sj_id" in syn_voxels.column_names else \
        np.zeros(len(x), np.uint64)
    if np.any(ca >= cb):
        raise InputError("syn_voxels: rows with cell_a >= cell_b, expected cell_a < cell_b")
    # sorted by pair and raster order; duplicates dropped (a voxel must come from one block
    # only; tolerate exact repeats)
    order = _dedup_rows(x, y, z, ca, cb)
    x, y, z, ca, cb, sym, asym, sjv, obj = (a[order] for a in (x, y, z, ca, cb, sym, asym, sjv,
                                                                obj))
    xyz = np.stack([x, y, z], 1)
    xyz_nm = xyz * vs
    alone = _spill_voxels(ca, cb, obj, spill_share, sj_totals) if spill_share else None
    link_nm = float(np.sqrt((vs ** 2).sum())) * (1 + 1e-9)
    n = len(x)
    cluster = np.empty(n, np.int64)
    if n:
        brk = np.nonzero((ca[1:] != ca[:-1]) | (cb[1:] != cb[:-1]))[0] + 1
        bounds = np.concatenate([[0], brk, [n]])
        nxt = 0
        for s, e in zip(bounds[:-1], bounds[1:]):
            c = _cluster(xyz_nm[s:e], float(gap_nm), link_nm, large_vx=int(min_size_vx),
                         large_gap_nm=large_gap_nm,
                         alone=None if alone is None else alone[s:e])
            # number clusters by first voxel (rows are raster-sorted within the pair)
            _, first = np.unique(c, return_index=True)
            rank = np.empty(c.max() + 1, np.int64)
            rank[c[np.sort(first)]] = np.arange(len(first))
            cluster[s:e] = rank[c] + nxt
            nxt += len(first)
    # cluster ids increase with (pair, first voxel); rows stay sorted within a cluster
    corder = np.argsort(cluster, kind="stable")
    cl = cluster[corder]
    cstart = np.searchsorted(cl, np.arange((cl[-1] + 1) if n else 0))
    csize = np.diff(np.append(cstart, n))
    rows = []
    mem_parts = []
    for k in np.nonzero(csize >= min_size_vx)[0]:
        idx = corder[cstart[k]:cstart[k] + csize[k]]
        v = xyz[idx]
        f = idx[0]  # first voxel in raster order (stable sort keeps raster order)
        vnm = xyz_nm[idx]
        d2 = ((vnm - vnm.mean(0)) ** 2).sum(1)
        rep = v[int(np.argmin(d2))]  # argmin: first minimum = first in raster order
        ns = int(sym[idx].sum())
        na = int(asym[idx].sum())
        ratio = ns / (ns + na) if ns + na else -1.0
        rows.append((ca[f], cb[f], x[f], y[f], z[f], len(idx), _area_um2(v, vs), rep,
                     v.min(0), v.max(0) + 1, ns, na, ratio, sjv[idx].mean() / 255.0,
                     sjv[idx].max() / 255.0))
        mem_parts.append(idx)
    if not rows:
        return SYNAPSES_SCHEMA.empty_table(), pa.table(
            {"synapse_id": pa.array([], pa.uint64()), "x": pa.array([], pa.int64()),
             "y": pa.array([], pa.int64()), "z": pa.array([], pa.int64())})
    col = list(zip(*rows))
    sid = synapse_ids(np.array(col[0], np.uint64), np.array(col[1], np.uint64),
                      np.array(col[2]), np.array(col[3]), np.array(col[4]))
    if len(np.unique(sid)) != len(sid):  # 63-bit hash: astronomically unlikely
        raise RuntimeError("synapse id hash collision; report this as a bug")
    size = np.array(col[5], np.int64)
    rep = np.array(col[7], np.int64)
    bmin = np.array(col[8], np.int64)
    bmax = np.array(col[9], np.int64)
    ns = np.array(col[10], np.int64)
    na = np.array(col[11], np.int64)
    ratio = np.array(col[12], np.float64)
    syn = pa.table({
        "synapse_id": sid, "cell_a": np.array(col[0], np.uint64),
        "cell_b": np.array(col[1], np.uint64), "size_vx": size,
        "area_um2": np.array(col[6], np.float64),
        "rep_x": rep[:, 0], "rep_y": rep[:, 1], "rep_z": rep[:, 2],
        "bbox_min_x": bmin[:, 0], "bbox_min_y": bmin[:, 1], "bbox_min_z": bmin[:, 2],
        "bbox_max_x": bmax[:, 0], "bbox_max_y": bmax[:, 1], "bbox_max_z": bmax[:, 2],
        "sym_vx": ns, "asym_vx": na, "sym_prop": ns / size, "asym_prop": na / size,
        "sym_ratio": ratio, "sign": np.where(ratio > sym_thresh, -1, 1).astype(np.int8),
        "sj_prob_mean": np.array(col[13], np.float64), "sj_prob_max": np.array(col[14], np.float64),
    }, schema=SYNAPSES_SCHEMA)
    memb_idx = np.concatenate(mem_parts)
    memb = pa.table({
        "synapse_id": np.repeat(sid, [len(m) for m in mem_parts]),
        "x": x[memb_idx], "y": y[memb_idx], "z": z[memb_idx],
    })
    return syn, memb


def organelle_surface_points(labels: np.ndarray, *, offset_xyz: Sequence[int],
                             halo_vx: int = 1, stride: int = 1) -> pa.Table:
    """Point sample of organelle surfaces for :func:`organelle_proximity`, blockwise.

    Surface voxels are non-zero voxels with a 6-neighbour of another label (0 included).  A
    voxel is kept if ``hash(x, y, z) % stride == 0`` (splitmix64 of the GLOBAL coordinate), so on
    average 1 / ``stride`` of the surface is kept and the sample does not depend on the block
    layout.

    Parameters
    ----------
    labels : numpy.ndarray
        Organelle ids ``[x, y, z]`` (global ids, 0 = background) of a block's core plus
        ``halo_vx`` voxels on every side (0 outside the dataset).
    offset_xyz : (int, int, int)
        Global coordinate of the first CORE voxel.
    halo_vx : int
        Halo present on each side; >= 1 (the surface test looks at 6-neighbours).
    stride : int
        Keep about one surface voxel in ``stride``.

    Returns
    -------
    pyarrow.Table
        org_id (uint64), x, y, z (global voxels, int64) of the core's sampled surface voxels,
        sorted by org_id then raster order.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3 or labels.dtype.kind not in "ui":
        raise InputError(f"labels: {labels.ndim}-d {labels.dtype}, expected a 3-d integer array")
    if int(halo_vx) < 1:
        raise InputError(f"halo_vx: {halo_vx}, expected >= 1")
    if int(stride) < 1:
        raise InputError(f"stride: {stride}, expected >= 1")
    h = int(halo_vx)
    off = np.array([int(v) for v in offset_xyz], np.int64)
    core = labels[h:-h, h:-h, h:-h]
    surf = core != 0
    inner = surf.copy()
    for ax in range(3):
        for d in (-1, 1):
            sl = [slice(h, -h)] * 3
            sl[ax] = slice(h + d, labels.shape[ax] - h + d)
            inner &= labels[tuple(sl)] == core
    surf &= ~inner
    xs, ys, zs = np.nonzero(surf)
    ids = core[xs, ys, zs].astype(np.uint64)
    gx, gy, gz = xs + off[0], ys + off[1], zs + off[2]
    if stride > 1:
        keep = _hash_cols(gx, gy, gz) % np.uint64(stride) == 0
        ids, gx, gy, gz = ids[keep], gx[keep], gy[keep], gz[keep]
    o = np.lexsort((gx, gy, gz, ids))
    return pa.table({"org_id": ids[o], "x": gx[o].astype(np.int64),
                     "y": gy[o].astype(np.int64), "z": gz[o].astype(np.int64)})


def organelle_proximity(synapses: pa.Table, membership: pa.Table, organelles: pa.Table,
                        points: pa.Table, *, kind: str, voxel_size_nm: Sequence[float],
                        max_vert_dist_nm: float, max_rep_coord_dist_nm: float = 4000.0,
                        ) -> pa.Table:
    """Organelles of each partner cell close to each synapse (SyConn 6c features).

    For synapse ``s`` and partner ``p`` in {a, b}: candidates are the organelles of cell
    ``cell_p`` whose rep coord lies within ``max_rep_coord_dist_nm`` of the synapse's rep coord.
    For each candidate, the fraction of its surface points within ``max_vert_dist_nm`` of a
    synapse voxel (all in nm) estimates the fraction of its voxels close by (SyConn: every 2nd
    mesh vertex against every 2nd synapse voxel; here: the point sample against all voxels).

    Parameters
    ----------
    synapses : pyarrow.Table
        synapse_id, cell_a, cell_b, rep_x, rep_y, rep_z (:func:`group_synapses`).
    membership : pyarrow.Table
        synapse_id, x, y, z of the synapse voxels (:func:`group_synapses`).
    organelles : pyarrow.Table
        org_id, cell_id, size_vx, rep_x, rep_y, rep_z: one kind's objects with their cell.
    points : pyarrow.Table
        org_id, x, y, z surface sample (:func:`organelle_surface_points`).  An organelle
        without points is represented by its rep coord.
    kind : str
        Column prefix, ``"mi"`` or ``"vc"``.
    voxel_size_nm : (float, float, float)
    max_vert_dist_nm : float
        SyConn ``max_vert_dist_nm[kind]`` (mi 1000, vc 500).
    max_rep_coord_dist_nm : float
        SyConn ``max_rep_coord_dist_nm`` (4000).

    Returns
    -------
    pyarrow.Table
        synapse_id and, for p in (a, b): ``n_{kind}_objs_p`` (candidates with a point within
        the radius), ``n_{kind}_vxs_p`` (sum of close fraction x size_vx, float),
        ``min_dst_{kind}_nm_p`` (minimum point-to-synapse distance over the candidates,
        :data:`NO_ORGANELLE_DST_NM` without candidates).  Same row order as ``synapses``.
    """
    _require(synapses, "synapses", ["synapse_id", "cell_a", "cell_b", "rep_x", "rep_y", "rep_z"])
    _require(membership, "membership", ["synapse_id", "x", "y", "z"])
    _require(organelles, "organelles", ["org_id", "cell_id", "size_vx", "rep_x", "rep_y",
                                        "rep_z"])
    _require(points, "points", ["org_id", "x", "y", "z"])
    if not kind.isidentifier():
        raise InputError(f"kind: {kind!r}, expected a column prefix such as 'mi' or 'vc'")
    vs = np.array(_vec3(voxel_size_nm, "voxel_size_nm"))
    radius = float(max_vert_dist_nm)
    nsyn = synapses.num_rows
    sid = _np(synapses, "synapse_id", np.uint64)
    cells = np.stack([_np(synapses, "cell_a", np.uint64), _np(synapses, "cell_b", np.uint64)], 1)
    srep = np.stack([_np(synapses, c, np.float64) for c in ("rep_x", "rep_y", "rep_z")], 1) * vs
    out = {f"n_{kind}_objs": np.zeros((nsyn, 2), np.int64),
           f"n_{kind}_vxs": np.zeros((nsyn, 2), np.float64),
           f"min_dst_{kind}_nm": np.full((nsyn, 2), NO_ORGANELLE_DST_NM)}
    oid = _np(organelles, "org_id", np.uint64)
    ocell = _np(organelles, "cell_id", np.uint64)
    osize = _np(organelles, "size_vx", np.float64)
    orep = np.stack([_np(organelles, c, np.float64) for c in ("rep_x", "rep_y", "rep_z")], 1) * vs
    if nsyn and len(oid):
        # organelle points grouped by organelle row (rep coord when there are none)
        pid = _np(points, "org_id", np.uint64)
        prow = np.searchsorted(oid[np.argsort(oid)], pid)
        oorder = np.argsort(oid)
        valid = (prow < len(oid))
        valid[valid] = oid[oorder][prow[valid]] == pid[valid]
        prow = oorder[prow[valid]]
        pxyz = np.stack([_np(points, c, np.float64)[valid] for c in "xyz"], 1) * vs
        has = np.bincount(prow, minlength=len(oid)) > 0
        prow = np.concatenate([prow, np.nonzero(~has)[0]])
        pxyz = np.concatenate([pxyz, orep[~has]])
        po = np.argsort(prow, kind="stable")
        prow, pxyz = prow[po], pxyz[po]
        pstart = np.searchsorted(prow, np.arange(len(oid) + 1))
        # synapse voxels grouped by synapse row
        msid = _np(membership, "synapse_id", np.uint64)
        so = np.argsort(sid)
        mrow = so[np.searchsorted(sid[so], msid)]
        mo = np.argsort(mrow, kind="stable")
        mrow = mrow[mo]
        mxyz = np.stack([_np(membership, c, np.float64)[mo] for c in "xyz"], 1) * vs
        mstart = np.searchsorted(mrow, np.arange(nsyn + 1))
        cand = cKDTree(orep).query_ball_point(srep, max_rep_coord_dist_nm)
        for i in range(nsyn):
            c = np.asarray(cand[i], np.int64)
            if c.size == 0 or mstart[i + 1] == mstart[i]:
                continue
            side_a = ocell[c] == cells[i, 0]
            side_b = ocell[c] == cells[i, 1]
            c = c[side_a | side_b]
            if c.size == 0:
                continue
            side = (ocell[c] == cells[i, 1]).astype(np.int64)
            cnt = pstart[c + 1] - pstart[c]
            pidx = np.repeat(pstart[c] - np.cumsum(np.r_[0, cnt[:-1]]), cnt) + np.arange(
                cnt.sum())
            d, _ = cKDTree(mxyz[mstart[i]:mstart[i + 1]]).query(pxyz[pidx], k=1)
            grp = np.repeat(np.arange(len(c)), cnt)
            frac = np.bincount(grp, weights=(d <= radius), minlength=len(c)) / cnt
            dmin = np.full(len(c), np.inf)
            np.minimum.at(dmin, grp, d)
            for s in (0, 1):
                m = side == s
                if not m.any():
                    continue
                out[f"n_{kind}_objs"][i, s] = int((frac[m] > 0).sum())
                out[f"n_{kind}_vxs"][i, s] = float((frac[m] * osize[c[m]]).sum())
                out[f"min_dst_{kind}_nm"][i, s] = float(dmin[m].min())
    cols = {"synapse_id": sid}
    for name, arr in out.items():
        cols[f"{name}_a"] = arr[:, 0]
        cols[f"{name}_b"] = arr[:, 1]
    return pa.table(cols)


def synapse_direction(features: pa.Table):
    """Presynaptic partner: the one with more vesicle-cloud voxels near the synapse.

    Parameters
    ----------
    features : pyarrow.Table
        cell_a, cell_b, n_vc_vxs_a, n_vc_vxs_b (:func:`organelle_proximity` with kind "vc").

    Returns
    -------
    pre_cell, post_cell : numpy.ndarray of uint64
        0 (never a cell id) where undetermined: equal vc voxels on both sides, both 0 included.
    confidence : numpy.ndarray of float64
        ``|vc_a - vc_b| / (vc_a + vc_b)`` in [0, 1]; 0 where undetermined.
    """
    _require(features, "features", ["cell_a", "cell_b", "n_vc_vxs_a", "n_vc_vxs_b"])
    a = _np(features, "cell_a", np.uint64)
    b = _np(features, "cell_b", np.uint64)
    va = _np(features, "n_vc_vxs_a", np.float64)
    vb = _np(features, "n_vc_vxs_b", np.float64)
    pre = np.where(va > vb, a, np.where(vb > va, b, 0)).astype(np.uint64)
    post = np.where(va > vb, b, np.where(vb > va, a, 0)).astype(np.uint64)
    tot = va + vb
    conf = np.divide(np.abs(va - vb), tot, out=np.zeros_like(tot), where=tot > 0)
    return pre, post, conf


def split_organelles(objects: pa.Table, points: pa.Table, sv_ids: np.ndarray,
                     cell_ids: np.ndarray, cells, *, n_points=None
                     ) -> tuple[pa.Table, pa.Table]:
    """One kind's organelles, cut into their parts per cell, for :func:`organelle_proximity`.

    An organelle is what lies inside a partner cell: each object is cut into its parts per
    cell by the supervoxel under each of its surface points (a vesicle cloud found across two
    touching boutons counts for each bouton with its own part, not for the cell it is assigned
    to as a whole).  A part's size is the object's size times its share of the points; its rep
    coord is the part's point closest to the part's mean.

    Parameters
    ----------
    objects : pyarrow.Table
        ``id`` (sorted ascending), ``size_vx`` of every object of the kind.
    points : pyarrow.Table
        ``org_id``, ``sv_id`` (the supervoxel under the point, 0 outside cells), ``x, y, z``:
        the surface sample (:func:`organelle_surface_points` plus the supervoxel).
    sv_ids, cell_ids : numpy.ndarray
        The supervoxel -> cell lookup (:func:`syconn.proc.cells.sorted_mapping`).
    cells : array_like
        Only parts in these cells are returned.
    n_points : array_like, optional
        Per row of ``objects``, its surface points in all cells, when ``points`` holds only
        some of them (those in ``cells``: read in parts, the rest dropped); the parts' sizes
        are shares of these.  Default: counted in ``points``.

    Returns
    -------
    objects, points : pyarrow.Table
        ``org_id`` (new ids 1..n, one per part, in (object, cell) order), ``cell_id``,
        ``size_vx``, ``rep_x/y/z``; and the parts' points ``org_id``, ``x, y, z``.

    Examples
    --------
    >>> objs = pa.table({"id": [7], "size_vx": [100]})
    >>> pts = pa.table({"org_id": [7, 7, 7, 7], "sv_id": [1, 1, 1, 2],
    ...                 "x": [0, 1, 2, 9], "y": [0, 0, 0, 0], "z": [0, 0, 0, 0]})
    >>> o, _ = split_organelles(objs, pts, np.array([1, 2], np.uint64),
    ...                         np.array([10, 20], np.uint64), [10, 20])
    >>> o.select(["org_id", "cell_id", "size_vx", "rep_x"]).to_pylist()[0]
    {'org_id': 1, 'cell_id': 10, 'size_vx': 75, 'rep_x': 1}
    """
    _require(objects, "objects", ["id", "size_vx"])
    _require(points, "points", ["org_id", "sv_id", "x", "y", "z"])
    cell = map_supervoxels(_np(points, "sv_id"), sv_ids, cell_ids)
    keep = np.isin(cell, np.asarray(cells, np.uint64)) & (cell != 0)
    org = _np(points, "org_id", np.uint64)[keep]
    cell = cell[keep]
    xyz = np.stack([_np(points, c, np.int64)[keep] for c in "xyz"], axis=1)
    if not len(org):
        return (pa.table({"org_id": pa.array([], pa.uint64()),
                          "cell_id": pa.array([], pa.uint64()),
                          "size_vx": pa.array([], pa.int64()),
                          **{f"rep_{c}": pa.array([], pa.int64()) for c in "xyz"}}),
                pa.table({"org_id": pa.array([], pa.uint64()),
                          **{c: pa.array([], pa.int64()) for c in "xyz"}}))
    # part key: (organelle, cell) -> a new id 1..n, in sorted (org, cell) order
    parts, part_idx = np.unique(np.stack([org, cell], axis=1), axis=0, return_inverse=True)
    part_idx = part_idx.ravel()
    n_part = np.bincount(part_idx, minlength=len(parts))
    obj_ids = _np(objects, "id", np.uint64)
    obj_size = _np(objects, "size_vx", np.int64)
    if n_points is None:
        all_org = _np(points, "org_id", np.uint64)
        n_obj_pts = np.bincount(np.searchsorted(obj_ids, all_org), minlength=len(obj_ids) + 1)
    else:
        n_obj_pts = np.asarray(n_points, np.int64)
        if n_obj_pts.shape != obj_ids.shape:
            raise InputError(f"n_points: {n_obj_pts.shape[0] if n_obj_pts.ndim else 'a scalar'}"
                             f" values, expected one per row of objects ({len(obj_ids)})")
    oi = np.searchsorted(obj_ids, parts[:, 0])
    size = np.rint(obj_size[oi] * n_part / np.maximum(n_obj_pts[oi], 1)).astype(np.int64)
    mean = np.stack([np.bincount(part_idx, weights=xyz[:, k], minlength=len(parts)) / n_part
                     for k in range(3)], axis=1)
    d2 = ((xyz - mean[part_idx]) ** 2).sum(axis=1)
    best = np.lexsort((d2, part_idx))
    first = best[np.r_[0, np.flatnonzero(np.diff(part_idx[best])) + 1]]
    new_ids = np.arange(1, len(parts) + 1, dtype=np.uint64)
    objs = pa.table({"org_id": new_ids, "cell_id": parts[:, 1].astype(np.uint64),
                     "size_vx": size,
                     **{f"rep_{c}": xyz[first, k] for k, c in enumerate("xyz")}})
    pts = pa.table({"org_id": new_ids[part_idx], **{c: xyz[:, k] for k, c in enumerate("xyz")}})
    return objs, pts


def sj_object_shares(synapse_ids, membership: pa.Table | None, sj_voxels: pa.Table | None,
                     sj_sizes: pa.Table | None = None, *, counts: pa.Table | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per synapse, how it relates to the sj objects its voxels lie in.

    ``share``: the largest share the synapse holds of one sj object's synapse voxels (the
    object's voxels on this synapse / its voxels on all synapses).  A synaptic-junction object
    lies on one cleft; where its band also touches a bystander cell's contact, that contact gets
    a small part of the same object, so the share is about 1 for the real synapse and small for
    such spill-over.  ``overlap``: the largest share of one sj object's voxels (``sj_sizes``)
    that lie on the synapse; small for an sj-like blob inside a cell that only touches the
    contact.  Synapses on no sj object get 0 for both; without ``sj_voxels`` both are 1.

    Parameters
    ----------
    synapse_ids : array_like
    membership : pyarrow.Table
        ``synapse_id``, ``x, y, z`` of every synapse voxel (:func:`group_synapses`).
    sj_voxels : pyarrow.Table or None
        ``x, y, z``, ``sj_id`` (0 = no object) of the synapse-fragment voxels.
    sj_sizes : pyarrow.Table, optional
        ``id``, ``size_vx`` of the sj objects (for ``overlap``; without it ``overlap`` is 1).
    counts : pyarrow.Table, optional
        Instead of ``membership`` and ``sj_voxels`` (pass None for both): their
        :func:`sj_voxel_counts` (``synapse_id``, ``sj_id``, ``n_vx``), those of every synapse
        (the shards' tables concatenated, in any order); an object's synapse voxels are summed
        over all of them.

    Examples
    --------
    >>> memb = pa.table({"synapse_id": [1, 1, 1, 2], "x": [0, 1, 2, 9], "y": [0] * 4,
    ...                  "z": [0] * 4})
    >>> sjv = pa.table({"x": [0, 1, 2, 9], "y": [0] * 4, "z": [0] * 4, "sj_id": [5, 5, 5, 5]})
    >>> share, overlap = sj_object_shares([1, 2], memb, sjv, pa.table({"id": [5],
    ...                                   "size_vx": [8]}))
    >>> share.tolist(), overlap.tolist()
    ([0.75, 0.25], [0.375, 0.125])
    """
    sid_all = np.asarray(synapse_ids, np.uint64)
    n = len(sid_all)
    if (sj_voxels is None and counts is None) or not n:
        return np.ones(n), np.ones(n)
    share, overlap = np.zeros(n), np.zeros(n)
    if counts is None:
        pairs, counts = _sj_pairs(membership, sj_voxels)
    else:
        _require(counts, "counts", ["synapse_id", "sj_id", "n_vx"])
        pairs = np.stack([_np(counts, "synapse_id", np.uint64), _np(counts, "sj_id", np.uint64)],
                         axis=1).reshape(-1, 2)
        counts = _np(counts, "n_vx", np.int64)
    if not len(pairs):
        return share, overlap
    objs, inv = np.unique(pairs[:, 1], return_inverse=True)
    inv = inv.ravel()
    total = np.bincount(inv, weights=counts)
    if sj_sizes is not None:
        ids = _np(sj_sizes, "id", np.uint64)
        size = _np(sj_sizes, "size_vx", np.float64)
        o = np.argsort(ids)
        pos = np.minimum(np.searchsorted(ids[o], objs), max(len(ids) - 1, 0))
        known = (ids[o][pos] == objs) if len(ids) else np.zeros(len(objs), bool)
        # an object's size is at least its voxels on synapses (sizes from stitched stats)
        osize = np.where(known, np.maximum(size[o][pos], total), total)
    else:
        osize = None
    order = np.argsort(sid_all)
    pos = np.searchsorted(sid_all[order], pairs[:, 0])
    found = pos < n
    found[found] = sid_all[order][pos[found]] == pairs[found, 0]
    rows = order[pos[found]]
    np.maximum.at(share, rows, (counts / total[inv])[found])
    if osize is None:
        overlap[rows] = 1.0
    else:
        np.maximum.at(overlap, rows, (counts / osize[inv])[found])
    return share, overlap


def _sj_pairs(membership: pa.Table, sj_voxels: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The (synapse id, sj object id) pairs of the synapse voxels that lie in an sj object,
    sorted, and their voxel counts."""
    j = membership.join(sj_voxels.select(["x", "y", "z", "sj_id"]), keys=["x", "y", "z"],
                        join_type="left outer")
    sid = j["synapse_id"].to_numpy().astype(np.uint64)
    obj = j["sj_id"].fill_null(0).to_numpy().astype(np.uint64)
    ok = obj != 0
    if not ok.any():
        return np.zeros((0, 2), np.uint64), np.zeros(0, np.int64)
    return np.unique(np.stack([sid[ok], obj[ok]], axis=1), axis=0, return_counts=True)


def sj_voxel_counts(membership: pa.Table, sj_voxels: pa.Table) -> pa.Table:
    """Per synapse and sj object, the synapse's voxels on the object (``synapse_id``,
    ``sj_id``, ``n_vx``, sorted; voxels on no object left out): what :func:`sj_object_shares`
    and :func:`main_sj_objects` reduce, so that shards of synapses can pass it on.

    >>> memb = pa.table({"synapse_id": [1, 1, 1, 2], "x": [0, 1, 2, 9], "y": [0] * 4,
    ...                  "z": [0] * 4})
    >>> sjv = pa.table({"x": [0, 1, 2, 9], "y": [0] * 4, "z": [0] * 4, "sj_id": [5, 6, 5, 0]})
    >>> sj_voxel_counts(memb, sjv).to_pylist()  # doctest: +NORMALIZE_WHITESPACE
    [{'synapse_id': 1, 'sj_id': 5, 'n_vx': 2}, {'synapse_id': 1, 'sj_id': 6, 'n_vx': 1}]
    """
    pairs, n = _sj_pairs(membership, sj_voxels)
    return pa.table({"synapse_id": pa.array(pairs[:, 0], pa.uint64()),
                     "sj_id": pa.array(pairs[:, 1], pa.uint64()),
                     "n_vx": pa.array(n, pa.int64())})


def _positions(sid_all: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where ``ids`` stand in ``sid_all``: ``(rows, found)``, rows for the ids found."""
    order = np.argsort(sid_all)
    at = np.minimum(np.searchsorted(sid_all[order], ids), max(len(sid_all) - 1, 0))
    found = sid_all[order][at] == ids if len(sid_all) else np.zeros(len(ids), bool)
    return order[at[found]], found


def _main_objects(pairs: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per synapse of :func:`_sj_pairs`' pairs, the sj object that holds most of its voxels
    (ties: the smaller id): ``(synapse ids, object ids)``."""
    if not len(pairs):
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    o = np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))
    first = o[np.r_[True, pairs[o[1:], 0] != pairs[o[:-1], 0]]]
    return pairs[first, 0], pairs[first, 1]


def main_sj_objects(synapse_ids, membership: pa.Table | None, sj_voxels: pa.Table | None,
                    *, counts: pa.Table | None = None) -> np.ndarray:
    """Per synapse, the sj object holding most of its voxels (ties: the smaller id; 0: none).
    ``counts``: :func:`sj_voxel_counts` instead of ``membership`` and ``sj_voxels``.

    >>> memb = pa.table({"synapse_id": [1, 1, 1, 2], "x": [0, 1, 2, 9], "y": [0] * 4,
    ...                  "z": [0] * 4})
    >>> sjv = pa.table({"x": [0, 1, 2], "y": [0] * 3, "z": [0] * 3, "sj_id": [7, 5, 5]})
    >>> main_sj_objects([2, 1], memb, sjv).tolist()
    [0, 5]
    """
    sid_all = np.asarray(synapse_ids, np.uint64)
    out = np.zeros(len(sid_all), np.uint64)
    if (sj_voxels is None and counts is None) or not len(sid_all):
        return out
    if counts is None:
        pairs, n = _sj_pairs(membership, sj_voxels)
    else:
        _require(counts, "counts", ["synapse_id", "sj_id", "n_vx"])
        pairs = np.stack([_np(counts, "synapse_id", np.uint64), _np(counts, "sj_id", np.uint64)],
                         axis=1).reshape(-1, 2)
        n = _np(counts, "n_vx", np.int64)
    syn, obj = _main_objects(pairs, n)
    rows, found = _positions(sid_all, syn)
    out[rows] = obj[found]
    return out


def rival_ratio(values, main_obj, pre) -> np.ndarray:
    """A candidate's value (its mean sj probability, ``sj_prob_mean``) over the largest among
    the candidates of the same presynaptic cell on the same main sj object (1 for the best).

    A bouton touches its partner and, beside the cleft, the cells squeezed past it; a wide sj
    blob lies on all these contacts, and the cleft, at the blob's core, sees more of it than
    the bouton's contacts with the bystanders.  Candidates on no object or of unknown direction
    (``pre`` 0) are compared with nobody: 1 where their value is above 0, else 0.

    >>> np.round(rival_ratio([0.3, 0.1, 0.5, 0.2, 0.0], [5, 5, 5, 6, 0], [1, 1, 2, 1, 1]), 4)
    array([1.    , 0.3333, 1.    , 1.    , 0.    ])
    """
    v = np.asarray(values, np.float64)
    obj = np.asarray(main_obj, np.uint64)
    pre = np.asarray(pre, np.uint64)
    out = (v > 0).astype(np.float64)  # alone: compared with nobody
    grp = (obj != 0) & (pre != 0)
    if grp.any():
        _, inv = np.unique(np.stack([obj[grp], pre[grp]], axis=1), axis=0, return_inverse=True)
        inv = inv.ravel()
        best = np.zeros(inv.max() + 1)
        np.maximum.at(best, inv, v[grp])
        out[grp] = np.divide(v[grp], best[inv], out=np.zeros(len(inv)), where=best[inv] > 0)
    return out


def sj_centre_offsets(synapse_ids, membership: pa.Table, main_obj,
                      sj_objects: pa.Table | None, voxel_size_nm: Sequence[float]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per synapse, where it lies on its sj object: ``(dist_nm, extent_nm)``.

    ``main_obj``: the synapse's main sj object (:func:`main_sj_objects`, 0: none), in the order
    of ``synapse_ids``.  ``dist_nm`` is the distance from the synapse's centre (the mean of its voxels) to the
    centre of that object's bounding box, ``extent_nm`` half the box's diagonal.  A cleft sits
    at the centre of its own junction; a bystander's contact that a wide sj blob reaches lies
    off it, often with a large share of the object.  NaN for synapses on no known sj object.

    Examples
    --------
    >>> memb = pa.table({"synapse_id": [1, 1, 2, 2], "x": [4, 5, 9, 9], "y": [0] * 4,
    ...                  "z": [0] * 4})
    >>> sjv = pa.table({"x": [4, 5, 9, 9], "y": [0] * 4, "z": [0] * 4, "sj_id": [5] * 4})
    >>> objs = pa.table({"id": [5], "bb_min_x": [2], "bb_min_y": [0], "bb_min_z": [0],
    ...                  "bb_max_x": [9], "bb_max_y": [1], "bb_max_z": [1]})
    >>> d, e = sj_centre_offsets([1, 2], memb, main_sj_objects([1, 2], memb, sjv), objs,
    ...                          (10, 10, 20))
    >>> d.tolist(), np.round(e, 2).tolist()  # box centre x = 5; half of |(70, 10, 20)| nm
    ([5.0, 40.0], [36.74, 36.74])
    """
    sid_all = np.asarray(synapse_ids, np.uint64)
    n = len(sid_all)
    dist, extent = np.full(n, np.nan), np.full(n, np.nan)
    main = np.asarray(main_obj, np.uint64)
    if sj_objects is None or not np.any(main):
        return dist, extent
    on = main != 0
    syn, obj = sid_all[on], main[on]
    vs = np.asarray(voxel_size_nm, np.float64)
    ids = _np(sj_objects, "id", np.uint64)
    lo = np.stack([_np(sj_objects, f"bb_min_{c}", np.float64) for c in "xyz"], axis=1)
    hi = np.stack([_np(sj_objects, f"bb_max_{c}", np.float64) for c in "xyz"], axis=1)
    k, known = _positions(ids, obj)
    centre = (lo[k] + hi[k] - 1.0) / 2.0  # bb_max is exclusive
    half_diag = np.linalg.norm((hi[k] - lo[k]) * vs, axis=1) / 2.0
    # the synapse's centre: the mean of all its voxels
    m_sid = _np(membership, "synapse_id", np.uint64)
    us, inv = np.unique(m_sid, return_inverse=True)
    inv = inv.ravel()
    n_vx = np.bincount(inv)
    mean = np.stack([np.bincount(inv, weights=_np(membership, c, np.float64)) / n_vx
                     for c in "xyz"], axis=1)
    sc = mean[np.searchsorted(us, syn[known])]
    rows = np.flatnonzero(on)[known]
    dist[rows] = np.linalg.norm((sc - centre) * vs, axis=1)
    extent[rows] = half_diag
    return dist, extent


_FEATURES = ("n_{k}_objs", "n_{k}_vxs", "min_dst_{k}_nm")


def synapse_rows(syn: pa.Table, features: pa.Table, *, cs_ids: np.ndarray,
                 extra: dict | None = None, partner_extra: dict | None = None) -> pa.Table:
    """Candidate rows of the ``synapses`` table (all but ``syn_prob``).

    The direction (:func:`synapse_direction`) turns the per-partner features ``_a`` / ``_b``
    into ``_pre`` / ``_post`` (``_a`` stays ``_pre`` where it is undetermined; ``cell_pre``
    and ``cell_post`` are NULL there).  ``n_*_vxs`` (float estimates) are rounded to voxels.

    Parameters
    ----------
    syn : pyarrow.Table
        :func:`group_synapses`' synapses.
    features : pyarrow.Table
        ``cell_a``, ``cell_b`` and the :func:`organelle_proximity` columns of mi and vc, in the
        row order of ``syn``.
    cs_ids : numpy.ndarray
        The contact site of every synapse's pair.
    extra : dict, optional
        More columns, in row order (``sj_share``, ``sj_overlap``, ...); NaN becomes NULL.
    partner_extra : dict, optional
        More per-partner columns: name -> (values of ``cell_a``, values of ``cell_b``), stored
        as ``<name>_pre`` and ``<name>_post``.
    """
    a = _np(syn, "cell_a", np.uint64)
    b = _np(syn, "cell_b", np.uint64)
    pre, post, conf = synapse_direction(features)
    known = pre != 0
    swap = known & (pre == b)  # cell_b is presynaptic: its _b features become _pre
    cols: dict = {
        "id": _np(syn, "synapse_id", np.uint64).astype(np.int64),
        "cell_pre": pa.array(pre.astype(np.int64), mask=~known),
        "cell_post": pa.array(post.astype(np.int64), mask=~known),
        "cell_a": a.astype(np.int64), "cell_b": b.astype(np.int64),
        "contact_site_id": np.asarray(cs_ids, np.int64),
        "size_vx": syn["size_vx"], "area_um2": syn["area_um2"],
        # the compartment step may overrule it (syconn.tasks.compartments.oriented_synapses)
        "direction_source": pa.array(np.where(known, "vesicles", None), pa.string()),
    }
    for m in ("min", "max"):
        for c in "xyz":
            cols[f"bb_{m}_{c}"] = syn[f"bbox_{m}_{c}"]
    for c in "xyz":
        cols[f"rep_{c}"] = syn[f"rep_{c}"]
    cols.update({"sym_prop": syn["sym_prop"], "asym_prop": syn["asym_prop"],
                 "sym_ratio": syn["sym_ratio"], "sign": syn["sign"].cast(pa.int16()),
                 "direction_confidence": conf})
    for side in ("pre", "post"):
        for kind in ("mi", "vc"):
            for f in _FEATURES:
                name = f.format(k=kind)
                fa = _np(features, f"{name}_a")
                fb = _np(features, f"{name}_b")
                v = np.where(swap, fb, fa) if side == "pre" else np.where(swap, fa, fb)
                if name.startswith("n_"):
                    v = np.rint(v).astype(np.int64)
                cols[f"{name}_{side}"] = v
    for name, (va, vb) in (partner_extra or {}).items():
        va, vb = np.asarray(va), np.asarray(vb)
        cols[f"{name}_pre"] = np.where(swap, vb, va)
        cols[f"{name}_post"] = np.where(swap, va, vb)
    cols["sj_prob_mean"] = syn["sj_prob_mean"]
    cols["sj_prob_max"] = syn["sj_prob_max"]
    for name, v in (extra or {}).items():
        v = np.asarray(v)
        cols[name] = pa.array(v, mask=np.isnan(v)) if v.dtype.kind == "f" else v  # NaN: NULL
    return pa.table(cols)
