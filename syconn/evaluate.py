"""Compare a working directory's results with the ground truth of a ``syconn synth`` dataset.

Mitochondria: the count of objects against the true ones with at least ``min_obj_vx.mi``
voxels inside the volume (smaller ones are not reported by design).

Synapses: a predicted synapse (``syn_prob`` above the configured threshold) matches a true one
if both join the same two cells and their locations lie within 500 nm; matching is one-to-one,
closest pairs first.  Direction and sign are scored on matched pairs.  Cell ids of both sides are
the smallest supervoxel id of the cell, so they compare directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from syconn.errors import InputError
from syconn.proc.cells import map_supervoxels, sorted_mapping
from syconn.proc.skeletons import TEASAR_PARAMS, Skeleton
from syconn.read import Results

__all__ = ["Evaluation", "evaluate", "match_synapses", "MATCH_DISTANCE_NM", "SkeletonEvaluation",
           "evaluate_skeletons", "score_skeletons", "SynapseScore", "score_synapses",
           "synapse_tables"]

MATCH_DISTANCE_NM = 500.0


@dataclass
class Evaluation:
    n_true_synapses: int
    n_predicted_synapses: int
    n_matched: int
    precision: float
    recall: float
    direction_accuracy: float
    sign_accuracy: float
    n_true_mitochondria: int
    n_predicted_mitochondria: int
    mitochondria_count_error: float
    supervoxel_to_cell_exact: bool
    n_supervoxels_wrong_cell: int

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        return [
            f"synapses: {self.n_predicted_synapses} found, {self.n_true_synapses} true, "
            f"{self.n_matched} matched: precision {self.precision:.3f}, recall {self.recall:.3f}",
            f"direction correct {self.direction_accuracy:.3f}, sign correct "
            f"{self.sign_accuracy:.3f} (of matched)",
            f"mitochondria: {self.n_predicted_mitochondria} found, {self.n_true_mitochondria} "
            f"true of at least min_obj_vx voxels ({100 * self.mitochondria_count_error:+.1f} %)",
            f"supervoxel-to-cell equals the agglomeration: {self.supervoxel_to_cell_exact} "
            f"({self.n_supervoxels_wrong_cell} differ)",
        ]


def match_synapses(pred: pd.DataFrame, true: pd.DataFrame, voxel_size_nm,
                   max_dist_nm: float = MATCH_DISTANCE_NM) -> list[tuple[int, int]]:
    """One-to-one matches ``(pred index, true index)``: same unordered cell pair, closest first.

    ``pred`` needs columns cell_a, cell_b, x, y, z (voxels); ``true`` the same.
    """
    vs = np.asarray(voxel_size_nm, float)
    if pred.empty or true.empty:
        return []
    tree = cKDTree(true[["x", "y", "z"]].to_numpy(float) * vs)
    cand = tree.query_ball_point(pred[["x", "y", "z"]].to_numpy(float) * vs, r=max_dist_nm)
    pairs = []
    tp = true[["cell_a", "cell_b"]].to_numpy()
    pp = pred[["cell_a", "cell_b"]].to_numpy()
    ploc = pred[["x", "y", "z"]].to_numpy(float) * vs
    tloc = true[["x", "y", "z"]].to_numpy(float) * vs
    for i, js in enumerate(cand):
        for j in js:
            if tp[j, 0] == pp[i, 0] and tp[j, 1] == pp[i, 1]:
                pairs.append((float(np.linalg.norm(ploc[i] - tloc[j])), i, j))
    pairs.sort()
    used_p, used_t, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            out.append((i, j))
    return out


@dataclass
class SynapseScore:
    """Synapse detection against a ground truth, at a threshold and over all thresholds."""

    n_true: int
    n_candidates: int
    n_predicted: int            # candidates with syn_prob > threshold
    n_matched: int
    precision: float
    recall: float
    f1: float
    average_precision: float    # over all candidates ranked by syn_prob; missed truth counts
    candidate_recall: float     # true synapses with any candidate, whatever its syn_prob
    direction_accuracy: float   # of matched: pre cell right
    sign_accuracy: float        # of matched
    threshold: float

    def as_dict(self) -> dict:
        return asdict(self)


def score_synapses(pred: pd.DataFrame, true: pd.DataFrame, voxel_size_nm, *,
                   threshold: float = 0.5, max_dist_nm: float = MATCH_DISTANCE_NM
                   ) -> tuple[SynapseScore, np.ndarray, np.ndarray]:
    """Score synapse candidates against the truth.

    ``pred``: every candidate (``cell_a < cell_b``, ``x, y, z`` voxels, ``syn_prob``,
    ``cell_pre`` (0 where undetermined), ``sign``); ``true``: ``cell_a, cell_b, x, y, z,
    pre_cell_id, sign``.  Precision and recall count the candidates with ``syn_prob >
    threshold`` matched one to one (:func:`match_synapses`).  Average precision ranks all
    candidates by ``syn_prob``, each labelled by one matching of all candidates, and divides by
    every true synapse (one that no candidate finds caps the recall).

    Returns the score and the precision-recall curve (precision, recall per rank).
    """
    keep = (pred["syn_prob"] > threshold).to_numpy()
    sel = pred[keep].reset_index(drop=True)
    m = match_synapses(sel, true, voxel_size_nm, max_dist_nm)
    n_m, n_p, n_t = len(m), len(sel), len(true)
    if n_m:
        pi, ti = map(np.array, zip(*m))
        direction = float(np.mean(sel["cell_pre"].to_numpy()[pi] ==
                                  true["pre_cell_id"].to_numpy()[ti]))
        sign = float(np.mean(sel["sign"].to_numpy()[pi] == true["sign"].to_numpy()[ti]))
    else:
        direction = sign = 0.0
    p = n_m / n_p if n_p else 0.0
    r = n_m / n_t if n_t else 0.0
    hit = candidate_hits(pred, true, voxel_size_nm, max_dist_nm)
    prec, rec, ap = ranked_precision_recall(pred["syn_prob"].to_numpy(), hit, n_t)
    score = SynapseScore(n_true=n_t, n_candidates=len(pred), n_predicted=n_p, n_matched=n_m,
                         precision=p, recall=r, f1=2 * p * r / (p + r) if p + r else 0.0,
                         average_precision=ap, candidate_recall=int(hit.sum()) / n_t if n_t else 0.0,
                         direction_accuracy=direction, sign_accuracy=sign, threshold=threshold)
    return score, prec, rec


def candidate_hits(pred: pd.DataFrame, true: pd.DataFrame, voxel_size_nm,
                   max_dist_nm: float = MATCH_DISTANCE_NM) -> np.ndarray:
    """Which candidates (every row of ``pred``, whatever its ``syn_prob``) match a true synapse
    in one one-to-one matching of all candidates."""
    m = match_synapses(pred.reset_index(drop=True), true, voxel_size_nm, max_dist_nm)
    hit = np.zeros(len(pred), bool)
    hit[[i for i, _ in m]] = True
    return hit


def ranked_precision_recall(probs: np.ndarray, hit: np.ndarray, n_true: int
                            ) -> tuple[np.ndarray, np.ndarray, float]:
    """Precision and recall per rank of candidates ordered by ``probs`` (descending), and the
    average precision over ``n_true`` true synapses.

    >>> p, r, ap = ranked_precision_recall(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 1], bool), 3)
    >>> p.tolist(), round(ap, 4)
    ([1.0, 1.0, 0.6666666666666666], 0.6667)
    """
    order = np.argsort(-probs, kind="stable")
    tp = np.cumsum(hit[order])
    prec = tp / np.arange(1, len(order) + 1) if len(order) else np.zeros(0)
    rec = tp / n_true if n_true else np.zeros(len(order))
    ap = float((prec * hit[order]).sum() / n_true) if n_true else 0.0
    return prec, rec, ap


def synapse_tables(wd: Path | str, gt_dir: Path | str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every synapse candidate of ``wd`` (from SQL, with ``syn_prob``) and the truth of a
    ``syconn synth`` folder, as :func:`score_synapses` takes them."""
    _, tables = _ground_truth(Path(gt_dir))
    # in load order: ties of syn_prob keep their rank order in the precision-recall curve
    pred = Results(wd).synapse_frame(("id", "cell_pre", "cell_post", "cell_a", "cell_b",
                                      "rep_x", "rep_y", "rep_z", "sign", "syn_prob"),
                                     order_by_id=False)
    pred = pred.rename(columns={"rep_x": "x", "rep_y": "y", "rep_z": "z"})
    pred = pred.fillna({"cell_pre": 0, "cell_post": 0})
    true = _pair_columns(pd.read_parquet(tables["synapses"]), "pre_cell_id", "post_cell_id")
    return pred, true


