"""Cells from the supervoxel agglomeration graph, and organelle-to-cell assignment."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from syconn.errors import InputError

__all__ = ["check_agglomeration", "cells_from_agglomeration", "assign_organelles",
           "map_supervoxels", "sorted_mapping"]

CELLS_SCHEMA = pa.schema([("sv_id", pa.uint64()), ("cell_id", pa.uint64())])
ASSIGN_SCHEMA = pa.schema([("org_id", pa.uint64()), ("cell_id", pa.uint64()),
                           ("ratio", pa.float64())])


def sorted_mapping(sv_to_cell) -> tuple[np.ndarray, np.ndarray]:
    """``(sv_ids, cell_ids)`` of a ``sv_id``/``cell_id`` table (pyarrow or pandas), as uint64
    arrays sorted by supervoxel id: the lookup :func:`map_supervoxels` takes."""
    sv = np.asarray(sv_to_cell["sv_id"].to_numpy()).astype(np.uint64)
    cell = np.asarray(sv_to_cell["cell_id"].to_numpy()).astype(np.uint64)
    order = np.argsort(sv, kind="stable")
    return sv[order], cell[order]


def map_supervoxels(ids, sv_ids: np.ndarray, cell_ids: np.ndarray, *,
                    missing: int | None = 0) -> np.ndarray:
    """The cell of every supervoxel id in ``ids`` (uint64, same shape).

    ``sv_ids`` sorted ascending with ``cell_ids`` aligned (:func:`sorted_mapping`).  Ids absent
    from the mapping, 0 included, become ``missing``; ``missing=None`` keeps them as they are.

    Examples
    --------
    >>> sv, cell = np.array([2, 5, 9], np.uint64), np.array([2, 2, 9], np.uint64)
    >>> map_supervoxels([5, 0, 9, 7], sv, cell).tolist()
    [2, 0, 9, 0]
    >>> map_supervoxels([5, 7], sv, cell, missing=None).tolist()
    [2, 7]
    """
    q = np.asarray(ids).astype(np.uint64)
    if not len(sv_ids):
        return q.copy() if missing is None else np.full(q.shape, missing, np.uint64)
    pos = np.minimum(np.searchsorted(sv_ids, q), len(sv_ids) - 1)
    found = sv_ids[pos] == q
    other = q if missing is None else np.uint64(missing)
    return np.where(found, cell_ids[pos], other).astype(np.uint64)


def _edges_array(edges) -> np.ndarray:
    if isinstance(edges, pa.Table):
        names = [n for n in ("sv_a", "sv_b") if n in edges.column_names]
        if len(names) != 2:
            raise InputError(f"edges: table columns {edges.column_names}, expected sv_a and sv_b")
        return np.stack([edges["sv_a"].to_numpy(), edges["sv_b"].to_numpy()], 1).astype(np.uint64)
    e = np.asarray(edges)
    if e.size == 0:
        return np.zeros((0, 2), np.uint64)
    if e.ndim != 2 or e.shape[1] != 2 or e.dtype.kind not in "iu":
        raise InputError(f"edges: shape {e.shape} dtype {e.dtype}, expected an (n, 2) integer "
                         "array of supervoxel id pairs")
    if e.dtype.kind == "i" and (e < 0).any():
        raise InputError("edges: negative supervoxel ids, expected ids >= 0")
    e = e.astype(np.uint64)
    # SyConn removes node 0 (background) from the agglomeration graph; so do we
    return e[(e != 0).all(1)]


def _sv_array(sv_ids) -> np.ndarray:
    s = np.asarray(sv_ids)
    if s.ndim != 1 or (s.size and s.dtype.kind not in "iu"):
        raise InputError(f"sv_ids: shape {s.shape} dtype {s.dtype}, expected a 1-d integer array")
    s = np.unique(s.astype(np.uint64))
    return s[s != 0]


def check_agglomeration(sv_ids, edges) -> np.ndarray:
    """Return the sorted non-zero ids named by ``edges`` that are absent from ``sv_ids``.

    Edges touching id 0 are ignored (SyConn drops node 0).  An empty result means the graph is
    consistent with the segmentation.
    """
    e = _edges_array(edges)
    return np.setdiff1d(np.unique(e), _sv_array(sv_ids))


def cells_from_agglomeration(sv_ids, edges) -> pa.Table:
    """Group supervoxels into cells: connected components of the agglomeration graph.

    Parameters
    ----------
    sv_ids : 1-d array of int
        Every supervoxel id of the segmentation (duplicates and 0 ignored).  Supervoxels absent
        from ``edges`` become single-supervoxel cells.
    edges : (n, 2) int array or pyarrow.Table with ``sv_a``, ``sv_b``
        Agglomeration graph; self-loops allowed, edges with id 0 ignored.

    Returns
    -------
    pyarrow.Table
        ``sv_id`` (uint64), ``cell_id`` (uint64) sorted by sv_id; cell id = smallest supervoxel
        id of the component (SyConn's SSV id rule).

    Raises
    ------
    InputError
        If ``edges`` names supervoxels missing from ``sv_ids``.
    """
    sv = _sv_array(sv_ids)
    e = _edges_array(edges)
    unknown = np.setdiff1d(np.unique(e), sv)
    if unknown.size:
        shown = ", ".join(str(int(u)) for u in unknown[:10])
        raise InputError(f"agglomeration graph: {unknown.size} supervoxel id(s) not in the "
                         f"segmentation: {shown}{' ...' if unknown.size > 10 else ''}; remove "
                         "them from the graph or check that it belongs to this segmentation")
    n = sv.shape[0]
    if n == 0:
        return CELLS_SCHEMA.empty_table()
    ia = np.searchsorted(sv, e[:, 0])
    ib = np.searchsorted(sv, e[:, 1])
    g = coo_matrix((np.ones(ia.shape[0], np.int8), (ia, ib)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    # smallest sv id per component: sv is sorted, so the first index of each component
    first = np.full(comp.max() + 1, n, np.int64)
    np.minimum.at(first, comp, np.arange(n))
    return pa.table({"sv_id": sv, "cell_id": sv[first[comp]]}, schema=CELLS_SCHEMA)


def assign_organelles(overlaps: pa.Table, sv_to_cell: pa.Table, org_sizes: pa.Table, *,
                      lower_ratio: float, upper_ratio: float, min_size_vx: int) -> pa.Table:
    """Assign organelles to the cells they lie in (SyConn ``apply_mapping_decisions``).

    ratio(org, cell) = voxels of the organelle inside the cell's supervoxels / organelle size.
    An organelle is assigned to a cell if ``ratio > lower_ratio``, ``ratio <= upper_ratio`` when
    ``upper_ratio < 1``, and organelle size > ``min_size_vx``.

    Quirk fixed: SyConn reads lower/upper/size thresholds of the *first* organelle type only and
    applies them to every type (reference §1.5, §10).  Here the caller passes each type's own
    thresholds (e.g. mi 0.5 / 1 / 2786, vc 0.5 / 1 / 1584, sj 0.1 / 0.9 / 498).

    Parameters
    ----------
    overlaps : pyarrow.Table
        ``org_id``, ``sv_id``, ``n_vx`` (:func:`syconn.proc.objects.overlap_counts` with
        ``names=("org_id", "sv_id")``, summed over blocks).
    sv_to_cell : pyarrow.Table
        ``sv_id``, ``cell_id`` (:func:`cells_from_agglomeration`).  Supervoxels not listed belong
        to no cell; their overlap voxels count for none.
    org_sizes : pyarrow.Table
        ``id``, ``size_vx`` of every organelle (merged object stats).

    Returns
    -------
    pyarrow.Table
        ``org_id``, ``cell_id`` (null when unassigned), ``ratio``; one row per assigned
        (organelle, cell) pair (an organelle with a low lower threshold can belong to several
        cells), and one row with null cell_id and its largest ratio (0 if none) for every
        organelle assigned to no cell.  Sorted by (org_id, cell_id).
    """
    if not (0 <= lower_ratio <= 1) or not (0 <= upper_ratio <= 1) or lower_ratio > upper_ratio:
        raise InputError(f"lower_ratio={lower_ratio}, upper_ratio={upper_ratio}: expected "
                         "0 <= lower_ratio <= upper_ratio <= 1")
    for name, t, cols in (("overlaps", overlaps, ("org_id", "sv_id", "n_vx")),
                          ("sv_to_cell", sv_to_cell, ("sv_id", "cell_id")),
                          ("org_sizes", org_sizes, ("id", "size_vx"))):
        missing = [c for c in cols if c not in t.column_names]
        if missing:
            raise InputError(f"{name}: columns {t.column_names}, missing {missing}")
    oid = org_sizes["id"].to_numpy().astype(np.uint64)
    osize = org_sizes["size_vx"].to_numpy().astype(np.int64)
    order = np.argsort(oid)
    oid, osize = oid[order], osize[order]
    sv, cell = sorted_mapping(sv_to_cell)

    o_org = overlaps["org_id"].to_numpy().astype(np.uint64)
    o_sv = overlaps["sv_id"].to_numpy().astype(np.uint64)
    o_n = overlaps["n_vx"].to_numpy().astype(np.int64)
    o_cell = map_supervoxels(o_sv, sv, cell)
    in_cell = o_cell != 0
    opos = np.clip(np.searchsorted(oid, o_org), 0, max(oid.size - 1, 0))
    known = (oid.size > 0) & (oid[opos] == o_org) if oid.size else np.zeros(o_org.shape, bool)
    if not known.all():
        bad = np.unique(o_org[~known])[:10]
        raise InputError(f"overlaps: organelle id(s) {bad.tolist()} missing from org_sizes")
    keep = in_cell
    po, pc, pn = o_org[keep], o_cell[keep], o_n[keep]
    # sum over the cell's supervoxels
    if po.size:
        o2 = np.lexsort((pc, po))
        po, pc, pn = po[o2], pc[o2], pn[o2]
        st = np.flatnonzero(np.r_[True, (po[1:] != po[:-1]) | (pc[1:] != pc[:-1])])
        po, pc, pn = po[st], pc[st], np.add.reduceat(pn, st)
    size = osize[np.searchsorted(oid, po)] if po.size else np.zeros(0, np.int64)
    ratio = pn / np.maximum(size, 1)
    ok = (ratio > lower_ratio) & (size > min_size_vx)
    if upper_ratio < 1:
        ok &= ratio <= upper_ratio
    a_org, a_cell, a_ratio = po[ok], pc[ok], ratio[ok]
    # organelles assigned to no cell: one row with null cell and their largest ratio
    un = np.setdiff1d(oid, a_org)
    best = np.zeros(un.shape[0])
    if po.size and un.size:
        idx = np.searchsorted(un, po)
        hit = (idx < un.size) & (un[np.minimum(idx, un.size - 1)] == po)
        np.maximum.at(best, idx[hit], ratio[hit])
    out_org = np.r_[a_org, un].astype(np.uint64)
    out_cell = np.r_[a_cell, np.zeros(un.size, np.uint64)].astype(np.uint64)
    mask = np.r_[np.zeros(a_org.size, bool), np.ones(un.size, bool)]
    out_ratio = np.r_[a_ratio, best]
    o = np.lexsort((out_cell, mask, out_org))
    return pa.table({"org_id": out_org[o],
                     "cell_id": pa.array(out_cell[o], pa.uint64(), mask=mask[o]),
                     "ratio": out_ratio[o]}, schema=ASSIGN_SCHEMA)
