"""Skeleton cable accuracy of the pipeline with and without ``skeleton.bend_tolerance``.

    python benchmarks/skeleton_accuracy.py [--seeds 0,1,2] [--tolerances none,0.1,0.15,0.2]
                                           [--out benchmarks/out/skeleton_accuracy] [-j 2]

Each seed is synthesised as ``syconn example --seed N`` does (the default example's
576 x 576 x 288 volume at 10 x 10 x 20 nm, the generator not varied; seed 0 is the default
example) and processed by the pipeline up to the skeletons (``Skeletons``: the segmentation copy,
supervoxels, cells, the skeleton blocks and their merge), once.  The stored per-block skeleton
pieces are then merged again for every ``bend_tolerance`` asked for, with
:func:`syconn.proc.skeletons.merge_skeletons` and the other keywords of the ``SkeletonMerge``
task (:func:`syconn.tasks.morphology.skeleton_merge_args`), and scored with
:func:`syconn.evaluate.score_skeletons` against the generator's ground truth, as
:func:`syconn.evaluate.evaluate_skeletons` does (the skeleton status of a cell: ``too_small``
below ``min_cc_size_ssv``, ``ok`` with a skeleton, else ``empty``, as ``CellMorphology`` writes
it).  The merge with the working directory's own setting is checked against the cable the
pipeline stored.  Prints per seed and tolerance: neurons scored, % within 10 % of the true
cable, median error, and the scored neurons' summed cable against the truth.  Outputs stay in
``--out`` (``benchmarks/out`` is git-ignored); a second run reuses the volumes and pipeline
steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "skeleton_accuracy"


def _tolerance(text: str) -> float | None:
    return None if text.strip().lower() in ("none", "null", "off") else float(text)


def prepare_seed(seed: int, root: Path, *, workers: int) -> tuple[Path, Path, float]:
    """Synthesise seed ``seed`` as ``syconn example`` does and run the pipeline up to the
    skeletons.  Returns (data folder, working directory, seconds of the pipeline run)."""
    from syconn.runner import run_pipeline
    from syconn.synth import EXAMPLE_SHAPE_XYZ
    from syconn.synth.command import generate
    from syconn.tasks import Skeletons
    from syconn.workdir import SYNTH_META, init_from_synth

    data, wd = root / f"seed_{seed}" / "data", root / f"seed_{seed}" / "wd"
    if not (data / SYNTH_META).is_file():
        generate(data, shape_xyz=tuple(EXAMPLE_SHAPE_XYZ), seed=seed, log=lambda m: None)
    if not (wd / "config.yml").is_file():
        init_from_synth(wd, data, name="syconn_example")
    t0 = time.perf_counter()
    run_pipeline(wd, workers=workers, log=lambda m: None, task=Skeletons(working_dir=str(wd)))
    return data, wd, time.perf_counter() - t0


class SeedScorer:
    """The stored skeleton pieces of one working directory, merged and scored on demand."""

    def __init__(self, wd: Path, data: Path):
        import pyarrow.parquet as pq

        from syconn.config import load_config
        from syconn.evaluate import _ground_truth, _labels_at
        from syconn.proc.cells import map_supervoxels, sorted_mapping
        from syconn.tasks import Skeletons
        from syconn.tasks.morphology import (
            read_pieces,
            skeleton_candidates,
            skeleton_merge_args,
        )
        from syconn.tasks.supervoxels import read_cell_table

        self.cfg = cfg = load_config(wd)
        merges = list(Skeletons(working_dir=str(wd)).requires())
        shape = merges[0].dataset_shape()
        self.shape = tuple(int(s) for s in shape)
        self.args = skeleton_merge_args(cfg, self.shape)
        self.pieces: dict[int, list[tuple]] = {}
        self.stored: dict[int, float] = {}
        for m in merges:
            self.pieces.update(read_pieces([t.path for t in m.input()], m.shard))
            st = pq.read_table(m.output().path).to_pandas()
            self.stored.update(zip(st["id"].astype(int), st["cable_length_um"]))
        cells = read_cell_table(merges[0])
        eligible = skeleton_candidates(cells, cfg.dataset.voxel_size_nm, cfg.min_cc_size_ssv)
        self.eligible = dict(zip(cells["id"].to_numpy().astype(int).tolist(), eligible.tolist()))
        _, tables = _ground_truth(data)
        self.gt_cells = pd.read_parquet(tables["cells"])
        self.gt_skeletons = pd.read_parquet(tables["skeletons"])
        lookup = sorted_mapping(pd.read_parquet(tables["supervoxels"]))
        seg = cfg.inputs.seg
        self.cell_at = lambda pts: map_supervoxels(_labels_at(seg, pts), *lookup)

    def merge(self, bend_tolerance: float | None) -> dict:
        from syconn.proc.skeletons import Skeleton, merge_skeletons

        args = {**self.args, "bend_tolerance": bend_tolerance}
        return {oid: merge_skeletons([Skeleton(v, e, r) for v, e, r in ps], **args)
                for oid, ps in sorted(self.pieces.items())}

    def check_stored(self) -> float:
        """Largest |cable - stored cable| (um) of the merge with the config's own setting."""
        from syconn.proc.skeletons import skeleton_stats

        got = self.merge(self.args["bend_tolerance"])
        diff = [abs(skeleton_stats(s)[0] - self.stored[oid]) for oid, s in got.items()]
        return max(diff, default=0.0)

    def score(self, bend_tolerance: float | None):
        from syconn.evaluate import score_skeletons

        skels = self.merge(bend_tolerance)
        status = {oid: ("too_small" if not ok else
                        "ok" if oid in skels and skels[oid].n_vertices else "empty")
                  for oid, ok in self.eligible.items()}
        got = {oid: s for oid, s in skels.items() if status.get(oid) == "ok"}
        return score_skeletons(got, status, self.gt_cells, self.gt_skeletons, self.cell_at,
                               self.cfg.dataset.voxel_size_nm, self.shape)


