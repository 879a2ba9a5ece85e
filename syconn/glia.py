"""The glia model's samples, scores and training (``syconn train glia``).

A sample is one supervoxel of a ``syconn synth --variation`` volume made in memory (nothing is
written), with :data:`GLIA_MERGES` false merges of glia and neuron supervoxels so that merged
cells look as the pipeline sees them.  Its features are those of the pipeline's ``Glia`` step,
computed over the same block grid with the same halo (:func:`volume_sums`); its label is the
generator's: glia if the supervoxel belongs to a glia cell.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from syconn.errors import InputError
from syconn.proc.glia import (ORGANELLES, SUM_COLUMNS, glia_block_sums, glia_features,
                              glia_halo_vx, merge_glia_sums, split_glia)

__all__ = ["GLIA_MERGES", "GLIA_SIZE_UM", "THRESHOLD_CHOICES", "volume_sums",
           "volume_samples", "cached_samples", "synthetic_samples", "score_glia", "train_glia"]

GLIA_MERGES = 4          #: false glia-neuron merges per synthetic volume
GLIA_SIZE_UM = 6.0       #: edge of a synthetic training volume
THRESHOLD_CHOICES = (0.3, 0.4, 0.5, 0.6, 0.7)   #: P(glia) thresholds the validation picks from


def volume_sums(seg: np.ndarray, cell: np.ndarray, maps: dict[str, np.ndarray],
                thresholds_255: dict[str, float], voxel_size_nm: Sequence[float],
                block_shape: Sequence[int], raw: np.ndarray | None = None
                ) -> dict[str, np.ndarray]:
    """:func:`~syconn.proc.glia.glia_block_sums` over a whole in-memory volume, block by block
    with the halo the ``GliaBlock`` task reads (so that training sees what the pipeline sees)."""
    from syconn.tasks.base import block_grid

    halo = glia_halo_vx(voxel_size_nm)
    shape = seg.shape
    parts = []
    for b in block_grid(shape, block_shape):
        lo = tuple(max(0, o - h) for o, h in zip(b.offset, halo))
        hi = tuple(min(n, e + h) for n, e, h in zip(shape, b.end, halo))
        box = tuple(slice(a, z) for a, z in zip(lo, hi))
        core = tuple(slice(o, e) for o, e in zip(b.offset, b.end))
        parts.append(glia_block_sums(
            seg[box], cell[box], {k: maps[k][core] for k in ORGANELLES}, thresholds_255,
            voxel_size_nm, tuple(o - a for o, a in zip(b.offset, lo)), b.shape,
            raw=None if raw is None else raw[core]))
    return merge_glia_sums(parts)


def volume_samples(seed: int, *, size_um: float = GLIA_SIZE_UM,
                   block_shape: Sequence[int] = (256, 256, 256)) -> dict[str, np.ndarray]:
    """The supervoxels of synthetic volume ``seed`` (made in memory): features ``X``, labels
    ``y`` (1 glia), ``sv_id``, ``n_vx``, the agglomeration ``edges`` (index pairs) and the
    bounding boxes ``lo``/``hi`` (nm) that the split needs."""
    from syconn.config import Config
    from syconn.proc import cells_from_agglomeration, sorted_mapping
    from syconn.proc.objects import object_stats
    from syconn.proc.rag import rag_edges
    from syconn.synth import synthesize
    from syconn.synth.variation import Variation
    from syconn.tasks.supervoxels import cell_labels
    from syconn.train import synth_shape

    var = Variation.draw(int(seed))
    shape = synth_shape(var.voxel_size_nm, size_um)
    r = synthesize(shape_xyz=shape, voxel_size_nm=var.voxel_size_nm, seed=int(seed),
                   variation=var, glia_merges=GLIA_MERGES)
    vs = np.asarray(r.voxel_size_nm, np.float64)
    ids = np.asarray(r.supervoxels.sv_id, np.uint64)
    cell = cell_labels(r.seg.copy(), *sorted_mapping(cells_from_agglomeration(ids, r.edges)))
    thr = {k: 255.0 * getattr(Config().cell_objects.probathresholds, k) for k in ORGANELLES}
    sums = volume_sums(r.seg, cell, {"mi": r.mi, "vc": r.vc, "sj": r.sj}, thr, vs,
                       block_shape, raw=r.raw)
    del cell
    st = object_stats(r.seg)
    sid = st["id"].to_numpy().astype(np.uint64)
    pos = np.searchsorted(sid, sums["sv_id"])
    lo = np.stack([st[f"bb_min_{a}"].to_numpy()[pos] for a in "xyz"], 1) * vs
    hi = np.stack([st[f"bb_max_{a}"].to_numpy()[pos] for a in "xyz"], 1) * vs
    edges = index_pairs(sums["sv_id"], np.asarray(r.edges, np.uint64))
    rag = rag_edges(r.seg, max_gap_vx=Config().cell_objects.rag_max_gap_vx)
    pairs = np.stack([rag["sv_a"].to_numpy(), rag["sv_b"].to_numpy()], 1).astype(np.uint64)
    keep = np.isin(pairs[:, 0], sums["sv_id"]) & np.isin(pairs[:, 1], sums["sv_id"])
    rag_idx = index_pairs(sums["sv_id"], pairs[keep])
    contact = rag["contact_vx"].to_numpy()[keep]
    glia_cell = dict(zip(r.cells.cell_id.astype(np.int64), r.cells.is_glia.astype(bool)))
    sv_cell = dict(zip(r.supervoxels.sv_id.astype(np.int64), r.supervoxels.cell_id.astype(np.int64)))
    y = np.array([int(glia_cell[sv_cell[int(s)]]) for s in sums["sv_id"]], np.int64)
    out = {"y": y, "sv_id": sums["sv_id"], "n_vx": np.asarray(sums["n_vx"], np.int64),
           "edges": edges, "lo": lo, "hi": hi, "rag": rag_idx, "contact": contact,
           "voxel_size_nm": vs, "seed": np.full(len(y), int(seed), np.int64),
           **{f"sum_{k}": np.asarray(sums[k]) for k in SUM_COLUMNS}}
    return with_features(out)


def with_features(samples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``samples`` with ``X``, the features computed from its sums (the cache keeps the sums,
    so that a change of the features needs no new volumes)."""
    sums = {"sv_id": samples["sv_id"], **{k: samples[f"sum_{k}"] for k in SUM_COLUMNS}}
    X = glia_features(sums, samples["lo"], samples["hi"], samples["edges"],
                      samples["voxel_size_nm"], samples["rag"], samples["contact"])
    return {**samples, "X": X}


