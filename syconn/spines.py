"""Spines at synapses: the spine class of the postsynaptic side and its head's volume, the
samples the spine model is trained and scored on, and ``syconn train spines``.

:func:`synapse_spine` is what the pipeline's ``SpineShard`` runs per synapse: the postsynaptic
cell's mask in a box around the synapse (:data:`syconn.proc.spines.BOX_UM`), strided to about
20 nm in x and y, its surface voxels' features and class probabilities (the model), the class
at the synapse and, on a head, the head's volume.

Training and scoring samples come from ``syconn synth --variation`` volumes made in memory
(nothing is written): a box around every true synapse on a dendrite shaft, spine neck or head
or a soma, the post cell's mask from the generator's supervoxels and cells, and every surface
voxel labelled by the generator's compartment volume (neck, head, shaft, other); the true head
volume is the 26-connected piece of head voxels of the post cell nearest the synapse.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from syconn.proc.spines import (
    BOX_UM, HEAD, NECK, OTHER, SHAFT, SPINE_CLASSES, box_factors, class_of_compartment,
    head_volume_um3, spine_features, synapse_spiness,
)

__all__ = ["SPINE_SIZE_UM", "RADIUS_CHOICES_NM", "SYNAPSE_KINDS", "synapse_spine",
           "box_bounds", "volume_samples", "score_spines", "train_spines"]

SPINE_SIZE_UM = 4.0  #: edge of a synthetic training volume
#: radii around the synapse whose surface voxels vote for its class; the validation seeds choose
RADIUS_CHOICES_NM = (100.0, 150.0, 250.0)
#: the generator's post compartments of a synapse -> spine class
SYNAPSE_KINDS = {"spine_neck": NECK, "spine_head": HEAD, "shaft": SHAFT, "soma": OTHER}
#: a spine head volume counts as right within this share of the truth
HEAD_TOLERANCE = 0.25


def box_bounds(point_vx, voxel_nm, shape_xyz) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` voxel corners of the box of half-edge :data:`BOX_UM` around ``point_vx``,
    clipped to the volume.

    >>> lo, hi = box_bounds((5, 500, 100), (10, 10, 25), (1000, 1000, 200))
    >>> lo.tolist(), hi.tolist()
    ([0, 380, 52], [126, 621, 149])
    """
    vs = np.asarray(voxel_nm, np.float64)
    half = np.round(BOX_UM * 1000.0 / vs).astype(np.int64)
    p = np.asarray(point_vx, np.int64)
    lo = np.maximum(p - half, 0)
    hi = np.minimum(p + half + 1, np.asarray(shape_xyz, np.int64))
    return lo, hi


def synapse_spine(model, mask: np.ndarray, voxel_nm, point_vx, *, radius_nm: float
                  ) -> tuple[int, float, float]:
    """Spine class, its probability and the head volume (um^3, NaN off a head) at ``point_vx``
    (voxels of the box ``mask``, already strided by :func:`~syconn.proc.spines.box_factors`;
    ``voxel_nm``: its voxel size)."""
    m = np.asarray(mask, bool)
    vs = np.asarray(voxel_nm, np.float64)
    pv = np.asarray(point_vx, np.float64)
    surf, X = spine_features(m, vs)
    return _at_synapse(m, vs, pv, surf, model.proba(X), radius_nm)


def _strided(mask, voxel_nm, point_vx):
    f = np.asarray(box_factors(voxel_nm), np.int64)
    return (np.asarray(mask, bool)[::f[0], ::f[1], ::f[2]],
            np.asarray(voxel_nm, np.float64) * f, np.asarray(point_vx, np.float64) / f)


def _at_synapse(m, vs, pv, surf, proba, radius_nm):
    cls, prob = synapse_spiness(surf, proba, pv, vs, radius_nm)
    vol = float("nan")
    if cls == HEAD:
        vol = head_volume_um3(m, surf, proba.argmax(1), pv, vs, radius_nm)
    return cls, prob, vol


