"""Glia (astrocyte) separation (reference §1.4) and the supervoxel seen at a mesh location.

:func:`split_glia` is the original's split of the agglomeration, for all cells at once: per
connected component of the agglomeration graph (a cell before the split), the components of
its glia supervoxels and of its neuron supervoxels are measured by the diagonal of their
bounding box; if only neuron parts are larger than ``min_cc_size_nm`` the whole cell is neuron,
if only glia parts are, the whole cell is glia; if both are, glia parts smaller than it stay
with the neuron ("tiny glia fragments"), the remaining glia leave, and neuron parts smaller than
it after that are moved to glia.  Where no part is larger, the original tests "all neuron parts
small" first and makes the whole cell glia, so a small neuron with one glia-predicted
supervoxel became glia; here the class of the largest part decides (neuron on a tie).

:func:`nearest_labels` gives, for points near a cell's surface (mesh vertices, rendering
locations), the label of the nearest voxel of that cell in a label block, so that predictions
made on views of a cell's mesh land on its supervoxels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from syconn.errors import InputError

__all__ = ["split_glia", "nearest_labels", "component_labels"]


def component_labels(n: int, edges: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Connected components of the graph on ``n`` nodes with ``edges`` (e, 2) node indices,
    restricted to the nodes where ``keep`` is true (others get -1).  Labels are the smallest
    node index of each component (so they do not depend on the edge order).

    >>> component_labels(5, np.array([[3, 1], [1, 0]])).tolist()
    [0, 0, 2, 0, 4]
    >>> component_labels(5, np.array([[3, 1], [1, 0]]), np.array([1, 0, 1, 1, 1], bool)).tolist()
    [0, -1, 2, 3, 4]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    e = np.asarray(edges, np.int64).reshape(-1, 2)
    keep = np.ones(n, bool) if keep is None else np.asarray(keep, bool)
    e = e[keep[e[:, 0]] & keep[e[:, 1]]]
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    first = np.full(lab.max() + 1 if n else 0, n, np.int64)
    np.minimum.at(first, lab, np.arange(n))
    out = first[lab]
    out[~keep] = -1
    return out


def _diagonals(comp: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per node, the bounding-box diagonal (nm) of its component (nodes with comp -1: 0)."""
    n = len(comp)
    ok = comp >= 0
    cmin = np.full((n, 3), np.inf)
    cmax = np.full((n, 3), -np.inf)
    np.minimum.at(cmin, comp[ok], lo[ok])
    np.maximum.at(cmax, comp[ok], hi[ok])
    out = np.zeros(n)
    out[ok] = np.linalg.norm(cmax[comp[ok]] - cmin[comp[ok]], axis=1)
    return out


def split_glia(edges: np.ndarray, is_glia: np.ndarray, bbox_lo_nm: np.ndarray,
               bbox_hi_nm: np.ndarray, *, min_cc_size_nm: float = 5000.0) -> np.ndarray:
    """The original's glia split of an agglomeration graph (module docstring).

    Parameters
    ----------
    edges : (e, 2) int
        Agglomeration edges as node indices (supervoxels 0..n-1).
    is_glia : (n,) bool
        The classifier's decision per supervoxel.
    bbox_lo_nm, bbox_hi_nm : (n, 3) float
        Each supervoxel's bounding box (nm); a part's size is the diagonal of its union.
    min_cc_size_nm : float
        ``min_cc_size_ssv`` (5000 nm).

    Returns
    -------
    (n,) bool: glia after the split.

    Examples
    --------
    A chain of four supervoxels of 3 x 1 x 1 um (diagonal 3.3 um) along x, the last two glia:
    both parts are 6.2 um, so they split.

    >>> lo = np.array([[0, 0, 0], [3000, 0, 0], [6000, 0, 0], [9000, 0, 0]], float)
    >>> hi = lo + [3000, 1000, 1000]
    >>> e = np.array([[0, 1], [1, 2], [2, 3]])
    >>> split_glia(e, np.array([0, 0, 1, 1], bool), lo, hi).tolist()
    [False, False, True, True]

    One glia supervoxel (a 3.3 um fragment) in a neuron stays neuron; a neuron that is only
    3.3 um pieces beside 6.2 um of glia is glia:

    >>> split_glia(e, np.array([0, 0, 1, 0], bool), lo, hi).tolist()
    [False, False, False, False]
    >>> split_glia(e, np.array([0, 1, 1, 0], bool), lo, hi).tolist()
    [True, True, True, True]
    """
    g = np.asarray(is_glia, bool).reshape(-1)
    n = len(g)
    lo = np.asarray(bbox_lo_nm, np.float64).reshape(n, 3)
    hi = np.asarray(bbox_hi_nm, np.float64).reshape(n, 3)
    e = np.asarray(edges, np.int64).reshape(-1, 2)
    if len(e) and (e.min() < 0 or e.max() >= n):
        raise InputError(f"edges: node index out of range 0..{n - 1}")
    if not float(min_cc_size_nm) >= 0:
        raise InputError(f"min_cc_size_nm: got {min_cc_size_nm!r}, expected a number >= 0")
    if not n:
        return g.copy()
    size = float(min_cc_size_nm)
    cell = component_labels(n, e)
    glia_part = _diagonals(component_labels(n, e, g), lo, hi)
    neuron_part = _diagonals(component_labels(n, e, ~g), lo, hi)

    def any_per_cell(mask: np.ndarray) -> np.ndarray:
        hit = np.zeros(n, bool)
        hit[cell[mask]] = True
        return hit[cell]

    big_neuron = any_per_cell(~g & (neuron_part > size))
    big_glia = any_per_cell(g & (glia_part > size))
    largest_glia = np.zeros(n)
    largest_neuron = np.zeros(n)
    np.maximum.at(largest_glia, cell, glia_part)
    np.maximum.at(largest_neuron, cell, neuron_part)
    out = g.copy()
    out[big_neuron & ~big_glia] = False           # only neuron parts are large: all neuron
    out[big_glia & ~big_neuron] = True            # only glia parts are large: all glia
    small = ~big_glia & ~big_neuron               # nothing large: the largest part decides
    out[small] = (largest_glia > largest_neuron)[cell[small]]
    mixed = big_neuron & big_glia
    # tiny glia fragments stay with the neuron; then small neuron parts go to glia
    neuron = mixed & (~g | (glia_part < size))
    part = _diagonals(component_labels(n, e, neuron), lo, hi)
    out[mixed] = ~neuron[mixed] | (part[mixed] < size)
    return out


