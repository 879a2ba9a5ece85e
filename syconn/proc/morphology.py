"""Organelle instance extraction from probability maps (SyConn step 2a, reference §1.3).

threshold -> binary morphology (anisotropic structuring element) -> either connected components
or, when the ops contain an erosion, seeded watershed on the distance transform.
"""

from __future__ import annotations

from collections.abc import Sequence

import cc3d
import edt
import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from syconn.errors import InputError

__all__ = ["MORPH_OPS", "STRUCTS", "aniso_struct", "morph_struct", "apply_morph_ops",
           "extract_objects", "required_halo_vx"]

MORPH_OPS = ("binary_opening", "binary_closing", "binary_erosion", "binary_dilation")
"""Allowed operation names (scipy.ndimage functions)."""
STRUCTS = ("aniso", "plane")
"""Structuring elements: SyConn's anisotropic one, or the 4-connected cross in the x-y plane."""

# elementary erosion/dilation passes per op, for the exact halo
_PASSES = {"binary_opening": 2, "binary_closing": 2, "binary_erosion": 1, "binary_dilation": 1}


def _aniso(voxel_size_nm) -> int:
    v = np.asarray(voxel_size_nm, dtype=float)
    if v.shape != (3,) or not (v > 0).all():
        raise InputError(f"voxel_size_nm: got {voxel_size_nm!r}, expected three positive numbers "
                         "(x, y, z)")
    return max(1, int(round(v[2] / v[0])))


def aniso_struct(voxel_size_nm: Sequence[float]) -> np.ndarray:
    """SyConn's anisotropic structuring element, indexed ``[x, y, z]``.

    Rule: ``aniso = max(1, round(vz / vx))``; shape ``(2*aniso+1, 2*aniso+1, 3)``; the central
    z-plane is the diamond (L1 ball) of radius ``aniso``; the two neighbouring z-planes hold only the
    centre voxel.  (10, 10, 20) nm gives SyConn's 5x5x3 kernel; isotropic data give the 3x3x3
    6-connected cross.

    >>> aniso_struct((10, 10, 20)).sum(), aniso_struct((10, 10, 10)).sum()
    (np.int64(15), np.int64(7))
    """
    r = _aniso(voxel_size_nm)
    x, y = np.mgrid[-r:r + 1, -r:r + 1]
    s = np.zeros((2 * r + 1, 2 * r + 1, 3), bool)
    s[:, :, 1] = np.abs(x) + np.abs(y) <= r
    s[r, r, 0] = s[r, r, 2] = True
    return s


def morph_struct(name: str, voxel_size_nm: Sequence[float]) -> np.ndarray:
    """The structuring element ``name``: ``"aniso"`` (:func:`aniso_struct`) or ``"plane"`` (the
    4-connected cross in the x-y plane, shape 3 x 3 x 1: no reach in z, so it erases nothing
    that is thin in z; see :mod:`syconn.proc.contacts` for why sj uses it).

    >>> morph_struct("plane", (10, 10, 20))[:, :, 0].astype(int).tolist()
    [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    """
    if name == "aniso":
        return aniso_struct(voxel_size_nm)
    if name == "plane":
        s = np.zeros((3, 3, 1), bool)
        s[1, :, 0] = s[:, 1, 0] = True
        return s
    raise InputError(f"struct: {name!r}, expected one of {', '.join(STRUCTS)}")


def _reach(struct: str, voxel_size_nm) -> tuple[int, int, int]:
    """Voxels one erosion or dilation with the element reaches along x, y, z."""
    if struct == "plane":
        return (1, 1, 0)
    a = _aniso(voxel_size_nm)
    return (a, a, 1)


def _merge_ops(ops: Sequence[str]) -> list[tuple[str, int]]:
    merged: list[tuple[str, int]] = []
    for op in ops:
        if op not in MORPH_OPS:
            raise InputError(f"ops: unknown operation {op!r}, allowed: {', '.join(MORPH_OPS)}")
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + 1)
        else:
            merged.append((op, 1))
    return merged


def _struct_radius(struct: np.ndarray) -> int | None:
    """``a`` if ``struct`` is :func:`aniso_struct`'s element of radius ``a``, else None."""
    s = np.asarray(struct, bool)
    if s.ndim != 3 or s.shape[2] != 3 or s.shape[0] != s.shape[1] or s.shape[0] % 2 == 0:
        return None
    a = s.shape[0] // 2
    x, y = np.mgrid[-a:a + 1, -a:a + 1]
    ref = np.zeros_like(s)
    ref[:, :, 1] = np.abs(x) + np.abs(y) <= a
    ref[a, a, 0] = ref[a, a, 2] = True
    return a if np.array_equal(s, ref) else None