def _true_head_volume(cell_mask, comp, point_vx, voxel_nm) -> float:
    import cc3d

    cc = cc3d.connected_components(cell_mask & (comp == 5), connectivity=26)
    pts = np.argwhere(cc > 0)
    if not len(pts):
        return float("nan")
    d = (((pts - np.asarray(point_vx)) * np.asarray(voxel_nm, np.float64)) ** 2).sum(1)
    k = cc[tuple(pts[int(np.argmin(d))])]
    return float(np.sum(cc == k)) * float(np.prod(voxel_nm)) / 1e9


def volume_samples(seed: int, *, size_um: float = SPINE_SIZE_UM, model=None,
                   radius_nm: float | None = None) -> dict:
    """The samples of synthetic volume ``seed`` (``syconn synth --variation``, a cube of
    ``size_um``, made in memory): per true synapse on a shaft, neck, head or soma its class and
    true head volume, and the features (``X``) and classes (``y``) of its box's surface voxels.
    With a ``model`` each synapse also gets the model's class and head volume at every radius
    of :data:`RADIUS_CHOICES_NM` (or ``radius_nm``) and the voxels their predicted class."""
    from syconn.synth import synthesize
    from syconn.synth.variation import Variation
    from syconn.train import synth_shape

    var = Variation.draw(int(seed))
    shape = synth_shape(var.voxel_size_nm, size_um)
    r = synthesize(shape_xyz=shape, voxel_size_nm=var.voxel_size_nm, seed=int(seed),
                   variation=var)
    vs = np.asarray(r.voxel_size_nm, np.float64)
    lut = np.zeros(int(r.seg.max()) + 1, np.int64)
    lut[r.supervoxels.sv_id.to_numpy()] = r.supervoxels.cell_id.to_numpy()
    syn = r.synapses[r.synapses.post_compartment.isin(list(SYNAPSE_KINDS))]
    radii = RADIUS_CHOICES_NM if radius_nm is None else (float(radius_nm),)
    Xs, ys, pred, rows = [], [], [], []
    for s in syn.itertuples():
        p = np.array([s.x, s.y, s.z], np.int64)
        lo, hi = box_bounds(p, vs, shape)
        sl = tuple(slice(a, b) for a, b in zip(lo, hi))
        cell = lut[r.seg[sl]] == s.post_cell_id
        comp = r.compartments[sl]
        f = np.asarray(box_factors(vs), np.int64)
        kind = SYNAPSE_KINDS[s.post_compartment]
        row = {"syn_id": int(s.syn_id), "kind": kind,
               "true_head_um3": _true_head_volume(cell, comp, p - lo, vs) if kind == HEAD
               else float("nan")}
        m, bvs, pv = _strided(cell, vs, p - lo)
        surf, X = spine_features(m, bvs)
        if model is not None:
            proba = model.proba(X)
            for rad in radii:
                cls, _, vol = _at_synapse(m, bvs, pv, surf, proba, rad)
                row[f"class_{int(rad)}"], row[f"head_um3_{int(rad)}"] = cls, vol
            X = None
            pred.append(proba.argmax(1))
        cs = comp[::f[0], ::f[1], ::f[2]]
        ys.append(class_of_compartment(cs[tuple(surf.T)]))
        if X is not None:
            Xs.append(X)
        rows.append(row)
    out = {"seed": int(seed), "voxel_size_nm": tuple(map(float, vs)), "synapses": rows,
           "y": np.concatenate(ys) if ys else np.zeros(0, np.int64)}
    if model is None:
        out["X"] = np.concatenate(Xs) if Xs else np.zeros((0, 0), np.float32)
    else:
        out["pred"] = np.concatenate(pred) if pred else np.zeros(0, np.int64)
    return out


def _f1(truth, pred, k) -> float:
    tp = float(np.sum((truth == k) & (pred == k)))
    fp = float(np.sum((truth != k) & (pred == k)))
    fn = float(np.sum((truth == k) & (pred != k)))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")