def _offsets(voxel_size_nm: np.ndarray, radius_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Voxel offsets within ``radius_nm`` and their distances, nearest first (stable)."""
    r = np.floor(radius_nm / voxel_size_nm).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in r], indexing="ij"), -1)
    grid = grid.reshape(-1, 3)
    dist = np.linalg.norm(grid * voxel_size_nm, axis=1)
    keep = dist <= radius_nm
    order = np.lexsort((grid[keep][:, 2], grid[keep][:, 1], grid[keep][:, 0], dist[keep]))
    return grid[keep][order], dist[keep][order]


def nearest_labels(points_vx: np.ndarray, block: np.ndarray, allowed: np.ndarray, *,
                   offset_vx: Sequence[int] = (0, 0, 0),
                   voxel_size_nm: Sequence[float] = (1.0, 1.0, 1.0),
                   radius_nm: float = 200.0) -> np.ndarray:
    """Per point, the label of the nearest voxel of ``block`` whose label is in ``allowed``.

    ``points_vx``: (n, 3) float voxel coordinates (voxel centres at integers, global); ``block``
    holds the labels of the voxels from ``offset_vx`` on.  Only voxels within ``radius_nm`` of
    the voxel nearest the point are searched (physical distance, anisotropic voxels); a point
    with none gets 0.  Ties go to the first offset in (distance, x, y, z) order.

    >>> b = np.zeros((4, 1, 1), np.uint64); b[0] = 7; b[3] = 9
    >>> nearest_labels(np.array([[1.2, 0, 0], [2.0, 0, 0], [1.4, 0, 0]]), b,
    ...                np.array([7, 9]), radius_nm=2.0).tolist()
    [7, 9, 7]
    """
    p = np.asarray(points_vx, np.float64).reshape(-1, 3)
    vs = np.asarray(voxel_size_nm, np.float64).reshape(3)
    allowed = np.unique(np.asarray(allowed).astype(block.dtype, copy=False))
    out = np.zeros(len(p), block.dtype)
    if not len(p) or not len(allowed) or not block.size:
        return out
    base = np.rint(p).astype(np.int64) - np.asarray(offset_vx, np.int64)
    todo = np.arange(len(p))
    shape = np.asarray(block.shape)
    offs, _ = _offsets(vs, float(radius_nm))
    start, size = 0, 8
    while len(todo) and start < len(offs):       # offsets in batches, nearest first
        off = offs[start:start + size]
        q = base[todo][:, None, :] + off[None]                          # (n, b, 3)
        inside = np.all((q >= 0) & (q < shape), axis=2)
        qc = np.where(inside[..., None], q, 0)
        lab = block[qc[..., 0], qc[..., 1], qc[..., 2]]
        pos = np.minimum(np.searchsorted(allowed, lab), len(allowed) - 1)
        hit = inside & (allowed[pos] == lab)
        found = hit.any(axis=1)
        first = np.argmax(hit, axis=1)
        out[todo[found]] = lab[found, first[found]]
        todo = todo[~found]
        start += size
        size = min(4 * size, 4096)
    return out
