"""Spines from the shape of the postsynaptic cell around a synapse: per surface voxel neck,
head, shaft or other, and the volume of the head a synapse sits on.

The original labels mesh vertices with a view CNN and measures a head by a watershed of the
distance transform (``../shared/reference/syconn.md`` 1.10).  Here the cell's binary mask in a
box around the synapse (:data:`BOX_UM`, resampled to about :data:`TARGET_NM` in x and y) gives
every surface voxel the features of :data:`FEATURE_NAMES`, all in nm so that one model serves
every voxel size:

- ``dmax_box``: the largest inscribed-ball radius in the box (the shaft's scale);
- ``thick_R``: the largest inscribed-ball radius within R nm of the voxel (a neck: small at
  every R up to its length; a head: its own radius; a shaft: the shaft's);
- ``open_R``: the distance from the voxel to the cell opened with a ball of R nm (0 where the
  ball fits; a neck is what an opening just wider than it removes);
- ``open_R_part_um3``: the volume of the piece of that opening the voxel lies in (a head beyond
  its neck is a small piece, the shaft the large one; 0 outside the opening);
- ``open_R_part_extent``: that piece's bounding-box diagonal, um (a shaft crosses the box);
- ``open_250_main_dist``: the distance to the largest piece of the widest opening (the shaft);
- ``core_dist`` and ``core_dist_rel``: the distance to the box's thick core (inscribed radius at
  least 0.8 ``dmax_box``), in nm and in units of ``dmax_box`` (how far out from the shaft).

- ``basin_*``: the voxel's basin in the watershed of -EDT seeded at its local maxima (the
  original's head segmentation): peak radius, volume, saddle and neighbour peak relative to the
  own peak, the peak's distance to the core (a head touching its shaft is its own basin).

A forest (:mod:`syconn.ml.spines`) turns them into class probabilities; :func:`synapse_spiness`
reads the class at the synapse, :func:`head_volume_um3` the head's volume: the voxels of the
cell whose nearest surface voxel is called head, the connected piece nearest the synapse.

Classes are the original's spiness codes: 0 neck, 1 head, 2 shaft, 3 other (axon, soma).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SPINE_CLASSES", "FEATURE_NAMES", "BOX_UM", "TARGET_NM", "box_factors",
           "surface_voxels", "spine_features", "synapse_spiness", "head_volume_um3",
           "class_of_compartment"]

#: the original's spiness codes
SPINE_CLASSES = ("neck", "head", "shaft", "other")
NECK, HEAD, SHAFT, OTHER = range(4)

#: half the box edge around a synapse, um (a head sits up to ~2 um from its shaft)
BOX_UM = 1.2
#: a head's volume is measured within this distance of its voxel nearest the synapse, nm
HEAD_BOX_NM = 800.0
#: the box is strided to about this voxel size in x and y (z is kept)
TARGET_NM = 30.0

_THICK_NM = (60.0, 120.0, 250.0, 500.0)
_OPEN_NM = (80.0, 150.0, 250.0)
FEATURE_NAMES: tuple[str, ...] = (
    ("dmax_box",) + tuple(f"thick_{int(r)}" for r in _THICK_NM)
    + tuple(f"open_{int(r)}" for r in _OPEN_NM)
    + tuple(f"open_{int(r)}_part_um3" for r in _OPEN_NM)
    + tuple(f"open_{int(r)}_part_extent" for r in _OPEN_NM)
    + (f"open_{int(_OPEN_NM[-1])}_main_dist",)
    + ("core_dist", "core_dist_rel")
    + ("basin_peak", "basin_peak_rel", "basin_um3", "basin_saddle_rel", "basin_nbr_peak_rel",
       "basin_peak_core_dist"))


def box_factors(voxel_nm, target_nm: float = TARGET_NM) -> tuple[int, int, int]:
    """Strides of the box in x, y, z: x and y to about ``target_nm``, z never.

    >>> box_factors((8, 8, 40)), box_factors((10, 10, 25)), box_factors((30, 30, 30))
    ((4, 4, 1), (3, 3, 1), (1, 1, 1))
    """
    v = np.asarray(voxel_nm, np.float64)
    f = np.maximum(1, np.round(target_nm / v[:2])).astype(int)
    return int(f[0]), int(f[1]), 1


def surface_voxels(mask: np.ndarray) -> np.ndarray:
    """``(n, 3)`` indices of the mask's voxels with a face neighbour outside it (the volume's
    own faces do not count: the cell goes on beyond the box).

    >>> m = np.zeros((5, 5, 5), bool); m[1:4, 1:4, 1:4] = True
    >>> len(surface_voxels(m)), 26
    (26, 26)
    """
    m = np.asarray(mask, bool)
    p = np.pad(m, 1, mode="edge")
    inner = m.copy()
    for ax in range(3):
        for s in (slice(0, -2), slice(2, None)):
            sl = [slice(1, -1)] * 3
            sl[ax] = s
            inner &= p[tuple(sl)]
    return np.argwhere(m & ~inner)


def _edt(mask, voxel_nm):
    import edt

    return edt.edt(np.ascontiguousarray(mask, np.uint8), anisotropy=tuple(map(float, voxel_nm)),
                   black_border=False, parallel=1)


def _max_within(d, r_nm, voxel_nm):
    from scipy.ndimage import maximum_filter

    size = tuple(int(2 * max(0, round(r_nm / v)) + 1) for v in voxel_nm)
    return maximum_filter(d, size=size, mode="nearest")


def spine_features(mask: np.ndarray, voxel_nm) -> tuple[np.ndarray, np.ndarray]:
    """``(surface voxel indices (n, 3), features (n, len(FEATURE_NAMES)) float32)`` of one cell's
    binary ``mask`` (x, y, z) at ``voxel_nm``.  Work is done on the mask's bounding box."""
    m = np.asarray(mask, bool)
    nz = np.argwhere(m)
    if not len(nz):
        return np.zeros((0, 3), np.int64), np.zeros((0, len(FEATURE_NAMES)), np.float32)
    lo = np.maximum(nz.min(0) - 1, 0)
    hi = np.minimum(nz.max(0) + 2, m.shape)
    surf, X = _features(m[tuple(slice(a, b) for a, b in zip(lo, hi))], voxel_nm)
    return surf + lo, X


