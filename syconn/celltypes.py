"""Cell types of a processed working directory: per-cell features, labels, training, scoring.

The features of a cell (:func:`syconn.proc.celltypes.cell_type_features`) come from what the
pipeline stored: the ``cells`` row (volume, mesh area, organelle counts), its skeleton with the
compartment of every node, its bouton runs (``cell_compartments``) and the synapses above the
threshold in which it is a partner.  On a volume of ``syconn synth`` each cell's label is the
generator's type of the true cell most of its supervoxels belong to.

Training volumes are varied synthetic volumes (``syconn synth --variation``), processed up to
the compartments; or a user's working directory with a table of labelled cells
(``syconn train celltypes --labels cells.csv``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from syconn.errors import InputError

__all__ = ["CELLTYPE_SIZE_UM", "SYNTH_CLASSES", "MIN_CABLE_CHOICES_UM", "cell_type_inputs",
           "cell_features", "type_status", "prepare_celltype_synthetic", "synthetic_cell_labels",
           "synthetic_cell_samples", "score_cells", "train_celltypes",
           "train_celltypes_from_labels", "read_labels"]

CELLTYPE_SIZE_UM = 6.0   #: edge of the synthetic training cubes
#: the classes of the shipped model: the generator's neuron types, and glia (whole glia cells,
#: until a glia model splits them off per supervoxel)
SYNTH_CLASSES = ("spiny", "interneuron", "sparsely_spiny", "afferent", "glia")
#: skeleton cable floors (um) the validation volumes choose from
MIN_CABLE_CHOICES_UM = (0.0, 2.0, 5.0, 10.0, 20.0)


def cell_type_inputs(res) -> tuple[dict, dict, dict]:
    """``(cells, nodes, synapses)`` mappings of arrays for
    :func:`~syconn.proc.celltypes.cell_type_features`, from a :class:`syconn.read.Results`.
    Cells without a labelled skeleton have no node rows."""
    from syconn.proc.compartments import node_cable_um, node_degree

    cols = ["id", "volume_um3", "mesh_area_um2", "n_mi", "n_vc", "skeleton_status",
            "cable_length_um"]
    t = res.cell_table(cols)
    ids = np.asarray(t["id"], np.int64)
    cells = {"id": ids}
    for c in ("volume_um3", "mesh_area_um2"):
        cells[c] = np.array([np.nan if v is None else float(v) for v in t[c]])
    for c in ("n_mi", "n_vc"):
        cells[c] = np.array([0 if v is None else int(v) for v in t[c]], np.int64)
    cells["skeleton_status"] = np.array([s or "" for s in t["skeleton_status"]], object)
    _, rows = res.query("SELECT cell_id, SUM(n_objects) FROM cell_compartments "
                        "WHERE compartment IN (3, 4) GROUP BY cell_id")
    nb = dict((int(a), int(b)) for a, b in rows)
    cells["n_boutons"] = np.array([nb.get(int(i), 0) for i in ids], np.int64)

    ok = ids[cells["skeleton_status"] == "ok"]
    labels = res.node_compartments(ok.tolist())
    skels = res.skeletons(list(labels)) if labels else {}
    parts = {k: [] for k in ("cell_id", "compartment", "radius_nm", "cable_um", "degree")}
    for c, lab in labels.items():
        sk = skels.get(c)
        if sk is None or len(sk.vertices) != len(lab):
            continue
        parts["cell_id"].append(np.full(len(lab), c, np.int64))
        parts["compartment"].append(np.asarray(lab, np.int64))
        parts["radius_nm"].append(np.asarray(sk.radii_nm, np.float64))
        parts["cable_um"].append(node_cable_um(sk.vertices, sk.edges))
        parts["degree"].append(node_degree(len(sk.vertices), sk.edges))
    nodes = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts.items()}

    thr = res.syn_prob_threshold()
    scols, srows = res.query(
        "SELECT cell_pre, cell_post, sign, area_um2, comp_pre, comp_post FROM synapses "
        "WHERE syn_prob >= :t AND cell_pre IS NOT NULL AND cell_post IS NOT NULL "
        "ORDER BY id", {"t": thr})  # sums in one order on every backend and load order
    syn = {c: np.array([(-1 if r[k] is None else r[k]) for r in srows],
                       np.float64 if c == "area_um2" else np.int64)
           for k, c in enumerate(scols)}
    return cells, nodes, syn


def cell_features(res) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(cell ids, features, skeleton cable um, skeleton status)`` of every cell of a working
    directory."""
    from syconn.proc.celltypes import FEATURE_NAMES, cell_type_features

    cells, nodes, syn = cell_type_inputs(res)
    X = cell_type_features(cells, nodes, syn)
    return cells["id"], X, X[:, FEATURE_NAMES.index("cable_um")], cells["skeleton_status"]