def _shift_and(out: np.ndarray, src: np.ndarray, axis: int, erode: bool) -> None:
    """out &= (or |=) src shifted by +1 and -1 along ``axis``; outside counts as background."""
    n = src.shape[axis]
    lo = [slice(None)] * 3
    hi = [slice(None)] * 3
    lo[axis], hi[axis] = slice(1, n), slice(0, n - 1)
    lo, hi = tuple(lo), tuple(hi)
    if erode:
        out[lo] &= src[hi]
        out[hi] &= src[lo]
        first = [slice(None)] * 3
        last = [slice(None)] * 3
        first[axis], last[axis] = 0, n - 1
        out[tuple(first)] = False
        out[tuple(last)] = False
    else:
        out[lo] |= src[hi]
        out[hi] |= src[lo]


def _aniso_pass(m: np.ndarray, a: int, erode: bool) -> np.ndarray:
    """One erosion or dilation by the radius-``a`` anisotropic element, with shifted slices.

    The in-plane diamond of radius a is the Minkowski sum of a 4-connected crosses, so it is a
    crosses in sequence; the z part is the centre voxel one plane up and down.  Equal to
    scipy.ndimage with ``border_value=0`` (tested), several times faster.
    """
    d = m
    for _ in range(a):
        nxt = d.copy()
        _shift_and(nxt, d, 0, erode)
        _shift_and(nxt, d, 1, erode)
        d = nxt
    if d is m:
        d = m.copy()
    _shift_and(d, m, 2, erode)
    return d


def _fast_op(mask: np.ndarray, op: str, n: int, a: int) -> np.ndarray:
    seq = {"binary_erosion": [True] * n, "binary_dilation": [False] * n,
           "binary_opening": [True] * n + [False] * n,
           "binary_closing": [False] * n + [True] * n}[op]
    out = mask
    for erode in seq:
        out = _aniso_pass(out, a, erode)
    return out


def apply_morph_ops(mask: np.ndarray, ops: Sequence[str], *, struct: np.ndarray) -> np.ndarray:
    """Apply scipy.ndimage binary operations by name, in order.

    Consecutive identical ops are merged into one call with ``iterations=n`` (as SyConn does,
    which matters for opening/closing: ``opening x2`` = erode, erode, dilate, dilate).  Outside the
    array counts as background (scipy's ``border_value=0``).

    Returns a new boolean array (the input is not modified).
    """
    out = np.asarray(mask, dtype=bool)
    a = _struct_radius(struct) if out.ndim == 3 else None
    for op, n in _merge_ops(ops):
        if a is not None:  # SyConn's element: shifted slices, same result as scipy
            out = _fast_op(out, op, n, a)
        else:
            out = getattr(ndimage, op)(out, structure=struct, iterations=n)
    if out is mask:
        out = out.copy()
    return out


