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
from numba import njit

from syconn.errors import InputError

__all__ = ["split_glia", "nearest_labels", "component_labels", "glia_block_sums",
           "merge_glia_sums", "glia_features", "FEATURE_NAMES", "SUM_COLUMNS",
           "EDT_THRESHOLDS_NM", "glia_halo_vx"]

#: inscribed-radius thresholds (nm) of the thickness features: thinner than the thinnest axon,
#: an axon, a thin dendrite, a thick dendrite or soma
EDT_THRESHOLDS_NM = (60.0, 120.0, 250.0, 500.0)
EDT_REACH_NM = 500.0   #: the block halo lets the distance transform see this far
ORGANELLES = ("mi", "vc", "sj")
#: per-supervoxel sums of :func:`glia_block_sums` (``edt_max`` is a maximum)
SUM_COLUMNS = (("n_vx", "area_nm2", "edt_sum", "edt_sq_sum", "edt_max")
               + tuple(f"edt_ge_{int(t)}" for t in EDT_THRESHOLDS_NM)
               + tuple(f"{k}_vx" for k in ORGANELLES)
               + ("raw_sum", "raw_sq_sum", "n_in", "raw_in_sum", "raw_in_sq_sum"))
_OWN = (["log_volume_um3", "area_per_volume", "edt_mean_nm", "edt_cv", "edt_max_nm"]
        + [f"share_edt_ge_{int(t)}" for t in EDT_THRESHOLDS_NM]
        + [f"{k}_share" for k in ORGANELLES] + ["log_bbox_diag_um", "elongation", "raw_z",
                                                 "raw_sd_rel", "interior_share", "raw_in_z",
                                                 "raw_in_sd_rel", "raw_in_contrast"])
_CELL = (["log_volume_um3", "area_per_volume", "edt_mean_nm", "edt_max_nm"]
         + [f"share_edt_ge_{int(t)}" for t in EDT_THRESHOLDS_NM]
         + [f"{k}_share" for k in ORGANELLES] + ["log_bbox_diag_um", "log_supervoxels", "raw_z",
                                                 "interior_share", "raw_in_z",
                                                 "raw_in_contrast"])
_NEIGHBOUR = (["area_per_volume", "edt_mean_nm", "share_edt_ge_120", "share_edt_ge_250"]
              + [f"{k}_share" for k in ORGANELLES] + ["raw_z", "raw_in_z", "log_count"])
#: the model's inputs per supervoxel: its own shape, organelle shares and brightness, those of
#: its cell (the agglomeration's component before the split) and the volume-weighted mean of its
#: agglomeration neighbours'
FEATURE_NAMES = tuple([f"sv_{n}" for n in _OWN] + [f"cell_{n}" for n in _CELL]
                      + [f"nbr_{n}" for n in _NEIGHBOUR])


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


def glia_halo_vx(voxel_size_nm: Sequence[float]) -> tuple[int, int, int]:
    """The block halo (voxels per axis) that lets :func:`glia_block_sums` measure inscribed
    radii up to :data:`EDT_REACH_NM` (at least one voxel, for the surface faces).

    >>> glia_halo_vx((10, 10, 25))
    (50, 50, 20)
    """
    return tuple(max(1, int(np.ceil(EDT_REACH_NM / float(v)))) for v in voxel_size_nm)


