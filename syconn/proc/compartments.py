"""Cell compartments on skeletons: per-node features, bouton kinds, smoothing, cable per class.

Classes and codes are the original's axoness (reference §1.10): 0 dendrite, 1 axon, 2 soma,
3 en-passant bouton, 4 terminal bouton (:data:`COMPARTMENTS`).  The model
(:mod:`syconn.ml.compartments`) classifies skeleton nodes from :func:`node_features`: how thick
the cell is at the node and around it, how much of the cell's vesicle clouds, synaptic
junctions and mitochondria lie near it, how branched it is there, at four scales (0.5, 1, 3
and 8 um, Euclidean neighbourhoods among the cell's own nodes, weighted by each node's cable).  The
original classifies rendered views with a VGG-13 FCN and maps vertex labels to nodes; SyConn's
first version classified skeleton nodes from features of this kind with a random forest.  A
bouton is one class for the model; :func:`bouton_kinds` tells terminal from en-passant by the
skeleton (a bouton run that holds a tip of the skeleton is terminal).

Everything here works on arrays: node positions (nm), edges, radii; organelle positions (nm)
and volumes (um^3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from syconn.errors import InputError

__all__ = ["COMPARTMENTS", "SWC_TYPES", "SCALES_UM", "ORGANELLE_KINDS", "FEATURE_NAMES",
           "node_cable_um", "node_degree", "neighbourhood", "node_features", "bouton_kinds",
           "smooth_proba", "cable_per_class", "labels_from_volume", "SYNTH_TO_CLASS",
           "AXONAL", "DENDRITIC", "DIRECTION_SOURCES", "compartment_direction",
           "combine_direction"]

COMPARTMENTS = ("dendrite", "axon", "soma", "en_passant_bouton", "terminal_bouton")
"""The original's axoness classes, in code order."""
SWC_TYPES = np.array([3, 2, 1, 2, 2], np.int8)
"""SWC node type per class: 1 soma, 2 axon (boutons included), 3 dendrite."""
SCALES_UM = (0.5, 1.0, 3.0, 8.0)
NO_OBJECT_UM = 10.0   #: distance to the nearest organelle of a kind where the cell has none
ORGANELLE_KINDS = ("vc", "sj", "mi")
# the generator's compartment codes (syconn.synth.types.Compartment) -> class; -1: not a class
# (background, glia).  Spine necks and heads are dendrite, as in the original's axoness.
SYNTH_TO_CLASS = np.array([-1, 0, 1, 2, 0, 0, 3, -1], np.int64)


def _feature_names() -> tuple[str, ...]:
    names = ["log_radius_nm", "degree"]
    for s in SCALES_UM:
        t = f"{s:g}um"
        names += [f"log_radius_mean_{t}", f"log_radius_max_{t}", f"log_radius_std_{t}",
                  f"log_radius_rel_{t}"]
        names += [f"{k}_um3_per_um_{t}" for k in ORGANELLE_KINDS]
        names += [f"branch_per_um_{t}", f"tips_per_um_{t}"]
    names += [f"dist_nearest_{k}_um" for k in ORGANELLE_KINDS]
    return tuple(names + ["log_cell_radius_max_nm", "radius_rel_cell_max", "log_cell_cable_um",
                          "dist_thickest_um", "dist_thickest_rel"])


FEATURE_NAMES = _feature_names()


def _edges(edges, n: int) -> np.ndarray:
    e = np.asarray(edges, np.int64).reshape(-1, 2)
    if len(e) and (e.min() < 0 or e.max() >= n):
        raise InputError(f"edges: node indices outside 0..{n - 1}")
    return e