def _label(t: float | None) -> str:
    return "none" if t is None else f"{t:g}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated synthesis seeds")
    ap.add_argument("--tolerances", default="none,0.1",
                    help="comma-separated bend_tolerance values ('none' = every 10th node)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("-j", "--workers", type=int, default=2)
    a = ap.parse_args(argv)
    seeds = [int(s) for s in a.seeds.split(",")]
    tols = [_tolerance(t) for t in a.tolerances.split(",")]
    a.out.mkdir(parents=True, exist_ok=True)
    rows, per_cell = [], []
    for seed in seeds:
        data, wd, sec = prepare_seed(seed, a.out, workers=a.workers)
        sc = SeedScorer(wd, data)
        off = sc.check_stored()
        print(f"seed {seed}: pipeline to the skeletons {sec:.0f} s; re-merge with the config's "
              f"bend_tolerance {_label(sc.args['bend_tolerance'])} matches the stored cable "
              f"within {off:.2e} um", file=sys.stderr, flush=True)
        for t in tols:
            t0 = time.perf_counter()
            ev, df = sc.score(t)
            s = df[df["scored"]]
            rows.append({"seed": seed, "bend_tolerance": _label(t), "neurons": ev.n_neurons,
                         "skeletonized": ev.n_skeletonized, "scored": ev.n_evaluated,
                         "within_10pct": 100 * ev.fraction_within,
                         "n_within": int((s["abs_error"] <= ev.tolerance).sum()),
                         "median_error_pct": 100 * ev.median_abs_error,
                         "sum_true_um": float(s["true_um"].sum()),
                         "sum_pred_um": float(s["pred_um"].sum()),
                         "nodes_inside_pct": 100 * ev.nodes_inside,
                         "max_components": ev.max_components,
                         "seconds": time.perf_counter() - t0})
            per_cell.append(df.assign(seed=seed, bend_tolerance=_label(t)))
    res = pd.DataFrame(rows)
    res.to_csv(a.out / "summary.csv", index=False)
    pd.concat(per_cell).to_csv(a.out / "per_cell.csv", index=False)
    (a.out / "summary.json").write_text(json.dumps(rows, indent=1))
    print("\n| seed | bend_tolerance | scored | within 10 % | median error | scored cable "
          "pred / true |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['seed']} | {r['bend_tolerance']} | {r['scored']} | "
              f"{r['within_10pct']:.1f} % ({r['n_within']}) | {r['median_error_pct']:.1f} % | "
              f"{r['sum_pred_um']:.1f} / {r['sum_true_um']:.1f} um "
              f"({100 * (r['sum_pred_um'] / r['sum_true_um'] - 1):+.1f} %) |")
    if len(seeds) > 1:
        for t in tols:
            sel = res[res["bend_tolerance"] == _label(t)]
            n = int(sel["scored"].sum())
            print(f"| {','.join(map(str, seeds))} | {_label(t)} | {n} | "
                  f"{100 * sel['n_within'].sum() / max(n, 1):.1f} % ({int(sel['n_within'].sum())})"
                  f" | | {sel['sum_pred_um'].sum():.1f} / {sel['sum_true_um'].sum():.1f} um |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