def index_pairs(ids: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Supervoxel id pairs as index pairs into the sorted ``ids``; pairs with an id not in
    ``ids`` are dropped.

    >>> index_pairs(np.array([2, 5, 9], np.uint64), np.array([[5, 9], [2, 7], [9, 2]], np.uint64))
    array([[1, 2],
           [2, 0]])
    """
    ids = np.asarray(ids, np.uint64)
    p = np.asarray(pairs, np.uint64).reshape(-1, 2)
    p = p[np.isin(p[:, 0], ids) & np.isin(p[:, 1], ids)]
    return np.searchsorted(ids, p).astype(np.int64)


def cached_samples(seed: int, cache_dir, **kw) -> dict[str, np.ndarray]:
    """:func:`volume_samples`, kept in ``cache_dir/glia_SEED.npz`` (made once)."""
    path = Path(cache_dir) / f"glia_{int(seed)}.npz"
    if path.is_file():
        with np.load(path) as z:
            return with_features({k: z[k] for k in z.files if k != "X"})
    s = volume_samples(seed, **kw)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(tmp, **{k: v for k, v in s.items() if k != "X"})
    tmp.replace(path)
    return s


def score_glia(model, samples: dict[str, np.ndarray], threshold: float | None = None,
               min_cc_size_nm: float = 5000.0) -> dict:
    """Per-supervoxel figures of ``model`` on one volume's samples: the classifier alone
    (P(glia) >= ``threshold``, the card's by default) and after the original's split, which
    the pipeline stores; glia precision and recall after the split; the share of the volume's
    neuron and glia voxels that land on the wrong side."""
    t = model.threshold if threshold is None else float(threshold)
    y = np.asarray(samples["y"], np.int64)
    n_vx = np.asarray(samples["n_vx"], np.float64)
    p = model.glia_proba(samples["X"])
    raw = p >= t
    split = split_glia(samples["edges"], raw, samples["lo"], samples["hi"],
                       min_cc_size_nm=min_cc_size_nm)
    tp = int((split & (y == 1)).sum())
    fp = int((split & (y == 0)).sum())
    fn = int((~split & (y == 1)).sum())
    return {"supervoxels": int(len(y)), "glia_supervoxels": int(y.sum()),
            "accuracy_classifier": float(np.mean(raw == (y == 1))) if len(y) else 0.0,
            "accuracy": float(np.mean(split == (y == 1))) if len(y) else 0.0,
            "tp": tp, "fp": fp, "fn": fn,
            "glia_precision": tp / max(1, tp + fp), "glia_recall": tp / max(1, tp + fn),
            "neuron_voxels_to_glia": float(n_vx[split & (y == 0)].sum() / max(1, n_vx[y == 0].sum())),
            "glia_voxels_left": float(n_vx[~split & (y == 1)].sum() / max(1, n_vx[y == 1].sum()))}


def synthetic_samples(seeds: Sequence[int], cache_dir, *, size_um: float = GLIA_SIZE_UM,
                      workers: int = 2, log: Callable[[str], None] = print
                      ) -> list[dict[str, np.ndarray]]:
    """:func:`cached_samples` of several seeds, ``workers`` volumes at a time."""
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    fn = partial(cached_samples, cache_dir=cache_dir, size_um=size_um)
    seeds = [int(s) for s in seeds]
    if workers > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(min(workers, len(seeds))) as ex:
            out = list(ex.map(fn, seeds))
    else:
        out = [fn(s) for s in seeds]
    for s in out:
        log(f"volume {int(s['seed'][0]) if len(s['seed']) else '?'}: {len(s['y'])} supervoxels, "
            f"{int(s['y'].sum())} glia")
    return out


def train_glia(out, *, synthetic: Sequence[int], validation: Sequence[int] = (),
               workdir="syconn_train", size_um: float = GLIA_SIZE_UM, seed: int = 0,
               workers: int = 2, log: Callable[[str], None] = print) -> Path:
    """Train the glia forest on synthetic volumes and write it to ``out``.

    The volumes of ``synthetic`` train it; those of ``validation`` (none used for training)
    choose the P(glia) threshold (the best per-supervoxel accuracy after the split of
    :data:`THRESHOLD_CHOICES`, the lowest on a tie) and give the figures written into the card.
    Samples are cached under ``workdir/glia``.  Reproducible from ``seed``.
    """
    from syconn.ml.glia import GliaModel, fit_glia_forest
    from syconn.train import check_seed_split

    seeds, val = check_seed_split(synthetic, validation, "the P(glia) threshold")
    t0 = time.perf_counter()
    cache = Path(workdir) / "glia"

    def samples_of(which):
        log(f"glia samples of synthetic volumes {list(which)} (cached in {cache}) ...")
        return synthetic_samples(which, cache, size_um=size_um, workers=workers, log=log)

    train = samples_of(seeds)
    X = np.concatenate([p["X"] for p in train])
    y = np.concatenate([p["y"] for p in train])
    if y.sum() == 0 or y.sum() == len(y):
        raise InputError(f"training volumes {seeds}: {int(y.sum())} glia of {len(y)} "
                         "supervoxels; both classes are needed")
    log(f"training on {len(y)} supervoxels ({int(y.sum())} glia) of {len(seeds)} volumes")
    card = {"training_seeds": seeds, "training_volume_um": size_um,
            "training_data": f"syconn synth --variation --glia-merges {GLIA_MERGES}, in memory"}
    model = fit_glia_forest(X, y, seed=seed, card=card)
    if val:
        vparts = samples_of(val)
        acc = {t: float(np.mean([score_glia(model, v, t)["accuracy"] for v in vparts]))
               for t in THRESHOLD_CHOICES}
        best = max(acc.values())
        chosen = min(t for t, a in acc.items() if a >= best)
        model = GliaModel(forest=model.forest, card={**model.card, "threshold": chosen})
        model.card["validation_seeds"] = val
        model.card["validation_accuracy_by_threshold"] = {str(t): round(a, 4)
                                                         for t, a in acc.items()}
        model.card["validation"] = [score_glia(model, v) for v in vparts]
        log(f"validation {val}: accuracy by threshold {acc}; chose {chosen}")
    model.card["train_seconds"] = round(time.perf_counter() - t0, 1)
    path = model.save(out)
    log(f"wrote {path} (digest {model.digest})")
    return path
