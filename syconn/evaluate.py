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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from syconn.config import load_config
from syconn.db import run_query
from syconn.errors import InputError
from syconn.workdir import open_engine

__all__ = ["Evaluation", "evaluate", "match_synapses", "MATCH_DISTANCE_NM"]

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


def _pair_columns(df: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    lo = np.minimum(df[a].to_numpy(), df[b].to_numpy())
    hi = np.maximum(df[a].to_numpy(), df[b].to_numpy())
    return df.assign(cell_a=lo, cell_b=hi)


def evaluate(wd: Path | str, gt_dir: Path | str) -> Evaluation:
    """Score the results of ``wd`` against the ground truth in ``gt_dir`` (a synth output)."""
    gt_dir = Path(gt_dir)
    meta_path = gt_dir / "synth.json"
    if not meta_path.is_file():
        raise InputError(f"{gt_dir}: no synth.json: not a 'syconn synth' dataset")
    meta = json.loads(meta_path.read_text())
    tables = {k: gt_dir / v for k, v in meta["ground_truth"]["tables"].items()}
    cfg = load_config(wd)
    vs = cfg.dataset.voxel_size_nm
    engine = open_engine(wd, cfg, read_only=True)

    cols, rows = run_query(engine, "SELECT id, cell_pre, cell_post, rep_x, rep_y, rep_z, sign, "
                                   "syn_prob FROM synapses")
    pred = pd.DataFrame(rows, columns=cols)
    pred = pred[pred["syn_prob"] > cfg.cell_objects.thresh_synssv_proba].reset_index(drop=True)
    pred = pred.rename(columns={"rep_x": "x", "rep_y": "y", "rep_z": "z"})
    pred = _pair_columns(pred.fillna({"cell_pre": 0, "cell_post": 0}), "cell_pre", "cell_post")
    true = pd.read_parquet(tables["synapses"])
    true = _pair_columns(true, "pre_cell_id", "post_cell_id")
    matches = match_synapses(pred, true, vs)
    n_m = len(matches)
    if n_m:
        pi, ti = map(np.array, zip(*matches))
        direction = float(np.mean(pred["cell_pre"].to_numpy()[pi] ==
                                  true["pre_cell_id"].to_numpy()[ti]))
        sign = float(np.mean(pred["sign"].to_numpy()[pi] == true["sign"].to_numpy()[ti]))
    else:
        direction = sign = 0.0

    # objects below the configured minimum size are not reported by design (min_obj_vx, the
    # original's too); ground-truth mitochondria cut by the volume border can be that small
    gt_mi = pd.read_parquet(tables["mitochondria"])
    mito_true = int((gt_mi["size_vx"] >= cfg.cell_objects.min_obj_vx.mi).sum())
    mito_pred = run_query(engine, "SELECT COUNT(*) FROM organelles WHERE kind = 'mi'")[1][0][0]

    # supervoxel-to-cell must be exactly the connected components of the agglomeration graph
    from syconn.proc import cells_from_agglomeration
    from syconn.tasks.prepare import read_agglomeration

    sv_ids = pd.read_parquet(tables["supervoxels"])["sv_id"].to_numpy().astype(np.uint64)
    edges = read_agglomeration(gt_dir / meta["agglomeration"])
    gt_sv = cells_from_agglomeration(sv_ids, edges).to_pandas()[["sv_id", "cell_id"]]
    gt_sv = gt_sv.astype({"sv_id": np.int64, "cell_id": np.int64})
    cols, rows = run_query(engine, "SELECT id AS sv_id, cell_id FROM supervoxels")
    db_sv = pd.DataFrame(rows, columns=cols)
    merged = gt_sv.merge(db_sv, on="sv_id", how="outer", suffixes=("_gt", "_db"))
    wrong = int((merged["cell_id_gt"] != merged["cell_id_db"]).sum())
    n_true, n_pred = len(true), len(pred)
    return Evaluation(
        n_true_synapses=n_true, n_predicted_synapses=n_pred, n_matched=n_m,
        precision=n_m / n_pred if n_pred else 0.0, recall=n_m / n_true if n_true else 0.0,
        direction_accuracy=direction, sign_accuracy=sign,
        n_true_mitochondria=mito_true, n_predicted_mitochondria=int(mito_pred),
        mitochondria_count_error=(mito_pred - mito_true) / mito_true if mito_true else 0.0,
        supervoxel_to_cell_exact=wrong == 0, n_supervoxels_wrong_cell=wrong)
