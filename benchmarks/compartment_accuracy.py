"""Compartment accuracy on synthetic volumes the compartment model never saw.

    python benchmarks/compartment_accuracy.py [--model FILE] [--seeds 820-824]
                                              [--workdir syconn_train]

Each seed is made as the training volumes are (``syconn synth --variation``, a 6 um cube, its
own voxel size, gap and maps; reused when present under ``WORKDIR/compartments/comp_SEED``),
processed by the pipeline, and its compartment step run with the model.  Printed per seed and
pooled, all weighted by skeleton cable:

- per skeleton node: macro-F1 over dendrite / axon / soma (boutons count as axon), the F1 of
  each, and the bouton F1 (bouton against everything else); truth: the generator's compartment
  at the node's voxel (spine necks and heads are dendrite; nodes on background left out);
- per synapse (those above the threshold that match a true synapse, same partners within
  250 nm): the share whose ``comp_post`` is the truth's (shaft and spine head: dendrite; soma),
  the share whose ``comp_pre`` is axon or bouton, and the shares of matched synapses with a
  ``comp_post`` / ``comp_pre`` at all (a partner without a skeleton, or farther than 3 um from
  it, has none).

The default seeds 820-824 were used for nothing else (training 800-803, validation 810).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

_POST = {"shaft": 0, "spine_head": 0, "soma": 2}


def synapse_figures(wd, data) -> dict:
    """Per-synapse compartment figures of a processed synthetic working directory."""
    from syconn.evaluate import _pair_columns, match_synapses
    from syconn.read import Results

    res = Results(wd)
    thr = res.syn_prob_threshold()
    cols, rows = res.query("SELECT cell_a, cell_b, cell_pre, comp_pre, comp_post, rep_x AS x, "
                           "rep_y AS y, rep_z AS z FROM synapses WHERE syn_prob >= :t "
                           "AND cell_pre IS NOT NULL", {"t": thr})
    pred = pd.DataFrame(rows, columns=cols)
    true = _pair_columns(pd.read_parquet(Path(data) / "gt" / "synapses.parquet"),
                         "pre_cell_id", "post_cell_id")
    pairs = match_synapses(pred, true, res.voxel_size_nm)
    n = len(pairs)
    post_ok = pre_ok = covered = pre_covered = 0
    for i, j in pairs:
        cp, cq = pred.comp_post.iloc[i], pred.comp_pre.iloc[i]
        if pd.notna(cp):
            covered += 1
            want = _POST.get(str(true.post_compartment.iloc[j]), -1)
            post_ok += int((0 if cp == 0 else 2 if cp == 2 else 1) == want)
        if pd.notna(cq):
            pre_covered += 1
            pre_ok += int(int(cq) in (1, 3, 4))
    return _syn_row(n, post_ok, covered, pre_ok, pre_covered)


def _syn_row(n: int, post_ok: int, covered: int, pre_ok: int, pre_covered: int) -> dict:
    return {"synapses": n, "post_correct": post_ok / max(covered, 1),
            "post_covered": covered / max(n, 1), "pre_axon": pre_ok / max(pre_covered, 1),
            "pre_covered": pre_covered / max(n, 1),
            "_counts": (n, post_ok, covered, pre_ok, pre_covered)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    ap.add_argument("--seeds", default="820-824")
    ap.add_argument("--workdir", type=Path, default=Path("syconn_train"))
    ap.add_argument("-j", "--workers", type=int, default=2)
    args = ap.parse_args()

    from syconn.compartments import score_nodes, synthetic_samples
    from syconn.config import load_config, save_config
    from syconn.ml.compartments import load_compartment_model
    from syconn.runner import run_pipeline
    from syconn.tasks.compartments import Compartments
    from syconn.train import parse_seeds

    model = load_compartment_model(args.model)
    seeds = parse_seeds(args.seeds)
    root = args.workdir / "compartments"
    print(f"model {args.model or 'shipped'} ({model.digest}; training seeds "
          f"{model.card.get('training_seeds')}, smoothing {model.smooth_um:g} um); load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows, allsamples, counts = [], [], np.zeros(5, int)
    for s in seeds:
        t0 = time.perf_counter()
        samples = synthetic_samples([s], root, workers=args.workers, log=lambda m: None)
        wd = root / f"comp_{s}" / "wd"
        cfg = load_config(wd)
        want = str(args.model.resolve()) if args.model else ""
        if cfg.compartments.model != want:
            cfg.compartments.model = want
            save_config(cfg, wd)
        t1 = time.perf_counter()
        run_pipeline(wd, workers=args.workers, log=lambda m: None,
                     task=Compartments(working_dir=str(wd)))
        t2 = time.perf_counter()
        node = score_nodes(model, samples)
        syn = synapse_figures(wd, root / f"comp_{s}" / "data")
        counts += np.array(syn.pop("_counts"))
        vs = cfg.dataset.voxel_size_nm
        rows.append((f"{s} ({vs[0]:g}x{vs[1]:g}x{vs[2]:g} nm)", node, syn, t2 - t1, t1 - t0))
        allsamples += samples
    rows.append(("pooled", score_nodes(model, allsamples), _syn_row(*counts.tolist()), 0, 0))
    print()
    print("| seed | nodes | cable um | macro-F1 | dendrite | axon | soma | bouton F1 | synapses "
          "| comp_post correct | with comp_post | comp_pre axon/bouton | with comp_pre | step s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, a, b, step_s, _ in rows:
        print(f"| {name} | {a['nodes']} | {a['cable_um']:.0f} | {a['macro_f1']:.3f} | "
              f"{a['f1_dendrite']:.3f} | {a['f1_axon']:.3f} | {a['f1_soma']:.3f} | "
              f"{a['f1_bouton']:.3f} | {b['synapses']} | {b['post_correct']:.3f} | "
              f"{b['post_covered']:.3f} | {b['pre_axon']:.3f} | {b['pre_covered']:.3f} | "
              f"{step_s:.1f} |")


if __name__ == "__main__":
    main()