def type_status(skeleton_status: np.ndarray, cable_um: np.ndarray, min_cable_um: float
                ) -> np.ndarray:
    """``cell_type_status`` per cell: 'ok' (typed), 'no_skeleton' (its skeleton step did not
    give one or no node was labelled), 'too_small' (less cable than ``min_cable_um``).

    >>> type_status(np.array(["ok", "too_small", "ok"], object), np.array([30., 0., 4.]),
    ...             10.0).tolist()
    ['ok', 'no_skeleton', 'too_small']
    """
    st = np.where(np.asarray(skeleton_status) == "ok", "ok", "no_skeleton").astype(object)
    cab = np.asarray(cable_um, np.float64)
    st[(st == "ok") & (cab <= 0)] = "no_skeleton"
    st[(st == "ok") & (cab < float(min_cable_um))] = "too_small"
    return st


def prepare_celltype_synthetic(seed: int, workdir, *, size_um: float = CELLTYPE_SIZE_UM,
                               workers: int = 2, log: Callable[[str], None] = print
                               ) -> tuple[Path, Path]:
    """Synthesise varied volume ``seed`` under ``workdir`` (``ct_SEED/data``) and run the
    pipeline on it up to what the cell type step reads (``ct_SEED/wd``); each stage is reused
    when present."""
    from syconn.tasks.celltypes import CellTypeInputs
    from syconn.train import prepare_synthetic

    return prepare_synthetic(seed, workdir, size_um=size_um, workers=workers, log=log,
                             prefix="ct", task=CellTypeInputs)


def synthetic_cell_labels(res, data, classes: Sequence[str] = SYNTH_CLASSES
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of the working directory (``res``) of synthetic volume ``data``: the index in
    ``classes`` of the generator's type of the true cell most of its voxels belong to (-1 for a
    type not in ``classes``), and that true cell's cable in the volume (um)."""
    import pandas as pd

    gt = Path(data) / "gt"
    true_cells = pd.read_parquet(gt / "cells.parquet")
    sv = pd.read_parquet(gt / "supervoxels.parquet")
    sv_ids, cell_ids = res.supervoxel_cells()
    pred = pd.DataFrame({"sv_id": np.asarray(sv_ids, np.int64),
                         "cell": np.asarray(cell_ids, np.int64)})
    j = pred.merge(sv[["sv_id", "cell_id", "size_vx"]], on="sv_id")
    best = (j.groupby(["cell", "cell_id"])["size_vx"].sum().reset_index()
            .sort_values(["cell", "size_vx", "cell_id"], ascending=[True, False, True])
            .drop_duplicates("cell"))
    kind = true_cells.set_index("cell_id")
    ids = np.asarray(res.cell_ids(), np.int64)
    truth = dict(zip(best["cell"], best["cell_id"]))
    y = np.full(len(ids), -1, np.int64)
    cable = np.zeros(len(ids))
    for k, c in enumerate(ids.tolist()):
        t = truth.get(c)
        if t is None or t not in kind.index:
            continue
        name = str(kind.at[t, "type"])
        y[k] = classes.index(name) if name in classes else -1
        cable[k] = float(kind.at[t, "cable_length_um"])
    return y, cable


def synthetic_cell_samples(seeds, root, *, size_um: float = CELLTYPE_SIZE_UM, workers: int = 2,
                           log: Callable[[str], None] = print,
                           classes: Sequence[str] = SYNTH_CLASSES) -> list[dict]:
    """Per synthetic volume ``seed`` (made and processed under ``root`` when missing): its
    cells' ids, features, skeleton cable and status, label (index in ``classes``) and true
    cable."""
    from syconn.read import Results

    out = []
    for s in seeds:
        wd, data = prepare_celltype_synthetic(int(s), root, size_um=size_um, workers=workers,
                                              log=log)
        res = Results(wd)
        ids, X, cable, sk = cell_features(res)
        y, true_cable = synthetic_cell_labels(res, data, classes)
        if not np.array_equal(ids, np.asarray(res.cell_ids(), np.int64)):
            raise RuntimeError("cell order differs between features and labels; report this")
        out.append({"seed": int(s), "ids": ids, "X": X, "cable": cable, "status": sk, "y": y,
                    "true_cable": true_cable})
        log(f"volume {s}: {len(ids)} cells, {int((y >= 0).sum())} labelled")
    return out


