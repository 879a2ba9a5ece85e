"""Per-object statistics of label volumes and label-label overlaps.

``object_stats`` measures one block; ``merge_object_stats`` reduces the per-block tables of the
same ids to one row per object.  ``overlap_counts`` counts co-located label pairs (organelle x
supervoxel), the input of organelle-to-cell assignment.

Coordinates are global mag-1 voxel coordinates (``offset_xyz`` is the block's position in the
volume); bounding boxes are ``[bb_min, bb_max)`` (upper bound exclusive, as SyConn's chunk
extraction).  The representative voxel (``rep_x/y/z``) always lies inside the object: it is the
object's voxel closest (Euclidean, voxel units) to its centroid, ties broken by the smallest
(x, y, z).  Unlike SyConn's "first scanned voxel of the last chunk" (reference §10) this does not
depend on block order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from syconn.errors import InputError
from syconn.proc import _object_kernels as K

__all__ = ["OBJECT_STATS_SCHEMA", "object_stats", "merge_object_stats", "overlap_counts"]

_XYZ = ("x", "y", "z")

OBJECT_STATS_SCHEMA = pa.schema(
    [("id", pa.uint64()), ("size_vx", pa.int64())]
    + [(f"bb_min_{a}", pa.int64()) for a in _XYZ]
    + [(f"bb_max_{a}", pa.int64()) for a in _XYZ]
    + [(f"sum_{a}", pa.int64()) for a in _XYZ]
    + [(f"rep_{a}", pa.int64()) for a in _XYZ]
)
"""Schema of :func:`object_stats` and :func:`merge_object_stats` tables."""


def check_labels(labels: np.ndarray, name: str = "labels") -> np.ndarray:
    """Validate a 3-d unsigned-integer label array (shared by proc modules)."""
    if not isinstance(labels, np.ndarray):
        raise InputError(f"{name}: got {type(labels).__name__}, expected a numpy array")
    if labels.ndim != 3:
        raise InputError(f"{name}: got {labels.ndim} dimensions (shape {labels.shape}), "
                         "expected a 3-d array indexed [x, y, z]")
    if labels.dtype.kind != "u":
        if labels.dtype.kind == "i" and (labels.size == 0 or labels.min() >= 0):
            return labels.astype(np.uint64)
        raise InputError(f"{name}: dtype {labels.dtype}, expected an unsigned integer label array "
                         "(uint8/16/32/64)")
    return labels


def check_offset(offset_xyz) -> np.ndarray:
    off = np.asarray(offset_xyz if offset_xyz is not None else (0, 0, 0))
    if off.shape != (3,) or off.dtype.kind not in "iu":
        raise InputError(f"offset_xyz: got {offset_xyz!r}, expected three integers (x, y, z)")
    return off.astype(np.int64)


def object_stats(labels: np.ndarray, *, offset_xyz: Sequence[int] = (0, 0, 0),
                 rep_lattice_vx: int | None = None) -> pa.Table:
    """Measure every non-zero label of one block.

    With ``rep_lattice_vx = h`` the table is meant for ``merge_object_stats(...,
    rep="lattice")``: each object's row carries its first voxel in this block (raster order z, y,
    x) as ``rep_*``, and extra candidate rows (``size_vx = 0``, neutral bounding box and sums)
    list every point of the global lattice of spacing h that lies inside an object.  The merged
    representative voxel, the lattice point inside the object closest to its centroid (or, for
    an object no lattice point hits, its first voxel), depends neither on the block size nor on
    the block layout.

    Parameters
    ----------
    labels : ndarray of unsigned int, shape (X, Y, Z)
        Label block indexed ``[x, y, z]``; 0 is background.  C or Fortran order (no copy).
    offset_xyz : sequence of 3 int, keyword-only
        Global voxel coordinate of ``labels[0, 0, 0]``.

    Returns
    -------
    pyarrow.Table
        :data:`OBJECT_STATS_SCHEMA`, one row per id, sorted by id: ``size_vx``; bounding box
        ``bb_min_*`` / ``bb_max_*`` (exclusive); ``sum_*`` = sums of the global coordinates of the
        object's voxels (centroid = sum / size, also after :func:`merge_object_stats`);
        ``rep_*`` = the object's voxel in this block closest to its centroid in this block.

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.zeros((4, 4, 4), np.uint32); lab[1:3, 1:3, 1] = 7
    >>> t = object_stats(lab, offset_xyz=(10, 0, 0)).to_pylist()[0]
    >>> t["id"], t["size_vx"], (t["bb_min_x"], t["bb_max_x"]), (t["rep_x"], t["rep_y"], t["rep_z"])
    (7, 4, (11, 13), (11, 1, 1))
    """
    labels = check_labels(labels)
    off = check_offset(offset_xyz)
    if rep_lattice_vx is not None:
        return _object_stats_lattice(labels, off, int(rep_lattice_vx))
    view, perm = K.to_view(labels)
    keys, st, slots, cap_bits = K.stats_pass1(view)
    if keys.shape[0] == 0:
        return OBJECT_STATS_SCHEMA.empty_table()
    size = st[:, 0]
    centroid = st[:, 1:4] / size[:, None]
    rep_v = K.stats_pass2(view, perm, keys, slots, cap_bits, centroid)
    order = np.argsort(keys, kind="stable")
    inv = np.empty(3, np.int64)
    inv[perm] = np.arange(3)  # inv[xyz axis] = view axis
    cols = {"id": keys[order], "size_vx": size[order]}
    for a in range(3):
        v = inv[a]
        cols[f"bb_min_{_XYZ[a]}"] = st[order, 4 + v] + off[a]
    for a in range(3):
        v = inv[a]
        cols[f"bb_max_{_XYZ[a]}"] = st[order, 7 + v] + 1 + off[a]
    for a in range(3):
        v = inv[a]
        cols[f"sum_{_XYZ[a]}"] = st[order, 1 + v] + size[order] * off[a]
    for a in range(3):
        v = inv[a]
        cols[f"rep_{_XYZ[a]}"] = rep_v[order, v] + off[a]
    return pa.table(cols, schema=OBJECT_STATS_SCHEMA)


_BIG = np.iinfo(np.int64).max
_SMALL = np.iinfo(np.int64).min


def _object_stats_lattice(labels: np.ndarray, off: np.ndarray, h: int) -> pa.Table:
    """object_stats for block-independent representative voxels; see ``rep_lattice_vx``."""
    from syconn.proc.stitch import first_voxels

    if h < 1:
        raise InputError(f"rep_lattice_vx: got {h}, expected a positive number of voxels")
    t = object_stats(labels, offset_xyz=off)
    fv = first_voxels(labels, offset_xyz=off)  # same ids, sorted
    for a in _XYZ:  # main rows: rep = the object's first voxel in this block (raster z, y, x)
        t = t.set_column(t.schema.get_field_index(f"rep_{a}"), f"rep_{a}", fv[a])
    # candidate rows: every global lattice point (multiples of h) inside an object
    start = [(-o) % h for o in off]
    sub = np.asarray(labels)[start[0]::h, start[1]::h, start[2]::h]
    idx = np.nonzero(sub)
    ids = sub[idx].astype(np.uint64)
    n = len(ids)
    cand = {"id": ids, "size_vx": np.zeros(n, np.int64)}
    for a in _XYZ:
        cand[f"bb_min_{a}"] = np.full(n, _BIG, np.int64)
    for a in _XYZ:
        cand[f"bb_max_{a}"] = np.full(n, _SMALL, np.int64)
    for a in _XYZ:
        cand[f"sum_{a}"] = np.zeros(n, np.int64)
    for k, a in enumerate(_XYZ):
        cand[f"rep_{a}"] = idx[k].astype(np.int64) * h + start[k] + off[k]
    return pa.concat_tables([t, pa.table(cand, schema=OBJECT_STATS_SCHEMA)])


def merge_object_stats(tables: Sequence[pa.Table], *, rep: str = "closest") -> pa.Table:
    """Reduce per-block :func:`object_stats` tables to one row per id.

    Sizes and coordinate sums are added, bounding boxes combined.  The representative voxel is,
    among the candidates (one per block the object occurs in), the one closest to the global
    centroid, ties broken by smallest (x, y, z); it therefore lies inside the object and does not
    depend on block order or on the number of workers.  Everything except ``rep_*`` is independent
    of the block size; ``rep_*`` depends on it only through the candidate set (one candidate per
    block), so for objects that span several blocks the chosen voxel may move with the block size.

    Parameters
    ----------
    tables : sequence of pyarrow.Table
        Tables with :data:`OBJECT_STATS_SCHEMA` (several may hold the same id).

    rep : {"closest", "lattice"}, keyword-only
        ``"lattice"`` for tables of ``object_stats(..., rep_lattice_vx=h)``: among the lattice
        candidate rows (``size_vx == 0``) the one closest to the centroid, else the first voxel
        in raster order (z, y, x) among the rows' reps.  Apply it once, to all blocks' tables.

    Returns
    -------
    pyarrow.Table
        :data:`OBJECT_STATS_SCHEMA`, sorted by id.  Merging a merged table again with
        ``rep="closest"`` is a no-op.
    """
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return OBJECT_STATS_SCHEMA.empty_table()
    for i, t in enumerate(tables):
        if not t.schema.equals(OBJECT_STATS_SCHEMA):
            raise InputError(f"tables[{i}]: schema {t.schema.names}, expected the object_stats "
                             f"schema {OBJECT_STATS_SCHEMA.names}")
    t = pa.concat_tables(tables)
    c = {name: t.column(name).to_numpy() for name in t.column_names}
    ids = c["id"]
    order = np.argsort(ids, kind="stable")
    ids_s = ids[order]
    starts = np.flatnonzero(np.r_[True, ids_s[1:] != ids_s[:-1]])
    uid = ids_s[starts]
    inverse = np.empty(ids.shape[0], np.int64)
    inverse[order] = np.repeat(np.arange(starts.shape[0]), np.diff(np.r_[starts, ids.shape[0]]))
    out = {"id": uid}
    out["size_vx"] = np.add.reduceat(c["size_vx"][order], starts)
    for a in _XYZ:
        out[f"bb_min_{a}"] = np.minimum.reduceat(c[f"bb_min_{a}"][order], starts)
    for a in _XYZ:
        out[f"bb_max_{a}"] = np.maximum.reduceat(c[f"bb_max_{a}"][order], starts)
    for a in _XYZ:
        out[f"sum_{a}"] = np.add.reduceat(c[f"sum_{a}"][order], starts)
    # representative: candidate closest to the global centroid, ties by (x, y, z)
    size = out["size_vx"][inverse].astype(np.float64)
    d2 = np.zeros(ids.shape[0])
    for a in _XYZ:
        d2 += (c[f"rep_{a}"] - out[f"sum_{a}"][inverse] / size) ** 2
    if rep == "lattice":
        # lattice candidates first (by distance); objects without any: raster-first main rep
        is_cand = c["size_vx"] == 0
        has_cand = np.zeros(len(uid), bool)
        has_cand[inverse[is_cand]] = True
        usable = np.where(has_cand[inverse], is_cand, True)
        d2 = np.where(has_cand[inverse], d2, 0.0)
        pick = np.lexsort((c["rep_x"], c["rep_y"], c["rep_z"], d2, ~usable, ids))
    elif rep == "closest":
        pick = np.lexsort((c["rep_z"], c["rep_y"], c["rep_x"], d2, ids))
    else:
        raise InputError(f"rep: got {rep!r}, expected 'closest' or 'lattice'")
    first = pick[np.r_[True, ids[pick][1:] != ids[pick][:-1]]]
    for a in _XYZ:
        out[f"rep_{a}"] = c[f"rep_{a}"][first]
    return pa.table(out, schema=OBJECT_STATS_SCHEMA)


def overlap_counts(labels_a: np.ndarray, labels_b: np.ndarray, *,
                   names: tuple[str, str] = ("a_id", "b_id")) -> pa.Table:
    """Count the voxels shared by every pair of non-zero labels of two co-registered arrays.

    Parameters
    ----------
    labels_a, labels_b : ndarray of unsigned int, same shape (X, Y, Z)
        E.g. an organelle segmentation and the supervoxel segmentation of the same block.
        Voxels where either is 0 are not counted.  Put the sparser array first (it is faster).
    names : (str, str), keyword-only
        Column names of the two id columns (e.g. ``("org_id", "sv_id")``).

    Returns
    -------
    pyarrow.Table
        Columns ``names[0]`` (uint64), ``names[1]`` (uint64), ``n_vx`` (int64), sorted by the
        two ids.  Tables of disjoint blocks are combined by summing ``n_vx`` per pair.
    """
    labels_a = check_labels(labels_a, "labels_a")
    labels_b = check_labels(labels_b, "labels_b")
    if labels_a.shape != labels_b.shape:
        raise InputError(f"labels_b: shape {labels_b.shape}, expected the shape of labels_a "
                         f"{labels_a.shape}")
    va, perm = K.to_view(labels_a)
    vb = K.like_view(labels_b, perm)
    ka, kb, cnt = K.overlap_kernel(va, vb)
    order = np.lexsort((kb, ka))
    schema = pa.schema([(names[0], pa.uint64()), (names[1], pa.uint64()), ("n_vx", pa.int64())])
    return pa.table({names[0]: ka[order], names[1]: kb[order], "n_vx": cnt[order]}, schema=schema)
