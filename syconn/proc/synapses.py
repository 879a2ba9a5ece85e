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

__all__ = [
    "group_synapses",
    "organelle_surface_points",
    "organelle_proximity",
    "synapse_direction",
    "syn_prob_rule",
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


def _cluster(xyz_nm: np.ndarray, gap_nm: float, link_nm: float) -> np.ndarray:
    """Single-linkage components of points closer than ``gap_nm`` (strictly)."""
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
    trees = [None] * ncomp
    parent = np.arange(ncomp)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(ncomp):
        gapv = np.maximum(0, np.maximum(lo[i + 1:] - hi[i], lo[i] - hi[i + 1:]))
        near = np.nonzero(np.sqrt((gapv ** 2).sum(1)) < gap_nm)[0] + i + 1
        for j in near:
            ri, rj = find(i), find(j)
            if ri == rj:
                continue
            if trees[i] is None:
                trees[i] = cKDTree(pts[i])
            d, _ = trees[i].query(pts[j], k=1, distance_upper_bound=gap_nm)
            if np.any(d < gap_nm):
                parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(ncomp)])
    return roots[comp]


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
                   sym_thresh: float = 0.225):
    """Group synapse-fragment voxels into synapses, per cell pair, and measure them.

    Rule: within a cell pair, two fragment voxels closer than ``gap_nm`` (Euclidean distance in
    nm, anisotropic voxels) belong to the same synapse (single linkage).  This subsumes SyConn's
    two-step rule (voxels <= 2 voxels apart form a fragment; fragments whose minimum distance is
    < ``cs_gap_nm`` are joined) and has no 20 um cut-off on the fragments' first voxels.
    Clusters with fewer than ``min_size_vx`` voxels are dropped.  Implementation: per pair, a
    cKDTree ``query_pairs`` at the voxel diagonal and connected components; then components
    whose bounding boxes are closer than the gap are joined when their minimum distance is.

    Parameters
    ----------
    syn_voxels : pyarrow.Table
        Columns x, y, z (global voxels), cell_a, cell_b, sym, asym (as from
        :func:`~syconn.proc.contacts.find_contacts`, all blocks concatenated).
    voxel_size_nm : (float, float, float)
    gap_nm : float
        SyConn ``cs_gap_nm``.
    min_size_vx : int
        SyConn ``min_obj_vx['syn_ssv']``.
    sym_thresh : float
        ``sign = -1`` if ``sym_ratio > sym_thresh``.

    Returns
    -------
    synapses : pyarrow.Table
        :data:`SYNAPSES_SCHEMA`, sorted by ``(cell_a, cell_b, first voxel)``.  ``synapse_id``:
        :func:`synapse_ids` (63-bit hash of cell pair and first voxel in raster order z, y, x).
        ``area_um2``: marching-cubes area of the voxel mask (crop padded by 1, voxel spacing)
        / 2, as SyConn's ``mesh_area / 2``.  ``rep_*``: member voxel closest to the centre of
        mass in nm, ties to the first in raster order.  ``bbox_min_*``/``bbox_max_*``:
        INCLUSIVE voxel bounds (as SyConn's syn_ssv).  ``sym_prop``/``asym_prop``: fraction of
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
    if np.any(ca >= cb):
        raise InputError("syn_voxels: rows with cell_a >= cell_b, expected cell_a < cell_b")
    order = np.lexsort((x, y, z, cb, ca))
    x, y, z, ca, cb, sym, asym = (a[order] for a in (x, y, z, ca, cb, sym, asym))
    # drop duplicates (a voxel must come from one block only; tolerate exact repeats)
    if len(x) > 1:
        dup = np.zeros(len(x), bool)
        dup[1:] = ((x[1:] == x[:-1]) & (y[1:] == y[:-1]) & (z[1:] == z[:-1])
                   & (ca[1:] == ca[:-1]) & (cb[1:] == cb[:-1]))
        if dup.any():
            keep = ~dup
            x, y, z, ca, cb, sym, asym = (a[keep] for a in (x, y, z, ca, cb, sym, asym))
    xyz = np.stack([x, y, z], 1)
    xyz_nm = xyz * vs
    link_nm = float(np.sqrt((vs ** 2).sum())) * (1 + 1e-9)
    n = len(x)
    cluster = np.empty(n, np.int64)
    if n:
        brk = np.nonzero((ca[1:] != ca[:-1]) | (cb[1:] != cb[:-1]))[0] + 1
        bounds = np.concatenate([[0], brk, [n]])
        nxt = 0
        for s, e in zip(bounds[:-1], bounds[1:]):
            c = _cluster(xyz_nm[s:e], float(gap_nm), link_nm)
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
                     v.min(0), v.max(0), ns, na, ratio))
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


#: Heuristic synapse probability (NOT learned; replace with a trained classifier, SyConn 6d):
#: ``syn_prob = 1 / (1 + exp(-(B0 + W_SIZE * ln(size_vx / SIZE_REF_VX)
#: + W_VC * ln(1 + n_vc_vxs_pre / VC_REF_VX))))``.
SYN_PROB_B0 = -1.0
SYN_PROB_W_SIZE = 1.0
SYN_PROB_SIZE_REF_VX = 100.0
SYN_PROB_W_VC = 1.5
SYN_PROB_VC_REF_VX = 1000.0
SYN_PROB_W_SHARE = 3.0
SYN_PROB_SHARE_REF = 0.5


def syn_prob_rule(size_vx, n_vc_vxs_pre, *, sj_share=None) -> np.ndarray:
    """A documented heuristic synapse probability in [0, 1], until a trained classifier exists.

    ``p = sigmoid(B0 + W_SIZE * ln(size_vx / 100) + W_VC * ln((1 + n_vc_vxs_pre) / 1001)
    + W_SHARE * ln(sj_share / 0.5))`` with ``B0 = -1``, ``W_SIZE = 1``, ``W_VC = 1.5``,
    ``W_SHARE = 3`` (module constants ``SYN_PROB_*``).  No vesicles, no synapse: without
    vesicle-cloud voxels near the presynaptic side the vc term is -10; with 1000 it is 0, with
    5000 +2.4.  A 1000-voxel fragment with 1000 vesicle voxels scores 0.79.  ``sj_share`` (the synapse's share of its
    sj object's fragment voxels, see ``syconn.tasks.synapses.sj_share``) is about 1 for a real
    cleft (+2.1) and small for the spill-over of a neighbouring cleft's sj band onto a
    bystander contact (0.1: -4.8).  The weights are set by hand, not fitted; the share term
    was added after inspecting the false positives on the synthetic example (seed 0).

    Parameters
    ----------
    size_vx : array_like
        Synapse size in voxels (> 0).
    n_vc_vxs_pre : array_like
        Vesicle-cloud voxels near the synapse on the presynaptic side (use the larger of the two
        sides when the direction is undetermined).

    Returns
    -------
    numpy.ndarray
        float64 probabilities.
    """
    size = np.asarray(size_vx, np.float64)
    vc = np.asarray(n_vc_vxs_pre, np.float64)
    if np.any(size <= 0) or np.any(vc < 0):
        raise InputError("size_vx / n_vc_vxs_pre: got non-positive sizes or negative vc "
                         "counts, expected size_vx > 0 and n_vc_vxs_pre >= 0")
    logit = (SYN_PROB_B0 + SYN_PROB_W_SIZE * np.log(size / SYN_PROB_SIZE_REF_VX)
             + SYN_PROB_W_VC * np.log((1.0 + vc) / (1.0 + SYN_PROB_VC_REF_VX)))
    if sj_share is not None:
        share = np.clip(np.asarray(sj_share, np.float64), 1e-3, 1.0)
        logit = logit + SYN_PROB_W_SHARE * np.log(share / SYN_PROB_SHARE_REF)
    return 1.0 / (1.0 + np.exp(-logit))
