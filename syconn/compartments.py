"""Compartments of a processed working directory: skeleton-node features and labels, training.

The features of a cell's skeleton nodes (:func:`syconn.proc.compartments.node_features`) need
its skeleton (radii per node) and its own organelles (the ``organelles`` rows assigned to it:
representative voxel and volume).  On a volume of ``syconn synth`` each node's label is the
generator's compartment at the node's voxel (spine necks and heads: dendrite; boutons: one
class, told apart into en-passant and terminal by the skeleton afterwards).

Training volumes are varied synthetic volumes (``syconn synth --variation``: voxel size, gap,
maps), 6 um cubes, processed up to what the compartment step reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


__all__ = ["cell_organelles", "cell_node_features", "prepare_compartment_synthetic",
           "synthetic_node_samples", "COMPARTMENT_SIZE_UM", "SMOOTH_CHOICES_UM",
           "synthetic_samples", "score_nodes", "train_compartments"]

COMPARTMENT_SIZE_UM = 6.0   #: edge of the synthetic training and test cubes
SMOOTH_CHOICES_UM = (0.0, 2.0, 4.0, 8.0)   #: smoothing radii the validation volumes choose from


def cell_organelles(rows: dict[str, np.ndarray], voxel_size_nm
                    ) -> dict[int, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per cell, per organelle kind, ``(positions nm (m, 3), volumes um^3 (m,))`` from
    organelle rows (columns ``kind``, ``cell_id``, ``rep_x/y/z``, ``size_vx``; rows without a
    cell are left out).

    >>> out = cell_organelles({"kind": np.array(["vc", "mi"]), "cell_id": np.array([4, None]),
    ...     "rep_x": np.array([1, 2]), "rep_y": np.array([0, 0]), "rep_z": np.array([0, 0]),
    ...     "size_vx": np.array([1000, 5])}, (10, 10, 10))
    >>> out[4]["vc"][0].tolist(), out[4]["vc"][1].tolist()
    ([[10.0, 0.0, 0.0]], [0.001])
    """
    vs = np.asarray(voxel_size_nm, np.float64)
    cell = np.array([-1 if c is None else int(c) for c in rows["cell_id"]], np.int64)
    kind = np.asarray(rows["kind"]).astype(str)
    pos = np.stack([np.asarray(rows[f"rep_{a}"], np.float64) for a in "xyz"], 1) * vs
    vol = np.asarray(rows["size_vx"], np.float64) * float(np.prod(vs)) / 1e9
    out: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    ok = cell >= 0
    for c in np.unique(cell[ok]):
        sel = ok & (cell == c)
        out[int(c)] = {str(k): (pos[sel & (kind == k)], vol[sel & (kind == k)])
                       for k in np.unique(kind[sel])}
    return out


def _organelle_rows(res) -> dict[str, np.ndarray]:
    cols, rows = res.query("SELECT kind, cell_id, rep_x, rep_y, rep_z, size_vx FROM organelles "
                           "WHERE cell_id IS NOT NULL")
    arr = list(zip(*rows)) if rows else [[] for _ in cols]
    return {c: np.asarray(a, dtype=object if c in ("kind", "cell_id") else np.float64)
            for c, a in zip(cols, arr)}


def cell_node_features(wd, cells: Sequence[int] | None = None):
    """``{cell id: (skeleton, features (n, F))}`` of the cells of a processed working directory
    that have a skeleton (all, or those of ``cells``)."""
    from syconn.proc.compartments import node_features
    from syconn.read import Results

    res = Results(wd)
    status = res.skeleton_status()
    ids = [c for c, s in status.items() if s == "ok"]
    if cells is not None:
        want = {int(c) for c in cells}
        ids = [c for c in ids if c in want]
    skels = res.skeletons(ids)
    orgs = cell_organelles(_organelle_rows(res), res.voxel_size_nm)
    return {c: (sk, node_features(sk.vertices, sk.edges, sk.radii_nm, orgs.get(c)))
            for c, sk in sorted(skels.items()) if len(sk.vertices)}


def prepare_compartment_synthetic(seed: int, workdir, *, size_um: float = COMPARTMENT_SIZE_UM,
                                  workers: int = 2, log: Callable[[str], None] = print
                                  ) -> tuple[Path, Path]:
    """Synthesise varied volume ``seed`` under ``workdir`` and run the pipeline on it up to
    what the compartment step reads; returns ``(working directory, data)``.  Each stage is
    reused when present."""
    from syconn.tasks.compartments import CompartmentInputs
    from syconn.train import prepare_synthetic

    return prepare_synthetic(seed, workdir, size_um=size_um, workers=workers, log=log,
                             prefix="comp", task=CompartmentInputs)


def synthetic_node_samples(wd, data) -> dict[str, np.ndarray]:
    """Labelled skeleton nodes of a processed synthetic volume: ``X`` (features), ``y`` (class,
    -1 where the node's voxel is background or glia), ``cable_um``, ``cell_id``, ``node``;
    glia cells of the truth are left out."""
    from syconn.io import open_volume
    from syconn.proc.compartments import labels_from_volume, node_cable_um
    from syconn.read import Results

    res = Results(wd)
    feats = cell_node_features(wd)
    gt = Path(data) / "gt"
    with open_volume(str(gt / "compartments.h5")) as vol:
        comp = vol.read((0, 0, 0), tuple(vol.shape))
    X, y, w, cid, node = [], [], [], [], []
    for c, (sk, f) in feats.items():
        lab = labels_from_volume(sk.vertices, comp, res.voxel_size_nm)
        X.append(f)
        y.append(lab)
        w.append(node_cable_um(sk.vertices, sk.edges))
        cid.append(np.full(len(lab), c, np.int64))
        node.append(np.arange(len(lab)))
    cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    return {"X": np.concatenate(X) if X else np.zeros((0, 0), np.float32),
            "y": cat(y, np.int64), "cable_um": cat(w, np.float64), "cell_id": cat(cid, np.int64),
            "node": cat(node, np.int64)}


