"""Glia from views: labelled view samples of a working directory, and the glia model's training.

A sample is one rendering location of a cell's surface mesh (the ``glia`` view set of the
config: cell channel, 2 views, 256 x 128 px, 8 um window) and the supervoxel it shows: the
supervoxel most of the location's vertices (those of its downsampling cube) lie on
(:func:`syconn.proc.glia.nearest_labels` on the segmentation copy).  On a volume of
``syconn synth``, the label is the generator's: glia if that supervoxel belongs to a glia cell.

Volumes for training are made as the synapse classifier's (``syconn synth --variation``, its own
voxel size, gap and maps per seed), with false merges of glia and neuron supervoxels
(``--glia-merges``) so that merged cells are rendered as the pipeline sees them, and processed
up to the cell meshes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from syconn.errors import InputError

__all__ = ["GLIA_CLASSES", "GLIA_MERGES", "surface_supervoxels", "majority_per_location",
           "location_supervoxels", "view_samples", "supervoxel_proba", "train_glia",
           "prepare_glia_synthetic", "synthetic_glia_labels"]

GLIA_CLASSES = ("neuron", "glia")
GLIA_MERGES = 4          #: false glia-neuron merges per synthetic training volume
SV_RADIUS_NM = 150.0     #: how far from a mesh vertex its supervoxel is looked for
CHUNK_VX = 128           #: vertices are looked up in chunks of this edge (voxels)


def surface_supervoxels(vol, vertices_nm: dict[int, np.ndarray], sv_ids: dict[int, np.ndarray],
                        voxel_size_nm, *, radius_nm: float = SV_RADIUS_NM,
                        chunk_vx: int = CHUNK_VX) -> dict[int, np.ndarray]:
    """Per cell, the supervoxel (of the cell's ``sv_ids``) nearest each of its vertices (0 if
    none within ``radius_nm``).  ``vol``: the segmentation (``.read(offset, shape)``,
    ``.shape``), read once per chunk of edge ``chunk_vx`` that holds vertices of any cell."""
    from syconn.proc.glia import nearest_labels

    vs = np.asarray(voxel_size_nm, np.float64)
    cids = sorted(vertices_nm)
    pts = [np.asarray(vertices_nm[c], np.float64).reshape(-1, 3) / vs for c in cids]
    out = {c: np.zeros(len(p), np.uint64) for c, p in zip(cids, pts)}
    if not sum(len(p) for p in pts):
        return out
    owner = np.concatenate([np.full(len(p), i) for i, p in enumerate(pts)])
    p_all = np.concatenate(pts)
    row = np.concatenate([np.arange(len(p)) for p in pts])
    shape = np.asarray(vol.shape, np.int64)
    r = np.ceil(radius_nm / vs).astype(np.int64) + 1
    key = np.floor(p_all / chunk_vx).astype(np.int64)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    order = np.lexsort((owner, inv))
    bounds = np.flatnonzero(np.diff(np.r_[-1, inv[order], inv.max() + 1]))
    for a, b in zip(bounds[:-1], bounds[1:]):               # one read per chunk
        idx = order[a:b]
        lo = np.maximum(np.floor(p_all[idx].min(0)).astype(np.int64) - r, 0)
        hi = np.minimum(np.ceil(p_all[idx].max(0)).astype(np.int64) + r + 1, shape)
        block = vol.read(tuple(lo), tuple(hi - lo))
        cuts = np.flatnonzero(np.diff(np.r_[-1, owner[idx], len(cids)]))
        for c0, c1 in zip(cuts[:-1], cuts[1:]):             # the cells with vertices here
            sel = idx[c0:c1]
            cid = cids[int(owner[sel[0]])]
            out[cid][row[sel]] = nearest_labels(p_all[sel], block, sv_ids[cid], offset_vx=lo,
                                                voxel_size_nm=vs, radius_nm=radius_nm)
    return out


def majority_per_location(groups: np.ndarray, labels: np.ndarray, n_locations: int
                          ) -> np.ndarray:
    """Per location, the most frequent non-zero label of its vertices (ties: the smaller),
    0 where it has none.

    >>> majority_per_location(np.array([0, 0, 0, 1, 2]), np.array([4, 3, 4, 0, 3]), 3).tolist()
    [4, 0, 3]
    """
    out = np.zeros(n_locations, np.uint64)
    ok = np.asarray(labels) > 0
    if ok.any():
        pairs = np.stack([np.asarray(groups)[ok].astype(np.int64),
                          np.asarray(labels)[ok].astype(np.int64)], 1)
        uniq, counts = np.unique(pairs, axis=0, return_counts=True)
        best = np.lexsort((uniq[:, 1], -counts, uniq[:, 0]))
        first = np.r_[True, np.diff(uniq[best, 0]) != 0]
        out[uniq[best][first, 0]] = uniq[best][first, 1].astype(np.uint64)
    return out


def location_supervoxels(vol, vertices_nm: np.ndarray, groups: np.ndarray, n_locations: int,
                         sv_ids: np.ndarray, voxel_size_nm, *, radius_nm: float = SV_RADIUS_NM,
                         chunk_vx: int = CHUNK_VX) -> np.ndarray:
    """Per rendering location of one cell, the supervoxel (of the cell's ``sv_ids``) most of
    its vertices lie on (:func:`surface_supervoxels`, :func:`majority_per_location`); 0 where
    none is found.  ``groups``: each vertex's location (:func:`rendering_locations`' inverse)."""
    labels = surface_supervoxels(vol, {0: vertices_nm}, {0: sv_ids}, voxel_size_nm,
                                 radius_nm=radius_nm, chunk_vx=chunk_vx)[0]
    return majority_per_location(groups, labels, n_locations)


def view_samples(wd, *, cells: Sequence[int] | None = None, min_size_vx: int = 0,
                 log: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """The glia view samples of a processed working directory (its cell meshes):
    ``views`` uint8 (N, 1, 2, H, W), ``sv_id``, ``cell_id`` and ``location`` (nm) per sample."""
    from syconn.io import open_volume
    from syconn.proc.render import Renderer, local_frames, rendering_locations
    from syconn.read import Results, seg_cache_path
    from syconn.views import view_spec

    res = Results(wd)
    spec = view_spec(res.cfg, "glia")
    table = res.cell_table(["id", "size_vx"])
    ids = np.asarray(table["id"], np.int64)
    if cells is not None:
        ids = ids[np.isin(ids, np.asarray(list(cells), np.int64))]
    ids = ids[np.asarray(table["size_vx"])[np.isin(np.asarray(table["id"]), ids)] >= min_size_vx]
    sv_all, cell_all = res.supervoxel_cells()
    meshes = res.meshes("cells", ids.tolist())
    sv_all, cell_all = np.asarray(sv_all), np.asarray(cell_all)
    todo = [c for c in sorted(meshes) if meshes[c].n_faces]
    geo = {}
    for cid in todo:
        loc, groups = rendering_locations(meshes[cid].vertices, spec.window_nm,
                                          return_inverse=True)
        geo[cid] = (loc, groups)
    with open_volume(seg_cache_path(res.wd, res.cfg)) as vol:
        labels = surface_supervoxels(vol, {c: meshes[c].vertices for c in todo},
                                     {c: sv_all[cell_all == c] for c in todo},
                                     res.cfg.dataset.voxel_size_nm, chunk_vx=256)
    views, svs, cids, locs = [], [], [], []
    with Renderer() as r:
        for k, cid in enumerate(todo):
            m = meshes[cid]
            loc, groups = geo[cid]
            fr = local_frames(m.vertices, loc, spec.window_nm)
            views.append(r.views([m], loc, fr, spec))
            svs.append(majority_per_location(groups, labels[cid], len(loc)))
            cids.append(np.full(len(loc), cid, np.int64))
            locs.append(loc)
            if log and k % 20 == 19:
                log(f"  {k + 1} of {len(todo)} cells rendered")
    h, w = spec.size_px[1], spec.size_px[0]
    cat = (lambda xs, shape, dt: np.concatenate(xs) if xs else np.zeros(shape, dt))
    return {"views": cat(views, (0, 1, spec.n_views, h, w), np.uint8),
            "sv_id": cat(svs, (0,), np.uint64), "cell_id": cat(cids, (0,), np.int64),
            "location": cat(locs, (0, 3), np.float64)}


def synthetic_glia_labels(sv_id: np.ndarray, gt_dir) -> np.ndarray:
    """1 where supervoxel ``sv_id`` belongs to a glia cell of the generator's truth, 0 for a
    neuron, -1 where the supervoxel is unknown (0: no supervoxel found)."""
    import pandas as pd

    gt = Path(gt_dir) / "gt"
    svs = pd.read_parquet(gt / "supervoxels.parquet")
    cells = pd.read_parquet(gt / "cells.parquet")
    glia_cell = dict(zip(cells.cell_id.astype(np.int64), cells.is_glia.astype(bool)))
    lab = {int(s): int(glia_cell.get(int(c), False)) for s, c in
           zip(svs.sv_id.astype(np.int64), svs.cell_id.astype(np.int64))}
    return np.array([lab.get(int(s), -1) for s in np.asarray(sv_id)], np.int64)


def prepare_glia_synthetic(seed: int, workdir, *, size_um: float = 6.0, workers: int = 2,
                           log: Callable[[str], None] = print) -> tuple[Path, Path]:
    """Synthesise varied volume ``seed`` (with :data:`GLIA_MERGES` glia-neuron merges) under
    ``workdir`` and run it up to the cell meshes; returns ``(working directory, data)``."""
    from syconn.runner import run_pipeline
    from syconn.synth.command import generate
    from syconn.synth.variation import Variation
    from syconn.tasks.morphology import Meshes
    from syconn.train import synth_shape
    from syconn.workdir import SYNTH_META, init_from_synth

    if int(seed) != seed or seed < 0:
        raise InputError(f"seed: got {seed!r}, expected a non-negative integer")
    root = Path(workdir) / f"glia_{seed}"
    data, wd = root / "data", root / "wd"
    if not (data / SYNTH_META).is_file():
        shape = synth_shape(Variation.draw(seed).voxel_size_nm, size_um)
        generate(data, shape_xyz=shape, seed=seed, variation=True, glia_merges=GLIA_MERGES,
                 log=log)
    if not (wd / "config.yml").is_file():
        init_from_synth(wd, data, name=f"glia_{seed}")
    run_pipeline(wd, workers=workers, log=lambda m: None,
                 task=Meshes(working_dir=str(wd), kind="cells"))
    return wd, data


def supervoxel_proba(sv_id: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """Mean P(glia) of every supervoxel over its locations: ``(sv ids, mean, n locations)``,
    sorted by id; locations without a supervoxel (0) are left out.

    >>> supervoxel_proba(np.array([5, 3, 5, 0]), np.array([0.2, 0.9, 0.4, 1.0]))
    (array([3, 5], dtype=uint64), array([0.9, 0.3]), array([1, 2]))
    """
    s = np.asarray(sv_id).astype(np.uint64)
    p = np.asarray(proba, np.float64)
    ok = s > 0
    ids, inv, n = np.unique(s[ok], return_inverse=True, return_counts=True)
    mean = np.bincount(inv.reshape(-1), weights=p[ok], minlength=len(ids)) / np.maximum(n, 1)
    return ids, mean, n


def _samples_of_seed(seed: int, workdir, *, size_um: float, workers: int,
                     log: Callable[[str], None]) -> dict[str, np.ndarray]:
    """The labelled glia view samples of synthetic volume ``seed`` (cached next to it)."""
    wd, data = prepare_glia_synthetic(seed, workdir, size_um=size_um, workers=workers, log=log)
    cache = wd.parent / "glia_samples.npz"
    if cache.is_file():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    s = view_samples(wd)
    s["label"] = synthetic_glia_labels(s["sv_id"], data)
    s["seed"] = np.full(len(s["label"]), seed, np.int64)
    tmp = cache.with_name(".glia_samples.tmp.npz")
    np.savez_compressed(tmp, **s)
    tmp.replace(cache)
    return s


def synthetic_samples(seeds: Sequence[int], workdir, *, size_um: float = 6.0,
                      workers: int = 2, log: Callable[[str], None] = print
                      ) -> dict[str, np.ndarray]:
    """The labelled samples of several synthetic seeds, concatenated (unlabelled dropped)."""
    parts = []
    for s in seeds:
        log(f"glia views of synthetic volume {s} ...")
        parts.append(_samples_of_seed(int(s), workdir, size_um=size_um, workers=workers,
                                      log=log))
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    keep = out["label"] >= 0
    return {k: v[keep] for k, v in out.items()}


def sv_accuracy(model, samples: dict[str, np.ndarray], threshold: float = 0.5) -> dict:
    """Per-supervoxel glia accuracy of ``model`` on labelled samples (the supervoxel's mean
    P(glia) over its locations against ``threshold``), with the confusion counts."""
    p = model.predict_proba(samples["views"])[:, 1]
    key = samples["seed"].astype(np.uint64) * np.uint64(1 << 40) + samples["sv_id"]
    ids, mean, _ = supervoxel_proba(key, p)
    first = {int(k): int(lab) for k, lab in zip(key, samples["label"])}
    truth = np.array([first[int(k)] for k in ids], np.int64)
    pred = (mean >= threshold).astype(np.int64)
    tp = int(((pred == 1) & (truth == 1)).sum())
    tn = int(((pred == 0) & (truth == 0)).sum())
    fp = int(((pred == 1) & (truth == 0)).sum())
    fn = int(((pred == 0) & (truth == 1)).sum())
    loc_acc = float(((p >= threshold).astype(int) == samples["label"]).mean())
    return {"supervoxels": len(ids), "glia_supervoxels": int(truth.sum()),
            "accuracy": (tp + tn) / max(1, len(ids)), "tp": tp, "tn": tn, "fp": fp, "fn": fn,
            "glia_recall": tp / max(1, tp + fn), "glia_precision": tp / max(1, tp + fp),
            "location_accuracy": loc_acc, "locations": int(len(p))}


def default_glia_model_path() -> Path:
    """The glia model shipped in the package (``syconn/ml/models/glia.npz``)."""
    from importlib import resources

    return Path(str(resources.files("syconn.ml") / "models" / "glia.npz"))


def train_glia(out, *, synthetic: Sequence[int], validation: Sequence[int] = (),
               workdir="syconn_train", size_um: float = 6.0, seed: int = 0, epochs: int = 12,
               architecture: str = "CompactViewNet", width: int = 16, workers: int = 2,
               log: Callable[[str], None] = print) -> Path:
    """Train the glia view classifier on synthetic volumes and write it to ``out``.

    The volumes of ``synthetic`` train it; those of ``validation`` (none used for training)
    give the per-supervoxel figures written into the card.  Reproducible from ``seed``.
    """
    import time

    from syconn.ml.viewnet import train_view_classifier

    from syconn.train import check_seed_split

    seeds, val = check_seed_split(synthetic, validation)
    t0 = time.perf_counter()
    train = synthetic_samples(seeds, Path(workdir) / "glia", size_um=size_um, workers=workers,
                              log=log)
    n_glia = int(train["label"].sum())
    if n_glia == 0 or n_glia == len(train["label"]):
        raise InputError(f"training volumes {seeds}: {n_glia} glia of {len(train['label'])} "
                         "locations; both classes are needed")
    log(f"training on {len(train['label'])} locations ({n_glia} glia) of {len(seeds)} volumes")
    model = train_view_classifier(
        train["views"], train["label"], classes=GLIA_CLASSES, task="glia",
        architecture=architecture, arguments={"width": width} if architecture ==
        "CompactViewNet" else {}, seed=seed, epochs=epochs, log=log,
        card={"training_seeds": seeds, "training_volume_um": size_um,
              "training_data": "syconn synth --variation --glia-merges "
                               f"{GLIA_MERGES}, cells up to their meshes",
              "view_set": "glia", "threshold": 0.5})
    model.card["train_seconds"] = round(time.perf_counter() - t0, 1)
    if val:
        vs = synthetic_samples(val, Path(workdir) / "glia", size_um=size_um, workers=workers,
                               log=log)
        model.card["validation_seeds"] = val
        model.card["validation"] = sv_accuracy(model, vs)
        log(f"validation {val}: {model.card['validation']}")
    path = model.save(out)
    log(f"wrote {path}")
    return path
