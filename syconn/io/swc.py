"""SWC files (``id type x y z radius parent``), readable by navis / NEURON / neuTube.

Positions and radii are written in nm.  Node ids are 1-based and every parent is listed before
its children (breadth-first from the root); roots have parent ``-1``.  SWC stores trees only: for
a graph with cycles the breadth-first tree is written and the extra edges are dropped.  A
skeleton's bridges (edges that only join the parts of a cell) are listed in a ``# bridges:``
comment as ``child-parent`` id pairs, so an analysis can leave them out of the cable length.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from syconn.errors import InputError, VolumeFormatError
from syconn.proc.skeletons import Skeleton

__all__ = ["SWC_TYPES", "AXONESS_TO_SWC", "write_swc", "read_swc", "swc_order"]

SWC_TYPES = {"undefined": 0, "soma": 1, "axon": 2, "basal_dendrite": 3, "apical_dendrite": 4}
"""SWC type codes (the standard's; ``dendrite`` is written as basal dendrite, 3)."""

AXONESS_TO_SWC = {0: 3, 1: 2, 2: 1}
"""SyConn axoness labels (0 dendrite, 1 axon, 2 soma) -> SWC types; anything else -> 0."""


def swc_order(skel: Skeleton, *, node_types: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first node order and parent (index into ``skel`` vertices, -1 for roots).

    Each connected component is rooted at a soma node (SWC type 1) if ``node_types`` has one,
    else at its thickest node (largest radius; ties: lowest index).  Components come in order
    of their root index.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    n = skel.n_vertices
    e = skel.edges.astype(np.int64)
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    n_comp, lab = connected_components(g, directed=False)
    radius = skel.radii_nm.astype(np.float64)
    score = radius + (np.where(node_types == 1, np.inf, 0.0) if node_types is not None else 0.0)
    roots = []
    for c in range(n_comp):
        members = np.flatnonzero(lab == c)
        roots.append(int(members[np.argmax(score[members])]))   # argmax: first of ties
    order_parts, parent = [], np.full(n, -1, np.int64)
    for r in sorted(roots):
        nodes, pred = breadth_first_order(g, r, directed=False, return_predecessors=True)
        order_parts.append(nodes)
        p = pred[nodes]
        parent[nodes] = np.where(p < 0, -1, p)
    order = np.concatenate(order_parts) if order_parts else np.zeros(0, np.int64)
    return order, parent


def write_swc(path: str | os.PathLike, skel: Skeleton, *, node_types: np.ndarray | None = None,
              comment: str | None = None) -> None:
    """Write ``skel`` as SWC (nm).  ``node_types``: optional per-node SWC type codes
    (:data:`SWC_TYPES`: 1 soma, 2 axon, 3 dendrite; default 0 undefined)."""
    from syconn.io.meshes import _atomic_write_bytes

    n = skel.n_vertices
    if node_types is None:
        types = np.zeros(n, np.int64)
    else:
        types = np.asarray(node_types).reshape(-1)
        if types.shape != (n,) or types.dtype.kind not in "ui":
            raise InputError(f"node_types: got shape {types.shape} dtype {types.dtype}, expected "
                             f"{n} integer SWC type codes")
        types = types.astype(np.int64)
    order, parent = swc_order(skel, node_types=types)
    new_id = np.empty(n, np.int64)
    new_id[order] = np.arange(1, len(order) + 1)
    lines = ["# SWC written by syconn", "# units: nm (positions and radius)",
             "# id type x y z radius parent"]
    if comment:
        lines[1:1] = [f"# {line}" for line in str(comment).splitlines()]
    if skel.bridges.any():     # SWC has no edge attributes: name them so cable can skip them
        pairs = " ".join(f"{new_id[a]}-{new_id[b]}" for a, b in
                         skel.edges[skel.bridges].astype(np.int64).tolist())
        lines.insert(-1, f"# bridges (straight edges joining parts of the cell, not cable): "
                         f"{pairs}")
    v, r = skel.vertices, skel.radii_nm
    for i in order.tolist():
        p = int(parent[i])
        lines.append(f"{new_id[i]} {types[i]} {v[i, 0]:.9g} {v[i, 1]:.9g} {v[i, 2]:.9g} "
                     f"{r[i]:.9g} {new_id[p] if p >= 0 else -1}")
    _atomic_write_bytes(Path(path), ("\n".join(lines) + "\n").encode("ascii"))


def read_swc(path: str | os.PathLike) -> tuple[Skeleton, np.ndarray]:
    """Read an SWC file: ``(Skeleton, node_types)`` with nodes in file order."""
    rows = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        parts = s.split()
        if len(parts) < 7:
            raise VolumeFormatError(f"{path}:{lineno}: expected 7 columns 'id type x y z radius "
                                    f"parent', got {len(parts)}")
        rows.append([float(x) for x in parts[:7]])
    a = np.asarray(rows, np.float64).reshape(-1, 7)
    ids = a[:, 0].astype(np.int64)
    index = {int(i): k for k, i in enumerate(ids)}
    edges = []
    for k, p in enumerate(a[:, 6].astype(np.int64)):
        if p != -1:
            if int(p) not in index:
                raise VolumeFormatError(f"{path}: node {ids[k]} has unknown parent {p}")
            edges.append((index[int(p)], k))
    skel = Skeleton(a[:, 2:5], np.asarray(edges, np.int64).reshape(-1, 2), a[:, 5])
    return skel, a[:, 1].astype(np.int64)
