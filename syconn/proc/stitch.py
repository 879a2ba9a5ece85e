"""Stitching per-block labels into global ids (SyConn step 2a, items 6-8; reference §1.3).

Contract for blockwise labelling (what the tasks do)
----------------------------------------------------
The volume is cut into a grid of blocks.  For every block ``b`` (any order, any worker):

1. label ``core_b`` plus a halo (``required_halo_vx``, at least 1 voxel on every side, clipped at
   the volume border) with local ids 1..n_b (``extract_objects``);
2. keep ``n_b`` (the number of local ids, halo-only ones included), the core's labels, the
   first-voxel table ``first_voxels(core_labels, offset_xyz=core_origin)`` and, for each axis
   with an upper neighbour, the *upper face slab*: the block's labels on the 1-voxel layer just
   above its core along that axis (``upper_face_slabs``), which is the first layer of the upper
   neighbour's core.

Then, once all blocks are done:

3. for each block ``a`` and upper neighbour ``b`` along axis ``ax``: ``face_pairs(slab_a[ax],
   first_layer_of(core_b, ax))`` -> equivalences (a, local_a) == (b, local_b);
4. ``resolve_global_ids(n_labels, first_voxel_tables, pairs)`` -> per-block lookup arrays;
5. ``relabel(core_b, lookup_b)`` -> global ids.

Global ids are 1..N ordered by each object's first voxel in global raster order (z, then y, then
x; x fastest): a property of the object's voxels, so ids do not depend on block size, block
order or the number of workers.  Components without a core voxel (halo-only) map to 0.
:func:`label_blockwise` does all of this in memory and is the reference for the tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import product

import fastremap
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from syconn.errors import InputError
from syconn.proc import _object_kernels as K
from syconn.proc.objects import check_labels, check_offset

__all__ = ["FIRST_VOXEL_SCHEMA", "PAIR_SCHEMA", "first_voxels", "upper_face_slabs",
           "face_pairs", "resolve_global_ids", "relabel", "label_blockwise"]

FIRST_VOXEL_SCHEMA = pa.schema([("id", pa.uint64()), ("x", pa.int64()), ("y", pa.int64()),
                                ("z", pa.int64())])
PAIR_SCHEMA = pa.schema([("block_a", pa.int64()), ("local_a", pa.uint64()),
                         ("block_b", pa.int64()), ("local_b", pa.uint64())])


def first_voxels(labels: np.ndarray, *, offset_xyz: Sequence[int] = (0, 0, 0)) -> pa.Table:
    """Per label, its first voxel in raster order (z, then y, then x), in global coordinates.

    Pass the block's *core* labels (halo cropped).  Returns :data:`FIRST_VOXEL_SCHEMA`, sorted by id.
    """
    labels = check_labels(labels)
    off = check_offset(offset_xyz)
    view, perm = K.to_view(labels)
    keys, zyx = K.first_voxel_kernel(view, perm)
    o = np.argsort(keys)
    return pa.table({"id": keys[o], "x": zyx[o, 2] + off[0], "y": zyx[o, 1] + off[1],
                     "z": zyx[o, 0] + off[2]}, schema=FIRST_VOXEL_SCHEMA)


def upper_face_slabs(labels: np.ndarray, *, core_start_vx: Sequence[int],
                     core_shape_vx: Sequence[int]) -> list[np.ndarray | None]:
    """The block's labels on the 1-voxel layer just above its core, per axis (None if absent).

    ``core_start_vx``: index of the core's first voxel inside ``labels`` (= the lower halo width);
    ``core_shape_vx``: the core's shape.  Slab ``ax`` has the core's extent on the other axes.
    """
    s = np.asarray(core_start_vx, np.int64)
    c = np.asarray(core_shape_vx, np.int64)
    out: list[np.ndarray | None] = []
    for ax in range(3):
        sl = [slice(int(s[a]), int(s[a] + c[a])) for a in range(3)]
        pos = int(s[ax] + c[ax])
        if pos >= labels.shape[ax]:
            out.append(None)
            continue
        sl[ax] = slice(pos, pos + 1)
        out.append(np.array(labels[tuple(sl)]))
    return out


def face_pairs(labels_a: np.ndarray, labels_b: np.ndarray) -> np.ndarray:
    """Unique pairs ``(a, b)`` of non-zero labels co-located in two arrays of the same region.

    Returns an (n, 2) uint64 array sorted by (a, b).
    """
    if labels_a.shape != labels_b.shape:
        raise InputError(f"labels_b: shape {labels_b.shape}, expected the shape of labels_a "
                         f"{labels_a.shape}")
    a = labels_a.ravel(order="K").astype(np.uint64)
    b = labels_b.ravel(order="K" if labels_b.flags.f_contiguous == labels_a.flags.f_contiguous
                       else "A").astype(np.uint64)
    if labels_a.flags.f_contiguous != labels_b.flags.f_contiguous:
        a = labels_a.ravel(order="C").astype(np.uint64)
        b = labels_b.ravel(order="C").astype(np.uint64)
    m = (a != 0) & (b != 0)
    if not m.any():
        return np.zeros((0, 2), np.uint64)
    return np.unique(np.stack([a[m], b[m]], 1), axis=0)


def resolve_global_ids(n_labels: Sequence[int], first_voxel_tables: Sequence[pa.Table],
                       pairs: pa.Table | None) -> list[np.ndarray]:
    """Global ids from per-block local ids and cross-block equivalences.

    Parameters
    ----------
    n_labels : sequence of int
        Per block, the largest local id (local ids are 1..n_labels[b]).
    first_voxel_tables : sequence of pyarrow.Table
        Per block, :func:`first_voxels` of its core labels (global coordinates).
    pairs : pyarrow.Table or None
        :data:`PAIR_SCHEMA` rows ``(block_a, local_a, block_b, local_b)``: same object.

    Returns
    -------
    list of ndarray of uint64
        Per block a lookup table ``lut`` of length n_labels[b] + 1 (``lut[0] = 0``) for
        :func:`relabel`.  Global ids are 1..N, ordered by the object's first voxel in global
        raster order (z, y, x).  Local ids whose component has no core voxel map to 0.
    """
    n_labels = np.asarray(n_labels, np.int64)
    if len(first_voxel_tables) != n_labels.shape[0]:
        raise InputError(f"first_voxel_tables: {len(first_voxel_tables)} tables, expected one per "
                         f"block ({n_labels.shape[0]})")
    base = np.r_[0, np.cumsum(n_labels)]
    total = int(base[-1])
    if pairs is not None and pairs.num_rows:
        ba = pairs["block_a"].to_numpy().astype(np.int64)
        bb = pairs["block_b"].to_numpy().astype(np.int64)
        la = pairs["local_a"].to_numpy().astype(np.int64)
        lb = pairs["local_b"].to_numpy().astype(np.int64)
        bad = (la < 1) | (la > n_labels[ba]) | (lb < 1) | (lb > n_labels[bb])
        if bad.any():
            raise InputError(f"pairs: {int(bad.sum())} local id(s) outside 1..n_labels of their "
                             "block")
        ia, ib = base[ba] + la - 1, base[bb] + lb - 1
    else:
        ia = ib = np.zeros(0, np.int64)
    g = coo_matrix((np.ones(ia.size, np.int8), (ia, ib)), shape=(total, total))
    _, comp = connected_components(g, directed=False)
    n_comp = int(comp.max()) + 1 if total else 0
    big = np.iinfo(np.int64).max
    kz = np.full(n_comp, big, np.int64)
    ky = np.full(n_comp, big, np.int64)
    kx = np.full(n_comp, big, np.int64)
    for b, t in enumerate(first_voxel_tables):
        if not t.num_rows:
            continue
        ids = t["id"].to_numpy().astype(np.int64)
        if (ids < 1).any() or (ids > n_labels[b]).any():
            raise InputError(f"first_voxel_tables[{b}]: ids outside 1..{n_labels[b]}")
        c = comp[base[b] + ids - 1]
        x, y, z = (t[a].to_numpy() for a in ("x", "y", "z"))
        # lexicographic min of (z, y, x) per component: sort then take the first per component
        o = np.lexsort((x, y, z, c))
        c, x, y, z = c[o], x[o], y[o], z[o]
        f = np.r_[True, c[1:] != c[:-1]]
        c, x, y, z = c[f], x[f], y[f], z[f]
        better = (z < kz[c]) | ((z == kz[c]) & ((y < ky[c]) | ((y == ky[c]) & (x < kx[c]))))
        kz[c[better]], ky[c[better]], kx[c[better]] = z[better], y[better], x[better]
    present = np.flatnonzero(kz != big)
    order = present[np.lexsort((kx[present], ky[present], kz[present]))]
    gid = np.zeros(n_comp, np.uint64)
    gid[order] = np.arange(1, order.size + 1, dtype=np.uint64)
    node_gid = gid[comp]
    return [np.r_[np.uint64(0), node_gid[base[b]:base[b + 1]]].astype(np.uint64)
            for b in range(n_labels.shape[0])]


def relabel(labels: np.ndarray, mapping: np.ndarray | dict, *, in_place: bool = False) -> np.ndarray:
    """Map every label through ``mapping`` (lookup array indexed by label, or dict).

    With a dict, every label present must be a key (0 included unless absent).  Keeps the
    memory order; returns uint64.
    """
    labels = check_labels(labels)
    if isinstance(mapping, dict):
        try:
            return fastremap.remap(labels.astype(np.uint64, copy=not in_place), mapping,
                                   preserve_missing_labels=False, in_place=True)
        except KeyError as exc:
            raise InputError(f"mapping: label {exc.args[0]} has no entry") from None
    lut = np.asarray(mapping, dtype=np.uint64)
    mx = int(labels.max()) if labels.size else 0
    if mx >= lut.shape[0]:
        raise InputError(f"mapping: lookup table has {lut.shape[0]} entries, labels go up to {mx}")
    order = "F" if labels.flags.f_contiguous and not labels.flags.c_contiguous else "C"
    return np.asarray(lut[labels], order=order)


def label_blockwise(volume: np.ndarray, label_fn: Callable[[np.ndarray], np.ndarray], *,
                    block_shape_vx: Sequence[int], halo_vx: Sequence[int]) -> np.ndarray:
    """Label ``volume`` block by block with ``label_fn`` and stitch (the in-memory reference).

    ``label_fn(extended_block) -> local labels`` (e.g. ``partial(extract_objects, threshold=..)``)
    is called on each block plus ``halo_vx`` (clipped at the border).  Returns uint64 global
    labels following the module contract.
    """
    shape = np.asarray(volume.shape)
    bs = np.asarray(block_shape_vx, np.int64)
    halo = np.maximum(np.asarray(halo_vx, np.int64), 1)
    grid = -(-shape // bs)
    idx = {g: i for i, g in enumerate(product(*(range(int(n)) for n in grid)))}
    n_labels, fv, cores, slabs, origins = [], [], [], [], []
    for g in idx:
        o = np.asarray(g) * bs
        e = np.minimum(o + bs, shape)
        lo = np.maximum(o - halo, 0)
        hi = np.minimum(e + halo, shape)
        lab = label_fn(volume[tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))])
        cs = o - lo
        core = lab[tuple(slice(int(a), int(a + c)) for a, c in zip(cs, e - o))]
        n_labels.append(int(lab.max()) if lab.size else 0)
        fv.append(first_voxels(core, offset_xyz=o))
        cores.append(core)
        slabs.append(upper_face_slabs(lab, core_start_vx=cs, core_shape_vx=e - o))
        origins.append((o, e))
    rows = []
    for g, i in idx.items():
        for ax in range(3):
            ng = list(g)
            ng[ax] += 1
            j = idx.get(tuple(ng))
            if j is None or slabs[i][ax] is None:
                continue
            first = [slice(None)] * 3
            first[ax] = slice(0, 1)
            p = face_pairs(slabs[i][ax], cores[j][tuple(first)])
            if p.size:
                rows.append(pa.table({"block_a": np.full(len(p), i), "local_a": p[:, 0],
                                      "block_b": np.full(len(p), j), "local_b": p[:, 1]},
                                     schema=PAIR_SCHEMA))
    pairs = pa.concat_tables(rows) if rows else None
    luts = resolve_global_ids(n_labels, fv, pairs)
    out = np.zeros(volume.shape, np.uint64)
    for i, (o, e) in enumerate(origins):
        out[tuple(slice(int(a), int(b)) for a, b in zip(o, e))] = relabel(cores[i], luts[i])
    return out
