"""Per-cell morphology and connectivity features for the cell type model, and its certainty.

The original (``../shared/reference/syconn.md`` 1.12) classifies random subsets of 20 views of a
cell plus two scalars: the area-weighted share of symmetric synapses among the cell's axonal
outputs and among its dendritic inputs.  Here the cell is described by what the pipeline has
already measured, in physical units so that one model serves every voxel size: its skeleton
cable and how it divides into the compartments, its thickness per compartment, branching,
boutons, organelles, and its synapses, the original's two scalars included.  Every feature is
a ratio or a unit-bearing size, never a count that grows with the volume alone.

All functions take arrays and return arrays; ``-1`` stands for "not defined" (a share of no
synapses, the radius of a compartment the cell does not have), which a forest splits on.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from syconn.errors import InputError

__all__ = ["FEATURE_NAMES", "cell_type_features", "type_certainty"]

#: the features, in column order (units in the names)
FEATURE_NAMES = (
    "cable_um",
    "dendrite_share", "axon_share", "soma_share", "bouton_share",
    "boutons_per_um_axon",
    "branch_points_per_um", "tips_per_um", "dendrite_tips_per_um_dendrite",
    "volume_um3_per_um", "area_um2_per_um",
    "max_radius_nm", "dendrite_radius_nm", "axon_radius_nm", "dendrite_radius_p90_nm",
    "axon_radius_p90_nm", "bouton_radius_nm", "axon_branch_points_per_um_axon",
    "syn_out_per_bouton",
    "syn_out_per_um_axon", "syn_in_per_um_dendrite", "syn_in_soma_per_um2",
    "sym_share_out", "sym_share_in", "sym_share_in_soma",
    "mean_area_out_um2", "mean_area_in_um2",
    "mi_per_um", "vc_per_um_axon",
)

# skeleton node compartment codes (the original's axoness)
_DEND, _AXON, _SOMA, _EP, _TB = 0, 1, 2, 3, 4


def _col(table: Mapping, name: str, dtype) -> np.ndarray:
    if name not in table:
        raise InputError(f"cell type features: missing column {name!r}")
    return np.asarray(table[name], dtype)


def _ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    out = np.full(np.broadcast(num, den).shape, -1.0)
    ok = den > 0
    out[ok] = (num * np.ones_like(den))[ok] / den[ok]
    return out


def _group_median(idx: np.ndarray, values: np.ndarray, n: int, q: float = 50.0) -> np.ndarray:
    """Per group 0..n-1 the ``q``-th percentile of ``values`` (-1 for an empty group)."""
    out = np.full(n, -1.0)
    if not len(idx):
        return out
    o = np.lexsort((values, idx))
    i, v = idx[o], values[o]
    start = np.searchsorted(i, np.arange(n))
    stop = np.searchsorted(i, np.arange(n), side="right")
    has = stop > start
    k = start + np.floor((stop - start - 1) * q / 100.0).astype(np.int64)
    out[has] = v[k[has]]
    return out


def cell_type_features(cells: Mapping, nodes: Mapping, synapses: Mapping) -> np.ndarray:
    """The :data:`FEATURE_NAMES` of every cell, ``(n_cells, n_features)`` float64.

    Parameters
    ----------
    cells : mapping of arrays, one row per cell
        ``id``, ``volume_um3``, ``mesh_area_um2`` (NaN where unknown), ``n_mi``, ``n_vc``,
        ``n_boutons`` (separate bouton runs of its skeleton).
    nodes : mapping of arrays, one row per skeleton node
        ``cell_id``, ``compartment`` (0 dendrite, 1 axon, 2 soma, 3 en-passant bouton,
        4 terminal bouton), ``radius_nm``, ``cable_um`` (half of every edge the node ends),
        ``degree``.
    synapses : mapping of arrays, one row per synapse (above the threshold, direction known)
        ``cell_pre``, ``cell_post``, ``sign`` (-1 symmetric), ``area_um2``, ``comp_pre``,
        ``comp_post`` (-1 unknown).

    Examples
    --------
    One cell: 10 um of dendrite (radius 400 nm, one tip), 4 um of axon (radius 80 nm) with
    2 boutons; one symmetric output of 0.2 um^2 from a bouton and two asymmetric inputs of
    0.1 um^2 on the dendrite:

    >>> cells = {"id": [5], "volume_um3": [7.0], "mesh_area_um2": [28.0], "n_mi": [2],
    ...          "n_vc": [4], "n_boutons": [2]}
    >>> nodes = {"cell_id": [5] * 4, "compartment": [0, 0, 1, 3],
    ...          "radius_nm": [400, 400, 80, 200], "cable_um": [5, 5, 3, 1],
    ...          "degree": [1, 2, 2, 1]}
    >>> syn = {"cell_pre": [5, 9, 9], "cell_post": [8, 5, 5], "sign": [-1, 1, 1],
    ...        "area_um2": [0.2, 0.1, 0.1], "comp_pre": [3, 1, 1], "comp_post": [0, 0, 0]}
    >>> f = dict(zip(FEATURE_NAMES, cell_type_features(cells, nodes, syn)[0].round(3).tolist()))
    >>> f["cable_um"], f["dendrite_share"], f["bouton_share"], f["boutons_per_um_axon"]
    (14.0, 0.714, 0.071, 0.5)
    >>> f["sym_share_out"], f["sym_share_in"], f["syn_in_per_um_dendrite"], f["axon_radius_nm"]
    (1.0, 0.0, 0.2, 80.0)
    """
    cid = _col(cells, "id", np.int64)
    n = len(cid)
    order = np.argsort(cid)
    sorted_ids = cid[order]

    def index_of(ids) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, np.int64)
        pos = np.minimum(np.searchsorted(sorted_ids, ids), max(n - 1, 0))
        ok = (sorted_ids[pos] == ids) if n else np.zeros(len(ids), bool)
        return order[pos], ok

    X = np.full((n, len(FEATURE_NAMES)), -1.0)
    if not n:
        return X
    col = {name: k for k, name in enumerate(FEATURE_NAMES)}

    # skeleton nodes
    ni, nok = index_of(_col(nodes, "cell_id", np.int64))
    comp = _col(nodes, "compartment", np.int64)[nok]
    rad = _col(nodes, "radius_nm", np.float64)[nok]
    cab = _col(nodes, "cable_um", np.float64)[nok]
    deg = _col(nodes, "degree", np.int64)[nok]
    ni = ni[nok]
    bouton = (comp == _EP) | (comp == _TB)
    axonal = (comp == _AXON) | bouton

    def per_cell(w, mask=None) -> np.ndarray:
        if mask is not None:
            return np.bincount(ni[mask], weights=np.asarray(w, np.float64)[mask] if
                               np.ndim(w) else None, minlength=n)
        return np.bincount(ni, weights=w, minlength=n)

    cable = per_cell(cab)
    dend_cable = per_cell(cab, comp == _DEND)
    axon_cable = per_cell(cab, axonal)
    X[:, col["cable_um"]] = cable
    for name, mask in (("dendrite_share", comp == _DEND), ("axon_share", comp == _AXON),
                       ("soma_share", comp == _SOMA), ("bouton_share", bouton)):
        X[:, col[name]] = _ratio(per_cell(cab, mask), cable)
    X[:, col["boutons_per_um_axon"]] = _ratio(_col(cells, "n_boutons", np.float64), axon_cable)
    X[:, col["branch_points_per_um"]] = _ratio(per_cell(np.ones(len(ni)), deg >= 3), cable)
    X[:, col["tips_per_um"]] = _ratio(per_cell(np.ones(len(ni)), deg == 1), cable)
    X[:, col["dendrite_tips_per_um_dendrite"]] = _ratio(
        per_cell(np.ones(len(ni)), (deg == 1) & (comp == _DEND)), dend_cable)
    mx = np.full(n, -1.0)
    np.maximum.at(mx, ni, rad)
    X[:, col["max_radius_nm"]] = mx
    d = comp == _DEND
    X[:, col["dendrite_radius_nm"]] = _group_median(ni[d], rad[d], n)
    X[:, col["dendrite_radius_p90_nm"]] = _group_median(ni[d], rad[d], n, 90.0)
    a = comp == _AXON
    X[:, col["axon_radius_nm"]] = _group_median(ni[a], rad[a], n)
    X[:, col["axon_radius_p90_nm"]] = _group_median(ni[a], rad[a], n, 90.0)
    X[:, col["bouton_radius_nm"]] = _group_median(ni[bouton], rad[bouton], n)
    X[:, col["axon_branch_points_per_um_axon"]] = _ratio(
        per_cell(np.ones(len(ni)), (deg >= 3) & axonal), axon_cable)

    # cells table
    vol = _col(cells, "volume_um3", np.float64)
    area = _col(cells, "mesh_area_um2", np.float64)
    X[:, col["volume_um3_per_um"]] = _ratio(np.nan_to_num(vol, nan=-1.0), cable)
    X[:, col["area_um2_per_um"]] = _ratio(np.nan_to_num(area, nan=-1.0), cable)
    X[:, col["mi_per_um"]] = _ratio(_col(cells, "n_mi", np.float64), cable)
    X[:, col["vc_per_um_axon"]] = _ratio(_col(cells, "n_vc", np.float64), axon_cable)
    soma_area = np.pi * 4 * (np.maximum(X[:, col["max_radius_nm"]], 0) / 1000.0) ** 2

    # synapses: outputs from the axon or boutons, inputs onto dendrite / soma
    sa = _col(synapses, "area_um2", np.float64)
    sym = _col(synapses, "sign", np.int64) < 0
    cpre = _col(synapses, "comp_pre", np.int64)
    cpost = _col(synapses, "comp_post", np.int64)
    pi, pok = index_of(_col(synapses, "cell_pre", np.int64))
    qi, qok = index_of(_col(synapses, "cell_post", np.int64))
    out = pok & ((cpre == _AXON) | (cpre == _EP) | (cpre == _TB) | (cpre < 0))
    inn = qok & ((cpost == _DEND) | (cpost < 0))
    inn_soma = qok & (cpost == _SOMA)

    def syn_sum(idx, mask, w) -> np.ndarray:
        return np.bincount(idx[mask], weights=w[mask], minlength=n)

    one = np.ones(len(sa))
    n_out, n_in, n_soma = syn_sum(pi, out, one), syn_sum(qi, inn, one), syn_sum(qi, inn_soma, one)
    X[:, col["syn_out_per_um_axon"]] = _ratio(n_out, axon_cable)
    X[:, col["syn_out_per_bouton"]] = _ratio(n_out, _col(cells, "n_boutons", np.float64))
    X[:, col["syn_in_per_um_dendrite"]] = _ratio(n_in, dend_cable)
    X[:, col["syn_in_soma_per_um2"]] = _ratio(n_soma, soma_area)
    X[:, col["sym_share_out"]] = _ratio(syn_sum(pi, out, sa * sym), syn_sum(pi, out, sa))
    X[:, col["sym_share_in"]] = _ratio(syn_sum(qi, inn, sa * sym), syn_sum(qi, inn, sa))
    X[:, col["sym_share_in_soma"]] = _ratio(syn_sum(qi, inn_soma, sa * sym),
                                            syn_sum(qi, inn_soma, sa))
    X[:, col["mean_area_out_um2"]] = _ratio(syn_sum(pi, out, sa), n_out)
    X[:, col["mean_area_in_um2"]] = _ratio(syn_sum(qi, inn, sa), n_in)
    return X


def type_certainty(proba: np.ndarray) -> np.ndarray:
    """1 - entropy of each row of class probabilities / ln(number of classes), as the
    original: 1 for a sure call, 0 for a uniform one.

    >>> type_certainty(np.array([[1.0, 0.0], [0.5, 0.5]])).round(6).tolist()
    [1.0, 0.0]
    """
    p = np.asarray(proba, np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise InputError(f"class probabilities: shape {p.shape}, expected (n, >= 2)")
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(1)
    return 1.0 - h / np.log(p.shape[1])
