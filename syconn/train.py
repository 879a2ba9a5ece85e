"""``syconn train synapses``: labelled synapse candidates in, a classifier file out.

Labels come from two kinds of source:

- **synthetic volumes** (``--synthetic 100-115``): each seed is synthesised with
  ``syconn synth --variation`` (its own voxel size, gap, maps, decoys ...), processed up to the
  synapse candidates, and every candidate is labelled by matching it to the generator's
  synapses (same cell pair, within 500 nm, one to one: :func:`syconn.evaluate.match_synapses`);
- **a user's annotations** of a processed working directory: a CSV with columns ``x, y, z``
  (voxels) and ``label`` (``synaptic`` / ``non-synaptic``); each row labels the candidate with
  the voxel nearest to it, within ``max_dist_vx`` (L1 distance in voxels, as the original's
  training helper ``create_syn_rfc``: 20).  Candidates nobody annotated are not used.

A working directory made by ``syconn init ... --from`` a ``syconn synth`` folder is labelled from
its ground truth without a CSV.  Training itself is :mod:`syconn.ml.synapse_training`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from syconn.errors import InputError
from syconn.ml.synapses import FEATURES, feature_matrix

__all__ = ["parse_seeds", "check_seed_split", "prepare_synthetic", "synthetic_labels",
           "annotation_labels", "train_synapses", "SYNTH_SIZE_UM", "ANNOTATION_MAX_DIST_VX", "LABELS"]

SYNTH_SIZE_UM = 5.0  #: edge of a synthetic training volume (its voxel size is drawn)
ANNOTATION_MAX_DIST_VX = 20  #: the original's create_syn_rfc: <= 20 voxels (L1) to a voxel
LABELS = {"synaptic": 1, "non-synaptic": 0}


def parse_seeds(text: str) -> list[int]:
    """``"100-103,120"`` -> ``[100, 101, 102, 103, 120]``.

    >>> parse_seeds("100-102,7")
    [100, 101, 102, 7]
    """
    out: list[int] = []
    try:
        for part in text.replace(" ", "").split(","):
            if not part:
                continue
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else part.rsplit("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise InputError(f"--synthetic: {text!r}, expected seeds such as 100-115 or 1,5,9") \
            from None
    if not out or min(out) < 0:
        raise InputError(f"--synthetic: {text!r}, expected non-negative seeds such as 100-115")
    return out


def check_seed_split(synthetic, validation, chooses: str | None = None
                     ) -> tuple[list[int], list[int]]:
    """Training and validation seeds as ints, checked: at least one training seed, no seed in
    both, and, where the validation seeds choose a setting (``chooses`` names it), at least
    one of them.

    >>> check_seed_split([3, 4], [5], "the floor")
    ([3, 4], [5])
    >>> check_seed_split([3, 4], [4])
    Traceback (most recent call last):
    ...
    syconn.errors.InputError: --validation: seeds [4] are also training seeds
    """
    seeds, val = [int(s) for s in synthetic], [int(s) for s in validation]
    if not seeds:
        raise InputError("--synthetic: expected at least one training seed")
    if chooses and not val:
        raise InputError(f"--validation: expected at least one validation seed ({chooses} is "
                         "chosen on it)")
    if set(seeds) & set(val):
        raise InputError(f"--validation: seeds {sorted(set(seeds) & set(val))} are also "
                         "training seeds")
    return seeds, val


def _wd_and_cfg(wd):
    from syconn.config import load_config

    wd = Path(wd)
    return wd, load_config(wd)


def _candidates(wd, cfg) -> tuple[pd.DataFrame, Path]:
    from syconn.tasks.synapses import candidates_path

    path = candidates_path(wd)
    if not path.is_file():
        raise InputError(f"{wd}: no synapse candidates for its current config; run "
                         f"'syconn run {wd}' first")
    return pd.read_parquet(path), path


def synth_shape(voxel_size_nm, size_um: float = SYNTH_SIZE_UM) -> tuple[int, int, int]:
    """Voxels of a cube of ``size_um`` at ``voxel_size_nm``, rounded to multiples of 16."""
    return tuple(max(32, int(round(size_um * 1000.0 / v / 16.0)) * 16) for v in voxel_size_nm)


def prepare_synthetic(seed: int, workdir, *, size_um: float = SYNTH_SIZE_UM, workers: int = 2,
                      log: Callable[[str], None] = print, prefix: str = "synth",
                      task: Callable[[str], object] | None = None) -> tuple[Path, Path]:
    """Synthesise varied volume ``seed`` under ``workdir`` (``PREFIX_SEED/data``) and run it up
    to ``task(working dir)`` (default: the synapse candidates, ``SynapseFeatures``) in
    ``PREFIX_SEED/wd``; returns ``(working directory, data folder)``.  Each stage is reused
    when present."""
    from syconn.runner import run_pipeline
    from syconn.synth.command import generate
    from syconn.synth.variation import Variation
    from syconn.workdir import SYNTH_META, init_from_synth

    if int(seed) != seed or seed < 0:
        raise InputError(f"seed: got {seed!r}, expected a non-negative integer")
    if task is None:
        from syconn.tasks import SynapseFeatures as task
    root = Path(workdir) / f"{prefix}_{seed}"
    data, wd = root / "data", root / "wd"
    if not (data / SYNTH_META).is_file():
        shape = synth_shape(Variation.draw(seed).voxel_size_nm, size_um)
        generate(data, shape_xyz=shape, seed=seed, variation=True, log=log)
    if not (wd / "config.yml").is_file():
        init_from_synth(wd, data, name=f"{prefix}_{seed}")
    run_pipeline(wd, workers=workers, log=lambda m: None, task=task(working_dir=str(wd)))
    return wd, data


def synthetic_labels(wd, gt_dir) -> tuple[pd.DataFrame, np.ndarray]:
    """The candidates of ``wd`` and their labels from the ground truth in ``gt_dir``."""
    from syconn.evaluate import _ground_truth, _pair_columns, match_synapses

    wd, cfg = _wd_and_cfg(wd)
    cand, _ = _candidates(wd, cfg)
    _, tables = _ground_truth(Path(gt_dir))
    true = _pair_columns(pd.read_parquet(tables["synapses"]), "pre_cell_id", "post_cell_id")
    pred = cand.rename(columns={"rep_x": "x", "rep_y": "y", "rep_z": "z"})
    y = np.zeros(len(cand), np.int64)
    for i, _ in match_synapses(pred, true, cfg.dataset.voxel_size_nm):
        y[i] = 1
    return cand, y


def read_annotations(path) -> pd.DataFrame:
    """An annotation CSV (``x, y, z, label``), checked: one line names what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such annotation file")
    try:
        df = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a CSV table ({str(exc).splitlines()[0]})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("x", "y", "z", "label") if c not in df.columns]
    if missing:
        raise InputError(f"{path}: columns {list(df.columns)}, missing {missing} (expected x, "
                         f"y, z in voxels and label synaptic/non-synaptic)")
    if df.empty:
        raise InputError(f"{path}: no annotations")
    for c in "xyz":
        v = pd.to_numeric(df[c], errors="coerce")
        if v.isna().any():
            row = int(np.flatnonzero(v.isna().to_numpy())[0]) + 2
            raise InputError(f"{path}: line {row}: {c} = {df[c].iloc[row - 2]!r}, expected a "
                             f"voxel coordinate")
        df[c] = v
    lab = df["label"].astype(str).str.strip().str.lower()
    bad = ~lab.isin(list(LABELS))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise InputError(f"{path}: line {row}: label {df['label'].iloc[row - 2]!r}, expected "
                         f"'synaptic' or 'non-synaptic'")
    df["label"] = lab
    return df


