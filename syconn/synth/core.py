"""``synthesize``: scene -> voxels, supervoxels, agglomeration graph, synapses, maps, raw EM."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cc3d
import edt
import fastremap
import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

from syconn.errors import InputError
from syconn.synth import _kernels as K
from syconn.synth.geometry import Scene, build_scene, default_cell_counts
from syconn.synth.types import CELL_TYPES, CONNECTION_PROB, TYPE_NAMES, Compartment as C
from syconn.synth.variation import Variation

__all__ = ["SynthResult", "synthesize", "EXAMPLE_SHAPE_XYZ", "TEST_SHAPE_XYZ", "THRESHOLDS"]

EXAMPLE_SHAPE_XYZ = (576, 576, 288)
TEST_SHAPE_XYZ = (192, 192, 96)  # ~1.5 s, a handful of synapses; (256, 256, 128) gives ~25
# pipeline defaults the maps are made for (prob > t * 255; sym/asym >= 123)
THRESHOLDS = {"mi": 0.428571429 * 255, "sj": 0.19047619 * 255, "vc": 0.285714286 * 255, "syntype": 123}
_XCHUNK = 8
_POST_KIND = {int(C.SPINE_HEAD): "spine_head", int(C.DENDRITE): "shaft", int(C.SOMA): "soma",
              int(C.SPINE_NECK): "spine_neck", int(C.BOUTON): "bouton", int(C.AXON): "axon"}


@dataclass
class SynthResult:
    """A synthetic volume with ground truth.  Volumes are ``[x, y, z]``, C order.

    ``seg`` holds supervoxel ids (uint64, 0 = extracellular); the probability maps and ``raw``
    are uint8; ``compartments`` holds :class:`~syconn.synth.types.Compartment` codes and
    ``mito`` ground-truth mitochondrion ids (matching ``mitochondria.mito_id``).  Tables are
    pandas DataFrames; coordinates in voxels unless the column name carries a unit.
    """

    shape_xyz: tuple[int, int, int]
    voxel_size_nm: tuple[float, float, float]
    seed: int
    raw: np.ndarray
    seg: np.ndarray
    mi: np.ndarray
    vc: np.ndarray
    sj: np.ndarray
    sym: np.ndarray
    asym: np.ndarray
    compartments: np.ndarray
    mito: np.ndarray
    edges: np.ndarray  # (n, 2) uint64 agglomeration graph as written (with injected errors)
    cells: pd.DataFrame
    supervoxels: pd.DataFrame
    synapses: pd.DataFrame
    mitochondria: pd.DataFrame
    skeletons: pd.DataFrame
    agglomeration_errors: pd.DataFrame
    timings: dict = field(default_factory=dict)
    variation: Variation = field(default_factory=Variation)
    # sj bands painted on non-synaptic contacts (--variation): cell_a < cell_b, x, y, z voxels
    decoys: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"cell_a": pd.Series([], dtype=np.uint64), "cell_b": pd.Series([], dtype=np.uint64),
         "x": pd.Series([], dtype=np.int64), "y": pd.Series([], dtype=np.int64),
         "z": pd.Series([], dtype=np.int64)}))
    # every contact of a bouton with a possible partner inside the volume, drawn or not, and
    # what became of it (CANDIDATE_FATES): the connection rule as the volume realises it
    candidates: pd.DataFrame = field(default_factory=lambda: _candidate_table([]))

    @property
    def n_neurons(self) -> int:
        return int((~self.cells.is_glia).sum())


#: what became of a synapse candidate (``candidates.fate``): not drawn by the connection rule,
#: a second draw for the same bouton and post cell, or drawn and then: no cleft crop (a partner
#: missing there, e.g. cut by the volume face), too few cleft voxels on a side or vesicle cloud
#: voxels, the post side an axon, closer than a cleft to another of the pair; or a synapse
CANDIDATE_FATES = ("not_drawn", "repeat", "no_crop", "small_cleft", "no_vesicles",
                   "post_is_axon", "too_close", "synapse")
_CANDIDATE_COLUMNS = ["pre_cell_id", "post_cell_id", "bouton", "pre_type", "post_type",
                      "post_kind", "x", "y", "z", "fate"]


def _candidate_table(rows) -> pd.DataFrame:
    """The ``candidates`` ground-truth table of (pre id, post id, bouton (its number among the
    pre cell's volume's boutons: with the pre id it names one bouton), pre type, post type,
    post compartment name, x, y, z voxel, fate) rows, sorted by place."""
    t = pd.DataFrame(rows, columns=_CANDIDATE_COLUMNS)
    t = t.astype({"pre_cell_id": np.uint64, "post_cell_id": np.uint64, "bouton": np.int64,
                  "x": np.int64, "y": np.int64, "z": np.int64, "pre_type": object,
                  "post_type": object, "post_kind": object, "fate": object})
    return t.sort_values(["x", "y", "z", "pre_cell_id", "post_cell_id"],
                         kind="stable").reset_index(drop=True)


def _check_args(shape_xyz, voxel_size_nm, n_cells, merge_errors, split_errors, glia_merges=0):
    shape = tuple(int(s) for s in shape_xyz)
    if len(shape) != 3 or min(shape) < 16:
        raise InputError(f"shape_xyz: got {tuple(shape_xyz)}, expected 3 sizes of at least 16 voxels")
    vs = tuple(float(v) for v in voxel_size_nm)
    if len(vs) != 3 or min(vs) <= 0 or max(vs) > 200:
        raise InputError(f"voxel_size_nm: got {tuple(voxel_size_nm)}, expected 3 sizes in (0, 200] nm")
    if n_cells is not None and int(n_cells) < 5:
        raise InputError(f"n_cells: got {n_cells}, expected at least 5 (one cell of every type)")
    if merge_errors < 0 or split_errors < 0:
        raise InputError(f"merge_errors/split_errors: got {merge_errors}/{split_errors}, expected >= 0")
    if glia_merges < 0:
        raise InputError(f"glia_merges: got {glia_merges}, expected >= 0")
    return shape, vs


def _rasterize(scene: Scene, shape, vs_um, gap_vx: int = 1):
    p0, p1, r0, r1, margin, piece, comp = scene.prim_arrays()
    lab = np.zeros(shape, np.uint32)
    cmp = np.zeros(shape, np.uint8)
    best = np.full(shape, np.inf, np.float32)
    K.rasterize(lab, cmp, best, p0, p1, r0, r1, margin, piece, comp, vs_um, _XCHUNK)
    del best
    piece_cell = np.asarray(scene.piece_cell, np.int64)
    # the extracellular gap of ``gap_vx`` voxels where two cells touch (no two voxels of
    # different cells closer than gap + 1, Chebyshev): first the cell of the larger index loses
    # the voxels within ceil(gap / 2) of the other, then the smaller one those within ``gap``
    # of what is left of it (about floor(gap / 2) layers)
    steps = [(True, (gap_vx + 1) // 2)] + ([(False, gap_vx)] if gap_vx >= 2 else [])
    for larger, radius in steps:
        if radius:
            mask = np.zeros(shape, np.uint8)
            K.gap_mask(lab, piece_cell, mask, larger, radius)
            m = mask.view(bool)
            lab[m] = 0
            cmp[m] = 0
    return lab, cmp, piece_cell


def _supervoxels(lab, cmp, piece_cell, min_voxels):
    """Split pieces into 26-connected supervoxels, drop dust; returns sv volume and sv -> cell."""
    sv = cc3d.connected_components(lab, connectivity=26, out_dtype=np.uint32)
    stats = cc3d.statistics(sv)
    counts = stats["voxel_counts"]
    small = np.nonzero(counts < min_voxels)[0]
    small = small[small > 0]
    if len(small):
        keep = np.ones(len(counts), bool)
        keep[small] = False
        dust = ~keep[sv]
        sv[dust] = 0
        lab[dust] = 0
        cmp[dust] = 0
        sv, n = fastremap.renumber(sv, in_place=True)
        sv = sv.astype(np.uint32, copy=False)
    cmap = fastremap.component_map(sv, lab)
    n = int(sv.max())
    sv_piece = np.zeros(n + 1, np.int64)
    for k, v in cmap.items():
        sv_piece[int(k)] = int(v)
    sv_piece[0] = 0
    return sv, piece_cell[sv_piece]


def _union_components(n, pairs):
    parent = np.arange(n + 1)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n + 1)])


def synthesize(*, shape_xyz=EXAMPLE_SHAPE_XYZ, voxel_size_nm=(10, 10, 20), seed: int = 0,
               n_cells: int | None = None, merge_errors: int = 0, split_errors: int = 0,
               glia_merges: int = 0,
               variation: Variation | None = None, verbose: bool = False) -> SynthResult:
    """Generate a synthetic volume of neural tissue with complete ground truth.

    Parameters
    ----------
    shape_xyz : (int, int, int)
        Volume size in voxels, x, y, z.
    voxel_size_nm : (float, float, float)
        Voxel size in nm, x, y, z (anisotropic allowed).
    seed : int
        Seed of the only random generator used; the output is identical for the same seed.
    n_cells : int, optional
        Number of cells (neurons of 4 types plus glia) growing through the volume; default
        scales with the volume.
    merge_errors, split_errors : int
        Number of false merges (edges between supervoxels of different cells) and false splits
        (a supervoxel cut off from its cell) injected into the written agglomeration graph.
    glia_merges : int
        Number of false merges between a glia supervoxel and a neuron supervoxel near it
        (centroids within 1.5 um), as an agglomeration that joins an astrocyte process to a
        neurite: what the glia split (``syconn.proc.glia``) must undo.  Listed in the errors as
        ``glia_merge``.
    variation : Variation, optional
        How this volume's tissue and maps differ from the default example's
        (:meth:`Variation.draw`); its ``voxel_size_nm`` is not used here (pass it as
        ``voxel_size_nm``).  ``None``: the default example's tissue.

    Returns
    -------
    SynthResult

    Examples
    --------
    >>> from syconn.synth import synthesize
    >>> r = synthesize(shape_xyz=(96, 96, 48), seed=1, n_cells=8)
    >>> r.seg.shape, r.seg.dtype.name
    ((96, 96, 48), 'uint64')
    """
    shape, vs_nm = _check_args(shape_xyz, voxel_size_nm, n_cells, merge_errors, split_errors,
                               glia_merges)
    rng = np.random.default_rng(seed)
    var = variation if variation is not None else Variation()
    vs = np.asarray(vs_nm, np.float64) / 1000.0
    size_um = np.asarray(shape) * vs
    tim = {}
    t0 = time.perf_counter()

    def lap(name):
        nonlocal t0
        t = time.perf_counter()
        tim[name] = t - t0
        t0 = t
        if verbose:
            import sys
            print(f"synth: {name} {tim[name]:.2f} s", file=sys.stderr)

    counts = default_cell_counts(size_um, n_cells)
    scene = build_scene(size_um, counts, rng, bouton_radius_um=var.bouton_radius_um,
                        axon_radius_scale=var.axon_radius_scale)
    lap("geometry")
    lab, cmp, piece_cell = _rasterize(scene, shape, vs, var.gap_vx)
    lap("rasterize")
    min_sv = max(8, int(round(0.001 / float(np.prod(vs)))))  # ~0.001 um^3
    sv, sv_cell = _supervoxels(lab, cmp, piece_cell, min_sv)
    del lab
    n_sv = len(sv_cell) - 1
    n_cell_idx = len(scene.cell_type)
    cellvol = sv_cell.astype(np.uint32)[sv]
    # cell id = smallest supervoxel id of the cell
    cell_id = np.zeros(n_cell_idx, np.int64)
    for s_id in range(n_sv, 0, -1):
        cell_id[sv_cell[s_id]] = s_id
    lap("supervoxels")

    edges, sv_table, errors = _agglomeration(sv, sv_cell, cell_id, scene, vs, rng, merge_errors,
                                             split_errors, glia_merges)
    lap("agglomeration")

    mito_vol, mito_table = _mitochondria(scene, cellvol, vs, cell_id)
    lap("mitochondria")

    sj = np.zeros(shape, np.uint8)
    sym = np.zeros(shape, np.uint8)
    asym = np.zeros(shape, np.uint8)
    vc = np.zeros(shape, np.uint8)
    syn_table, ves_prims, clefts, cand_table = _synapses(scene, cellvol, cmp, sj, sym, asym, vc,
                                                         vs, cell_id, rng, var)
    lap("synapses")
    decoys = _decoy_contacts(var, len(syn_table), clefts, cellvol, (sj, sym, asym), vc, vs,
                             cell_id, rng)
    if not var.is_default:
        lap("decoys")

    raw = _raw_em(cellvol, mito_vol, sj, ves_prims, scene, vs, rng)
    lap("raw")

    mi = np.zeros(shape, np.uint8)
    _paint_mito_map(scene, mi, cellvol, vs)
    # false-positive blobs in proportion to the true mitochondria in the volume (not to all of
    # the scene's, most of which lie outside it).  They are specks (radius 40-70 nm, 130-720
    # voxels at 10x10x20 nm), as a classifier's false positives are: the extraction's opening
    # and three erosions leave less than min_obj_vx.mi (500) of them, so the size filter has
    # to remove them.  At 80-150 nm (before) 9 of them, 1.3k-7.4k voxels, passed as objects.
    k = var.smooth_noise_scale
    n_sj_blobs = len(syn_table) // 8 if var.is_default else int(round(
        len(syn_table) * var.decoy_blobs_per_synapse))
    _noisify(mi, vs, rng, amp=22.0 * k, blobs=max(3, len(mito_table) // 2), blob_val=(70, 150),
             cellvol=cellvol, blob_r=(0.04, 0.07))
    _noisify(vc, vs, rng, amp=20.0 * k, blobs=max(3, len(scene.boutons) // 10), blob_val=(60, 140),
             cellvol=cellvol, blob_r=(0.06, 0.12))
    _noisify(sj, vs, rng, amp=10.0 * k, blobs=max(3, n_sj_blobs), blob_val=var.decoy_blob_val,
             cellvol=cellvol, blob_r=(0.05, 0.1))
    _noisify(sym, vs, rng, amp=12.0 * k)
    _noisify(asym, vs, rng, amp=12.0 * k)
    if var.blur_nm > 0 or var.noise_sd > 0:
        for vol in (mi, vc, sj, sym, asym):
            _degrade(vol, vs, rng, blur_nm=var.blur_nm, noise_sd=var.noise_sd)
    lap("maps")

    cells = _cell_table(scene, cellvol, cell_id, vs)
    skel = _skeleton_table(scene, cell_id, vs, size_um)
    cells["cable_length_um"] = _cable_length(skel, cells.cell_id.to_numpy())
    cells["cable_length_no_spines_um"] = _cable_length(skel, cells.cell_id.to_numpy(), no_spines=True)
    seg = sv.astype(np.uint64)
    del sv
    lap("tables")
    return SynthResult(
        shape_xyz=shape, voxel_size_nm=vs_nm, seed=int(seed), raw=raw, seg=seg, mi=mi, vc=vc, sj=sj,
        sym=sym, asym=asym, compartments=cmp, mito=mito_vol, edges=edges, cells=cells,
        supervoxels=sv_table, synapses=syn_table, mitochondria=mito_table, skeletons=skel,
        agglomeration_errors=errors, timings=tim, variation=var, decoys=decoys,
        candidates=cand_table)


# ---------------------------------------------------------------------------- agglomeration


def _agglomeration(sv, sv_cell, cell_id, scene, vs, rng, merge_errors, split_errors,
                   glia_merges=0):
    n_sv = len(sv_cell) - 1
    pairs = K.same_cell_pairs(sv, sv_cell.astype(np.int64))
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    comp = _union_components(n_sv, pairs)
    # link parts of a cell that are disconnected inside the volume (joined outside it)
    extra = []
    first_root = {}
    for s_id in range(1, n_sv + 1):
        if comp[s_id] != s_id:
            continue
        c = sv_cell[s_id]
        if c in first_root:
            extra.append((first_root[c], s_id))
        else:
            first_root[c] = s_id
    edges = np.concatenate([pairs, np.asarray(extra, np.int64).reshape(-1, 2)])
    stats = cc3d.statistics(sv)
    centroid = stats["centroids"] * vs
    sizes = stats["voxel_counts"]
    sv_table = pd.DataFrame({
        "sv_id": np.arange(1, n_sv + 1, dtype=np.uint64),
        "cell_id": cell_id[sv_cell[1:]].astype(np.uint64),
        "size_vx": sizes[1:].astype(np.int64),
        "x": np.round(stats["centroids"][1:, 0], 1), "y": np.round(stats["centroids"][1:, 1], 1),
        "z": np.round(stats["centroids"][1:, 2], 1),
    })
    err = []
    edges = [tuple(e) for e in edges]
    glia = np.array([CELL_TYPES[t].is_glia if t else True for t in scene.cell_type])
    if merge_errors:
        tree = cKDTree(centroid[1:])
        cand = sorted(p for p in tree.query_pairs(1.5) if sv_cell[p[0] + 1] != sv_cell[p[1] + 1]
                      and not glia[sv_cell[p[0] + 1]] and not glia[sv_cell[p[1] + 1]])
        for k in rng.choice(len(cand), size=min(merge_errors, len(cand)), replace=False) if cand else []:
            a, b = cand[k][0] + 1, cand[k][1] + 1
            edges.append((a, b))
            err.append(("merge", a, b))
    if glia_merges:  # drawn after the neuron merges, so volumes without them stay the same
        tree = cKDTree(centroid[1:])
        cand = sorted(p for p in tree.query_pairs(1.5) if sv_cell[p[0] + 1] != sv_cell[p[1] + 1]
                      and sv_cell[p[0] + 1] and sv_cell[p[1] + 1]
                      and glia[sv_cell[p[0] + 1]] != glia[sv_cell[p[1] + 1]])
        for k in rng.choice(len(cand), size=min(glia_merges, len(cand)), replace=False) if cand else []:
            a, b = cand[k][0] + 1, cand[k][1] + 1
            edges.append((a, b))
            err.append(("glia_merge", a, b))
    if split_errors:
        # a supervoxel at the end of an injected merge is not split: cutting its edges would
        # remove the merge again
        merged = {int(v) for _, a, b in err for v in (a, b)}
        multi = [s for s in range(1, n_sv + 1) if sv_cell[s] and np.sum(sv_cell == sv_cell[s]) > 1
                 and s not in merged]
        for s_id in rng.choice(multi, size=min(split_errors, len(multi)), replace=False) if multi else []:
            s_id = int(s_id)
            cut = [e for e in edges if s_id in e and e[0] != e[1]]
            edges = [e for e in edges if s_id not in e]
            for a, b in cut:
                err.append(("split", a, b))
            # the rest of the cell must stay joined: relink its other supervoxels
            rest = [s for s in range(1, n_sv + 1) if sv_cell[s] == sv_cell[s_id] and s != s_id]
            comp2 = _union_components(n_sv, [e for e in edges if e[0] in rest or e[1] in rest])
            roots = sorted({int(comp2[s]) for s in rest})
            edges += [(roots[0], r) for r in roots[1:]]
    in_edge = np.zeros(n_sv + 1, bool)
    for a, b in edges:
        in_edge[a] = in_edge[b] = True
    edges += [(s, s) for s in range(1, n_sv + 1) if not in_edge[s]]  # singleton cells
    edges = np.array(sorted({(min(a, b), max(a, b)) for a, b in edges}), np.uint64).reshape(-1, 2)
    errors = pd.DataFrame(err, columns=["kind", "sv_a", "sv_b"]).astype({"sv_a": np.uint64, "sv_b": np.uint64})
    return edges, sv_table, errors


# ---------------------------------------------------------------------------- mitochondria


def _mito_prims(scene, cell_filter=None):
    p0, p1, r, ids, cells = [], [], [], [], []
    for m, (cell, pts, rm) in enumerate(scene.mitos, start=1):
        for a, b in zip(pts[:-1], pts[1:]):
            p0.append(a)
            p1.append(b)
            r.append(rm)
            ids.append(m)
            cells.append(cell)
    p0 = np.asarray(p0, np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, np.float64).reshape(-1, 3)
    r = np.asarray(r, np.float64)
    return p0, p1, r, np.asarray(ids, np.uint32), np.asarray(cells, np.int64)


def _mitochondria(scene, cellvol, vs, cell_id):
    p0, p1, r, ids, cells = _mito_prims(scene)
    mito = np.zeros(cellvol.shape, np.uint32)
    if len(ids):
        K.paint_label(mito, p0, p1, r, r, ids, cells, cellvol, vs, _XCHUNK)
    counts = np.bincount(mito.ravel(), minlength=len(scene.mitos) + 1)
    keep = np.nonzero(counts[1:] > 0)[0] + 1
    rows = []
    for m in keep:
        cell, pts, rm = scene.mitos[m - 1]
        c = pts.mean(axis=0) / vs
        rows.append((int(m), int(cell_id[cell]), c[0], c[1], c[2],
                     float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum() + 2 * rm), float(rm),
                     int(counts[m])))
    table = pd.DataFrame(rows, columns=["mito_id", "cell_id", "x", "y", "z", "length_um", "radius_um", "size_vx"])
    return mito, table.astype({"mito_id": np.uint64, "cell_id": np.uint64})


def _paint_mito_map(scene, mi, cellvol, vs):
    p0, p1, r, ids, cells = _mito_prims(scene)
    if len(ids):
        n = len(ids)
        K.paint_soft(mi, p0, p1, r, r, np.full(n, 235.0), np.full(n, 0.05), cells, cellvol, vs, _XCHUNK)


# ---------------------------------------------------------------------------- synapses


def _synapses(scene, cellvol, cmp, sj, sym, asym, vc, vs, cell_id, rng, var: Variation):
    """Decide which candidate contacts are synapses, verify them in voxels, paint the maps.

    Returns the synapse table, the vesicle-cloud primitives (for the raw EM) and the cleft
    centres (um) of the accepted synapses.

    With a non-default ``var`` the cleft is verified on a band that follows the local gap
    (``_contact_band``) and the painted sj band may be thinner, shifted into the presynaptic
    cell or lie on that side only; voxel counts of the checks are volumes, so they mean the
    same at every voxel size."""
    default = var.is_default
    types = scene.cell_type
    cand = scene.candidates
    # 1. connectome draw (pre type x post type), at most one synapse per bouton and post cell
    drawn = []
    seen = set()
    fate = ["not_drawn"] * len(cand)
    for k, (pre, post, bouton, kind, point, normal) in enumerate(cand):
        p = CONNECTION_PROB[TYPE_NAMES.index(types[pre]), TYPE_NAMES.index(types[post])]
        if rng.random() < p:
            if (bouton, post) in seen:
                fate[k] = "repeat"
                continue
            seen.add((bouton, post))
            drawn.append(k)
    # 2. vesicle clouds: boutons with a drawn synapse (towards its clefts), some others
    bout_dir = {}
    for k in drawn:
        bout_dir.setdefault(cand[k][2], []).append(cand[k][5])
    vp0, vr, vcell, vval = [], [], [], []
    for bi, (cell, c, rb, _piece) in enumerate(scene.boutons):
        if bi in bout_dir:
            u = _unit(np.mean(bout_dir[bi], axis=0))
            vp0.append(c + u * 0.3 * rb)
            vr.append((0.68 if var.vc_radius_frac is None else rng.uniform(*var.vc_radius_frac))
                      * rb)
            vval.append(rng.uniform(*var.vc_peak))
        elif rng.random() < 0.35:
            vp0.append(c + rng.normal(size=3) * 0.1 * rb)
            vr.append((0.55 if var.vc_radius_frac is None else
                       0.8 * rng.uniform(*var.vc_radius_frac)) * rb)
            vval.append(rng.uniform(150, 220))
        else:
            continue
        vcell.append(cell)
    ves_prims = (np.asarray(vp0, np.float64).reshape(-1, 3), np.asarray(vr, np.float64),
                 np.asarray(vcell, np.int64))
    if vp0:
        n = len(vp0)
        K.paint_soft(vc, ves_prims[0], ves_prims[0], ves_prims[1], ves_prims[1], np.asarray(vval),
                     np.full(n, 0.06), ves_prims[2], cellvol, vs, _XCHUNK)
    # 3. verify each drawn synapse on the voxels; paint sj / sym / asym on its cleft
    w = 0.06  # half width of the cleft band (um)
    rows = []
    accepted: dict[tuple[int, int], list] = {}
    vc_thr = THRESHOLDS["vc"]
    for k in drawn:
        pre, post, bouton, kind, point, normal = cand[k]
        R = rng.uniform(*var.cleft_radius_um)
        weak = rng.random() < var.weak_frac
        crop = _cleft_crop(cellvol, point, R, vs, pre, post)
        if crop is None:
            fate[k] = "no_crop"
            continue
        sl, lo, pre_m, post_m, d_pre, d_post, rho = crop
        if default:
            band = (d_pre <= w) & (d_post <= w) & (rho <= R)
            min_side, min_vc = 120, 200
        else:
            band = _contact_band(d_pre, d_post, pre_m, rho, R, w)
            vox_um3 = float(np.prod(vs))
            min_side = int(np.ceil(_MIN_SIDE_UM3 / vox_um3))
            min_vc = int(np.ceil(_MIN_VC_UM3 / vox_um3))
        n_pre = int(np.count_nonzero(band & pre_m))
        n_post = int(np.count_nonzero(band & post_m))
        n_vc = int(np.count_nonzero((vc[sl] > vc_thr) & pre_m))
        if n_pre < min_side or n_post < min_side or n_vc < min_vc:
            fate[k] = "no_vesicles" if n_pre >= min_side and n_post >= min_side else "small_cleft"
            continue
        loc = np.argwhere(band)
        cen = (loc + lo + 0.5) * vs
        cpoint = cen.mean(axis=0)
        pick = loc[np.argmin(np.linalg.norm(cen - cpoint, axis=1))] + lo
        post_comp = cmp[sl][band & post_m]
        kind_code = int(np.bincount(post_comp, minlength=8).argmax())
        if kind_code not in (C.SPINE_HEAD, C.SPINE_NECK, C.DENDRITE, C.SOMA):
            fate[k] = "post_is_axon"
            continue  # the post side turned out to be an axon: not a synapse
        key = (pre, post)
        # clefts of one cell pair must stay > 250 nm apart (the pipeline merges closer ones)
        if any(np.linalg.norm(cpoint - q) < R + rq + 0.3 for q, rq in accepted.get(key, [])):
            fate[k] = "too_close"
            continue
        accepted.setdefault(key, []).append((cpoint, R))
        fate[k] = "synapse"
        peak = rng.uniform(*var.weak_peak) if weak else rng.uniform(*var.sj_peak)
        f = np.clip(1.15 * (1.0 - (rho / R) ** 3), 0, 1) * (1.0 - 0.2 * np.clip(
            np.minimum(d_pre, d_post) / w, 0, 1))
        paint = band
        if not default:
            one_side = rng.random() < var.sj_one_side_frac
            paint = _contact_band(d_pre, d_post, pre_m, rho, R, var.sj_half_width_um,
                                  offset=var.sj_half_width_um if one_side else var.sj_offset_um)
            f = np.clip(1.15 * (1.0 - (rho / R) ** 3), 0, 1)
        if not default and rng.random() < var.sj_blob_frac:
            sigma_t = rng.uniform(*var.sj_blob_spread) * R
            # out to 3 sigma, past the cleft's crop: a wide blob reaches a third cell's contacts
            bsl = _crop_slices(cpoint, max(R + 0.01, 3.0 * sigma_t), vs, sj.shape)
            blob = _cleft_blob(bsl, cpoint, normal, vs, rng.uniform(*var.sj_blob_sigma_um),
                               sigma_t)
            val = np.clip(peak * blob, 0, 255).astype(np.uint8)
            np.maximum(sj[bsl], val, out=sj[bsl])
        else:
            val = np.where(paint, peak * f, 0).astype(np.uint8)
            np.maximum(sj[sl], val, out=sj[sl])
        sign = CELL_TYPES[types[pre]].sign
        _paint_syntype(sym, asym, sl, band, f, rng, inhibitory=sign < 0)
        rows.append((int(cell_id[pre]), int(cell_id[post]), types[pre], types[post], int(pick[0]),
                     int(pick[1]), int(pick[2]), int(sign), _POST_KIND.get(kind_code, "other"),
                     float(np.pi * R * R), int(n_pre + n_post), bool(weak)))
    cols = ["pre_cell_id", "post_cell_id", "pre_type", "post_type", "x", "y", "z", "sign",
            "post_compartment", "cleft_area_um2", "cleft_size_vx", "weak"]
    table = pd.DataFrame(rows, columns=cols)
    table = table.sort_values(["x", "y", "z", "pre_cell_id", "post_cell_id"], kind="stable").reset_index(drop=True)
    table.insert(0, "syn_id", np.arange(1, len(table) + 1, dtype=np.uint64))
    table = table.astype({"pre_cell_id": np.uint64, "post_cell_id": np.uint64})
    clefts = np.array([q for qs in accepted.values() for q, _ in qs]).reshape(-1, 3)
    shape = np.asarray(cellvol.shape)
    crows = []
    for k, (pre, post, bouton, kind, point, _normal) in enumerate(cand):
        v = np.floor(np.asarray(point) / vs).astype(np.int64)
        outside = (v < 0).any() or (v >= shape).any()
        if (outside and fate[k] != "synapse") or not cell_id[pre] or not cell_id[post]:
            continue  # outside the volume (or a partner is): nothing of it to find
        v = np.clip(v, 0, shape - 1)  # a synapse's cleft reaches into the volume
        crows.append((int(cell_id[pre]), int(cell_id[post]), int(bouton), types[pre],
                      types[post], _POST_KIND.get(int(kind), "other"), int(v[0]), int(v[1]),
                      int(v[2]), fate[k]))
    return table, ves_prims, clefts, _candidate_table(crows)


def _cleft_crop(cellvol, point, R, vs, a, b):
    """The crop around a cleft centre ``point`` (um) of radius ``R`` between cells ``a`` and
    ``b``: ``(slice, offset, mask a, mask b, distance to a, distance to b, distance to the
    centre)`` (um), or None where the crop is thinner than 3 voxels or misses a cell."""
    sl = _crop_slices(point, R + 0.01, vs, cellvol.shape)
    lo = np.array([s.start for s in sl])
    hi = np.array([s.stop for s in sl])
    if np.any(hi - lo < 3):
        return None
    crop = cellvol[sl]
    a_m, b_m = crop == a, crop == b
    if not a_m.any() or not b_m.any():
        return None
    d_a = edt.edt(~a_m, anisotropy=tuple(vs), black_border=False, parallel=1)
    d_b = edt.edt(~b_m, anisotropy=tuple(vs), black_border=False, parallel=1)
    ax = [((np.arange(i, j) + 0.5) * v - q) ** 2 for i, j, v, q in zip(lo, hi, vs, point)]
    rho = np.sqrt(ax[0][:, None, None] + ax[1][None, :, None] + ax[2][None, None, :])
    return sl, lo, a_m, b_m, d_a, d_b, rho


def _crop_slices(point, half_um, vs, shape):
    """The voxel slices of the box of half size ``half_um`` around ``point`` (um), clipped."""
    half = np.ceil(half_um / vs).astype(int)
    cvox = np.floor(point / vs).astype(int)
    lo = np.maximum(cvox - half, 0)
    hi = np.minimum(cvox + half + 1, np.asarray(shape))
    return tuple(slice(int(i), int(j)) for i, j in zip(lo, hi))


def _cleft_blob(sl, centre, normal, vs, sigma_n, sigma_t):
    """A Gaussian (peak 1) over the crop ``sl``, centred on ``centre`` (um), with sigma
    ``sigma_n`` along ``normal`` and ``sigma_t`` across it."""
    ax = [(np.arange(s.start, s.stop) + 0.5) * v - c for s, v, c in zip(sl, vs, centre)]
    g = np.stack(np.meshgrid(*ax, indexing="ij"), axis=-1)
    n = np.asarray(normal, np.float64) / max(float(np.linalg.norm(normal)), 1e-12)
    along = g @ n
    across2 = (g ** 2).sum(axis=-1) - along ** 2
    return np.exp(-0.5 * (along ** 2 / sigma_n ** 2 + across2 / sigma_t ** 2))


def _paint_syntype(sym, asym, sl, band, f, rng, *, inhibitory=None):
    """Synapse-type maps on a cleft band: strong (170-240) on the type's map, weak (20-60) on
    the other; ``inhibitory=None`` draws the type (after the values)."""
    hi_v = np.where(band, rng.uniform(170, 240) * np.clip(f * 1.3, 0, 1), 0).astype(np.uint8)
    lo_v = np.where(band, rng.uniform(20, 60) * f, 0).astype(np.uint8)
    if inhibitory is None:
        inhibitory = rng.random() < 0.5
    strong, weak = (sym, asym) if inhibitory else (asym, sym)
    np.maximum(strong[sl], hi_v, out=strong[sl])
    np.maximum(weak[sl], lo_v, out=weak[sl])


# a verified cleft has this much band volume on each side and of vesicle cloud in the
# presynaptic cell (um^3; the default example's 120 and 200 voxels of 10 x 10 x 20 nm)
_MIN_SIDE_UM3 = 120 * 2e-6
_MIN_VC_UM3 = 200 * 2e-6


def _contact_band(d_pre, d_post, pre_m, rho, R, w, offset=0.0):
    """Voxels of a cleft band: within ``rho <= R`` of the cleft centre, reaching ``w + offset``
    into the presynaptic and ``w - offset`` into the postsynaptic cell from the membrane, and
    the extracellular gap between them.

    ``d_pre`` / ``d_post`` are the distances (um) to the nearest voxel of each cell; the local
    gap is the smallest ``d_post`` of a presynaptic voxel in the disc, so the band reaches as
    deep into the cells whatever the gap (a fixed distance to both cells finds no voxel of
    either across a gap wider than it)."""
    disc = rho <= R
    near = d_post[pre_m & disc]
    gap = float(near.min()) if near.size else 0.0
    return disc & (d_post <= gap + w + offset) & (d_pre <= gap + w - offset)


def _decoy_contacts(var: Variation, n_synapses, clefts, cellvol, maps, vc, vs, cell_id, rng):
    """sj bands on contacts that are not synapses (``var.decoy_contacts_per_synapse``).

    A decoy lies where two cells come within ``gap_vx + 1`` voxels of each other, at least
    1 um from every true cleft and with no vesicle cloud above threshold within its disc, so
    that nothing but the vesicles tells it from a synapse: its sj band and its sym/asym
    signal (of a random type) are painted as a synapse's.  ``maps``: the sj, sym and asym
    volumes.  Returns the decoys as a table (cell ids of the two cells, the centre voxel)."""
    sj, sym, asym = maps
    cols = {"cell_a": [], "cell_b": [], "x": [], "y": [], "z": []}
    n = int(round(n_synapses * var.decoy_contacts_per_synapse))
    shape = np.array(cellvol.shape)
    reach = var.gap_vx + 1
    tree = cKDTree(clefts) if len(clefts) else None
    vc_thr = THRESHOLDS["vc"]
    tries = 0
    while len(cols["x"]) < n and tries < 200 * max(n, 1):
        tries += 1
        p = (rng.random(3) * shape).astype(int)
        a = int(cellvol[p[0], p[1], p[2]])
        if a == 0:
            continue
        lo = np.maximum(p - reach, 0)
        hi = np.minimum(p + reach + 1, shape)
        near = cellvol[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        others = near[(near != a) & (near != 0)]
        if not others.size:
            continue
        b = int(np.bincount(others).argmax())
        point = (p + 0.5) * vs
        if tree is not None and tree.query_ball_point(point, 1.0):
            continue
        R = rng.uniform(*var.cleft_radius_um)
        crop = _cleft_crop(cellvol, point, R, vs, a, b)
        if crop is None:
            continue
        sl, _, a_m, b_m, d_a, d_b, rho = crop
        band = _contact_band(d_a, d_b, a_m, rho, R, var.sj_half_width_um)
        min_side = int(np.ceil(_MIN_SIDE_UM3 / float(np.prod(vs))))
        if (np.count_nonzero(band & a_m) < min_side or np.count_nonzero(band & b_m) < min_side
                or np.any(vc[sl][rho <= R + 0.2] > vc_thr)):
            continue
        f = np.clip(1.15 * (1.0 - (rho / R) ** 3), 0, 1)
        val = np.where(band, rng.uniform(*var.decoy_contact_peak) * f, 0).astype(np.uint8)
        np.maximum(sj[sl], val, out=sj[sl])
        _paint_syntype(sym, asym, sl, band, f, rng)
        ca, cb = sorted((int(cell_id[a]), int(cell_id[b])))
        for k, v in zip(("cell_a", "cell_b", "x", "y", "z"), (ca, cb, *p)):
            cols[k].append(int(v))
    return pd.DataFrame({"cell_a": np.array(cols["cell_a"], np.uint64),
                         "cell_b": np.array(cols["cell_b"], np.uint64),
                         **{c: np.array(cols[c], np.int64) for c in "xyz"}})


def _degrade(vol, vs, rng, *, blur_nm: float, noise_sd: float) -> None:
    """Blur (Gaussian, sigma ``blur_nm``) and per-voxel Gaussian noise (sd ``noise_sd``) on a
    uint8 map, in place, in slabs of x with a halo (memory: two float32 slabs)."""
    sigma = tuple(blur_nm / 1000.0 / v for v in vs)
    halo = int(np.ceil(4 * max(sigma))) if blur_nm > 0 else 0
    nx = vol.shape[0]
    slab = 64
    seeds = rng.integers(0, 2**63, size=(nx + slab - 1) // slab)
    out = []
    for k, x0 in enumerate(range(0, nx, slab)):
        x1 = min(nx, x0 + slab)
        a, b = max(0, x0 - halo), min(nx, x1 + halo)
        buf = vol[a:b].astype(np.float32)
        if blur_nm > 0:
            buf = ndimage.gaussian_filter(buf, sigma=sigma, mode="nearest")
        sub = buf[x0 - a:x0 - a + (x1 - x0)]
        if noise_sd > 0:
            sub += np.random.default_rng(seeds[k]).standard_normal(sub.shape, np.float32) * noise_sd
        out.append(np.clip(np.rint(sub), 0, 255).astype(np.uint8))
    vol[...] = np.concatenate(out, axis=0)


def _unit(v):
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


# ---------------------------------------------------------------------------- maps and raw


def _coarse_noise(shape, step_vx, rng):
    cshape = tuple(int(np.ceil(s / st)) + 2 for s, st in zip(shape, step_vx))
    return rng.standard_normal(cshape)


def _noisify(vol, vs, rng, *, amp, blobs=0, blob_val=(60, 150), cellvol=None, blob_r=(0.06, 0.12)):
    """Smooth noise plus false-positive blobs inside random cells."""
    if blobs and cellvol is not None:
        shape = np.array(vol.shape)
        pts = (rng.random((blobs * 4, 3)) * shape).astype(int)
        inside = cellvol[pts[:, 0], pts[:, 1], pts[:, 2]] > 0
        pts = pts[inside][:blobs]
        if len(pts):
            c = (pts + 0.5) * vs
            r = rng.uniform(*blob_r, size=len(pts))
            K.paint_soft(vol, c, c + rng.normal(size=c.shape) * 0.05, r, r,
                         rng.uniform(*blob_val, size=len(pts)), np.full(len(pts), 0.05),
                         np.zeros(len(pts), np.int64), vol, vs, _XCHUNK)
    step = np.maximum(1, np.round(0.25 / vs)).astype(np.float64)  # ~250 nm correlation length
    coarse = _coarse_noise(vol.shape, step, rng)
    K.add_smooth(vol, coarse, step, amp, 0.0, 255.0)


def _raw_em(cellvol, mito, sj, ves_prims, scene, vs, rng):
    shape = cellvol.shape
    n_cells = len(scene.cell_type)
    tone = np.empty(n_cells, np.float64)
    for c, t in enumerate(scene.cell_type):
        tone[c] = rng.uniform(182, 200) if (t and CELL_TYPES[t].is_glia) else rng.uniform(150, 172)
    # vesicles: ~40 nm dark dots scattered in vesicle clouds
    ves = np.zeros(shape, np.uint8)
    c0, r0, cells = ves_prims
    if len(c0):
        counts = np.clip((r0 / 0.055) ** 3 * 1.2, 10, 400).astype(int)
        centers = np.repeat(c0, counts, axis=0) + _ball(rng, counts.sum()) * np.repeat(r0, counts)[:, None]
        cc = np.repeat(cells, counts)
        rad = np.full(len(centers), 0.02)
        K.paint_soft(ves, centers, centers, rad, rad, np.full(len(centers), 255.0),
                     np.full(len(centers), 0.02), cc, cellvol, vs, _XCHUNK)
    raw = np.empty(shape, np.uint8)
    sigma = (0.9, 0.9, 0.9 * vs[0] / vs[2])
    halo = 4
    slab = 32
    zoff = rng.normal(0, 3.0, size=shape[2])
    step = np.maximum(1, np.round(0.5 / vs)).astype(np.float64)
    coarse = _coarse_noise(shape, step, rng)
    seeds = rng.integers(0, 2**63, size=(shape[0] + slab - 1) // slab)
    for n, x0 in enumerate(range(0, shape[0], slab)):
        x1 = min(shape[0], x0 + slab)
        a, b = max(0, x0 - halo), min(shape[0], x1 + halo)
        buf = np.empty((b - a,) + shape[1:], np.float32)
        K.membrane_base(cellvol, mito, tone, buf, a)
        buf -= 0.45 * ves[a:b]
        buf -= 0.35 * sj[a:b]
        buf += zoff[None, None, :]
        buf = ndimage.gaussian_filter(buf, sigma=sigma, mode="nearest")
        sub = buf[x0 - a:x0 - a + (x1 - x0)]
        sub += np.random.default_rng(seeds[n]).standard_normal(sub.shape, dtype=np.float32) * 9.0
        raw[x0:x1] = np.clip(sub, 0, 255).astype(np.uint8)
    K.add_smooth(raw, coarse, step, 8.0, 0.0, 255.0)  # low-frequency staining variation
    return raw


def _ball(rng, n):
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v * rng.random((n, 1)) ** (1 / 3)


# ---------------------------------------------------------------------------- tables


def _cell_table(scene, cellvol, cell_id, vs):
    counts = np.bincount(cellvol.ravel(), minlength=len(scene.cell_type))
    rows = []
    for c in range(1, len(scene.cell_type)):
        if counts[c] == 0:
            continue
        t = scene.cell_type[c]
        ct = CELL_TYPES[t]
        sc = scene.soma_center[c]
        rows.append((int(cell_id[c]), t, ct.code, ct.is_glia, ct.sign, sc is not None,
                     *(np.asarray(sc) / vs if sc is not None else (np.nan,) * 3),
                     float(scene.soma_radius[c]), int(counts[c])))
    cols = ["cell_id", "type", "type_code", "is_glia", "sign", "has_soma", "soma_x", "soma_y", "soma_z",
            "soma_radius_um", "size_vx"]
    return pd.DataFrame(rows, columns=cols).astype({"cell_id": np.uint64}).sort_values("cell_id").reset_index(drop=True)


SKELETON_MAX_EDGE_UM = 0.5  # consecutive ground-truth skeleton nodes are at most this far apart
_SPINE_NAMES = ("spine_neck", "spine_head")
_COMP_NAMES = {int(C.DENDRITE): "dendrite", int(C.AXON): "axon", int(C.SOMA): "soma",
               int(C.SPINE_NECK): "spine_neck", int(C.SPINE_HEAD): "spine_head", int(C.GLIA): "glia"}


def _clip_segments(a, b, lo, hi):
    """Liang-Barsky: parameters ``t0 <= t1`` of the part of segments ``a -> b`` inside the box.

    ``t0 > t1`` where a segment misses the box; ``t0 == 0`` where ``a`` lies inside (closed box)
    and ``t1 == 1`` where ``b`` does.
    """
    d = b - a
    t0 = np.zeros(len(a))
    t1 = np.ones(len(a))
    with np.errstate(divide="ignore", invalid="ignore"):
        for ax in range(3):
            da, pa = d[:, ax], a[:, ax]
            ta = (lo[ax] - pa) / da
            tb = (hi[ax] - pa) / da
            flat = da == 0
            enter = np.where(flat, -np.inf, np.minimum(ta, tb))
            leave = np.where(flat, np.inf, np.maximum(ta, tb))
            miss = flat & ((pa < lo[ax]) | (pa > hi[ax]))
            t0 = np.maximum(t0, enter)
            t1 = np.minimum(t1, np.where(miss, -np.inf, leave))
    return t0, t1


def _skeleton_table(scene, cell_id, vs, size_um, max_edge_um=SKELETON_MAX_EDGE_UM):
    """Ground-truth skeletons of the cells inside the volume.

    Every skeleton edge is clipped to the volume box: a node is added where an edge crosses the
    border, the inside part is kept and the outside part dropped, so the cable length is the
    length of the centre lines inside the volume (a tree cut by the border becomes several trees
    whose roots / leaves lie on the border).  Edges are resampled so that consecutive nodes are
    at most ``max_edge_um`` apart.  A new node takes the compartment of the edge it lies on (the
    child's, except that edges leaving a soma node run inside the soma and are ``soma``) and a
    radius interpolated between the edge's ends.  Nodes are in voxel coordinates with
    ``0 <= x < shape`` (a border node on an upper face sits 1e-9 um inside it).
    """
    n_all = len(scene.nodes)
    arr = np.array([n[:7] for n in scene.nodes], np.float64).reshape(-1, 7)
    cell = arr[:, 0].astype(np.int64)
    pos = arr[:, 1:4]
    rad = arr[:, 4]
    comp = arr[:, 5].astype(np.int64)
    parent = arr[:, 6].astype(np.int64)
    lo = np.zeros(3)
    hi = np.asarray(size_um, np.float64) - 1e-9
    alive = cell_id[cell] > 0
    inside = alive & np.all((pos >= lo) & (pos <= hi), axis=1)
    # the incoming edge of every node: parent -> node (parents come from the same cell)
    has_edge = alive & (parent >= 0)
    par = np.maximum(parent, 0)
    t0, t1 = _clip_segments(pos[par], pos, lo, hi)
    t0 = np.where(inside[par], 0.0, t0)
    t1 = np.where(inside, 1.0, t1)
    elen = np.linalg.norm(pos - pos[par], axis=1)
    clen = np.clip(t1 - t0, 0.0, 1.0) * elen
    # an edge is kept where a part of positive length lies inside; an inside node whose edge
    # only touches the box (or has no edge) becomes a root
    keep_edge = has_edge & (clen > 0)
    new_start = keep_edge & ~inside[par]
    m = np.where(keep_edge, np.maximum(1, np.ceil(clen / max_edge_um - 1e-9)), 0).astype(np.int64)
    # nodes emitted for the edge into node i: [new start], m - 1 inner nodes, end (i or new)
    n_out = np.where(keep_edge, new_start + m, inside.astype(np.int64))
    first = np.concatenate([[0], np.cumsum(n_out)[:-1]]).astype(np.int64)
    total = int(n_out.sum())
    out_id = np.where(inside, first + n_out - 1, -1)  # output id of each original inside node
    # per output node: its original edge (node index) and chain position j (0 = new start)
    src = np.repeat(np.arange(n_all), n_out)
    k = np.arange(total) - first[src]
    j = k + np.where(new_start[src], 0, 1)
    frac = np.where(m[src] > 0, j / np.maximum(m[src], 1), 1.0)
    t = t0[src] + (t1[src] - t0[src]) * frac
    a, b = pos[par[src]], pos[src]
    xyz = np.clip(a + (b - a) * t[:, None], lo, hi)
    r_out = rad[par[src]] + (rad[src] - rad[par[src]]) * t
    is_end = k == n_out[src] - 1
    orig = is_end & inside[src]
    xyz[orig] = pos[src[orig]]
    r_out[orig] = rad[src[orig]]
    edge_comp = np.where(comp[par] == int(C.SOMA), int(C.SOMA), comp)
    c_out = np.where(orig, comp[src], edge_comp[src])
    # parents: the previous node of the chain; the first node of a chain hangs on the parent's
    # output node (inside) or is a root (new start on the border, or an edge-less node)
    p_out = np.arange(total, dtype=np.int64) - 1
    head = k == 0
    p_out[head] = np.where(keep_edge[src[head]] & ~new_start[src[head]], out_id[par[src[head]]], -1)
    v = xyz / vs
    return pd.DataFrame({
        "cell_id": cell_id[cell[src]].astype(np.uint64),
        "node_id": np.arange(total, dtype=np.int64),
        "parent_id": p_out,
        "x": v[:, 0], "y": v[:, 1], "z": v[:, 2],
        "x_nm": xyz[:, 0] * 1000, "y_nm": xyz[:, 1] * 1000, "z_nm": xyz[:, 2] * 1000,
        "radius_um": r_out,
        "compartment": [_COMP_NAMES[c] for c in c_out],
    })


def _cable_length(skel, cell_ids, *, no_spines=False):
    """Total length (um) of skeleton edges per cell in ``cell_ids`` (the skeletons are clipped
    to the volume); ``no_spines`` leaves out edges whose child node is a spine neck or head."""
    par = skel.parent_id.to_numpy()
    has = par >= 0
    if no_spines:
        has &= ~skel.compartment.isin(_SPINE_NAMES).to_numpy()
    xyz = skel[["x_nm", "y_nm", "z_nm"]].to_numpy()
    seg = np.zeros(len(skel))
    seg[has] = np.linalg.norm(xyz[has] - xyz[par[has]], axis=1) / 1000.0
    tot = pd.Series(seg).groupby(skel.cell_id.to_numpy()).sum()
    return tot.reindex(cell_ids).fillna(0.0).to_numpy()