def score_spines(samples: Sequence[dict], radius_nm: float) -> dict:
    """Figures of scored samples (:func:`volume_samples` with a model) at ``radius_nm``:
    per surface voxel F1 of each class and macro-F1 over neck, head and shaft; per synapse the
    share whose class is right, per true class; among synapses on a true head, the share with a
    head volume within :data:`HEAD_TOLERANCE` of the truth (no volume counts as wrong)."""
    y = np.concatenate([s["y"] for s in samples])
    p = np.concatenate([s["pred"] for s in samples])
    ok = y >= 0
    f1 = {SPINE_CLASSES[k]: round(_f1(y[ok], p[ok], k), 4) for k in range(4)}
    rows = [r for s in samples for r in s["synapses"]]
    kind = np.array([r["kind"] for r in rows], np.int64)
    got = np.array([r[f"class_{int(radius_nm)}"] for r in rows], np.int64)
    heads = [r for r in rows if r["kind"] == HEAD and np.isfinite(r["true_head_um3"])]
    vol_ok = [abs(r[f"head_um3_{int(radius_nm)}"] - r["true_head_um3"])
              <= HEAD_TOLERANCE * r["true_head_um3"] for r in heads]
    return {"voxel_f1": f1, "voxel_macro_f1": round(float(np.mean([f1["neck"], f1["head"],
                                                                    f1["shaft"]])), 4),
            "voxels": int(ok.sum()), "synapses": len(rows),
            "synapse_accuracy": round(float(np.mean(kind == got)), 4) if len(rows) else None,
            "synapse_accuracy_by_class": {SPINE_CLASSES[k]: [int(np.sum((kind == k) & (got == k))),
                                                            int(np.sum(kind == k))]
                                          for k in range(4)},
            "head_synapses": len(heads),
            "head_volume_within_25pct": round(float(np.mean(vol_ok)), 4) if heads else None}


def _samples(seeds, size_um, workers, log, **kw) -> list[dict]:
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    fn = partial(volume_samples, size_um=size_um, **kw)
    out = []
    if workers > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(min(workers, len(seeds))) as ex:
            for s in ex.map(fn, seeds):
                out.append(s)
                log(f"volume {s['seed']}: {len(s['synapses'])} synapses, {len(s['y'])} voxels")
    else:
        for seed in seeds:
            out.append(fn(seed))
            log(f"volume {seed}: {len(out[-1]['synapses'])} synapses, {len(out[-1]['y'])} voxels")
    return out


def train_spines(out, *, synthetic: Sequence[int], validation: Sequence[int],
                 size_um: float = SPINE_SIZE_UM, seed: int = 0, n_trees: int = 40,
                 min_samples_leaf: int = 20, workers: int = 2,
                 log: Callable[[str], None] = print) -> Path:
    """Train the spine forest on the surface voxels of synthetic volumes ``synthetic``, choose
    the voting radius on ``validation`` (figures in the card) and write the model to ``out``.
    Reproducible from ``seed``."""
    from syconn.ml.spines import fit_spine_forest
    from syconn.train import check_seed_split

    seeds, val = check_seed_split(synthetic, validation, "the voting radius")
    t0 = time.perf_counter()
    train = _samples(seeds, size_um, workers, log)
    X = np.concatenate([d["X"] for d in train])
    y = np.concatenate([d["y"] for d in train])
    log(f"training on {int((y >= 0).sum())} surface voxels around "
        f"{sum(len(d['synapses']) for d in train)} synapses of {len(seeds)} volumes")
    model = fit_spine_forest(
        X, y, seed=seed, n_trees=n_trees, min_samples_leaf=min_samples_leaf,
        card={"training_seeds": seeds, "training_volume_um": size_um,
              "training_data": f"syconn synth --variation ({size_um:g} um cubes, made in "
                               "memory): the surface voxels of the post cell in a box around "
                               "every true synapse on a shaft, spine or soma, labelled by the "
                               "generator's compartment volume"})
    del X, y, train
    scored = _samples(val, size_um, workers, log, model=model)
    scores = {r: score_spines(scored, r) for r in RADIUS_CHOICES_NM}
    for r in RADIUS_CHOICES_NM:
        log(f"validation {val}, radius {r:g} nm: {scores[r]}")
    best = max(RADIUS_CHOICES_NM, key=lambda r: (scores[r]["synapse_accuracy"], -r))
    card = dict(model.card)
    card.update(radius_nm=float(best), validation_seeds=val, validation=scores[best],
                train_seconds=round(time.perf_counter() - t0, 1))
    path = type(model)(forest=model.forest, card=card).save(out)
    log(f"radius {best:g} nm chosen; wrote {path}")
    return path