def annotation_labels(wd, csv, *, max_dist_vx: float = ANNOTATION_MAX_DIST_VX,
                      log: Callable[[str], None] = print) -> tuple[pd.DataFrame, np.ndarray]:
    """The annotated candidates of ``wd`` and their labels (see the module docstring)."""
    from scipy.spatial import cKDTree

    wd, cfg = _wd_and_cfg(wd)
    cand, path = _candidates(wd, cfg)
    ann = read_annotations(csv)
    memb = pd.read_parquet(path.with_name("membership.parquet"))
    if memb.empty:
        raise InputError(f"{wd}: no synapse candidates to annotate")
    d, i = cKDTree(memb[["x", "y", "z"]].to_numpy(float)).query(
        ann[["x", "y", "z"]].to_numpy(float), k=1, p=1)
    ok = d <= max_dist_vx
    if not ok.any():
        raise InputError(f"{csv}: none of {len(ann)} annotations lies within {max_dist_vx} "
                         f"voxels of a synapse candidate of {wd}")
    sid = memb["synapse_id"].to_numpy()[i[ok]].astype(np.int64)
    lab = ann["label"].map(LABELS).to_numpy()[ok]
    per = pd.DataFrame({"id": sid, "y": lab, "line": np.flatnonzero(ok) + 2})
    conflict = per.groupby("id")["y"].nunique()
    if (conflict > 1).any():
        cid = int(conflict.index[conflict > 1][0])
        lines = per.loc[per["id"] == cid, "line"].tolist()
        raise InputError(f"{csv}: lines {lines} label one candidate ({cid}) both synaptic and "
                         f"non-synaptic")
    per = per.drop_duplicates("id")
    if (~ok).any():
        log(f"{csv}: {int((~ok).sum())} of {len(ann)} annotations are more than {max_dist_vx} "
            f"voxels from every candidate; left out")
    rows = cand.set_index("id").loc[per["id"].to_numpy()].reset_index()
    return rows, per["y"].to_numpy()