def synthetic_samples(seeds: Sequence[int], workdir, *, size_um: float = COMPARTMENT_SIZE_UM,
                      workers: int = 2, log: Callable[[str], None] = print
                      ) -> list[dict[str, np.ndarray]]:
    """The labelled nodes of each synthetic volume (made and processed when missing; the node
    samples are cached next to it), with its ``skeletons`` ({cell: Skeleton}) and ``seed``."""
    from syconn.read import Results

    out = []
    for s in seeds:
        log(f"compartment ground truth of synthetic volume {s} ...")
        wd, data = prepare_compartment_synthetic(int(s), workdir, size_um=size_um,
                                                 workers=workers, log=lambda m: None)
        d = synthetic_node_samples(wd, data)
        d["skeletons"] = Results(wd).skeletons(np.unique(d["cell_id"]).tolist())
        d["seed"] = int(s)
        out.append(d)
    return out


def score_nodes(model, samples: Sequence[dict], smooth_um: float | None = None) -> dict:
    """Cable-weighted figures of ``model`` on labelled nodes: macro-F1 over dendrite / axon /
    soma (boutons count as axon), F1 per class, bouton F1 (bouton against everything else)."""
    from syconn.ml.compartments import macro_f1

    truth, pred, weight = [], [], []
    for d in samples:
        lab = np.zeros(len(d["y"]), np.int64)
        for c in np.unique(d["cell_id"]):
            sel = np.flatnonzero(d["cell_id"] == c)
            sk = d["skeletons"][int(c)]
            lab[sel] = model.predict(sk.vertices, sk.edges, d["X"][sel], smooth_um=smooth_um)[0]
        truth.append(d["y"])
        pred.append(lab)
        weight.append(d["cable_um"])
    t, p, w = np.concatenate(truth), np.concatenate(pred), np.concatenate(weight)
    f, per = macro_f1(np.where(t >= 3, 1, t), np.where(p >= 3, 1, p), w, [0, 1, 2])
    fb, _ = macro_f1(np.where(t < 0, -1, (t >= 3).astype(np.int64)), (p >= 3).astype(np.int64),
                     w, [1])
    return {"macro_f1": round(f, 4), "f1_dendrite": round(per[0], 4),
            "f1_axon": round(per[1], 4), "f1_soma": round(per[2], 4),
            "f1_bouton": round(fb, 4), "nodes": int((t >= 0).sum()),
            "cable_um": round(float(w[t >= 0].sum()), 1)}


def train_compartments(out, *, synthetic: Sequence[int], validation: Sequence[int],
                       workdir="syconn_train", size_um: float = COMPARTMENT_SIZE_UM,
                       seed: int = 0, n_trees: int = 100, min_samples_leaf: int = 5,
                       workers: int = 2, log: Callable[[str], None] = print) -> Path:
    """Train the compartment forest on the nodes of synthetic volumes ``synthetic``, choose the
    smoothing radius on ``validation`` (none used for training; their figures go in the card)
    and write the model to ``out``.  Reproducible from ``seed``."""
    import time

    from syconn.ml.compartments import fit_forest

    from syconn.train import check_seed_split

    seeds, val = check_seed_split(synthetic, validation, "the smoothing radius")
    t0 = time.perf_counter()
    root = Path(workdir) / "compartments"
    train = synthetic_samples(seeds, root, size_um=size_um, workers=workers, log=log)
    X = np.concatenate([d["X"] for d in train])
    y = np.concatenate([d["y"] for d in train])
    w = np.concatenate([d["cable_um"] for d in train])
    log(f"training on {int((y >= 0).sum())} nodes ({float(w[y >= 0].sum()):.0f} um of cable) "
        f"of {len(seeds)} volumes")
    model = fit_forest(X, np.where(y >= 3, 3, y), w, seed=seed, n_trees=n_trees,
                       min_samples_leaf=min_samples_leaf,
                       card={"training_seeds": seeds, "training_volume_um": size_um,
                             "training_data": f"syconn synth --variation ({size_um:g} um "
                                              "cubes) processed up to the skeletons, organelles "
                                              "and synapses; node labels from the generator's "
                                              "compartment volume"})
    vs = synthetic_samples(val, root, size_um=size_um, workers=workers, log=log)
    scores = {r: score_nodes(model, vs, smooth_um=r) for r in SMOOTH_CHOICES_UM}
    best = max(SMOOTH_CHOICES_UM, key=lambda r: (scores[r]["macro_f1"] + scores[r]["f1_bouton"],
                                                 -r))
    for r in SMOOTH_CHOICES_UM:
        log(f"validation {val}, smoothing {r:g} um: {scores[r]}")
    card = dict(model.card)
    card.update(smooth_um=float(best), validation_seeds=val, validation=scores[best],
                train_seconds=round(time.perf_counter() - t0, 1))
    model = type(model)(forest=model.forest, card=card)
    path = model.save(out)
    log(f"smoothing {best:g} um chosen; wrote {path}")
    return path
