"""Cell skeletons: blockwise kimimaro TEASAR, merged into one tree per cell (reference §3.1).

Coordinates
-----------
Vertices are in nm in the global frame where the centre of mag-1 voxel ``(i, j, k)`` lies at
``(i, j, k) * voxel_size_nm`` (the same frame as :mod:`syconn.proc.meshes`).  Every vertex is
a voxel centre of the downsampled grid, so ``vertices / voxel_size_nm`` are integer mag-1 voxel
coordinates (:meth:`Skeleton.vertices_vx`).

Block contract (skeletonization)
--------------------------------
As for meshing: block cores start at a multiple of ``downsampling`` and have a size that is a
multiple of it (except the last block of an axis); ``skeletonize_block`` receives the core plus
at least one mag-1 voxel of overlap on the upper side of every axis where the volume continues
(one downsampled voxel, i.e. ``downsampling`` voxels, is natural; with ``core_shape_xyz`` extra
overlap is cropped).  The block is downsampled by striding (mag-1 voxel ``offset + ds * I``,
SyConn's order-0 zoom with ``ds = voxel_z // voxel_xyz``, (2, 2, 1) for 10x10x20 nm), so two
neighbouring blocks share exactly one sampled plane.  kimimaro's ``fix_borders`` places a path
end at the same point of every cross-section on that plane in both blocks, and vertices are
computed exactly from their global voxel index, so the pieces of one cell share bit-identical
vertices at block faces; :func:`merge_skeletons` welds them, removes loops, ticks and dust,
and connects what is left into one tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from syconn.errors import InputError
from syconn.proc.meshes import _block_geometry, _check_labels, _vec3, _vertices_and_indices

__all__ = [
    "Skeleton",
    "TEASAR_PARAMS",
    "BEND_TOLERANCE",
    "skeleton_downsampling",
    "skeletonize_block",
    "merge_skeletons",
    "skeleton_stats",
    "skeleton_components",
    "edge_mask",
    "twig_mask",
    "terminal_branches",
    "retract_tips",
    "tip_retraction_args",
]

TEASAR_PARAMS: dict[str, float] = {
    "scale": 2.0,
    "const": 500.0,                      # nm
    "pdrf_scale": 100000.0,
    "pdrf_exponent": 4,
    "soma_detection_threshold": 1000.0,  # nm
    "soma_acceptance_threshold": 3000.0, # nm
    "soma_invalidation_scale": 1.0,
    "soma_invalidation_const": 2000.0,   # nm
    "max_paths": 100,
}
"""SyConn's kimimaro TEASAR parameters (reference §3.1); ``scale``, ``const``, ``pdrf_*`` are
also in ``config.skeleton.kimimaro_skelgen`` and should be passed from there."""

BEND_TOLERANCE = 0.1
"""The ``bend_tolerance`` of :func:`merge_skeletons` measured (fraction of an edge's length);
off by default: on the default example's seeds 0-2 it kept tortuous afferent axons' cable
(seed 2: 73.5 -> 85.3 % of neurons within 10 %) but lengthened the others more (seed 1:
91.2 -> 76.5 %; 100 neurons pooled 86 -> 84 %), see docs/accuracy.md."""


@dataclass(eq=False)
class Skeleton:
    """A skeleton graph: ``vertices`` float32 ``(n, 3)`` nm, ``edges`` uint32 ``(e, 2)``,
    ``radii_nm`` float32 ``(n,)`` (distance to the cell boundary), ``bridges`` bool ``(e,)``:
    the edges :func:`merge_skeletons` added only to join the parts of a cell (straight lines,
    not traced cable; default none)."""

    vertices: np.ndarray
    edges: np.ndarray
    radii_nm: np.ndarray | None = None
    bridges: np.ndarray | None = None

    def __post_init__(self) -> None:
        v, e = _vertices_and_indices(self.vertices, self.edges, 2, "Skeleton", "edges")
        r = np.zeros(len(v), np.float32) if self.radii_nm is None else \
            np.ascontiguousarray(self.radii_nm, dtype=np.float32).reshape(-1)
        if r.shape != (len(v),):
            raise InputError(f"Skeleton.radii_nm: got {r.shape[0]} values for {len(v)} vertices")
        b = np.zeros(len(e), bool) if self.bridges is None else \
            np.asarray(self.bridges).reshape(-1).astype(bool)
        if b.shape != (len(e),):
            raise InputError(f"Skeleton.bridges: got {b.shape[0]} values for {len(e)} edges")
        self.vertices, self.edges, self.radii_nm, self.bridges = v, e, r, b

    @classmethod
    def empty(cls) -> Skeleton:
        return cls(np.zeros((0, 3), np.float32), np.zeros((0, 2), np.uint32))

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edges.shape[0])

    def vertices_vx(self, voxel_size_nm: Sequence[float]) -> np.ndarray:
        """Vertices as mag-1 voxel coordinates (int64; exact for skeletons made here)."""
        vs = _vec3(voxel_size_nm, "voxel_size_nm", positive=True)
        return np.rint(self.vertices.astype(np.float64) / vs).astype(np.int64)

    def __repr__(self) -> str:
        return f"Skeleton(n_vertices={self.n_vertices}, n_edges={self.n_edges})"


def skeleton_downsampling(voxel_size_nm: Sequence[float]) -> tuple[int, int, int]:
    """SyConn's skeletonization stride ``voxel_z // voxel`` per axis ((2, 2, 1) for 10x10x20 nm)."""
    vs = _vec3(voxel_size_nm, "voxel_size_nm", positive=True)
    return tuple(max(1, int(vs[2] // v)) for v in vs)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# blockwise skeletonization
# --------------------------------------------------------------------------------------------

def skeletonize_block(
    labels: np.ndarray,
    *,
    voxel_size_nm: Sequence[float],
    offset_xyz: Sequence[int] = (0, 0, 0),
    downsampling: Sequence[int] | None = None,
    teasar_params: Mapping[str, float] | None = None,
    dust_threshold: int = 1000,
    fix_branching: bool = True,
    fix_borders: bool = True,
    fill_holes: bool = True,
    ids: Iterable[int] | None = None,
    core_shape_xyz: Sequence[int] | None = None,
    volume_shape_xyz: Sequence[int] | None = None,
) -> dict[int, Skeleton]:
    """Skeletonize every object of a label block with kimimaro (TEASAR).

    Parameters
    ----------
    labels
        Integer cell-id block indexed ``[x, y, z]`` (0 = background): the core plus the
        upper-side overlap of the module docstring.
    voxel_size_nm
        Mag-1 voxel size (x, y, z) in nm.
    offset_xyz
        Global mag-1 voxel coordinate of ``labels[0, 0, 0]``; a multiple of ``downsampling``.
    downsampling
        Stride per axis; ``None`` = :func:`skeleton_downsampling` (SyConn).
    teasar_params
        Overrides of :data:`TEASAR_PARAMS` (physical units are nm).
    dust_threshold
        Connected components of fewer downsampled voxels are skipped *within this block*
        (kimimaro_skelgen.dust_threshold, 1000).  A small piece of a large cell cut off by a
        block corner is therefore skipped; :func:`merge_skeletons` bridges the gap.
    fix_branching, fix_borders, fill_holes
        kimimaro options (SyConn: all True).  ``fix_borders`` must stay on for blockwise use.
    ids
        Skeletonize only these labels.
    core_shape_xyz, volume_shape_xyz
        As in :func:`syconn.proc.meshes.mesh_block`; ``volume_shape_xyz`` is only validated.

    Returns
    -------
    dict
        ``{label: Skeleton}`` sorted by label, vertices in global nm.
    """
    import kimimaro

    labels = _check_labels(labels)
    vs = _vec3(voxel_size_nm, "voxel_size_nm", positive=True)
    if downsampling is None:
        downsampling = skeleton_downsampling(vs)
    params = dict(TEASAR_PARAMS)
    if teasar_params:
        unknown = set(teasar_params) - set(TEASAR_PARAMS)
        if unknown:
            raise InputError(f"teasar_params: unknown key(s) {sorted(unknown)}, allowed: "
                             f"{', '.join(TEASAR_PARAMS)}")
        params.update({k: float(v) for k, v in teasar_params.items()})
    for k in ("max_paths", "pdrf_exponent"):          # kimimaro needs integers here
        params[k] = int(params[k])
    if int(dust_threshold) != dust_threshold or dust_threshold < 0:
        raise InputError(f"dust_threshold: got {dust_threshold!r}, expected an integer >= 0 "
                         "(voxels)")
    labels, off, ds, _, _ = _block_geometry(labels, offset_xyz, downsampling, core_shape_xyz,
                                            volume_shape_xyz)
    if labels.dtype == bool:
        labels = labels.view(np.uint8)
    if labels.dtype.kind == "i":
        if labels.size and labels.min() < 0:
            raise InputError("labels: negative label found, expected labels >= 0")
        labels = labels.astype(np.uint64)
    sub = np.asfortranarray(labels[:: ds[0], :: ds[1], :: ds[2]])
    if sub.size == 0 or not sub.any():
        return {}
    object_ids = None
    if ids is not None:
        object_ids = sorted({int(i) for i in ids} - {0})
        if not object_ids:
            return {}
    aniso = vs * ds
    skels = kimimaro.skeletonize(
        sub, teasar_params=params, anisotropy=tuple(aniso.tolist()), object_ids=object_ids,
        dust_threshold=int(dust_threshold), progress=False, fix_branching=bool(fix_branching),
        in_place=True, fix_borders=bool(fix_borders), parallel=1, fill_holes=bool(fill_holes),
    )
    out: dict[int, Skeleton] = {}
    for label in sorted(int(k) for k in skels):
        s = skels[label]
        if len(s.vertices) == 0:
            continue
        idx = np.rint(np.asarray(s.vertices, np.float64) / aniso)     # downsampled voxel index
        v = (off + idx * ds) * vs                                     # exact global nm
        out[label] = Skeleton(v.astype(np.float32), np.asarray(s.edges, np.uint32),
                              np.asarray(s.radius, np.float32))
    return out


# --------------------------------------------------------------------------------------------
# merging
# --------------------------------------------------------------------------------------------

def _weld(pieces: Sequence[Skeleton]) -> Skeleton:
    verts = np.concatenate([p.vertices for p in pieces]) + np.float32(0)   # -0.0 -> 0.0
    radii = np.concatenate([p.radii_nm for p in pieces])
    offs = np.cumsum([0] + [p.n_vertices for p in pieces[:-1]])
    edges = np.concatenate([p.edges.astype(np.int64) + o for p, o in zip(pieces, offs)])
    uv, inv = np.unique(verts, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    r = np.zeros(len(uv), np.float32)
    np.maximum.at(r, inv, radii)
    return Skeleton(uv, _clean_edges(inv[edges]), r)


def _clean_edges(e: np.ndarray) -> np.ndarray:
    e = np.sort(np.asarray(e, np.int64).reshape(-1, 2), axis=1)
    e = e[e[:, 0] != e[:, 1]]
    if len(e) == 0:
        return np.zeros((0, 2), np.uint32)
    return np.unique(e, axis=0).astype(np.uint32)


def _components(n: int, edges: np.ndarray) -> tuple[int, np.ndarray]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    e = edges.astype(np.int64)
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    return connected_components(g, directed=False)


def _edge_lengths(skel: Skeleton) -> np.ndarray:
    v = skel.vertices.astype(np.float64)
    e = skel.edges.astype(np.int64)
    return np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1)


def _subset(skel: Skeleton, keep: np.ndarray) -> Skeleton:
    """Vertices where ``keep``; edges between kept vertices."""
    remap = np.cumsum(keep) - 1
    e = skel.edges.astype(np.int64)
    ek = keep[e[:, 0]] & keep[e[:, 1]]
    return Skeleton(skel.vertices[keep], remap[e[ek]], skel.radii_nm[keep])


def _remove_dust(skel: Skeleton, dust_nm: float) -> Skeleton:
    """Drop components with cable length < dust_nm; the longest component always stays."""
    n_comp, lab = _components(skel.n_vertices, skel.edges)
    if n_comp <= 1:
        return skel
    cable = np.zeros(n_comp)
    if skel.n_edges:
        np.add.at(cable, lab[skel.edges[:, 0].astype(np.int64)], _edge_lengths(skel))
    keep_comp = cable >= dust_nm
    keep_comp[int(np.argmax(cable))] = True
    return _subset(skel, keep_comp[lab])


def _connect_components(skel: Skeleton) -> tuple[Skeleton, np.ndarray]:
    """Join all components into one (Prim on components: repeatedly add the globally closest
    vertex pair between the growing tree, seeded with the largest component, and the rest).

    Returns the skeleton and the added edges ``(k, 2)`` (vertex indices)."""
    from scipy.spatial import cKDTree

    n_comp, lab = _components(skel.n_vertices, skel.edges)
    if n_comp <= 1:
        return skel, np.zeros((0, 2), np.int64)
    v = skel.vertices.astype(np.float64)
    members = [np.flatnonzero(lab == c) for c in range(n_comp)]
    sizes = np.array([len(m) for m in members])
    start = int(np.argmax(sizes))
    trees = [cKDTree(v[m]) for m in members]
    in_tree = np.zeros(n_comp, bool)
    in_tree[start] = True
    # best[c] = (distance, vertex in tree, vertex in c) for every component c not in the tree
    best_d = np.full(n_comp, np.inf)
    best_a = np.zeros(n_comp, np.int64)
    best_b = np.zeros(n_comp, np.int64)

    def relax(src: int) -> None:
        for c in np.flatnonzero(~in_tree):
            d, j = trees[c].query(v[members[src]], k=1)
            i = int(np.argmin(d))
            if d[i] < best_d[c]:
                best_d[c], best_a[c], best_b[c] = d[i], members[src][i], members[c][int(j[i])]

    relax(start)
    new_edges = []
    for _ in range(n_comp - 1):
        cand = np.where(in_tree, np.inf, best_d)
        c = int(np.argmin(cand))
        new_edges.append((best_a[c], best_b[c]))
        in_tree[c] = True
        relax(c)
    bridges = np.asarray(new_edges, np.int64).reshape(-1, 2)
    edges = np.concatenate([skel.edges.astype(np.int64), bridges])
    return Skeleton(skel.vertices, _clean_edges(edges), skel.radii_nm), bridges


def _bend_vertices(v: np.ndarray, kept: np.ndarray, *, deviation: float,
                   floor_nm: float) -> np.ndarray:
    """Positions along a path ``v`` ``(L, 3)`` to keep so that no chord between consecutive
    kept positions passes farther than ``max(deviation * chord length, floor_nm)`` from the
    path vertices it replaces (Douglas-Peucker, splitting every chord at its farthest vertex,
    all chords of the path at once).  ``kept``: the positions kept already (sorted, with the
    ends)."""
    n = len(v)
    keep = np.zeros(n, bool)
    keep[kept] = True
    pos = np.arange(n)
    while True:
        kp = np.flatnonzero(keep)
        chord = np.minimum(np.searchsorted(kp, pos, side="right") - 1, len(kp) - 2)
        a, b = v[kp[chord]], v[kp[chord + 1]]
        ab = b - a
        ll = np.einsum("ij,ij->i", ab, ab)
        t = np.clip(np.einsum("ij,ij->i", v - a, ab) / np.where(ll > 0, ll, 1.0), 0.0, 1.0)
        dev = np.linalg.norm(v - a - t[:, None] * ab, axis=1)
        excess = dev - np.maximum(deviation * np.sqrt(ll), floor_nm)
        excess[keep] = -np.inf
        worst = np.full(len(kp) - 1, -np.inf)
        np.maximum.at(worst, chord, excess)
        split = (excess > 0) & (excess == worst[chord])
        if not split.any():
            return kp
        first = np.r_[True, chord[split][1:] != chord[split][:-1]]     # one per chord
        keep[pos[split][first]] = True


def _downsample_paths(skel: Skeleton, factor: int, *, pinned: np.ndarray | None = None,
                      bend_deviation: float | None = None) -> tuple[Skeleton, np.ndarray]:
    """Keep every ``factor``-th vertex along unbranched paths; tips, branch points and
    ``pinned`` vertex indices stay; with ``bend_deviation`` also the vertices
    :func:`_bend_vertices` needs (floor: the shortest edge, one step of the skeleton grid).
    Returns the skeleton and the old -> new vertex index map (-1 for dropped vertices)."""
    n = skel.n_vertices
    if factor <= 1 or n == 0 or skel.n_edges == 0:
        return skel, np.arange(n)
    e = skel.edges.astype(np.int64)
    vf = skel.vertices.astype(np.float64)
    floor_nm = float(np.linalg.norm(vf[e[:, 0]] - vf[e[:, 1]], axis=1).min())
    deg = np.bincount(e.ravel(), minlength=n)
    order = np.argsort(np.concatenate([e[:, 0], e[:, 1]]), kind="stable")
    nbr_all = np.concatenate([e[:, 1], e[:, 0]])[order]
    ptr = np.concatenate([[0], np.cumsum(deg)])
    keep = deg != 2
    if pinned is not None and len(pinned):
        keep[np.asarray(pinned, np.int64)] = True
    visited = np.zeros(n, bool)
    new_edges: list[tuple[int, int]] = []

    def walk(a: int, b: int) -> None:
        path = [a]
        prev, cur = a, b
        while True:
            path.append(cur)
            if keep[cur] or cur == a:
                break
            visited[cur] = True
            n0, n1 = nbr_all[ptr[cur]], nbr_all[ptr[cur] + 1]
            prev, cur = cur, (n1 if n0 == prev else n0)
        kept = path[::factor]
        if kept[-1] != path[-1]:
            kept.append(path[-1])
        if bend_deviation is not None and len(path) > 2:
            at = np.r_[np.arange(0, len(path), factor), len(path) - 1]
            at = _bend_vertices(vf[path], np.unique(at), deviation=bend_deviation,
                                floor_nm=floor_nm)
            kept = [path[i] for i in at]
        for x in kept:
            keep[x] = True
        new_edges.extend(zip(kept[:-1], kept[1:]))

    start = keep.copy()                       # tips, branch points and pinned vertices
    for s in np.flatnonzero(start):
        for b in nbr_all[ptr[s]: ptr[s + 1]]:
            if not start[b] and visited[b]:
                continue
            if start[b] and b < s:
                continue                      # edge between two start vertices: add once
            walk(int(s), int(b))
    for s in np.flatnonzero(~start & ~visited):   # pure cycles (no start vertex)
        if visited[s]:
            continue
        keep[s] = True
        visited[s] = True
        walk(int(s), int(nbr_all[ptr[s]]))
    remap = np.cumsum(keep) - 1
    ne = remap[np.asarray(new_edges, np.int64).reshape(-1, 2)]
    return (Skeleton(skel.vertices[keep], _clean_edges(ne), skel.radii_nm[keep]),
            np.where(keep, remap, -1))


_CAP_SLACK = 0.25   # a walk from a tip stays in the end cap while distance <= 1.25 radius + tol
_CAP_LEVEL = 0.95   # the new tip: the first walked vertex with 95 % of the largest radius


def retract_tips(skel: Skeleton, *, tolerance_nm: float,
                 exempt: np.ndarray | None = None) -> tuple[Skeleton, np.ndarray]:
    """Move every tip back from the cell surface to the centre of its end cap.

    A TEASAR path runs to the farthest voxel of a neurite, on its surface, one radius beyond
    the end of the medial axis (a capped 400 nm tube gains about 0.5 um per tip, the path
    entering the cap obliquely).  Inside a cap the distance to the boundary (``radii_nm``) grows
    about as fast as the distance from the tip; beyond it the radius levels off.  From each tip
    the walk towards the first branch point goes on while ``distance from the tip <= 1.25 x
    radius + tolerance_nm`` (``tolerance_nm``: about one voxel of the skeleton grid, the
    quantisation of the radius), and the tip moves to the first walked vertex whose radius is
    95 % of the largest walked radius.  Branch points are never removed, nor is a path ever
    walked past its other end.  ``exempt``: vertex indices of tips that stay (tips on the
    volume faces, where the neurite is cut and the path ends in the middle of the cut).
    Returns the skeleton and the old -> new vertex index map (-1 for
    removed vertices).
    """
    n = skel.n_vertices
    if n == 0 or skel.n_edges == 0:
        return skel, np.arange(n)
    e = skel.edges.astype(np.int64)
    v = skel.vertices.astype(np.float64)
    r = skel.radii_nm.astype(np.float64)
    deg = np.bincount(e.ravel(), minlength=n)
    order = np.argsort(np.concatenate([e[:, 0], e[:, 1]]), kind="stable")
    nbr = np.concatenate([e[:, 1], e[:, 0]])[order]
    ptr = np.concatenate([[0], np.cumsum(deg)])
    keep = np.ones(n, bool)
    tips = np.flatnonzero(deg == 1)
    if exempt is not None and len(exempt):
        tips = np.setdiff1d(tips, np.asarray(exempt, np.int64))
    for tip in tips:
        walked, prev, cur = [], -1, int(tip)
        while keep[cur] and (cur == tip or deg[cur] == 2) and \
                np.linalg.norm(v[cur] - v[tip]) <= (1 + _CAP_SLACK) * r[cur] + tolerance_nm:
            walked.append(cur)
            nxt = nbr[ptr[cur]:ptr[cur + 1]]
            nxt = nxt[nxt != prev]
            if not len(nxt):
                break
            prev, cur = cur, int(nxt[0])
        if len(walked) > 1:
            rw = r[walked]
            new_tip = int(np.argmax(rw >= _CAP_LEVEL * rw.max()))
            keep[walked[:new_tip]] = False
    if keep.all():
        return skel, np.arange(n)
    return _subset(skel, keep), np.where(keep, np.cumsum(keep) - 1, -1)


def tip_retraction_args(voxel_size_nm: Sequence[float], shape_xyz: Sequence[int]) -> dict:
    """:func:`merge_skeletons` keywords that retract tips for a volume of ``shape_xyz`` voxels:
    ``tip_tolerance_nm`` one voxel of the skeleton grid (:func:`skeleton_downsampling`), and
    ``volume_box_nm`` the first and last grid vertex positions (tips there stay)."""
    vs = _vec3(voxel_size_nm, "voxel_size_nm", positive=True)
    ds = np.asarray(skeleton_downsampling(vs), np.int64)
    step = vs * ds
    last = (-(-np.asarray(shape_xyz, np.int64) // ds) - 1) * step
    return {"tip_tolerance_nm": float(step.max()), "volume_box_nm": (np.zeros(3), last)}


def merge_skeletons(
    pieces: Iterable[Skeleton],
    *,
    dust_threshold_nm: float = 250.0,
    tick_threshold_nm: float = 500.0,
    downsample: int = 10,
    tip_tolerance_nm: float | None = None,
    volume_box_nm: tuple[Sequence[float], Sequence[float]] | None = None,
    bend_tolerance: float | None = None,
    return_bridges: bool = False,
) -> Skeleton | tuple[Skeleton, np.ndarray]:
    """One connected skeleton (a tree) per cell from its block pieces.

    Steps: weld vertices with identical coordinates (block-face vertices; radius = max), drop
    duplicate edges; kimimaro ``postprocess`` with ``tick_threshold_nm`` (loops removed, close
    components joined where their radii overlap, ticks shorter than the threshold pruned);
    components with less cable than ``dust_threshold_nm`` removed (never the longest); with
    ``tip_tolerance_nm`` (not in the original; about one voxel of the skeleton grid) every tip
    moved back from the cell surface to the centre of its end cap (:func:`retract_tips`),
    except tips within ``tip_tolerance_nm`` of the faces of ``volume_box_nm`` (``(lo, hi)``
    corners in nm: the first and last vertex positions of the grid); the components joined
    into one tree by repeatedly adding the shortest vertex pair between the growing tree and
    another component; finally every ``downsample``-th vertex kept along unbranched paths
    (SyConn ``downsample(10)``; 1 = off) and, with ``bend_tolerance`` (not in the original),
    the vertices needed so that no kept edge passes farther than ``bend_tolerance`` x its
    length (or one step of the skeleton grid, the shortest edge) from the path it replaces:
    on a tortuous axon every 10th vertex cuts the bends (-15 to -20 % of cable with 300 nm
    bends at 10x10x20 nm; the chords are 800 nm at 40x40x80 nm), and 0.1 bounds the loss at
    about 3 % per edge.  ``None`` (default) = every ``downsample``-th vertex only.  Deterministic and
    independent of the piece order.

    The result's ``bridges`` mask marks the straight edges added only to connect components
    (parts of a cell that leave the volume and come back, or pieces the dust filter of a block
    dropped).  They are not traced cable, and :func:`skeleton_stats` leaves them out; with
    ``return_bridges`` the mask is also returned.
    """
    import kimimaro
    import osteoid

    pieces = [p for p in pieces if p.n_vertices]
    if not pieces:
        empty = Skeleton.empty()
        return (empty, np.zeros(0, bool)) if return_bridges else empty
    for name, val in (("dust_threshold_nm", dust_threshold_nm),
                      ("tick_threshold_nm", tick_threshold_nm)):
        if not val >= 0:
            raise InputError(f"{name}: got {val!r}, expected a number >= 0 (nm)")
    if int(downsample) != downsample or downsample < 1:
        raise InputError(f"downsample: got {downsample!r}, expected an integer >= 1")
    if bend_tolerance is not None and not bend_tolerance > 0:
        raise InputError(f"bend_tolerance: got {bend_tolerance!r}, expected a number > 0 "
                         "(fraction of an edge's length) or None")
    skel = _weld(pieces)
    if skel.n_edges:
        o = osteoid.Skeleton(skel.vertices, skel.edges, radii=skel.radii_nm, space="physical")
        o = kimimaro.postprocess(o, dust_threshold=0, tick_threshold=float(tick_threshold_nm))
        # postprocess reorders vertices; re-weld through the sorted representation
        skel = _weld([Skeleton(np.asarray(o.vertices), np.asarray(o.edges),
                               np.asarray(o.radius))])
    skel = _remove_dust(skel, float(dust_threshold_nm))
    if tip_tolerance_nm is not None:      # before bridging, which takes tips' degree 1
        exempt = None
        if volume_box_nm is not None:
            lo, hi = (np.asarray(c, np.float64) for c in volume_box_nm)
            v = skel.vertices.astype(np.float64)
            exempt = np.flatnonzero(np.any((v <= lo + tip_tolerance_nm) |
                                           (v >= hi - tip_tolerance_nm), axis=1))
        skel, _ = retract_tips(skel, tolerance_nm=float(tip_tolerance_nm), exempt=exempt)
    skel, bridges = _connect_components(skel)
    skel, remap = _downsample_paths(skel, int(downsample), pinned=bridges.ravel(),
                                    bend_deviation=bend_tolerance)
    skel.bridges = edge_mask(skel, remap[bridges])
    return (skel, skel.bridges) if return_bridges else skel


def edge_mask(skel: Skeleton, pairs: np.ndarray) -> np.ndarray:
    """Boolean mask over ``skel.edges`` of the undirected vertex ``pairs`` ``(k, 2)``."""
    if skel.n_edges == 0 or len(pairs) == 0:
        return np.zeros(skel.n_edges, bool)
    n = np.int64(skel.n_vertices)
    e = np.sort(skel.edges.astype(np.int64), axis=1)
    p = np.sort(np.asarray(pairs, np.int64).reshape(-1, 2), axis=1)
    return np.isin(e[:, 0] * n + e[:, 1], p[:, 0] * n + p[:, 1])


def terminal_branches(n_vertices: int, edges: np.ndarray) -> list[np.ndarray]:
    """The terminal branches of a skeleton graph, as arrays of edge indices.

    A terminal branch runs from a tip (degree 1) through degree-2 vertices to the first branch
    point (degree >= 3); its first edge is the tip's.  An isolated path (tip to tip) is listed
    once from each end.  Works on forests; ``edges`` ``(e, 2)`` index ``n_vertices`` vertices.
    """
    e = np.asarray(edges, np.int64).reshape(-1, 2)
    if not len(e):
        return []
    deg = np.bincount(e.ravel(), minlength=int(n_vertices))
    # incident edges per vertex (CSR)
    ends = e.ravel()
    order = np.argsort(ends, kind="stable")
    start = np.r_[0, np.cumsum(np.bincount(ends, minlength=int(n_vertices)))]
    inc = order // 2
    out = []
    for tip in np.flatnonzero(deg == 1):
        path, v, prev = [], int(tip), -1
        while True:
            es = [k for k in inc[start[v]:start[v + 1]] if k != prev]
            if not es or (deg[v] >= 3 and path):
                break
            k = int(es[0])
            path.append(k)
            v = int(e[k, 0] if e[k, 1] == v else e[k, 1])
            prev = k
            if deg[v] != 2:
                break
        out.append(np.asarray(path, np.int64))
    return out


def twig_mask(n_vertices: int, edges: np.ndarray, lengths: np.ndarray,
              min_length: float) -> np.ndarray:
    """Boolean mask of the edges on *twigs*: terminal branches shorter than ``min_length``.

    A twig is a :func:`terminal_branches` branch whose ``lengths`` (per edge) sum to less than
    ``min_length``.  One pass, as ``navis.prune_twigs(recursive=False)``: a branch that becomes
    terminal only after its twigs are removed is kept.  An isolated path (tip to tip) is a twig
    if it is shorter than ``min_length``.
    """
    e = np.asarray(edges, np.int64).reshape(-1, 2)
    out = np.zeros(len(e), bool)
    lengths = np.asarray(lengths, np.float64).reshape(-1)
    for path in terminal_branches(n_vertices, e):
        if lengths[path].sum() < min_length:
            out[path] = True
    return out


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------

def skeleton_stats(skel: Skeleton, *, exclude_edges: np.ndarray | None = None
                   ) -> tuple[float, int, int]:
    """``(cable_length_um, n_branch_points, n_tips)``: branch points have degree >= 3, tips 1.

    ``exclude_edges``: boolean mask of edges left out of the cable length; by default the
    skeleton's ``bridges`` (from :func:`merge_skeletons`).  Degrees count every edge."""
    if skel.n_edges == 0:
        return 0.0, 0, 0
    deg = np.bincount(skel.edges.astype(np.int64).ravel(), minlength=skel.n_vertices)
    lengths = _edge_lengths(skel)
    lengths = lengths[~np.asarray(skel.bridges if exclude_edges is None else exclude_edges, bool)]
    return float(lengths.sum() / 1000.0), int((deg >= 3).sum()), int((deg == 1).sum())


def skeleton_components(skel: Skeleton) -> int:
    """Number of connected components (0 for an empty skeleton)."""
    if skel.n_vertices == 0:
        return 0
    return int(_components(skel.n_vertices, skel.edges)[0])