def _pair_columns(df: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    lo = np.minimum(df[a].to_numpy(), df[b].to_numpy())
    hi = np.maximum(df[a].to_numpy(), df[b].to_numpy())
    return df.assign(cell_a=lo, cell_b=hi)


def _ground_truth(gt_dir: Path) -> tuple[dict, dict[str, Path]]:
    """``synth.json`` of a synth output and the paths of its ground-truth tables."""
    meta_path = gt_dir / "synth.json"
    if not meta_path.is_file():
        raise InputError(f"{gt_dir}: no synth.json: not a 'syconn synth' dataset")
    meta = json.loads(meta_path.read_text())
    return meta, {k: gt_dir / v for k, v in meta["ground_truth"]["tables"].items()}


def evaluate(wd: Path | str, gt_dir: Path | str) -> Evaluation:
    """Score the results of ``wd`` against the ground truth in ``gt_dir`` (a synth output)."""
    gt_dir = Path(gt_dir)
    meta, tables = _ground_truth(gt_dir)
    res = Results(wd)
    cfg = res.cfg
    vs = cfg.dataset.voxel_size_nm

    pred, true = synapse_tables(wd, gt_dir)
    syn, _, _ = score_synapses(pred, true, vs, threshold=cfg.cell_objects.thresh_synssv_proba)

    # objects below the configured minimum size are not reported by design (min_obj_vx, the
    # original's too); ground-truth mitochondria cut by the volume border can be that small
    gt_mi = pd.read_parquet(tables["mitochondria"])
    mito_true = int((gt_mi["size_vx"] >= cfg.cell_objects.min_obj_vx.mi).sum())
    mito_pred = res.organelle_count("mi")

    # supervoxel-to-cell must be exactly the connected components of the agglomeration graph
    from syconn.proc import cells_from_agglomeration
    from syconn.tasks.prepare import read_agglomeration

    sv_ids = pd.read_parquet(tables["supervoxels"])["sv_id"].to_numpy().astype(np.uint64)
    edges = read_agglomeration(gt_dir / meta["agglomeration"])
    gt_sv = cells_from_agglomeration(sv_ids, edges).to_pandas()[["sv_id", "cell_id"]]
    gt_sv = gt_sv.astype({"sv_id": np.int64, "cell_id": np.int64})
    sv, cell = res.supervoxel_cells()
    db_sv = pd.DataFrame({"sv_id": sv, "cell_id": cell})
    merged = gt_sv.merge(db_sv, on="sv_id", how="outer", suffixes=("_gt", "_db"))
    wrong = int((merged["cell_id_gt"] != merged["cell_id_db"]).sum())
    return Evaluation(
        n_true_synapses=syn.n_true, n_predicted_synapses=syn.n_predicted,
        n_matched=syn.n_matched, precision=syn.precision, recall=syn.recall,
        direction_accuracy=syn.direction_accuracy, sign_accuracy=syn.sign_accuracy,
        n_true_mitochondria=mito_true, n_predicted_mitochondria=int(mito_pred),
        mitochondria_count_error=(mito_pred - mito_true) / mito_true if mito_true else 0.0,
        supervoxel_to_cell_exact=wrong == 0, n_supervoxels_wrong_cell=wrong)


# --------------------------------------------------------------------------------------------
# skeletons
# --------------------------------------------------------------------------------------------

SKELETON_TOLERANCE = 0.10
SKELETON_TWIG_UM = TEASAR_PARAMS["const"] / 1000.0
SKELETON_MIN_CABLE_UM = 2.0
SKELETON_BORDER_UM = 0.0
# TEASAR invalidates a ball of the soma's radius + soma_invalidation_const around a soma root:
# no path ends within it, so neurite that ends there is never traced, by the original's design
SKELETON_SOMA_MARGIN_UM = TEASAR_PARAMS["soma_invalidation_const"] / 1000.0


@dataclass
class SkeletonEvaluation:
    """Neurite cable length per neuron (soma, spines and twigs excluded on both sides)."""

    n_neurons: int              # neurons in the ground truth
    n_skeletonized: int         # of those: skeleton_status 'ok'
    n_evaluated: int            # of those: true neurite cable >= min_cable_um (scored)
    n_too_small: int            # 'too_small' (bounding-box diagonal below min_cc_size_ssv)
    n_empty: int                # 'empty' (large enough, but no path found)
    fraction_within: float      # of evaluated: |pred - true| <= tolerance * true
    tolerance: float
    median_abs_error: float     # median |pred - true| / true of evaluated
    nodes_inside: float         # fraction of all skeleton nodes inside their cell
    max_components: int         # largest number of connected components of one skeleton
    twig_um: float              # terminal branches shorter than this are left out
    border_um: float            # cable this close to a volume face is left out
    soma_margin_um: float       # cable this close to a soma surface is left out
    min_cable_um: float         # neurons with less true neurite cable are not scored

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        return [
            f"skeletons: {self.n_skeletonized} of {self.n_neurons} neurons ({self.n_too_small} "
            f"too small, {self.n_empty} empty), {self.n_evaluated} with >= "
            f"{self.min_cable_um:g} um neurite cable scored: within "
            f"{100 * self.tolerance:.0f} % of the truth for {100 * self.fraction_within:.1f} % "
            f"(median error {100 * self.median_abs_error:.1f} %)",
            f"skeleton nodes inside their cell: {100 * self.nodes_inside:.2f} %; "
            f"components per skeleton at most {self.max_components}",
        ]


def _labels_at(spec: str, points_vx: np.ndarray, block: int = 256) -> np.ndarray:
    """Segmentation values at integer voxel points, read block by block."""
    from syconn.io import open_volume

    out = np.zeros(len(points_vx), np.uint64)
    if not len(points_vx):
        return out
    key = points_vx // block
    order = np.lexsort(key.T[::-1])
    key_s = key[order]
    starts = np.r_[0, np.flatnonzero((np.diff(key_s, axis=0) != 0).any(axis=1)) + 1, len(order)]
    with open_volume(spec) as vol:
        for a, b in zip(starts[:-1], starts[1:]):
            idx = order[a:b]
            off = key_s[a] * block
            p = points_vx[idx] - off
            data = vol.read(tuple(int(v) for v in off), tuple(int(v) for v in p.max(axis=0) + 1))
            out[idx] = data[p[:, 0], p[:, 1], p[:, 2]]
    return out


def evaluate_skeletons(wd: Path | str, gt_dir: Path | str, *,
                       tolerance: float = SKELETON_TOLERANCE) -> tuple[SkeletonEvaluation,
                                                                       pd.DataFrame]:
    """Score the cell skeletons of ``wd`` against the ground-truth skeletons of ``gt_dir``
    (see :func:`score_skeletons`).  Returns the summary and a per-neuron table."""
    _, tables = _ground_truth(Path(gt_dir))
    res = Results(wd)
    cfg = res.cfg
    cells = pd.read_parquet(tables["cells"])
    lookup = sorted_mapping(pd.read_parquet(tables["supervoxels"]))

    def cell_at(points_vx: np.ndarray) -> np.ndarray:
        return map_supervoxels(_labels_at(cfg.inputs.seg, points_vx), *lookup)

    status = res.skeleton_status()
    neurons = cells.loc[~cells["is_glia"], "cell_id"]
    ok = [int(c) for c in neurons if status.get(int(c)) == "ok"]
    got = res.skeletons(ok) if ok else {}
    shape = res.seg_shape()
    return score_skeletons(got, status, cells, pd.read_parquet(tables["skeletons"]), cell_at,
                           cfg.dataset.voxel_size_nm, shape, tolerance=tolerance)


def _sample_edges(points: np.ndarray, edges: np.ndarray, step: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step`` (or closer) along each edge, ends included, and the index of the
    edge each point lies on."""
    a, b = points[edges[:, 0]], points[edges[:, 1]]
    n = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / step).astype(np.int64))
    owner = np.repeat(np.arange(len(edges)), n + 1)
    start = np.repeat(np.cumsum(n + 1) - (n + 1), n + 1)
    t = ((np.arange(len(owner)) - start) / n[owner])[:, None]
    return a[owner] + t * (b[owner] - a[owner]), owner


def _deepest_tube(points: np.ndarray, nodes: np.ndarray, edges: np.ndarray,
                  radii: np.ndarray, step: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """Index of the edge whose tube each point lies deepest in: the edge minimising the
    distance from the point to the edge (sampled every ``step``) minus the edge's radius
    ``radii``, and that depth (negative inside the tube).  A point inside a thick dendrite near
    the base of a spine neck belongs to the dendrite, although the neck's centre line (which
    starts on the dendrite's axis) is closer."""
    pts, owner = _sample_edges(nodes, edges, step)
    r = np.asarray(radii, np.float64)[owner]
    tree = cKDTree(pts)
    d0, i0 = tree.query(points)
    # no sample farther than d0 - r0 + max(r) can beat the nearest one
    reach = d0 - r[i0] + r.max() + 1e-6
    cand = tree.query_ball_point(points, reach)
    out = np.empty(len(points), np.int64)
    best = np.empty(len(points), np.float64)
    for k, c in enumerate(cand):
        c = np.asarray(c, np.int64)
        depth = np.linalg.norm(pts[c] - points[k], axis=1) - r[c]
        j = int(np.argmin(depth))
        out[k], best[k] = owner[c[j]], depth[j]
    return out, best


def _true_edges(g: pd.DataFrame) -> list:
    """``[nodes (n, 3) nm, edges (child, parent) (e, 2), lengths, radii (the child's, nm),
    compartments]`` of one cell's ground-truth skeleton table."""
    gp = g[["x_nm", "y_nm", "z_nm"]].to_numpy(np.float64)
    parent = g["parent_id"].to_numpy()
    has = parent >= 0
    ge = np.stack([np.flatnonzero(has),
                   pd.Index(g["node_id"].to_numpy()).get_indexer(parent[has])], axis=1)
    g_len = np.linalg.norm(gp[ge[:, 0]] - gp[ge[:, 1]], axis=1)
    return [gp, ge, g_len, g["radius_um"].to_numpy()[has] * 1000.0,
            g["compartment"].to_numpy()[has]]


def _side_bases(edges: np.ndarray, kept: np.ndarray, side: np.ndarray, across: np.ndarray,
                n_vertices: int) -> np.ndarray:
    """Edge indices of the bases of traced side branches: chains of ``kept`` edges that are not
    ``side`` (in a spine's or twig's tube) but cross their parent's tube (``across``), walked
    from every vertex of a kept side edge.  A traced spine runs from its head down the neck and
    then across the dendrite to its axis; whether the path ends in the head or, through a head
    touching another branch of the cell, goes on, the stretch across the parent is the spine's,
    not the parent's cable."""
    e = np.asarray(edges, np.int64).reshape(-1, 2)
    cand = np.zeros(len(e), bool)
    cand[np.asarray(kept, np.int64)] = True
    front = np.zeros(int(n_vertices), bool)
    front[e[cand & side].ravel()] = True
    walk = cand & ~side & across
    out = np.zeros(len(e), bool)
    while True:
        hit = walk & (front[e[:, 0]] | front[e[:, 1]])
        if not hit.any():
            return np.flatnonzero(out)
        out |= hit
        walk &= ~hit
        front[:] = False
        front[e[hit].ravel()] = True


def score_skeletons(skeletons: Mapping[int, Skeleton], status: Mapping[int, str],
                    gt_cells: pd.DataFrame, gt_skeletons: pd.DataFrame,
                    cell_at: Callable[[np.ndarray], np.ndarray], voxel_size_nm, shape_xyz, *,
                    tolerance: float = SKELETON_TOLERANCE,
                    twig_um: float = SKELETON_TWIG_UM,
                    border_um: float = SKELETON_BORDER_UM,
                    soma_margin_um: float = SKELETON_SOMA_MARGIN_UM,
                    min_cable_um: float = SKELETON_MIN_CABLE_UM
                    ) -> tuple[SkeletonEvaluation, pd.DataFrame]:
    """Compare predicted skeletons (``{cell id: Skeleton}``, nm) with the synthetic ground truth.

    Compared per neuron is the *neurite* cable length, defined the same way on both sides:

    - twigs are pruned from the true skeleton and from the prediction (after dropping the
      skeleton's ``bridges``, the straight edges between parts of a cell that leave the volume
      and return, and any edge whose midpoint is outside the cell): terminal branches shorter
      than ``twig_um``, by default TEASAR's invalidation constant (500 nm; the invalidation radius
      is 2 x radius + 500 nm), which TEASAR cannot resolve at any radius: a branch that ends
      inside the invalidation ball of its parent's path is not traced, and a bouton or the
      end of a thick neurite can become a short stub the truth does not have;
    - true edges count if their compartment is axon or dendrite (not soma, not spine: TEASAR
      makes a soma a fan of paths, and the original predicts spines from meshes), they lie
      outside the soma sphere enlarged by ``soma_margin_um`` (by default TEASAR's
      ``soma_invalidation_const``, 2 um: no path ends in that ball, so neurite ending there is
      never traced), at least ``border_um`` inside the volume, and at least their radius
      inside it (a neurite whose axis runs closer to a face than its radius is cut lengthwise
      by the face: the volume holds a sliver of it, not its centre line), and if most of the
      edge's axis (points every 40 nm) lies in the cell's own segmentation (where another
      cell's spine head took a thin axon's voxels, no skeleton of the segmentation passes);
    - a predicted edge counts where the true edge counts in whose tube its midpoint lies
      deepest (distance to the edge minus the edge's radius), so a place is in or out for both
      sides alike (no disagreement where a neurite runs along the edge of a region, and cable
      inside a dendrite stays dendrite next to the base of a spine); a traced spine or twig is
      left out down to the parent's axis: its edges in the spine's or twig's tube, and the
      chains of edges from there that cross the parent's tube at more than 45 degrees
      (whether the traced path ends in the spine or goes on through a head that touches
      another branch of the cell); a predicted edge more than ``twig_um`` outside every true
      tube traces a part of the cell the true skeleton does not describe (a sliver on a volume
      face of a neurite whose axis lies outside the volume) and is left out.

    A neuron is scored when its true neurite cable is at least ``min_cable_um``: below that,
    the relative error is dominated by where TEASAR ends a path.  ``cell_at`` maps integer
    mag-1 voxel points ``(n, 3)`` to cell ids; ``status`` is each cell's ``skeleton_status``;
    ``shape_xyz`` the volume shape in voxels.  Returns the summary and a per-neuron table (``scored`` marks the scored rows).
    """
    from syconn.proc.skeletons import skeleton_components, twig_mask

    vs = np.asarray(voxel_size_nm, np.float64)
    soma_margin_nm = soma_margin_um * 1000.0
    core_lo = np.full(3, border_um * 1000.0)
    vol_hi = (np.asarray(shape_xyz, np.float64) - 1) * vs
    core_hi = vol_hi - border_um * 1000.0
    cells = gt_cells.set_index("cell_id")
    neurons = cells[~cells["is_glia"]]
    skel = gt_skeletons
    got = {int(c): skeletons[int(c)] for c in neurons.index if int(c) in skeletons}
    # every predicted node and edge midpoint of the neurons, labelled in one pass
    # and points every 40 nm along every true edge (is the truth's axis in its own cell?)
    node_pts, mid_pts, true_pts, owners, truth = [], [], [], [], {}
    hi_vx = np.asarray(shape_xyz, np.int64) - 1
    for cid, s in got.items():
        v = s.vertices.astype(np.float64)
        e = s.edges.astype(np.int64)
        node_pts.append(np.rint(v / vs).astype(np.int64))
        mid_pts.append(np.rint((v[e[:, 0]] + v[e[:, 1]]) / 2 / vs).astype(np.int64))
        owners.append(cid)
        truth[cid] = t = _true_edges(skel[skel["cell_id"] == cid])
        pts, on = _sample_edges(t[0], t[1], 40.0) if len(t[1]) else (np.zeros((0, 3)), [])
        true_pts.append(np.clip(np.rint(pts / vs).astype(np.int64), 0, hi_vx))
        t.append(np.asarray(on, np.int64))
    sizes = [len(p) for p in node_pts + mid_pts + true_pts]
    allp = np.concatenate(node_pts + mid_pts + true_pts) if owners else np.zeros((0, 3), np.int64)
    cell_of = np.asarray(cell_at(allp)) if len(allp) else np.zeros(0, np.int64)
    parts = np.split(cell_of, np.cumsum(sizes)[:-1]) if owners else []
    n = len(owners)
    node_cell, mid_cell, true_cell = parts[:n], parts[n:2 * n], parts[2 * n:]

    per_cell = []
    inside = total = 0
    max_comp = 0
    for k, cid in enumerate(owners):
        s = got[cid]
        inside += int((node_cell[k] == cid).sum())
        total += len(node_cell[k])
        max_comp = max(max_comp, skeleton_components(s))
        row = cells.loc[cid]
        centre = None
        if bool(row["has_soma"]):
            centre = np.array([row["soma_x"], row["soma_y"], row["soma_z"]]) * vs
            soma_reach = row["soma_radius_um"] * 1000 + soma_margin_nm

        def scored_region(mid: np.ndarray, radius: np.ndarray) -> np.ndarray:
            """Inside the volume core, the whole cross-section inside the volume (a neurite
            whose axis runs closer to a face than its radius is cut lengthwise by the face),
            and away from the soma."""
            ok = np.all((mid >= np.maximum(core_lo, radius[:, None])) &
                        (mid <= np.minimum(core_hi, vol_hi - radius[:, None])), axis=1)
            if centre is not None:
                ok &= np.linalg.norm(mid - centre, axis=1) > soma_reach
            return ok

        # ground truth: twigs pruned, then axon and dendrite edges in the scored region whose
        # axis lies in the cell's segmentation (where another cell's spine head or bouton
        # took the voxels of a thin axon, or the gap between cells ate it, no skeleton of the
        # segmentation can pass, so neither side counts it)
        gp, ge, g_len, g_rad, g_comp, on = truth[cid]
        in_cell = np.bincount(on, weights=true_cell[k] == cid, minlength=len(ge)) >= \
            0.5 * np.bincount(on, minlength=len(ge))
        g_twig = twig_mask(len(gp), ge, g_len, twig_um * 1000)
        g_keep = ~g_twig & np.isin(g_comp, ("axon", "dendrite")) & in_cell & \
            scored_region((gp[ge[:, 0]] + gp[ge[:, 1]]) / 2, g_rad)
        g_side = g_twig | np.isin(g_comp, ("spine_neck", "spine_head"))  # side branches
        true = float(g_len[g_keep].sum())
        # prediction: edges inside the cell (not bridges), twigs pruned, then the decision of
        # the true edge whose tube holds the midpoint deepest (not simply the nearest centre
        # line: a spine neck's or a twig's first edge starts on the dendrite's axis, and the
        # nearest-line rule gave it the dendrite cable beside it, on spiny dendrites up to a
        # third); a traced spine or twig is left out down to the parent's axis (_side_bases)
        v = s.vertices.astype(np.float64)
        e = s.edges.astype(np.int64)
        mid = (v[e[:, 0]] + v[e[:, 1]]) / 2
        length = np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1)
        keep = (mid_cell[k] == cid) & ~s.bridges
        keep[keep] = ~twig_mask(len(v), e[keep], length[keep], twig_um * 1000)
        if len(ge):
            tube, depth = _deepest_tube(mid, gp, ge, g_rad)
            # more than twig_um outside every true tube: a part of the cell the truth has no
            # skeleton for (a sliver on a face of a neurite whose axis lies outside the volume)
            keep &= depth <= twig_um * 1000
            kk = np.flatnonzero(keep)
            g_dir = gp[ge[:, 0]] - gp[ge[:, 1]]
            g_dir /= np.maximum(np.linalg.norm(g_dir, axis=1, keepdims=True), 1e-9)
            p_dir = (v[e[:, 0]] - v[e[:, 1]]) / np.maximum(length, 1e-9)[:, None]
            across = np.abs((p_dir * g_dir[tube]).sum(axis=1)) < np.cos(np.radians(45))
            keep[_side_bases(e, kk, g_side[tube], across, len(v))] = False
            keep &= g_keep[tube]
        else:
            keep[:] = False
        pred = float(length[keep].sum())
        per_cell.append({"cell_id": cid, "type": row["type"], "true_um": true / 1000,
                         "pred_um": pred / 1000, "pred_all_um": float(length.sum()) / 1000})
    df = pd.DataFrame(per_cell, columns=["cell_id", "type", "true_um", "pred_um", "pred_all_um"])
    err = (df["pred_um"] - df["true_um"]).abs() / df["true_um"].where(df["true_um"] > 0)
    df["abs_error"] = err.fillna(np.inf)
    df["scored"] = df["true_um"] >= min_cable_um
    sc = df[df["scored"]]
    st = pd.Series([status.get(int(c)) for c in neurons.index])
    return SkeletonEvaluation(
        n_neurons=len(neurons), n_skeletonized=len(df), n_evaluated=len(sc),
        n_too_small=int((st == "too_small").sum()), n_empty=int((st == "empty").sum()),
        fraction_within=float((sc["abs_error"] <= tolerance).mean()) if len(sc) else 0.0,
        tolerance=tolerance,
        median_abs_error=float(sc["abs_error"].median()) if len(sc) else 0.0,
        nodes_inside=inside / total if total else 0.0, max_components=max_comp,
        twig_um=twig_um, border_um=border_um, soma_margin_um=soma_margin_um,
        min_cable_um=min_cable_um), df

