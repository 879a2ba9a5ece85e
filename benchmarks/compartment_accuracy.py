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
- per synapse (those above the threshold of known direction that match a true synapse, same
  partners within 250 nm): the share whose ``comp_post`` is the truth's (shaft and spine head: dendrite; soma),
  the share whose ``comp_pre`` is axon or bouton, and the shares of matched synapses with a
  ``comp_post`` / ``comp_pre`` at all (a partner without a skeleton, or farther than 3 um from
  it, has none);
- the direction of every matched synapse above the threshold: as stored (the compartments
  where they decide, the vesicle rule elsewhere), by the vesicle rule alone, and where the
  compartments decided.

The default seeds 820-824 were used for nothing else (training 800-803, validation 810).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

_POST = {"shaft": 0, "spine_head": 0, "soma": 2}


def synapse_figures(wd, data) -> dict:
    """Per-synapse compartment and direction figures of a processed synthetic working
    directory."""
    from syconn.evaluate import _pair_columns, match_synapses
    from syconn.read import Results

    res = Results(wd)
    thr = res.syn_prob_threshold()
    cols, rows = res.query("SELECT cell_a, cell_b, cell_pre, comp_pre, comp_post, n_vc_vxs_pre, "
                           "n_vc_vxs_post, direction_source, rep_x AS x, rep_y AS y, rep_z AS z "
                           "FROM synapses WHERE syn_prob >= :t", {"t": thr})
    pred = pd.DataFrame(rows, columns=cols)
    true = _pair_columns(pd.read_parquet(Path(data) / "gt" / "synapses.parquet"),
                         "pre_cell_id", "post_cell_id")
    pairs = match_synapses(pred, true, res.voxel_size_nm)
    c = dict.fromkeys(("n", "post_ok", "covered", "pre_ok", "pre_covered", "dir_ok", "ves_ok",
                       "by_comp", "by_comp_ok", "overruled", "overruled_ok"), 0)
    for i, j in pairs:
        p, t = pred.iloc[i], true.iloc[j]
        truth_pre = int(t.pre_cell_id)
        # the vesicle rule's own call: the side with more vesicle voxels (equal: none)
        ves_pre = None if p.n_vc_vxs_pre == p.n_vc_vxs_post or pd.isna(p.cell_pre) else (
            int(p.cell_pre) if p.n_vc_vxs_pre > p.n_vc_vxs_post else
            int(p.cell_a + p.cell_b - p.cell_pre))
        got = None if pd.isna(p.cell_pre) else int(p.cell_pre)
        c["dir_ok"] += int(got == truth_pre)
        c["ves_ok"] += int(ves_pre == truth_pre)
        if p.direction_source in ("compartments", "both"):
            c["by_comp"] += 1
            c["by_comp_ok"] += int(got == truth_pre)
        if p.direction_source == "compartments" and ves_pre is not None:
            c["overruled"] += 1
            c["overruled_ok"] += int(got == truth_pre)
        if got is None:  # the compartment figures: synapses of known direction
            continue
        c["n"] += 1
        cp, cq = p.comp_post, p.comp_pre
        if pd.notna(cp):
            c["covered"] += 1
            want = _POST.get(str(t.post_compartment), -1)
            c["post_ok"] += int((0 if cp == 0 else 2 if cp == 2 else 1) == want)
        if pd.notna(cq):
            c["pre_covered"] += 1
            c["pre_ok"] += int(int(cq) in (1, 3, 4))
    c["matched"] = len(pairs)
    return _syn_row(c)


def _syn_row(c: dict) -> dict:
    def share(a, b):
        return c[a] / max(c[b], 1)

    return {"synapses": c["n"], "post_correct": share("post_ok", "covered"),
            "post_covered": share("covered", "n"), "pre_axon": share("pre_ok", "pre_covered"),
            "pre_covered": share("pre_covered", "n"), "dir_ok": share("dir_ok", "matched"),
            "ves_ok": share("ves_ok", "matched"), "by_comp": share("by_comp", "matched"),
            "by_comp_ok": share("by_comp_ok", "by_comp"),
            "overruled": f"{c['overruled_ok']}/{c['overruled']}", "_n_matched": c["matched"],
            "_counts": c}


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
    rows, allsamples, counts = [], [], {}
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
        for k, v in syn.pop("_counts").items():
            counts[k] = counts.get(k, 0) + v
        vs = cfg.dataset.voxel_size_nm
        rows.append((f"{s} ({vs[0]:g}x{vs[1]:g}x{vs[2]:g} nm)", node, syn, t2 - t1, t1 - t0))
        allsamples += samples
    rows.append(("pooled", score_nodes(model, allsamples), _syn_row(counts), 0, 0))
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
    print()
    print("Direction of the matched synapses above threshold (undecided counts as wrong): as "
          "stored, by the vesicle rule alone, the share the compartments decide and how often "
          "they are right there, and the vesicle calls they overruled that were then right.")
    print()
    print("| seed | matched | direction correct | vesicle rule alone | decided by compartments "
          "| correct there | overruled, right |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, _, b, _, _ in rows:
        print(f"| {name} | {b['_n_matched']} | {b['dir_ok']:.3f} | {b['ves_ok']:.3f} | "
              f"{b['by_comp']:.3f} | {b['by_comp_ok']:.3f} | {b['overruled']} |")


if __name__ == "__main__":
    main()
