"""Region adjacency graph (RAG) of a supervoxel segmentation.

Two supervoxels are adjacent when a voxel of one and a voxel of the other lie on one axis line at
distance ``s`` with only background strictly between them and ``1 <= s <= max_gap_vx[axis] + 1``
(``s = 1``: the voxels share a face; cell segmentations leave a 1-2 voxel background gap between
cells, which ``max_gap_vx`` bridges).  ``contact_vx`` counts such voxel pairs ``(v, v + s*e)``
where ``v`` is the non-zero voxel at which the walk starts: for every non-zero voxel ``v`` and each
axis, the first non-zero voxel within ``max_gap_vx + 1`` steps in the *positive* direction is
looked up; if its label differs, the pair counts once.

Block contract (summing per-block tables gives the whole-volume table)
-----------------------------------------------------------------------
A pair is counted by the block whose *core* holds its lower voxel ``v``.  The task passes the
block's core plus an **upper halo of ``max_gap_vx + 1`` voxels on each axis** (clipped at the
volume's upper border; no lower halo), ``core_shape_vx`` = the core's shape, and sums
``contact_vx`` per ``(sv_a, sv_b)`` over blocks (:func:`merge_rag_edges`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from syconn.errors import InputError
from syconn.proc import _object_kernels as K
from syconn.proc.objects import check_labels

__all__ = ["RAG_SCHEMA", "rag_edges", "merge_rag_edges", "rag_halo_vx"]

RAG_SCHEMA = pa.schema([("sv_a", pa.uint64()), ("sv_b", pa.uint64()), ("contact_vx", pa.int64())])
"""Schema of :func:`rag_edges` tables (``sv_a < sv_b``, sorted)."""


def _check_gap(max_gap_vx) -> np.ndarray:
    gap = np.asarray(max_gap_vx)
    if gap.shape == ():
        gap = np.repeat(gap, 3)
    if gap.shape != (3,) or gap.dtype.kind not in "iu" or (gap < 0).any():
        raise InputError(f"max_gap_vx: got {max_gap_vx!r}, expected three non-negative integers "
                         "(x, y, z)")
    return gap.astype(np.int64)


def rag_halo_vx(max_gap_vx: Sequence[int] = (2, 2, 2)) -> tuple[int, int, int]:
    """Upper halo (x, y, z) in voxels that :func:`rag_edges` needs: ``max_gap_vx + 1``."""
    return tuple(int(g) + 1 for g in _check_gap(max_gap_vx))


def rag_edges(seg: np.ndarray, *, core_shape_vx: Sequence[int] | None = None,
              max_gap_vx: Sequence[int] = (2, 2, 2)) -> pa.Table:
    """Adjacent supervoxel pairs of one block and the number of voxel pairs across which they touch.

    Parameters
    ----------
    seg : ndarray of unsigned int, shape (X, Y, Z)
        Supervoxel ids (0 = background), the block's core followed by an upper halo of
        ``max_gap_vx + 1`` voxels per axis (see the module docstring).  C or F order.
    core_shape_vx : 3 ints, keyword-only
        Shape of the core (default: the whole array, i.e. the whole volume in one block).
    max_gap_vx : 3 ints or int, keyword-only
        Longest run of background voxels (x, y, z) that still separates adjacent supervoxels.

    Returns
    -------
    pyarrow.Table
        :data:`RAG_SCHEMA`: ``sv_a < sv_b``, ``contact_vx`` > 0, sorted by (sv_a, sv_b).

    Examples
    --------
    Two 3x3x3 cubes with a one-voxel gap touch across a 3x3 face:

    >>> seg = np.zeros((7, 3, 3), np.uint32); seg[0:3] = 1; seg[4:7] = 2
    >>> rag_edges(seg, max_gap_vx=1).to_pylist()
    [{'sv_a': 1, 'sv_b': 2, 'contact_vx': 9}]
    """
    seg = check_labels(seg, "seg")
    gap = _check_gap(max_gap_vx)
    core = np.asarray(seg.shape if core_shape_vx is None else core_shape_vx)
    if core.shape != (3,) or core.dtype.kind not in "iu" or (core < 0).any() or \
            (core > np.asarray(seg.shape)).any():
        raise InputError(f"core_shape_vx: got {core_shape_vx!r}, expected three integers "
                         f"0 <= c <= seg.shape {seg.shape}")
    view, perm = K.to_view(seg)
    ka, kb, cnt = K.rag_kernel(view, core.astype(np.int64)[perm], gap[perm])
    order = np.lexsort((kb, ka))
    return pa.table({"sv_a": ka[order], "sv_b": kb[order], "contact_vx": cnt[order]},
                    schema=RAG_SCHEMA)


def merge_rag_edges(tables: Sequence[pa.Table]) -> pa.Table:
    """Sum per-block :func:`rag_edges` tables (``contact_vx`` added per pair); sorted by pair."""
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return RAG_SCHEMA.empty_table()
    t = pa.concat_tables([x.select(RAG_SCHEMA.names).cast(RAG_SCHEMA) for x in tables])
    g = t.group_by(["sv_a", "sv_b"]).aggregate([("contact_vx", "sum")])
    g = pa.table({"sv_a": g["sv_a"], "sv_b": g["sv_b"], "contact_vx": g["contact_vx_sum"]},
                 schema=RAG_SCHEMA)
    return g.sort_by([("sv_a", "ascending"), ("sv_b", "ascending")])