def _features(m, voxel_nm):
    import cc3d

    vs = np.asarray(voxel_nm, np.float64)
    surf = surface_voxels(m)
    n = len(surf)
    X = np.zeros((n, len(FEATURE_NAMES)), np.float32)
    at = tuple(surf.T)
    d = _edt(m, vs)
    dmax = float(d.max())
    X[:, 0] = dmax
    col = 1
    for r in _THICK_NM:
        X[:, col] = _max_within(d, r, vs)[at]
        col += 1
    vvol = float(np.prod(vs)) / 1e9
    n_open = len(_OPEN_NM)
    for k, r in enumerate(_OPEN_NM):
        core = d > r
        opened = ((_edt(~core, vs) <= r) & m) if core.any() else np.zeros_like(m)
        if not opened.any():
            X[:, col + k] = 1e4
            if k == n_open - 1:
                X[:, col + 3 * n_open] = 1e4
            continue
        X[:, col + k] = _edt(~opened, vs)[at]
        lab = cc3d.connected_components(opened, connectivity=26)
        st = cc3d.statistics(lab)
        sizes = st["voxel_counts"].astype(np.float64) * vvol
        sizes[0] = 0.0               # not in the opening: no piece
        bb = np.array([[(sl.stop - sl.start) if sl is not None else 0 for sl in b]
                       for b in st["bounding_boxes"]], np.float64)
        extent = np.sqrt(((bb * vs) ** 2).sum(1)) / 1000.0
        extent[0] = 0.0
        here = lab[at]
        X[:, col + n_open + k] = sizes[here]
        X[:, col + 2 * n_open + k] = extent[here]
        if k == n_open - 1:
            X[:, col + 3 * n_open] = _edt(lab != int(np.argmax(sizes)), vs)[at]
    col += 3 * n_open + 1
    cd_vol = _edt(~(d >= 0.8 * dmax), vs)
    cd = cd_vol[at]
    X[:, col] = cd
    X[:, col + 1] = cd / max(dmax, 1.0)
    X[:, col + 2:] = _basin_features(m, d, cd_vol, vs)[at]
    return surf, X


