"""Cell-cell contact sites and synapse-fragment voxels, blockwise (SyConn step 6a, cell level).

Semantics (SyConn ``cs_extraction_steps``, applied to CELL ids instead of supervoxel ids):

1. *Boundary voxels*: non-zero voxels with a 6-neighbour of another id (0 included).
2. *Partner*: for each boundary voxel, the most frequent id other than 0 and its own within the
   ``filtersize_vx`` window (13 x 13 x 7 voxels: half-widths 6, 6, 3) centred on it.  This finds
   the cell across the 1-2 voxel background gap.  Ties go to the smaller id (the original's tie
   order is unspecified).  The voxel joins contact ``(min(own, partner), max(own, partner))``.
3. *Closing + dilation per contact*: the voxel set of every pair is closed (``closing_iterations``
   dilations then as many erosions with the 6-connected cross, i.e. an L1 ball) and then dilated
   (``dilation_iterations``).  A voxel that already belongs to a contact keeps it; any other voxel
   (cell interior or gap: "background" of the contact array) goes to the first pair in
   ``(cell_a, cell_b)`` order that covers it -- exactly what the original's loop over sorted contact
   ids with "overwrite only background or own voxels" produces.  The closed contact spans the cleft.
4. *Synaptic junction mask*: ``sj > sj_threshold * 255``, then ``sj_morph_ops`` (scipy names,
   default opening then closing) with the structuring element ``sj_struct``: ``"plane"`` (the
   default: the 4-connected cross in the x-y plane, radius 1, no reach in z) or ``"aniso"``
   (SyConn's 5 x 5 x 3 struct: central z-plane an L1 diamond of radius
   ``aniso = voxel_size_z // voxel_size_x``, planes z +- 1 the centre voxel only).
   Synapse-fragment voxels = contact voxels inside the sj mask.  Their ``sym``/``asym`` flags are
   ``sym >= syntype_threshold`` / ``asym >= syntype_threshold``; ``sj`` is the map's value.

Why not SyConn's element for sj: an opening erases every structure thinner than the element,
and SyConn's is ``2 * aniso + 1`` voxels wide in x and y and 3 slices deep (50 nm x 60 nm at
10 x 10 x 20 nm, 88 nm x 120 nm at 8 x 8 x 40 nm), about the thickness of a synaptic cleft's sj
band.  On varied synthetic tissue (``syconn synth --variation``) it erased the sj of whole
clefts (at 8 x 8 x 40 nm, seed 4: 3 of 79 true synapses, 0 to 63 fragment voxels left of
1,400-3,000); the in-plane cross still removes isolated noise voxels (an opening keeps a voxel
only within a full 5-voxel cross of the mask) and erases no band at least 3 voxels wide.

The partner window (SyConn ``cs_filtersize`` 13 x 13 x 7) must reach across the extracellular
gap: with half-width 3 in z, two cells 3 slices apart in z have no contact at all; the default
here is 13 x 13 x 9 (gaps of up to 3 voxels along every axis; ``tests/proc/test_contacts.py``).

All morphology treats everything outside the dataset as background (the tasks pad the halo with
0 where it leaves the dataset), so results are exact and independent of the block layout: the
same core voxels get the same labels whatever the block size.  See :func:`contact_halo_vx`.

Differences from the original, on purpose: contact ids are cell pairs (no 32-bit packing of
supervoxel ids); closings are computed on the whole contact, not on a chunk-clipped bounding box,
so there are no chunk-seam effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pyarrow as pa

from syconn.errors import InputError
from syconn.proc import _contact_kernels as _k

__all__ = [
    "ContactResult",
    "contact_halo_vx",
    "find_contacts",
    "merge_contact_stats",
    "CONTACT_STATS_SCHEMA",
    "SYN_VOXELS_SCHEMA",
]

#: SyConn's sj probability threshold (fraction of 255).
SJ_THRESHOLD = 0.19047619
#: partner search window (voxels); SyConn's is 13 x 13 x 7 (see the module docstring)
FILTERSIZE_VX = (13, 13, 9)
SJ_MORPH_OPS = ("binary_opening", "binary_closing")
_OP_STEPS = {  # True = erosion
    "binary_opening": (True, False),
    "binary_closing": (False, True),
    "binary_erosion": (True,),
    "binary_dilation": (False,),
}
# 6-connected cross as bit-row struct (dy, dz, dx_max)
_CROSS_ROWS = np.array([[0, 0, 1], [-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0]], np.int64)
SJ_STRUCTS = ("plane", "aniso")  #: structuring elements of the sj mask's morphology

CONTACT_STATS_SCHEMA = pa.schema([
    ("cell_a", pa.uint64()), ("cell_b", pa.uint64()),
    ("n_vx", pa.int64()), ("n_sj_vx", pa.int64()),
    ("sum_x", pa.int64()), ("sum_y", pa.int64()), ("sum_z", pa.int64()),
    ("bbox_min_x", pa.int64()), ("bbox_min_y", pa.int64()), ("bbox_min_z", pa.int64()),
    ("bbox_max_x", pa.int64()), ("bbox_max_y", pa.int64()), ("bbox_max_z", pa.int64()),
])
SYN_VOXELS_SCHEMA = pa.schema([
    ("x", pa.int64()), ("y", pa.int64()), ("z", pa.int64()),
    ("cell_a", pa.uint64()), ("cell_b", pa.uint64()),
    ("sym", pa.bool_()), ("asym", pa.bool_()), ("sj", pa.uint8()),
])


@dataclass
class ContactResult:
    """Contacts of one block's core.

    Attributes
    ----------
    contact_stats : pyarrow.Table
        One row per cell pair with at least one contact voxel in the core, sorted by
        ``(cell_a, cell_b)``, ``cell_a < cell_b``; :data:`CONTACT_STATS_SCHEMA`.  ``n_vx`` contact
        voxels, ``n_sj_vx`` of them in the sj mask, ``sum_{x,y,z}`` coordinate sums (centroid =
        sum / n_vx), ``bbox_min_*`` / ``bbox_max_*`` global voxel bbox, max EXCLUSIVE.  Summing
        blocks (:func:`merge_contact_stats`) gives the volume's answer.
    syn_voxels : pyarrow.Table
        One row per synapse-fragment voxel (contact and sj mask) in the core, global voxel
        coordinates, sorted by ``(cell_a, cell_b, z, y, x)``, with the sj map's value ``sj``;
        :data:`SYN_VOXELS_SCHEMA`.
    labels : numpy.ndarray or None
        Core-shaped int32 array (Fortran order): 0 = no contact, ``i + 1`` = row ``i`` of
        ``contact_stats``.  Only with ``return_labels=True``.
    """

    contact_stats: pa.Table
    syn_voxels: pa.Table
    labels: Optional[np.ndarray] = None


def _aniso(voxel_size_nm) -> int:
    vs = _vec3(voxel_size_nm, "voxel_size_nm", float)
    if min(vs) <= 0:
        raise InputError(f"voxel_size_nm: {tuple(vs)}, expected three positive sizes")
    return max(1, int(vs[2] // vs[0]))


def _check_struct(sj_struct: str) -> str:
    if sj_struct not in SJ_STRUCTS:
        raise InputError(f"sj_struct: {sj_struct!r}, expected one of {', '.join(SJ_STRUCTS)}")
    return sj_struct


def _struct_rows(sj_struct: str, aniso: int) -> np.ndarray:
    """The sj element as bit rows ``(dy, dz, dx_max)``."""
    if _check_struct(sj_struct) == "plane":
        return np.array([[0, 0, 1], [-1, 0, 0], [1, 0, 0]], np.int64)
    rows = [[dy, 0, aniso - abs(dy)] for dy in range(-aniso, aniso + 1)]
    rows += [[0, -1, 0], [0, 1, 0]]
    return np.array(rows, np.int64)


def _struct_reach(sj_struct: str, aniso: int) -> tuple[int, int, int]:
    """How far (x, y, z voxels) one erosion or dilation with the sj element reaches."""
    return (1, 1, 0) if _check_struct(sj_struct) == "plane" else (aniso, aniso, 1)


def _vec3(v, name, typ=int):
    try:
        out = tuple(typ(a) for a in v)
    except (TypeError, ValueError):
        raise InputError(f"{name}: {v!r}, expected three numbers (x, y, z)") from None
    if len(out) != 3:
        raise InputError(f"{name}: {v!r}, expected three numbers (x, y, z)")
    return out


def _sj_steps(sj_morph_ops) -> np.ndarray:
    steps = []
    for op in sj_morph_ops:
        if op not in _OP_STEPS:
            raise InputError(f"sj_morph_ops: {op!r}, expected one of {sorted(_OP_STEPS)}")
        steps.extend(_OP_STEPS[op])
    return np.array(steps, np.bool_)


def contact_halo_vx(*, voxel_size_nm: Sequence[float], filtersize_vx=FILTERSIZE_VX,
                    closing_iterations: int = 6, dilation_iterations: int = 2,
                    sj_morph_ops: Sequence[str] = SJ_MORPH_OPS, sj_struct: str = "plane") -> tuple:
    """Halo (voxels, per side, x y z) that :func:`find_contacts` needs around a block's core.

    ``halo = max(max(filtersize // 2, 1) + 2 * closing_iterations + dilation_iterations,
    n_sj_steps * reach)`` per axis, where ``n_sj_steps`` counts the sj erosions and dilations
    (opening and closing are two each) and ``reach`` is the element's, (1, 1, 0) for
    ``"plane"``, (aniso, aniso, 1) for ``"aniso"``.  With the defaults (13, 13, 9), 6, 2,
    opening + closing and 10 x 10 x 20 nm voxels: ``(20, 20, 18)``.

    The partner of a voxel depends on the segmentation within the window half-widths; a core
    voxel's contact label depends on partners within L1 distance ``2 * closing + dilation``; the
    sj mask on probabilities within the struct's reach per step.

    Examples
    --------
    >>> contact_halo_vx(voxel_size_nm=(10, 10, 20))
    (20, 20, 18)
    >>> contact_halo_vx(voxel_size_nm=(10, 10, 20), filtersize_vx=(13, 13, 7))  # SyConn's window
    (20, 20, 17)
    """
    fs = _vec3(filtersize_vx, "filtersize_vx")
    if min(fs) < 1:
        raise InputError(f"filtersize_vx: {fs}, expected positive window sizes")
    if closing_iterations < 0 or dilation_iterations < 0:
        raise InputError(f"closing_iterations/dilation_iterations: {closing_iterations}/"
                         f"{dilation_iterations}, expected >= 0")
    aniso = _aniso(voxel_size_nm)
    nsj = len(_sj_steps(sj_morph_ops))
    reach = 2 * closing_iterations + dilation_iterations
    sj_reach = tuple(nsj * r for r in _struct_reach(sj_struct, aniso))
    return tuple(max(max(f // 2, 1) + reach, s) for f, s in zip(fs, sj_reach))


def _check_prob(name, arr, shape):
    if arr is None:
        return None
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        raise InputError(f"{name}: dtype {arr.dtype}, expected a uint8 probability map")
    if arr.shape != shape:
        raise InputError(f"{name}: shape {arr.shape}, expected the cells' shape {shape}")
    return np.asfortranarray(arr)


def find_contacts(cells: np.ndarray, sj: Optional[np.ndarray] = None, *,
                  offset_xyz: Sequence[int], halo_vx: Sequence[int],
                  voxel_size_nm: Sequence[float],
                  sym: Optional[np.ndarray] = None, asym: Optional[np.ndarray] = None,
                  filtersize_vx=FILTERSIZE_VX, closing_iterations: int = 6,
                  dilation_iterations: int = 2, sj_threshold: float = SJ_THRESHOLD,
                  sj_morph_ops: Sequence[str] = SJ_MORPH_OPS, sj_struct: str = "plane",
                  syntype_threshold: int = 123, return_labels: bool = False) -> ContactResult:
    """Contact sites between cells and synapse-fragment voxels in one block's core.

    Parameters
    ----------
    cells : numpy.ndarray
        Cell ids ``[x, y, z]`` (unsigned integers, 0 = background) of the core plus ``halo_vx``
        on every side.  Fortran order avoids a copy.  Outside the dataset: 0.
    sj, sym, asym : numpy.ndarray, optional
        uint8 probability maps of the same box (outside the dataset: 0).  Without ``sj`` there are
        no synapse-fragment voxels; without ``sym``/``asym`` their flags are False.
    offset_xyz : (int, int, int)
        Global voxel coordinate of the first CORE voxel (the block offset).
    halo_vx : (int, int, int)
        Halo present on each side, at least :func:`contact_halo_vx` of the same options.
    voxel_size_nm : (float, float, float)
        Voxel size; sets the sj struct's anisotropy.
    filtersize_vx, closing_iterations, dilation_iterations
        Partner window (``cs_filtersize``; SyConn's is 13 x 13 x 7), closing iterations (6),
        ``cs_dilation``.
    sj_threshold : float
        sj voxels are ``sj > sj_threshold * 255``.
    sj_morph_ops : sequence of str
        ``binary_opening``, ``binary_closing``, ``binary_erosion``, ``binary_dilation``.
    sj_struct : {"plane", "aniso"}
        Their structuring element (module docstring).
    syntype_threshold : int
        sym/asym flag if the map is ``>=`` this.
    return_labels : bool
        Also return the core's contact label array.

    Returns
    -------
    ContactResult

    Examples
    --------
    >>> seg = np.zeros((60, 50, 50), np.uint64, order="F")
    >>> seg[20:27, 20:30, 20:30] = 1
    >>> seg[32:39, 20:30, 20:30] = 2  # facing faces x=26 and x=32: 6 apart
    >>> res = find_contacts(seg, offset_xyz=(0, 0, 0), halo_vx=(20, 20, 18),
    ...                     voxel_size_nm=(10, 10, 20))
    >>> res.contact_stats.select(["cell_a", "cell_b"]).to_pylist()
    [{'cell_a': 1, 'cell_b': 2}]
    """
    cells = np.asarray(cells)
    if cells.ndim != 3:
        raise InputError(f"cells: {cells.ndim} dimensions, expected a 3-d [x, y, z] array")
    if cells.dtype.kind != "u":
        raise InputError(f"cells: dtype {cells.dtype}, expected an unsigned integer array")
    if cells.dtype.itemsize < 4:
        cells = cells.astype(np.uint32)
    cells = np.asfortranarray(cells)
    shape = cells.shape
    sj = _check_prob("sj", sj, shape)
    sym = _check_prob("sym", sym, shape)
    asym = _check_prob("asym", asym, shape)
    offset = _vec3(offset_xyz, "offset_xyz")
    halo = _vec3(halo_vx, "halo_vx")
    need = contact_halo_vx(voxel_size_nm=voxel_size_nm, filtersize_vx=filtersize_vx,
                           closing_iterations=closing_iterations,
                           dilation_iterations=dilation_iterations, sj_morph_ops=sj_morph_ops,
                           sj_struct=sj_struct)
    if any(h < n for h, n in zip(halo, need)):
        raise InputError(f"halo_vx: {halo}, expected at least {need} for these options")
    core_shape = tuple(s - 2 * h for s, h in zip(shape, halo))
    if min(core_shape) < 1:
        raise InputError(f"cells: shape {shape} leaves no core inside halo_vx {halo}")
    aniso = _aniso(voxel_size_nm)
    sj_steps = _sj_steps(sj_morph_ops)
    fs = _vec3(filtersize_vx, "filtersize_vx")
    hw = tuple(f // 2 for f in fs)
    reach = 2 * closing_iterations + dilation_iterations
    c0 = halo
    c1 = tuple(h + c for h, c in zip(halo, core_shape))
    r0 = tuple(a - reach for a in c0)
    r1 = tuple(b + reach for b in c1)

    # 1-2: boundary voxels and partners
    runx = _k.run_lengths_x(cells)
    runy = _k.run_lengths_y(cells)
    xs, ys, zs, own, par = _k.find_partners(cells, runx, runy, hw[0], hw[1], hw[2],
                                            r0[0], r1[0], r0[1], r1[1], r0[2], r1[2])
    del runx, runy
    idx, ka, kb = _k.index_pairs(own, par)
    perm = np.lexsort((kb, ka))
    rank = np.empty(len(perm), np.int32)
    rank[perm] = np.arange(len(perm), dtype=np.int32)
    idx = rank[idx]
    ka = ka[perm]
    kb = kb[perm]
    order, starts = _k.group_by_pair(idx, len(ka))

    # 3: closing + dilation per pair, first (smallest) pair wins
    lab = _k.close_dilate_pairs(xs, ys, zs, order, starts, closing_iterations,
                                dilation_iterations, c0[0], c1[0], c0[1], c1[1], c0[2], c1[2])

    # 4: sj mask over core +- its reach, bit-packed
    sjreach = tuple(len(sj_steps) * r for r in _struct_reach(sj_struct, aniso))
    if sj is None:
        sjbits = np.zeros(((core_shape[0] + 63) // 64, core_shape[1], core_shape[2]), np.uint64)
        sjoff = (0, 0, 0)
    else:
        b0 = tuple(c - r for c, r in zip(c0, sjreach))
        b1 = tuple(c + r for c, r in zip(c1, sjreach))
        sjbits = _k.threshold_pack(sj, float(sj_threshold) * 255.0, b0[0], b1[0], b0[1], b1[1],
                                   b0[2], b1[2])
        if len(sj_steps):
            # np.uint64: a Python int would reach numba as int64 and ``uint64 & int64`` is
            # computed in float64, dropping mask bits above 2^53 (and 2^64 - 1 overflows)
            sjbits = _k.morph_sequence(sjbits, _struct_rows(sj_struct, aniso), sj_steps,
                                       np.uint64(_k._last_mask(b1[0] - b0[0])))
        sjoff = sjreach
    dummy = np.zeros((1, 1, 1), np.uint8)
    (nvx, nsj, sums, bmin, bmax, sx, sy, sz, sp, sflag) = _k.contact_stats(
        lab, len(ka), sjbits, sjoff, sym if sym is not None else dummy,
        asym if asym is not None else dummy, int(syntype_threshold), sym is not None,
        asym is not None, c0[0], c0[1], c0[2])

    keep = nvx > 0
    off = np.array(offset, np.int64)
    stats = pa.table({
        "cell_a": pa.array(ka[keep].astype(np.uint64)),
        "cell_b": pa.array(kb[keep].astype(np.uint64)),
        "n_vx": nvx[keep], "n_sj_vx": nsj[keep],
        "sum_x": sums[keep, 0] + nvx[keep] * off[0],
        "sum_y": sums[keep, 1] + nvx[keep] * off[1],
        "sum_z": sums[keep, 2] + nvx[keep] * off[2],
        "bbox_min_x": bmin[keep, 0] + off[0], "bbox_min_y": bmin[keep, 1] + off[1],
        "bbox_min_z": bmin[keep, 2] + off[2],
        "bbox_max_x": bmax[keep, 0] + off[0], "bbox_max_y": bmax[keep, 1] + off[1],
        "bbox_max_z": bmax[keep, 2] + off[2],
    }, schema=CONTACT_STATS_SCHEMA)
    so = np.argsort(sp, kind="stable")  # kernel output is raster order already
    sp = sp[so]
    sx, sy, sz = sx[so], sy[so], sz[so]
    sj_val = sj[sx + c0[0], sy + c0[1], sz + c0[2]] if sj is not None else \
        np.zeros(len(sx), np.uint8)
    syn = pa.table({
        "x": sx.astype(np.int64) + off[0], "y": sy.astype(np.int64) + off[1],
        "z": sz.astype(np.int64) + off[2],
        "cell_a": pa.array(ka[sp].astype(np.uint64)), "cell_b": pa.array(kb[sp].astype(np.uint64)),
        "sym": (sflag[so] & 1).astype(bool), "asym": (sflag[so] & 2).astype(bool),
        "sj": sj_val.astype(np.uint8),
    }, schema=SYN_VOXELS_SCHEMA)
    labels = None
    if return_labels:
        newidx = np.zeros(len(ka) + 1, np.int32)
        newidx[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        labels = np.asfortranarray(newidx[lab])
    return ContactResult(contact_stats=stats, syn_voxels=syn, labels=labels)


def merge_contact_stats(tables: Sequence[pa.Table]) -> pa.Table:
    """Combine per-block ``contact_stats`` into per-pair totals (sums, bbox min/max).

    Parameters
    ----------
    tables : sequence of pyarrow.Table
        ``contact_stats`` tables of any blocks (:data:`CONTACT_STATS_SCHEMA`).

    Returns
    -------
    pyarrow.Table
        Same schema, one row per pair, sorted by ``(cell_a, cell_b)``.
    """
    if not tables:
        return CONTACT_STATS_SCHEMA.empty_table()
    t = pa.concat_tables([tb.select(CONTACT_STATS_SCHEMA.names) for tb in tables])
    aggs = [(c, "sum") for c in ("n_vx", "n_sj_vx", "sum_x", "sum_y", "sum_z")]
    aggs += [(f"bbox_min_{a}", "min") for a in "xyz"] + [(f"bbox_max_{a}", "max") for a in "xyz"]
    g = t.group_by(["cell_a", "cell_b"]).aggregate(aggs)
    g = g.rename_columns([n.rsplit("_sum", 1)[0] if n.endswith("_sum") else
                          n.rsplit("_min", 1)[0] if n.endswith("_min") else
                          n.rsplit("_max", 1)[0] if n.endswith("_max") else n
                          for n in g.column_names])
    g = g.select(CONTACT_STATS_SCHEMA.names).cast(CONTACT_STATS_SCHEMA)
    return g.sort_by([("cell_a", "ascending"), ("cell_b", "ascending")])
