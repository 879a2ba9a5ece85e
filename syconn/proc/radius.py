"""How thick each partner of a synapse candidate is near it (a feature of the synapse classifier).

A bouton touches its dendrite and, beside the cleft, the thin axons squeezed past it; a wide sj
blob lies on all these contacts, and the bouton's vesicle cloud faces all of them.  What tells
the cleft from the bystander is the partner: a dendrite shaft, spine head or soma is thicker
than a passing axon (70-150 nm radius).  :func:`partner_radii` measures each partner's largest
inscribed radius (the maximum of its Euclidean distance transform) within ``reach_nm`` of the
candidate, capped at ``cap_nm``.

The distance transform runs on the block's cell labels subsampled to a near-isotropic grid
(in-plane steps of at most 2 voxels; at 10 x 10 x 20 nm the grid is 20 nm), so radii are
within about one grid step of the true one; a partner with no voxel within the reach gets 0.
Beyond the array the cells are taken to continue (``black_border=False``), so a region sees only
some of the boundaries and reads a distance too large, never too small.  A voxel whose true
distance is at most ``cap_nm`` has its nearest boundary within ``cap_nm``; with a halo of
``reach_nm + cap_nm`` (:func:`radius_halo_vx`) that boundary lies in the block's region, so the
capped radius is the same whatever the block layout.  The cap (400 nm) lies above every axon and
bouton and below most dendrite shafts and somata.
"""

from __future__ import annotations

from typing import Callable, Sequence

import edt
import fastremap
import numpy as np

__all__ = ["CAP_NM", "REACH_NM", "grid_steps", "partner_radii", "radius_halo_vx"]

#: partners are measured within this distance (nm, per axis) of the candidate's voxel
REACH_NM = 400.0
#: radii are capped here (nm): the part of the answer that does not depend on the block layout
CAP_NM = 400.0


def grid_steps(voxel_size_nm: Sequence[float]) -> tuple[int, int, int]:
    """Subsampling step per axis towards the coarsest axis, at most 2.

    >>> grid_steps((10, 10, 20)), grid_steps((8, 8, 40)), grid_steps((10, 10, 10))
    ((2, 2, 1), (2, 2, 1), (1, 1, 1))
    """
    vs = np.asarray(voxel_size_nm, np.float64)
    return tuple(int(min(2, max(1, round(vs.max() / v)))) for v in vs)


def radius_halo_vx(voxel_size_nm: Sequence[float], reach_nm: float = REACH_NM,
                   cap_nm: float = CAP_NM) -> tuple[int, int, int]:
    """Halo (voxels per axis) around a block's core for exact capped radii of its candidates
    (``reach_nm + cap_nm`` and one grid step); a multiple of the grid step, so that a grown
    block's grid lies on the global one."""
    steps = grid_steps(voxel_size_nm)
    out = []
    for v, s in zip(voxel_size_nm, steps):
        n = int(np.ceil((reach_nm + cap_nm) / v)) + s
        out.append(-(-n // s) * s)
    return tuple(out)


def partner_radii(cells: np.ndarray, offset_xyz: Sequence[int], points_xyz: np.ndarray,
                  cell_a: np.ndarray, cell_b: np.ndarray, *, voxel_size_nm: Sequence[float],
                  reach_nm: float = REACH_NM, cap_nm: float = CAP_NM,
                  labels_of: Callable[[np.ndarray], np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Largest inscribed radius (nm, at most ``cap_nm``) of ``cell_a`` and of ``cell_b`` near
    each point.

    Parameters
    ----------
    cells : numpy.ndarray
        Cell labels (x, y, z) of a region, 0 = extracellular; ``offset_xyz`` is its global
        origin, a multiple of :func:`grid_steps` for results independent of the region.
    points_xyz : numpy.ndarray
        ``(n, 3)`` global voxel coordinates of the candidates (inside the region).
    cell_a, cell_b : numpy.ndarray
        The two partners of each candidate.
    reach_nm : float
        Half edge of the box around each point in which a partner is measured.
    cap_nm : float
        Radii are capped here; exact where the region holds ``reach_nm + cap_nm`` around
        every point.
    labels_of : callable, optional
        Applied to the subsampled labels before the transform: pass supervoxel ids as
        ``cells`` and their mapping to cells here, and only the grid's voxels are mapped.

    Returns
    -------
    (radius_a, radius_b) : float64 arrays, 0 where the partner has no voxel in the box.

    Examples
    --------
    A cell 9 voxels thick (y 1-9) and one 3 voxels thick (y 11-13), 10 nm voxels:

    >>> lab = np.zeros((6, 15, 6), np.uint64)
    >>> lab[:, 1:10], lab[:, 11:14] = 7, 9
    >>> partner_radii(lab, (0, 0, 0), np.array([[3, 10, 3]]), np.array([7]), np.array([9]),
    ...               voxel_size_nm=(10, 10, 10))
    (array([50.]), array([20.]))
    """
    pts = np.asarray(points_xyz, np.int64).reshape(-1, 3)
    n = len(pts)
    ra, rb = np.zeros(n), np.zeros(n)
    if n == 0:
        return np.minimum(ra, cap_nm), np.minimum(rb, cap_nm)
    steps = np.asarray(grid_steps(voxel_size_nm), np.int64)
    off = np.asarray(offset_xyz, np.int64)
    # the grid's first sample at or after the region's origin, on the global grid
    start = (-off) % steps
    sub = cells[start[0]::steps[0], start[1]::steps[1], start[2]::steps[2]]
    sub = np.ascontiguousarray(sub)
    if labels_of is not None:  # a new array: renumber it in place
        sub = labels_of(sub.copy() if np.shares_memory(sub, cells) else sub)
    compact, remap = fastremap.renumber(sub, in_place=labels_of is not None)
    spacing = np.asarray(voxel_size_nm, np.float64) * steps
    dist = edt.edt(compact, anisotropy=tuple(spacing), black_border=False, parallel=1)
    ids = np.zeros(int(compact.max()) + 1, np.uint64)  # compact label -> cell id
    ids[np.fromiter(remap.values(), np.int64, len(remap))] = np.fromiter(remap.keys(), np.uint64,
                                                                         len(remap))
    half = np.maximum(np.floor(reach_nm / spacing).astype(np.int64), 0)
    g = (pts - off - start) // steps  # grid position of each point
    lo = np.maximum(g - half, 0)
    hi = np.minimum(g + half + 1, compact.shape)
    want_a = np.asarray(cell_a, np.uint64)
    want_b = np.asarray(cell_b, np.uint64)
    for i in range(n):  # one box per candidate; the work inside is vectorised
        box = (slice(lo[i, 0], hi[i, 0]), slice(lo[i, 1], hi[i, 1]), slice(lo[i, 2], hi[i, 2]))
        lab = ids[compact[box]]
        d = dist[box]
        ma, mb = lab == want_a[i], lab == want_b[i]
        ra[i] = float(d[ma].max()) if ma.any() else 0.0
        rb[i] = float(d[mb].max()) if mb.any() else 0.0
    return np.minimum(ra, cap_nm), np.minimum(rb, cap_nm)