def _basin_features(m, d, core_dist, vs):
    """Per voxel, the features of its basin in the watershed of -EDT from the EDT's local maxima
    (the original's head segmentation): peak inscribed radius (nm and of the box's largest),
    volume (um^3), highest saddle to a neighbouring basin and the highest neighbouring peak
    (both relative to the own peak: a head on a neck or on its shaft has a low saddle and a
    higher neighbour), and the peak's distance to the thick core (nm)."""
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    foot = np.ones(tuple(max(3, 2 * int(round(40.0 / v)) + 1) for v in vs), bool)
    pk = peak_local_max(d, footprint=foot, labels=m.astype(np.int32), exclude_border=False)
    out = np.zeros(m.shape + (6,), np.float32)
    if not len(pk):
        return out
    mk = np.zeros(m.shape, np.int32)
    mk[tuple(pk.T)] = np.arange(1, len(pk) + 1)
    ws = watershed(-d, mk, mask=m)
    n = len(pk) + 1
    peak = _group_max(ws.ravel(), d.ravel(), n)
    vol = np.bincount(ws.ravel(), minlength=n) * float(np.prod(vs)) / 1e9
    us, vs_, hs = [], [], []
    for ax in range(3):
        a = np.moveaxis(ws, ax, 0)
        da = np.moveaxis(d, ax, 0)
        la, lb = a[:-1].ravel(), a[1:].ravel()
        sel = (la > 0) & (lb > 0) & (la != lb)
        h = np.minimum(da[:-1].ravel()[sel], da[1:].ravel()[sel])
        us += [la[sel], lb[sel]]
        vs_ += [lb[sel], la[sel]]
        hs += [h, h]
    u, v, h = (np.concatenate(x) for x in (us, vs_, hs))
    saddle = _group_max(u, h, n)
    nbr = _group_max(u, peak[v], n)
    pcore = np.zeros(n)
    pcore[1:] = core_dist[tuple(pk.T)]
    dmax = max(float(d.max()), 1.0)
    safe = np.maximum(peak, 1.0)
    for k, f in enumerate((peak, peak / dmax, vol, saddle / safe, nbr / safe, pcore)):
        f = f.copy()
        f[0] = 0.0
        out[..., k] = f[ws]
    return out