def score_cells(model, samples: Sequence[dict], *, min_cable_um: float,
                min_true_cable_um: float = 0.0, neurons_only: bool = True) -> dict:
    """Accuracy of ``model`` over the labelled cells of ``samples`` whose true cable is at
    least ``min_true_cable_um`` (neurons only: glia left out of the count), and the share of
    them it types (the others are 'too_small' or 'no_skeleton'); untyped cells are not
    counted as errors but reported by ``typed``.  Also the confusion matrix (truth rows,
    prediction columns, class order of the model)."""
    classes = list(model.classes)
    conf = np.zeros((len(classes), len(classes)), np.int64)
    n = typed = 0
    for d in samples:
        sel = d["y"] >= 0
        if neurons_only and "glia" in classes:
            sel &= d["y"] != classes.index("glia")
        sel &= d["true_cable"] >= min_true_cable_um
        st = type_status(d["status"], d["cable"], min_cable_um)
        n += int(sel.sum())
        t = sel & (st == "ok")
        typed += int(t.sum())
        if t.any():
            pred = model.predict(d["X"][t])[0]
            np.add.at(conf, (d["y"][t], pred), 1)
    correct = int(np.trace(conf))
    return {"cells": n, "typed": typed, "typed_share": round(typed / n, 4) if n else None,
            "accuracy": round(correct / typed, 4) if typed else None,
            "confusion": conf.tolist(), "classes": classes}


def train_celltypes(out, *, synthetic: Sequence[int], validation: Sequence[int],
                    workdir="syconn_train", size_um: float = CELLTYPE_SIZE_UM, seed: int = 0,
                    n_trees: int = 200, min_samples_leaf: int = 2, workers: int = 2,
                    log: Callable[[str], None] = print) -> Path:
    """Train the cell type forest on the cells of synthetic volumes ``synthetic``, choose the
    cable floor on ``validation`` (none used for training; their figures go in the card) and
    write the model to ``out``.  Reproducible from ``seed``."""
    import time

    from syconn.ml.celltypes import fit_celltype_forest

    from syconn.train import check_seed_split

    seeds, val = check_seed_split(synthetic, validation, "the cable floor")
    t0 = time.perf_counter()
    root = Path(workdir) / "celltypes"
    train = synthetic_cell_samples(seeds, root, size_um=size_um, workers=workers, log=log)
    # train on every labelled cell with a labelled skeleton
    X = np.concatenate([d["X"][d["cable"] > 0] for d in train])
    y = np.concatenate([d["y"][d["cable"] > 0] for d in train])
    log(f"training on {int((y >= 0).sum())} cells of {len(seeds)} volumes")
    model = fit_celltype_forest(
        X, y, SYNTH_CLASSES, seed=seed, n_trees=n_trees, min_samples_leaf=min_samples_leaf,
        card={"training_seeds": seeds, "training_volume_um": size_um,
              "training_data": f"syconn synth --variation ({size_um:g} um cubes) processed up to "
                               "the compartments; every cell with a labelled skeleton, labelled "
                               "with the generator's type of its true cell"})
    vsamp = synthetic_cell_samples(val, root, size_um=size_um, workers=workers, log=log)
    scores = {m: score_cells(model, vsamp, min_cable_um=m) for m in MIN_CABLE_CHOICES_UM}
    for m in MIN_CABLE_CHOICES_UM:
        log(f"validation {val}, cable floor {m:g} um: accuracy {scores[m]['accuracy']}, "
            f"typed {scores[m]['typed']} of {scores[m]['cells']}")
    # the lowest floor whose validation accuracy is within a point of the best
    best_acc = max((s["accuracy"] or 0.0) for s in scores.values())
    best = min(m for m in MIN_CABLE_CHOICES_UM
               if (scores[m]["accuracy"] or 0.0) >= best_acc - 0.01)
    card = dict(model.card)
    card.update(min_cable_um=float(best), validation_seeds=val, validation=scores[best],
                train_seconds=round(time.perf_counter() - t0, 1))
    model = type(model)(forest=model.forest, card=card)
    path = model.save(out)
    log(f"cable floor {best:g} um chosen; wrote {path}")
    return path