def node_cable_um(vertices_nm: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cable per node (um): half the length of every edge it ends.

    >>> v, e = np.array([[0, 0, 0], [1000, 0, 0], [3000, 0, 0.]]), np.array([[0, 1], [1, 2]])
    >>> node_cable_um(v, e)
    array([0.5, 1.5, 1. ])
    """
    v = np.asarray(vertices_nm, np.float64).reshape(-1, 3)
    e = _edges(edges, len(v))
    half = np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1) / 2000.0 if len(e) else np.zeros(0)
    return (np.bincount(e[:, 0], half, len(v)) + np.bincount(e[:, 1], half, len(v))
            if len(e) else np.zeros(len(v)))


def node_degree(n: int, edges: np.ndarray) -> np.ndarray:
    """Edges per node.

    >>> node_degree(4, np.array([[0, 1], [1, 2], [1, 3]])).tolist()
    [1, 3, 1, 1]
    """
    e = _edges(edges, n)
    return (np.bincount(e[:, 0], minlength=n) + np.bincount(e[:, 1], minlength=n)).astype(np.int64)


def neighbourhood(points_a: np.ndarray, points_b: np.ndarray, radius: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i, j) with ``|a_i - b_j| <= radius``, as two index arrays sorted by i.

    >>> neighbourhood(np.array([[0, 0, 0.], [5, 0, 0]]), np.array([[1, 0, 0.], [9, 0, 0]]), 2.0)
    (array([0]), array([0]))
    """
    from scipy.spatial import cKDTree

    a = np.asarray(points_a, np.float64).reshape(-1, 3)
    b = np.asarray(points_b, np.float64).reshape(-1, 3)
    if not len(a) or not len(b):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    m = cKDTree(a).sparse_distance_matrix(cKDTree(b), radius, output_type="coo_matrix")
    i, j = m.row.astype(np.int64), m.col.astype(np.int64)   # pairs at distance 0 included
    order = np.lexsort((j, i))
    return i[order], j[order]


def _pairs_with_self(points: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour pairs among ``points`` within ``radius``, every point paired with itself."""
    i, j = neighbourhood(points, points, radius)
    n = len(points)
    keep = i != j
    i = np.concatenate([i[keep], np.arange(n)])
    j = np.concatenate([j[keep], np.arange(n)])
    return i, j


def node_features(vertices_nm: np.ndarray, edges: np.ndarray, radii_nm: np.ndarray,
                  organelles: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None
                  ) -> np.ndarray:
    """Features of every node of one cell's skeleton, float32 ``(n, len(FEATURE_NAMES))``.

    ``organelles``: per kind of :data:`ORGANELLE_KINDS`, ``(positions nm (m, 3), volumes
    um^3 (m,))`` of the cell's own objects (missing kinds count as none).  Per scale ``s`` of
    :data:`SCALES_UM`, over the cell's nodes within ``s`` of the node (weights: node cable):
    mean, max and spread of log radius; organelle volume within ``s`` per um of that cable;
    branch points and tips per um.  The distance to the nearest object of each kind (um, at
    most :data:`NO_OBJECT_UM`).  Per cell: its largest radius, the node's radius against
    it, the cell's cable, and the node's distance from the thickest node (um, and in units of
    that node's radius: below 1 inside a soma).
    """
    from scipy.spatial import cKDTree

    v = np.asarray(vertices_nm, np.float64).reshape(-1, 3)
    n = len(v)
    r = np.asarray(radii_nm, np.float64).reshape(-1)
    if r.shape != (n,):
        raise InputError(f"radii_nm: got {r.shape[0]} values for {n} nodes")
    out = np.zeros((n, len(FEATURE_NAMES)), np.float32)
    if not n:
        return out
    e = _edges(edges, n)
    cable = np.maximum(node_cable_um(v, e), 1e-3)
    deg = node_degree(n, e)
    lr = np.log(np.maximum(r, 1.0))
    cols = [lr, deg.astype(np.float64)]
    branch, tip = (deg >= 3).astype(np.float64), (deg == 1).astype(np.float64)
    organelles = organelles or {}
    for s in SCALES_UM:
        i, j = _pairs_with_self(v, s * 1000.0)
        w = cable[j]
        wsum = np.bincount(i, w, n)
        mean = np.bincount(i, w * lr[j], n) / wsum
        var = np.bincount(i, w * (lr[j] - mean[i]) ** 2, n) / wsum
        mx = np.full(n, -np.inf)
        np.maximum.at(mx, i, lr[j])
        cols += [mean, mx, np.sqrt(var), lr - mean]
        for k in ORGANELLE_KINDS:
            pos, vol = organelles.get(k, (np.zeros((0, 3)), np.zeros(0)))
            a, b = neighbourhood(v, pos, s * 1000.0)
            near = np.bincount(a, np.asarray(vol, np.float64).reshape(-1)[b], n) if len(a) \
                else np.zeros(n)
            cols.append(near / wsum)
        cols += [np.bincount(i, branch[j], n) / wsum, np.bincount(i, tip[j], n) / wsum]
    for k in ORGANELLE_KINDS:            # how far the nearest of the cell's objects is
        pos = np.asarray(organelles.get(k, (np.zeros((0, 3)), None))[0], np.float64)
        cols.append(np.minimum(cKDTree(pos.reshape(-1, 3)).query(v)[0] / 1000.0, NO_OBJECT_UM)
                    if len(pos) else np.full(n, NO_OBJECT_UM))
    cmax = lr.max()
    # a soma is the thickest place of a cell: how far the node is from it, in um and in radii
    k = int(np.argmax(r))
    d = np.linalg.norm(v - v[k], axis=1)
    cols += [np.full(n, cmax), r / max(r.max(), 1e-9), np.full(n, np.log(cable.sum())),
             d / 1000.0, d / max(r[k], 1.0)]
    out[:] = np.stack(cols, axis=1)
    return out


def bouton_kinds(labels: np.ndarray, edges: np.ndarray, bouton: int = 3,
                 terminal: int = 4) -> np.ndarray:
    """Split bouton nodes into en-passant (``bouton``) and terminal (``terminal``): a connected
    run of bouton nodes that holds a tip of the skeleton (a node of degree <= 1) is terminal.

    >>> bouton_kinds(np.array([1, 3, 1, 3, 3]), np.array([[0, 1], [1, 2], [2, 3], [3, 4]])).tolist()
    [1, 3, 1, 4, 4]
    """
    from syconn.proc.glia import component_labels

    lab = np.asarray(labels, np.int64).copy()
    n = len(lab)
    e = _edges(edges, n)
    is_b = (lab == bouton) | (lab == terminal)
    if not is_b.any():
        return lab
    comp = component_labels(n, e, is_b)
    tips = node_degree(n, e) <= 1
    term_comp = np.unique(comp[is_b & tips])
    lab[is_b] = bouton
    lab[is_b & np.isin(comp, term_comp)] = terminal
    return lab


def smooth_proba(vertices_nm: np.ndarray, edges: np.ndarray, proba: np.ndarray,
                 radius_um: float) -> np.ndarray:
    """Class probabilities averaged over the nodes within ``radius_um`` (Euclidean) of each node,
    weighted by node cable; ``radius_um`` 0 returns them unchanged.

    >>> p = np.array([[1, 0.], [0, 1], [1, 0]])
    >>> v, e = np.array([[0, 0, 0], [1000, 0, 0], [2000, 0, 0.]]), np.array([[0, 1], [1, 2]])
    >>> smooth_proba(v, e, p, 1.0).round(2).tolist()
    [[0.33, 0.67], [0.5, 0.5], [0.33, 0.67]]
    """
    p = np.asarray(proba, np.float64)
    if radius_um <= 0 or not len(p):
        return p.copy()
    v = np.asarray(vertices_nm, np.float64).reshape(-1, 3)
    w = np.maximum(node_cable_um(v, edges), 1e-3)
    i, j = _pairs_with_self(v, radius_um * 1000.0)
    out = np.zeros_like(p)
    for c in range(p.shape[1]):
        out[:, c] = np.bincount(i, w[j] * p[j, c], len(p))
    return out / out.sum(axis=1, keepdims=True)


def cable_per_class(vertices_nm: np.ndarray, edges: np.ndarray, labels: np.ndarray,
                    n_classes: int = len(COMPARTMENTS),
                    bridges: np.ndarray | None = None) -> np.ndarray:
    """Cable (um) per class: each edge's length split half to each end node's class; skeleton
    ``bridges`` (straight joins of a cell's parts, not traced cable) left out.

    >>> v, e = np.array([[0, 0, 0], [1000, 0, 0], [3000, 0, 0.]]), np.array([[0, 1], [1, 2]])
    >>> cable_per_class(v, e, np.array([0, 0, 1]), 2).tolist()
    [2.0, 1.0]
    """
    v = np.asarray(vertices_nm, np.float64).reshape(-1, 3)
    e = _edges(edges, len(v))
    lab = np.asarray(labels, np.int64).reshape(-1)
    if bridges is not None and len(e):
        e = e[~np.asarray(bridges, bool).reshape(-1)]
    if not len(e):
        return np.zeros(n_classes)
    half = np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1) / 2000.0
    ok0, ok1 = lab[e[:, 0]] >= 0, lab[e[:, 1]] >= 0
    return (np.bincount(lab[e[ok0, 0]], half[ok0], n_classes)
            + np.bincount(lab[e[ok1, 1]], half[ok1], n_classes))[:n_classes]


def labels_from_volume(vertices_nm: np.ndarray, volume: np.ndarray, voxel_size_nm: Sequence[float],
                       mapping: np.ndarray = SYNTH_TO_CLASS, offset_vx=(0, 0, 0)) -> np.ndarray:
    """Class of every node from a compartment label volume (``[x, y, z]``, codes mapped by
    ``mapping``); -1 outside the volume or where the code is no class.

    >>> vol = np.zeros((2, 1, 1), np.uint8); vol[1] = 2
    >>> pts = np.array([[5, 5, 5], [15, 5, 5], [25, 5, 5.]])
    >>> labels_from_volume(pts, vol, (10, 10, 10)).tolist()
    [-1, 1, -1]
    """
    p = np.floor(np.asarray(vertices_nm, np.float64).reshape(-1, 3)
                 / np.asarray(voxel_size_nm, np.float64)).astype(np.int64) - np.asarray(offset_vx)
    shape = np.asarray(volume.shape)
    inside = np.all((p >= 0) & (p < shape), axis=1)
    out = np.full(len(p), -1, np.int64)
    codes = np.asarray(volume)[tuple(p[inside].T)].astype(np.int64)
    ok = codes < len(mapping)
    res = np.full(len(codes), -1, np.int64)
    res[ok] = mapping[codes[ok]]
    out[inside] = res
    return out


AXONAL = (1, 3, 4)  #: axon, en-passant and terminal bouton: the presynaptic side
DENDRITIC = (0, 2)  #: dendrite and soma: the postsynaptic side
DIRECTION_SOURCES = ("vesicles", "compartments", "both")
"""``synapses.direction_source``: the vesicle rule alone, the compartments alone (the vesicle
rule undecided or overruled), or both agreeing."""


def compartment_direction(comp_a: np.ndarray, comp_b: np.ndarray) -> np.ndarray:
    """Per synapse, the direction the partners' compartments say: +1 ``cell_a`` presynaptic (it
    is axonal there, :data:`AXONAL`, and ``cell_b`` dendritic, :data:`DENDRITIC`), -1 the
    reverse, 0 where they do not decide (a side without a compartment, both axonal or both
    dendritic).

    >>> compartment_direction(np.array([1, 0, 3, 1, -1, 0]),
    ...                       np.array([0, 4, 2, 1, 0, 2])).tolist()
    [1, -1, 1, 0, 0, 0]
    """
    a, b = np.asarray(comp_a), np.asarray(comp_b)
    ax_a, ax_b = np.isin(a, AXONAL), np.isin(b, AXONAL)
    de_a, de_b = np.isin(a, DENDRITIC), np.isin(b, DENDRITIC)
    return (ax_a & de_b).astype(np.int8) - (ax_b & de_a).astype(np.int8)


def combine_direction(vesicle: np.ndarray, compartment: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The synapse direction from the vesicle rule and the compartments (each +1 ``cell_a``
    presynaptic, -1 ``cell_b``, 0 undecided): the compartments where they decide, the vesicle
    rule elsewhere.  Returns the direction and its source, an index into
    :data:`DIRECTION_SOURCES` (-1 where neither decides).

    >>> d, s = combine_direction(np.array([1, 1, -1, 0, 1, 0]), np.array([0, 1, 1, -1, -1, 0]))
    >>> d.tolist(), s.tolist()
    ([1, 1, 1, -1, -1, 0], [0, 2, 1, 1, 1, -1])
    """
    v, c = np.asarray(vesicle, np.int8), np.asarray(compartment, np.int8)
    direction = np.where(c != 0, c, v).astype(np.int8)
    source = np.where(c != 0, np.where(c == v, 2, 1), np.where(v != 0, 0, -1)).astype(np.int8)
    return direction, source