def _group_max(keys: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per key 0..n-1 the largest of its ``values`` (0 for keys without any).

    >>> _group_max(np.array([2, 0, 2, 2]), np.array([1., 5., 7., 3.]), 4).tolist()
    [5.0, 0.0, 7.0, 0.0]
    """
    out = np.zeros(n)
    if not len(keys):
        return out
    order = np.argsort(keys, kind="stable")
    k, v = keys[order], np.asarray(values, np.float64)[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    out[k[starts]] = np.maximum.reduceat(v, starts)
    return out


def class_of_compartment(codes: np.ndarray) -> np.ndarray:
    """The generator's compartment codes (:class:`syconn.synth.types.Compartment`) as spine
    classes: neck 4 -> 0, head 5 -> 1, dendrite 1 -> 2, axon, soma, bouton, glia -> 3,
    background -> -1.

    >>> class_of_compartment(np.array([0, 1, 2, 3, 4, 5, 6, 7])).tolist()
    [-1, 2, 3, 3, 0, 1, 3, 3]
    """
    lut = np.array([-1, SHAFT, OTHER, OTHER, NECK, HEAD, OTHER, OTHER], np.int64)
    return lut[np.asarray(codes, np.int64)]


def _near(surf, point_vx, voxel_nm, radius_nm):
    d = np.sqrt(((surf - np.asarray(point_vx, np.float64)) ** 2 * np.asarray(voxel_nm) ** 2)
                .sum(1))
    sel = np.flatnonzero(d <= radius_nm)
    return sel if len(sel) else np.array([int(np.argmin(d))]) if len(d) else sel


def synapse_spiness(surf: np.ndarray, proba: np.ndarray, point_vx, voxel_nm,
                    radius_nm: float = 150.0) -> tuple[int, float]:
    """The spine class at a synapse and its probability: the mean class probabilities of the
    surface voxels within ``radius_nm`` of ``point_vx`` (box voxels; the nearest one where none
    is that close); ``(-1, nan)`` without surface voxels.

    >>> surf = np.array([[0, 0, 0], [1, 0, 0], [9, 0, 0]])
    >>> p = np.array([[0, .9, .1, 0], [0, .6, .4, 0], [0, 0, 1, 0]])
    >>> synapse_spiness(surf, p, (0, 0, 0), (100, 100, 100))
    (1, 0.75)
    """
    if not len(surf):
        return -1, float("nan")
    sel = _near(surf, point_vx, voxel_nm, radius_nm)
    mean = np.asarray(proba, np.float64)[sel].mean(0)
    k = int(mean.argmax())
    return k, round(float(mean[k]), 6)


def head_volume_um3(mask: np.ndarray, surf: np.ndarray, labels: np.ndarray, point_vx,
                    voxel_nm, radius_nm: float = 150.0) -> float:
    """Volume (um^3) of the spine head at ``point_vx``: every voxel of ``mask`` takes the class
    ``labels`` of its nearest surface voxel ``surf``; the head is the 26-connected piece of head
    voxels holding the head surface voxel nearest the point (within ``radius_nm``).  NaN where
    no head surface voxel is that close.

    >>> m = np.zeros((12, 5, 5), bool); m[1:11, 1:4, 1:4] = True   # a 10 x 3 x 3 bar
    >>> s = surface_voxels(m); lab = np.where(s[:, 0] >= 7, 1, 2)   # its last 4 columns: head
    >>> head_volume_um3(m, s, lab, (10, 2, 2), (100, 100, 100))
    0.036
    """
    import cc3d
    from scipy.ndimage import distance_transform_edt

    vs = np.asarray(voxel_nm, np.float64)
    labels = np.asarray(labels)
    heads = np.flatnonzero(labels == HEAD)
    if not len(heads):
        return float("nan")
    d = np.sqrt((((surf[heads] - np.asarray(point_vx, np.float64)) * vs) ** 2).sum(1))
    if d.min() > radius_nm:
        return float("nan")
    start = surf[heads[int(np.argmin(d))]]
    m = np.asarray(mask, bool)
    # a head is at most ~0.6 um across: work in a box of HEAD_BOX_NM around its first voxel
    half = np.ceil(HEAD_BOX_NM / vs).astype(int)
    lo = np.maximum(start - half, 0)
    hi = np.minimum(start + half + 1, m.shape)
    m = m[tuple(slice(a, b) for a, b in zip(lo, hi))]
    inside = np.all((surf >= lo) & (surf < hi), axis=1)
    lab_vol = np.full(m.shape, -1, np.int64)
    lab_vol[tuple((surf[inside] - lo).T)] = labels[inside]
    _, idx = distance_transform_edt(lab_vol < 0, sampling=vs, return_indices=True)
    nearest = lab_vol[idx[0], idx[1], idx[2]]
    cc = cc3d.connected_components(m & (nearest == HEAD), connectivity=26)
    k = cc[tuple(start - lo)]
    return round(float(np.sum(cc == k)) * float(np.prod(vs)) / 1e9, 6)