def train_synapses(out, *, working_dirs: Sequence = (), annotations: Sequence = (),
                   synthetic: Sequence[int] = (), workdir=None,
                   size_um: float = SYNTH_SIZE_UM, seed: int = 0, n_trees: int | None = None,
                   min_samples_leaf: int | None = None, workers: int = 2,
                   log: Callable[[str], None] = print):
    """Gather labelled candidates, train, cross-validate, write the model; returns the report.

    ``annotations[i]`` labels ``working_dirs[i]``; working directories beyond the annotation
    files are labelled from their synthetic ground truth (``synth.json`` beside the inputs).
    """
    from syconn.ml.synapse_training import DEFAULT_MIN_LEAF, DEFAULT_TREES, train_synapse_model

    out = Path(out)
    if out.suffix != ".npz":
        raise InputError(f"{out}: a model file ends in .npz")
    if len(annotations) > len(working_dirs):
        raise InputError(f"{len(annotations)} annotation files for {len(working_dirs)} working "
                         f"directories: name one working directory per annotation file")
    if not working_dirs and not synthetic:
        raise InputError("nothing to train on: give working directories, annotations or "
                         "--synthetic seeds")
    t0 = time.perf_counter()
    sources = []  # (name, candidates, labels, voxel size)
    for k, wd in enumerate(working_dirs):
        wd, cfg = _wd_and_cfg(wd)
        if k < len(annotations):
            cand, y = annotation_labels(wd, annotations[k], log=log)
            sources.append((f"{wd.name} ({Path(annotations[k]).name})", cand, y,
                            cfg.dataset.voxel_size_nm))
        else:
            data = _synth_folder(cfg)
            cand, y = synthetic_labels(wd, data)
            sources.append((wd.name, cand, y, cfg.dataset.voxel_size_nm))
        log(f"{sources[-1][0]}: {len(y)} labelled candidates, {int(np.sum(y))} synaptic")
    if synthetic:
        root = Path(workdir) if workdir else Path("syconn_train")
        for s in synthetic:
            log(f"synthetic volume {s}: synthesising and processing in {root / f'synth_{s}'} ...")
            wd, data = prepare_synthetic(s, root, size_um=size_um, workers=workers, log=log)
            cand, y = synthetic_labels(wd, data)
            sources.append((f"synth {s}", cand, y, _wd_and_cfg(wd)[1].dataset.voxel_size_nm))
            log(f"synthetic volume {s}: {len(y)} candidates, {int(y.sum())} synaptic")
    X = np.concatenate([feature_matrix(c, vs, FEATURES) for _, c, _, vs in sources])
    y = np.concatenate([lab for _, _, lab, _ in sources])
    groups = np.concatenate([np.full(len(lab), k) for k, (_, _, lab, _) in enumerate(sources)])
    card = {"training": {
        "synthetic_seeds": [int(s) for s in synthetic],
        "synthetic_size_um": size_um if synthetic else None,
        "sources": [name for name, *_ in sources],
        "n_candidates": int(len(y)), "n_synaptic": int(y.sum())},
        "command": "syconn train synapses " + _command_line(out, working_dirs, annotations,
                                                             synthetic, size_um, seed,
                                                             n_trees, min_samples_leaf)}
    model, report = train_synapse_model(
        X, y, groups, seed=seed, n_trees=n_trees or DEFAULT_TREES,
        min_samples_leaf=min_samples_leaf or DEFAULT_MIN_LEAF, card=card, progress=log)
    model.save(out)
    for line in report.lines():
        log(line)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {model.forest.n_trees} trees, "
        f"{model.forest.n_nodes} nodes) in {time.perf_counter() - t0:.0f} s")
    return report


def _synth_folder(cfg) -> Path:
    from syconn.workdir import SYNTH_META

    seg = Path(str(cfg.inputs.seg or "").split(":")[0])
    for folder in (seg.parent, seg.parent.parent):
        if (folder / SYNTH_META).is_file():
            return folder
    raise InputError(f"{seg}: no {SYNTH_META} beside the inputs, so no ground truth: give an "
                     f"annotation CSV (--annotations) for this working directory")


def _command_line(out, working_dirs, annotations, synthetic, size_um, seed, n_trees,
                  min_leaf) -> str:
    parts = [str(Path(out).name)] + [Path(w).name for w in working_dirs]
    parts += [f"--annotations {Path(a).name}" for a in annotations]
    if synthetic:
        parts.append(f"--synthetic {_ranges(synthetic)}")
        if size_um != SYNTH_SIZE_UM:
            parts.append(f"--size-um {size_um:g}")
    parts.append(f"--seed {seed}")
    if n_trees:
        parts.append(f"--trees {n_trees}")
    if min_leaf:
        parts.append(f"--min-leaf {min_leaf}")
    return " ".join(parts)


def _ranges(seeds: Sequence[int]) -> str:
    seeds = sorted(set(int(s) for s in seeds))
    out, start = [], seeds[0]
    for a, b in zip(seeds, seeds[1:] + [None]):
        if b != a + 1:
            out.append(f"{start}-{a}" if a != start else f"{a}")
            start = b
    return ",".join(out)


def model_summary(path=None) -> str:
    """The card of a model file (default: the shipped one), as JSON text, with its digest and
    where it was read from."""
    from syconn.ml.synapses import default_model_path, load_model

    model = load_model(path)
    card = {"file": str(path or default_model_path()), "digest": model.digest, **model.card}
    return json.dumps(card, indent=2, sort_keys=True)