def required_halo_vx(ops: Sequence[str], voxel_size_nm: Sequence[float], *,
                     exact: bool = False, struct: str = "aniso") -> tuple[int, int, int]:
    """Halo (x, y, z) in voxels a block needs for :func:`extract_objects` and stitching.

    Default: SyConn's "auto" overlap (reference §1.3 step 5, no Gaussian smoothing):
    ``n_ero = 2 * aniso * (#binary_erosion)``, halo = ``(n_ero, n_ero, n_ero // aniso)``, each at
    least 1.  ``exact=True``: the reach of all elementary passes (opening/closing count 2 passes,
    erosion/dilation 1; each reaches ``aniso`` in x/y and 1 in z with the ``"aniso"`` element,
    1 in x/y and 0 in z with ``"plane"``) + 1, which makes the
    thresholded+morphed mask inside the core and its first halo layer identical to processing the
    whole volume, so label-only extraction (no erosion) stitches exactly.  The seeded watershed is
    not local; no finite halo makes it exact.
    """
    a = _aniso(voxel_size_nm)
    names = list(ops)
    _merge_ops(names)
    morph_struct(struct, voxel_size_nm)  # validates the name
    if exact:
        p = sum(_PASSES[o] for o in names)
        return tuple(p * r + 1 for r in _reach(struct, voxel_size_nm))
    n_ero = 2 * a * sum(o == "binary_erosion" for o in names)
    return (max(n_ero, 1), max(n_ero, 1), max(n_ero // a, 1))


def _out_dtype(mask: np.ndarray):
    return np.uint64 if mask.size >= 2**32 - 1 else np.uint32


def _fortran(x: np.ndarray) -> np.ndarray:
    return np.asfortranarray(x)


def extract_objects(prob: np.ndarray, *, threshold: float, ops: Sequence[str] = (),
                    min_seed_vx: int = 0, voxel_size_nm: Sequence[float] = (10, 10, 20),
                    struct: str = "aniso") -> np.ndarray:
    """Label organelle instances in a probability map block (SyConn step 2a).

    1. mask = ``prob > threshold * 255``;
    2. if ``ops`` contains ``binary_erosion``: the ops before the first erosion clean the mask,
       the remaining ops (from the first erosion on) applied to the cleaned mask give the seeds;
       seeds = 6-connected components with >= ``min_seed_vx`` voxels; the Euclidean distance to
       the nearest voxel outside the mask component (anisotropic, ``voxel_size_nm``) is flooded
       from the seeds by ``skimage.segmentation.watershed(-dist, seeds, mask=component)``; mask
       components without a seed vanish (as in SyConn);
    3. otherwise: all ops, then 6-connected components (cc3d).

    Parameters
    ----------
    prob : ndarray, shape (X, Y, Z)
        Probabilities on the 0..255 scale (uint8, or float with the same scale).
    threshold : float, keyword-only
        In [0, 1] (SyConn ``probathresholds``).
    ops : sequence of str, keyword-only
        Names from :data:`MORPH_OPS` (SyConn ``extract_morph_op``).
    min_seed_vx : int, keyword-only
        Seeds smaller than this are dropped (SyConn ``min_seed_vx``).
    voxel_size_nm : 3 floats, keyword-only
        (x, y, z); sets the structuring element and the distance anisotropy.
    struct : {"aniso", "plane"}, keyword-only
        The structuring element of ``ops`` (:func:`morph_struct`).

    Returns
    -------
    ndarray of uint32 (uint64 if there are more than 2^32-1 objects), Fortran order
        Local ids 1..n numbered by first voxel in raster order (z outer, x inner); 0 = background.
        The result does not depend on the memory order of ``prob``.
    """
    if not isinstance(prob, np.ndarray) or prob.ndim != 3:
        raise InputError(f"prob: got {getattr(prob, 'shape', type(prob))}, expected a 3-d array "
                         "indexed [x, y, z]")
    if prob.dtype.kind not in "uif":
        raise InputError(f"prob: dtype {prob.dtype}, expected uint8 (0..255) or float")
    if not 0 <= threshold <= 1:
        raise InputError(f"threshold: got {threshold}, expected a value in [0, 1]")
    if min_seed_vx < 0:
        raise InputError(f"min_seed_vx: got {min_seed_vx}, expected >= 0")
    struct = morph_struct(struct, voxel_size_nm)
    ops = list(ops)
    _merge_ops(ops)
    mask = _fortran(prob > threshold * 255)
    if "binary_erosion" not in ops:
        mask = apply_morph_ops(mask, ops, struct=struct)
        return cc3d.connected_components(_fortran(mask), connectivity=6, out_dtype=_out_dtype(mask))
    first = ops.index("binary_erosion")
    mask = _fortran(apply_morph_ops(mask, ops[:first], struct=struct))
    seeds = _fortran(apply_morph_ops(mask, ops[first:], struct=struct))
    if min_seed_vx > 1:
        seeds = cc3d.dust(seeds, threshold=min_seed_vx, connectivity=6)
    seed_lab = cc3d.connected_components(seeds, connectivity=6, out_dtype=_out_dtype(seeds))
    out = np.zeros(mask.shape, dtype=seed_lab.dtype, order="F")
    if seed_lab.max() == 0:
        return out
    comp = cc3d.connected_components(mask, connectivity=6)
    has_seed = np.unique(comp[seed_lab != 0])
    anis = tuple(float(v) for v in voxel_size_nm)
    slices = ndimage.find_objects(comp)
    for cid in has_seed:
        if cid == 0:
            continue
        sl = slices[cid - 1]
        # crop with a 1-voxel margin of background (where the array allows)
        sl = tuple(slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(sl, mask.shape))
        cm = np.ascontiguousarray(comp[sl] == cid)
        dist = edt.edt(cm, anisotropy=anis, black_border=False, parallel=1)
        mk = np.ascontiguousarray(np.where(cm, seed_lab[sl], 0))
        ws = watershed(-dist, markers=mk, mask=cm, connectivity=1)
        region = out[sl]
        region[cm] = ws[cm]
    return out