def glia_block_sums(sv: np.ndarray, cell: np.ndarray, maps: dict[str, np.ndarray],
                    thresholds_255: dict[str, float], voxel_size_nm: Sequence[float],
                    core_offset: Sequence[int], core_shape: Sequence[int],
                    raw: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per supervoxel of a block core, the sums the glia features are made of.

    ``sv`` and ``cell`` are the supervoxel and cell labels (the agglomeration's components) of
    the block with its halo, the core at ``core_offset`` with ``core_shape``; ``maps`` the core's
    mi, vc and sj probability maps (uint8, 0-255) and ``thresholds_255`` their thresholds.
    Over the supervoxel's core voxels: ``n_vx``; ``area_nm2``, the voxel faces towards another
    cell or background (faces between supervoxels of one cell are not its surface; faces on the
    volume's faces are not counted); the inscribed radius of the cell at each voxel (nm,
    anisotropic, correct up to the halo): its sum, sum of squares, maximum and the voxels at or
    above each of :data:`EDT_THRESHOLDS_NM`; and the voxels of each organelle map at or above
    its threshold; the sum and sum of squares of the core's raw EM ``raw`` (uint8; zeros without
    it), over all voxels and over the interior ones (``n_in``: those whose neighbours along
    each axis, within :func:`interior_radius_vx`, are of the same cell: away from the dark
    membrane, where the cytoplasm's tone shows).  Returns ``sv_id`` (uint64, sorted) and
    :data:`SUM_COLUMNS`.

    A 3 x 1 x 1 rod of one supervoxel in 1 nm voxels: 14 faces, inscribed radius 1 nm each.

    >>> lab = np.zeros((5, 3, 3), np.uint64); lab[1:4, 1, 1] = 7
    >>> z = {k: np.zeros((3, 1, 1), np.uint8) for k in ("mi", "vc", "sj")}
    >>> z["vc"][0] = 200
    >>> s = glia_block_sums(lab, lab, z, {"mi": 100, "vc": 100, "sj": 100}, (1, 1, 1),
    ...                     (1, 1, 1), (3, 1, 1))
    >>> int(s["sv_id"][0]), int(s["n_vx"][0]), float(s["area_nm2"][0]), float(s["edt_max"][0])
    (7, 3, 14.0, 1.0)
    >>> int(s["vc_vx"][0]), int(s["mi_vx"][0]), float(s["raw_sum"][0])
    (1, 0, 0.0)
    """
    import edt
    import fastremap

    vs = np.asarray(voxel_size_nm, np.float64).reshape(3)
    o = np.asarray(core_offset, np.int64).reshape(3)
    c = np.asarray(core_shape, np.int64).reshape(3)
    core = tuple(slice(int(a), int(a + b)) for a, b in zip(o, c))
    uniq, inv = fastremap.unique(np.ascontiguousarray(sv[core]), return_inverse=True)
    inv = np.ascontiguousarray(inv.reshape(tuple(c)), np.int64)
    cellb = np.ascontiguousarray(cell)
    dist = np.ascontiguousarray(edt.edt(cellb, anisotropy=tuple(vs), black_border=False,
                                        parallel=1)[core], np.float32)
    r = np.zeros(tuple(c), np.uint8) if raw is None else np.ascontiguousarray(raw, np.uint8)
    f, i = _block_sums(inv, len(uniq), cellb, o, dist,
                       np.ascontiguousarray(maps["mi"], np.uint8),
                       np.ascontiguousarray(maps["vc"], np.uint8),
                       np.ascontiguousarray(maps["sj"], np.uint8), r,
                       np.array([thresholds_255[k] for k in ORGANELLES], np.float64),
                       np.array([vs[1] * vs[2], vs[0] * vs[2], vs[0] * vs[1]]),
                       np.array(EDT_THRESHOLDS_NM), np.array(interior_radius_vx(vs), np.int64))
    keep = uniq != 0
    out = {"sv_id": uniq[keep].astype(np.uint64)}
    for k, name in enumerate(_INT_SUMS):
        out[name] = i[keep, k]
    for k, name in enumerate(_FLOAT_SUMS):
        out[name] = f[keep, k]
    return out


_INT_SUMS = (("n_vx",) + tuple(f"edt_ge_{int(t)}" for t in EDT_THRESHOLDS_NM)
             + tuple(f"{k}_vx" for k in ORGANELLES) + ("n_in",))
_FLOAT_SUMS = ("area_nm2", "edt_sum", "edt_sq_sum", "edt_max", "raw_sum", "raw_sq_sum",
               "raw_in_sum", "raw_in_sq_sum")


@njit(cache=True)
def _block_sums(inv, n, cell, off, dist, mi, vc, sj, raw, thr, face_area, edt_thr, rad):
    """One pass over the core voxels: per label index the float sums (:data:`_FLOAT_SUMS`)
    and the counts (:data:`_INT_SUMS`) of :func:`glia_block_sums`."""
    f = np.zeros((n, 8))
    cnt = np.zeros((n, 9), np.int64)
    sx, sy, sz = cell.shape
    X, Y, Z = inv.shape
    for x in range(X):
        for y in range(Y):
            for z in range(Z):
                k = inv[x, y, z]
                i, j, l = x + off[0], y + off[1], z + off[2]
                c = cell[i, j, l]
                area = 0.0
                inside = c != 0
                for a in range(3):
                    for sgn in (-1, 1):
                        for d in range(1, max(rad[a], 1) + 1):
                            ii, jj, ll = i, j, l
                            if a == 0:
                                ii += sgn * d
                            elif a == 1:
                                jj += sgn * d
                            else:
                                ll += sgn * d
                            if ii < 0 or jj < 0 or ll < 0 or ii >= sx or jj >= sy or ll >= sz:
                                break              # the volume's face: no surface, no border
                            other = cell[ii, jj, ll] != c
                            if d == 1 and other:
                                area += face_area[a]
                            if other and d <= rad[a]:
                                inside = False
                e = dist[x, y, z]
                v = float(raw[x, y, z])
                f[k, 0] += area
                f[k, 1] += e
                f[k, 2] += e * e
                if e > f[k, 3]:
                    f[k, 3] = e
                f[k, 4] += v
                f[k, 5] += v * v
                cnt[k, 0] += 1
                for t in range(4):
                    if e >= edt_thr[t]:
                        cnt[k, 1 + t] += 1
                if mi[x, y, z] >= thr[0]:
                    cnt[k, 5] += 1
                if vc[x, y, z] >= thr[1]:
                    cnt[k, 6] += 1
                if sj[x, y, z] >= thr[2]:
                    cnt[k, 7] += 1
                if inside:
                    cnt[k, 8] += 1
                    f[k, 6] += v
                    f[k, 7] += v * v
    return f, cnt


def interior_radius_vx(voxel_size_nm: Sequence[float]) -> tuple[int, int, int]:
    """How many voxels along each axis a voxel must be from another cell to be interior:
    2 where voxels are at most 15 nm, else 1 (about 20-40 nm: past the membrane and its blur).

    >>> interior_radius_vx((10, 10, 25))
    (2, 2, 1)
    """
    return tuple(2 if float(v) <= 15.0 else 1 for v in voxel_size_nm)


def merge_glia_sums(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The sums of several blocks per supervoxel (``edt_max``: the largest), sorted by id.

    >>> a = {"sv_id": np.array([3, 5], np.uint64), **{k: np.array([1, 2]) for k in SUM_COLUMNS}}
    >>> b = {"sv_id": np.array([5], np.uint64), **{k: np.array([4]) for k in SUM_COLUMNS}}
    >>> m = merge_glia_sums([a, b])
    >>> m["sv_id"].tolist(), m["n_vx"].tolist(), m["edt_max"].tolist()
    ([3, 5], [1, 6], [1, 4])
    """
    parts = [p for p in parts if len(p["sv_id"])]
    if not parts:
        return {"sv_id": np.zeros(0, np.uint64), **{k: np.zeros(0) for k in SUM_COLUMNS}}
    ids = np.concatenate([p["sv_id"] for p in parts]).astype(np.uint64)
    uniq, inv = np.unique(ids, return_inverse=True)
    out = {"sv_id": uniq}
    for k in SUM_COLUMNS:
        v = np.concatenate([np.asarray(p[k]) for p in parts])
        if k == "edt_max":
            m = np.zeros(len(uniq), v.dtype)
            np.maximum.at(m, inv, v)
            out[k] = m
        else:
            out[k] = np.bincount(inv, weights=v.astype(np.float64), minlength=len(uniq)
                                 ).astype(v.dtype)
    return out


def _contrast(tone: np.ndarray, both: np.ndarray, w: np.ndarray, scale: float, n: int,
              group: np.ndarray | None) -> np.ndarray:
    """Per supervoxel (or, with ``group``, per group of supervoxels, broadcast back) the
    voxel-weighted tone less the contact-weighted tone of the neighbours over ``both``
    (directed index pairs), over ``scale``; 0 without neighbours."""
    g = np.arange(n) if group is None else group
    m = int(g.max()) + 1 if n else 0
    nb_w = np.bincount(g[both[:, 0]], weights=w, minlength=m)
    nb_t = np.bincount(g[both[:, 0]], weights=w * tone[both[:, 1]], minlength=m)
    if group is None:
        own = tone
    else:   # the group's tone: its members' tones weighted by their contact outside
        cw = np.bincount(both[:, 0], weights=w, minlength=n)
        own_g = np.bincount(g, weights=cw * tone, minlength=m) / np.maximum(
            np.bincount(g, weights=cw, minlength=m), 1e-12)
        own = own_g[g]
    return np.where(nb_w[g] > 0, (own - nb_t[g] / np.maximum(nb_w[g], 1e-12)) / scale, 0.0)


def _shape_features(s: dict[str, np.ndarray], vol_um3: float,
                    raw_ref: tuple[float, float]) -> dict[str, np.ndarray]:
    n = np.maximum(np.asarray(s["n_vx"], np.float64), 1.0)
    mean = s["edt_sum"] / n
    rmean = s["raw_sum"] / n
    rsd = np.sqrt(np.maximum(s["raw_sq_sum"] / n - rmean * rmean, 0))
    n_in = np.asarray(s["n_in"], np.float64)
    # supervoxels without interior voxels: the whole supervoxel's tone stands in
    imean = np.where(n_in > 0, s["raw_in_sum"] / np.maximum(n_in, 1), rmean)
    isd = np.where(n_in > 0, np.sqrt(np.maximum(s["raw_in_sq_sum"] / np.maximum(n_in, 1)
                                                - imean * imean, 0)), rsd)
    out = {"log_volume_um3": np.log10(n * vol_um3),
           "area_per_volume": s["area_nm2"] / 1e6 / (n * vol_um3),
           "edt_mean_nm": mean,
           "edt_cv": np.sqrt(np.maximum(s["edt_sq_sum"] / n - mean * mean, 0)) / np.maximum(mean, 1e-9),
           "edt_max_nm": np.asarray(s["edt_max"], np.float64)}
    for t in EDT_THRESHOLDS_NM:
        out[f"share_edt_ge_{int(t)}"] = s[f"edt_ge_{int(t)}"] / n
    for k in ORGANELLES:
        out[f"{k}_share"] = s[f"{k}_vx"] / n
    out["raw_z"] = (rmean - raw_ref[0]) / raw_ref[1]
    out["raw_sd_rel"] = rsd / raw_ref[1]
    out["interior_share"] = n_in / n
    out["raw_in_z"] = (imean - raw_ref[2]) / raw_ref[3]
    out["raw_in_sd_rel"] = isd / raw_ref[3]
    return out


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The value below which half the weight lies (the lower one on an exact half).

    >>> weighted_median(np.array([3.0, 1.0, 2.0]), np.array([1, 1, 5]))
    2.0
    >>> weighted_median(np.array([1.0, 2.0]), np.array([1, 1]))
    1.0
    """
    v = np.asarray(values, np.float64)
    w = np.asarray(weights, np.float64)
    ok = w > 0
    if not ok.any():
        return 0.0
    order = np.argsort(v[ok], kind="stable")
    c = np.cumsum(w[ok][order])
    return float(v[ok][order][np.searchsorted(c, 0.5 * c[-1])])


MIN_TONE_VX = 50   #: supervoxels with fewer (interior) voxels do not set the tone reference


def tone_reference(means: np.ndarray, n_vx: np.ndarray) -> tuple[float, float]:
    """``(centre, scale)`` of the supervoxels' mean tones: the median and 1.4826 x the median
    absolute deviation (at least one grey value) over the supervoxels of at least
    :data:`MIN_TONE_VX` voxels (all of them where none has), each counted once.  Robust where
    glia make up many supervoxels, as long as neurons make up more; counted by voxels, one
    large supervoxel would be the whole reference and its spread none.

    >>> tone_reference(np.array([160.0, 162.0, 158.0, 190.0, 240.0]),
    ...                np.array([900, 80, 100, 60, 3]))
    (161.0, 2.9652)
    """
    m = np.asarray(means, np.float64)
    n = np.asarray(n_vx, np.float64)
    use = n >= MIN_TONE_VX
    if not use.any():
        use = n > 0
    if not use.any():
        return 0.0, 1.0
    c = float(np.median(m[use]))
    mad = float(np.median(np.abs(m[use] - c)))
    return c, max(1.4826 * mad, 1.0)


def glia_features(sums: dict[str, np.ndarray], bbox_lo_nm: np.ndarray, bbox_hi_nm: np.ndarray,
                  agg_edges: np.ndarray, voxel_size_nm: Sequence[float],
                  rag_edges: np.ndarray | None = None,
                  rag_contact: np.ndarray | None = None) -> np.ndarray:
    """The model's inputs (:data:`FEATURE_NAMES`) per supervoxel of ``sums``
    (:func:`merge_glia_sums`), in physical units.

    ``bbox_lo_nm``, ``bbox_hi_nm``: each supervoxel's bounding box (nm); ``agg_edges``: the
    agglomeration graph as (e, 2) indices into ``sums`` (its components are the cells before
    the split).  A supervoxel without agglomeration neighbours takes its own values as theirs.
    Brightness is relative, so that a volume's staining and contrast do not matter: ``raw_z``
    is the supervoxel's mean raw value against the volume's :func:`tone_reference`,
    ``raw_in_z`` the same over interior voxels (the cytoplasm: astrocytes are lighter than
    neurites in EM), and ``raw_in_contrast`` the interior tone less that of the supervoxels it
    touches outside its cell (``rag_edges``, (e, 2) indices, weighted by ``rag_contact``; 0
    without such neighbours), over the reference's scale.

    >>> s = {"sv_id": np.array([1, 2], np.uint64), "n_vx": np.array([1000, 3000]),
    ...      "area_nm2": np.array([6e5, 1e6]), "edt_sum": np.array([4e4, 3e5]),
    ...      "edt_sq_sum": np.array([2e6, 4e7]), "edt_max": np.array([80., 300.]),
    ...      "edt_ge_60": np.array([300, 2500]), "edt_ge_120": np.array([0, 2000]),
    ...      "edt_ge_250": np.array([0, 500]), "edt_ge_500": np.array([0, 0]),
    ...      "mi_vx": np.array([0, 300]), "vc_vx": np.array([0, 0]), "sj_vx": np.array([0, 0]),
    ...      "raw_sum": np.array([1.9e5, 4.8e5]), "raw_sq_sum": np.array([3.7e7, 7.8e7]),
    ...      "n_in": np.array([0, 1000]), "raw_in_sum": np.array([0, 1.7e5]),
    ...      "raw_in_sq_sum": np.array([0, 2.9e7])}
    >>> X = glia_features(s, np.zeros((2, 3)), np.full((2, 3), 1000.), np.array([[0, 1]]),
    ...                   (10, 10, 10))
    >>> X.shape == (2, len(FEATURE_NAMES))
    True
    >>> f = dict(zip(FEATURE_NAMES, X[0]))
    >>> round(float(f["sv_log_volume_um3"]), 3), round(float(f["cell_log_volume_um3"]), 3)
    (-3.0, -2.398)
    >>> round(float(f["nbr_edt_mean_nm"]), 1), round(float(f["cell_mi_share"]), 3)
    (100.0, 0.075)

    Mean raw 190 over 1000 voxels and 160 over 3000: the reference is their median, 175,
    its scale 1.4826 x 15 = 22.2, so the first lies 0.67 above; the cell's tone is
    (1.9e5 + 4.8e5) / 4000 = 167.5, 0.34 below.  The second's interior (170) is the only
    interior tone (the reference's scale: the floor of one grey value), so its z is 0; the
    first has no interior voxels and its whole tone (190) stands in, 20 above:

    >>> round(float(f["sv_raw_z"]), 2), round(float(f["cell_raw_z"]), 2)
    (0.67, -0.34)
    >>> round(float(f["sv_raw_in_z"]), 2), float(dict(zip(FEATURE_NAMES, X[1]))["sv_raw_in_z"])
    (20.0, 0.0)

    Touching each other within their cell they have no contrast; as two cells they do:

    >>> float(f["sv_raw_in_contrast"])
    0.0
    >>> Y = glia_features(s, np.zeros((2, 3)), np.full((2, 3), 1000.), np.zeros((0, 2), int),
    ...                   (10, 10, 10), np.array([[0, 1]]), np.array([50]))
    >>> float(dict(zip(FEATURE_NAMES, Y[0]))["sv_raw_in_contrast"])
    20.0

    """
    vs = np.asarray(voxel_size_nm, np.float64).reshape(3)
    vol_um3 = float(np.prod(vs)) / 1e9
    n = len(sums["sv_id"])
    lo = np.asarray(bbox_lo_nm, np.float64).reshape(n, 3)
    hi = np.asarray(bbox_hi_nm, np.float64).reshape(n, 3)
    e = np.asarray(agg_edges, np.int64).reshape(-1, 2)
    e = e[e[:, 0] != e[:, 1]]
    n_vx = np.maximum(np.asarray(sums["n_vx"], np.float64), 1.0)
    n_in = np.asarray(sums["n_in"], np.float64)
    tone = np.asarray(sums["raw_sum"], np.float64) / n_vx
    tone_in = np.where(n_in > 0, np.asarray(sums["raw_in_sum"], np.float64) / np.maximum(n_in, 1),
                       tone)
    ref = tone_reference(tone, n_vx) + tone_reference(tone_in, n_in)
    own = _shape_features(sums, vol_um3, ref)
    diag = np.linalg.norm(hi - lo, axis=1) / 1000.0
    own["log_bbox_diag_um"] = np.log10(np.maximum(diag, 1e-3))
    own["elongation"] = diag / np.cbrt(10 ** own["log_volume_um3"])
    # the cell (agglomeration component): sums over its supervoxels
    comp = component_labels(n, e)
    _, ci = np.unique(comp, return_inverse=True)
    csum = {k: np.bincount(ci, weights=np.asarray(sums[k], np.float64))[ci]
            for k in SUM_COLUMNS if k != "edt_max"}
    cmax = np.zeros(ci.max() + 1 if n else 0)
    np.maximum.at(cmax, ci, np.asarray(sums["edt_max"], np.float64))
    csum["edt_max"] = cmax[ci]
    cell = _shape_features(csum, vol_um3, ref)
    clo = np.full((ci.max() + 1 if n else 0, 3), np.inf)
    chi = np.full_like(clo, -np.inf)
    np.minimum.at(clo, ci, lo)
    np.maximum.at(chi, ci, hi)
    cell["log_bbox_diag_um"] = np.log10(np.maximum(np.linalg.norm(chi - clo, axis=1)[ci] / 1e3,
                                                   1e-3))
    cell["log_supervoxels"] = np.log10(np.bincount(ci)[ci])
    # tone against the supervoxels touched outside the cell (RAG edges between cells)
    r = np.zeros((0, 2), np.int64) if rag_edges is None else \
        np.asarray(rag_edges, np.int64).reshape(-1, 2)
    rw = np.ones(len(r)) if rag_contact is None else np.asarray(rag_contact, np.float64)
    outside = ci[r[:, 0]] != ci[r[:, 1]] if len(r) else np.zeros(0, bool)
    r, rw = r[outside], rw[outside]
    rb = np.concatenate([r, r[:, ::-1]])
    rbw = np.concatenate([rw, rw])
    own["raw_in_contrast"] = _contrast(tone_in, rb, rbw, ref[3], n, None)
    cell["raw_in_contrast"] = _contrast(tone_in, rb, rbw, ref[3], n, ci)
    # agglomeration neighbours: the volume-weighted mean of their own values
    both = np.concatenate([e, e[:, ::-1]]) if len(e) else np.zeros((0, 2), np.int64)
    w = np.asarray(sums["n_vx"], np.float64)[both[:, 1]]
    wsum = np.bincount(both[:, 0], weights=w, minlength=n)
    nbr = {}
    for k in _NEIGHBOUR[:-1]:
        v = np.bincount(both[:, 0], weights=w * own[k][both[:, 1]], minlength=n)
        nbr[k] = np.where(wsum > 0, v / np.maximum(wsum, 1e-12), own[k])
    nbr["log_count"] = np.log10(1 + np.bincount(both[:, 0], minlength=n))
    cols = ([own[k] for k in _OWN] + [cell[k] for k in _CELL] + [nbr[k] for k in _NEIGHBOUR])
    return np.stack(cols, axis=1).astype(np.float64) if n else np.zeros((0, len(FEATURE_NAMES)))