def read_labels(path) -> tuple[np.ndarray, list[str]]:
    """``(cell ids, type names)`` of a labels file: CSV with a header naming ``cell_id`` and
    ``cell_type`` (or two columns: id, name)."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such labels file")
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r and any(x.strip() for x in r)]
    if not rows:
        raise InputError(f"{path}: empty labels file, expected rows of cell id and cell type")
    head = [h.strip().lower() for h in rows[0]]
    if "cell_id" in head and "cell_type" in head:
        ic, it = head.index("cell_id"), head.index("cell_type")
        rows = rows[1:]
    else:
        ic, it = 0, 1
        if rows and not rows[0][0].strip().lstrip("-").isdigit():
            rows = rows[1:]  # some other header
    if not rows:
        raise InputError(f"{path}: no labelled cells (only a header)")
    ids, names = [], []
    for k, r in enumerate(rows, 2 if head else 1):
        if len(r) <= max(ic, it):
            raise InputError(f"{path}: line {k}: expected a cell id and a cell type")
        try:
            ids.append(int(r[ic]))
        except ValueError:
            raise InputError(f"{path}: line {k}: cell id {r[ic]!r} is not an integer") from None
        name = r[it].strip()
        if not name:
            raise InputError(f"{path}: line {k}: empty cell type")
        names.append(name)
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise InputError(f"{path}: cell(s) {dup} labelled more than once")
    return np.asarray(ids, np.int64), names


def train_celltypes_from_labels(out, wd, labels, *, folds: int = 5, seed: int = 0,
                                n_trees: int = 200, min_samples_leaf: int = 2,
                                min_cable_um: float = 0.0,
                                log: Callable[[str], None] = print) -> tuple[Path, dict]:
    """Train on the labelled cells of a processed working directory (``labels``: a CSV of cell
    id and type name, any class list); print a cross-validated report (``folds`` folds,
    stratified) and write the model, classes named, to ``out``.  Nothing is written when the
    labels are wrong (unknown cells, fewer than two classes, a cell without a skeleton)."""
    from syconn.ml.celltypes import fit_celltype_forest
    from syconn.read import Results

    lab_ids, names = read_labels(labels)
    classes = sorted(set(names))
    if len(classes) < 2:
        raise InputError(f"{labels}: {len(classes)} cell type ({classes[0]!r}), expected at "
                         "least two")
    res = Results(wd)
    if not res.step_done("Compartments"):
        raise InputError(f"{wd}: the compartment step has not run; run the pipeline first "
                         "(syconn run)")
    ids, X, cable, _ = cell_features(res)
    pos = {int(c): k for k, c in enumerate(ids.tolist())}
    unknown = [int(c) for c in lab_ids if int(c) not in pos]
    if unknown:
        raise InputError(f"{labels}: {len(unknown)} cell(s) not in {wd}: {unknown[:5]}")
    rows = np.array([pos[int(c)] for c in lab_ids], np.int64)
    bare = [int(c) for c, r in zip(lab_ids, rows) if cable[r] <= 0]
    if bare:
        raise InputError(f"{labels}: {len(bare)} cell(s) without a labelled skeleton (too "
                         f"small or not skeletonised): {bare[:5]}")
    y = np.array([classes.index(n) for n in names], np.int64)
    Xl = X[rows]
    counts = np.bincount(y, minlength=len(classes))
    k = int(min(folds, counts.min()))
    report: dict = {"classes": classes, "cells": int(len(y)),
                    "cells_per_class": counts.tolist(), "folds": k}
    if k >= 2:
        from sklearn.model_selection import StratifiedKFold

        pred = np.full(len(y), -1, np.int64)
        for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(Xl, y):
            if len(np.unique(y[tr])) < len(classes):
                continue
            m = fit_celltype_forest(Xl[tr], y[tr], classes, seed=seed, n_trees=n_trees,
                                    min_samples_leaf=min_samples_leaf)
            pred[te] = m.predict(Xl[te])[0]
        done = pred >= 0
        conf = np.zeros((len(classes), len(classes)), np.int64)
        np.add.at(conf, (y[done], pred[done]), 1)
        report.update(cv_accuracy=round(float(np.mean(pred[done] == y[done])), 4)
                      if done.any() else None, cv_confusion=conf.tolist())
        log(f"{k}-fold cross-validated accuracy {report['cv_accuracy']} over {int(done.sum())} "
            f"cells; confusion (rows truth, columns prediction, {classes}): {conf.tolist()}")
    else:
        log(f"no cross-validation: the smallest class has {int(counts.min())} cell(s)")
    model = fit_celltype_forest(Xl, y, classes, seed=seed, n_trees=n_trees,
                                min_samples_leaf=min_samples_leaf,
                                card={"training_data": f"labels {Path(labels).name} on "
                                                      f"{Path(wd).name}",
                                      "min_cable_um": float(min_cable_um),
                                      "cross_validation": report})
    path = model.save(out)
    log(f"wrote {path}")
    return path, report
