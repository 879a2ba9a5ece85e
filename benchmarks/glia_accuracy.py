"""Glia accuracy per supervoxel on synthetic volumes the glia model never saw.

    python benchmarks/glia_accuracy.py [--model FILE] [--seeds 600-604] [--workdir syconn_train]
                                       [--workers 2]

Each seed is made as the training volumes are (``syconn synth --variation --glia-merges 4``,
6 um, in memory; its samples cached under ``WORKDIR/glia``), and every supervoxel gets the
features of the pipeline's ``Glia`` step (the same blocks and halo).  Printed per seed and
pooled: supervoxels, glia supervoxels, the classifier's accuracy (P(glia) against the card's
threshold), the accuracy after the original's split (``min_cc_size_ssv`` 5 um, what
``cells.is_glia`` holds), glia precision and recall after the split, and the share of neuron
and of glia voxels on the wrong side.  The truth is the generator's: glia if the supervoxel
belongs to a glia cell.  Default seeds 600-604 were used for nothing else (training 400-405,
validation 500).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    ap.add_argument("--seeds", default="600-604")
    ap.add_argument("--workdir", type=Path, default=Path("syconn_train"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    from syconn.glia import score_glia, synthetic_samples
    from syconn.ml.glia import load_glia_model
    from syconn.synth.variation import Variation
    from syconn.train import parse_seeds

    model = load_glia_model(args.model)
    seeds = parse_seeds(args.seeds)
    print(f"model {model.digest} (training seeds {model.card.get('training_seeds')}, "
          f"validation {model.card.get('validation_seeds')}); threshold {model.threshold}; "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    parts = synthetic_samples(seeds, args.workdir / "glia", workers=args.workers,
                              log=lambda m: None)
    t1 = time.perf_counter()
    rows = []
    for s, p in zip(seeds, parts):
        vs = "x".join(f"{v:g}" for v in Variation.draw(s).voxel_size_nm)
        rows.append((f"{s} ({vs} nm)", score_glia(model, p)))
    t2 = time.perf_counter()
    # pooled: the volumes side by side (edges shifted so that no two volumes join)
    off = np.cumsum([0] + [len(p["y"]) for p in parts[:-1]])
    pooled = {k: np.concatenate([p[k] for p in parts]) for k in ("X", "y", "n_vx", "lo", "hi")}
    pooled["edges"] = np.concatenate([p["edges"] + o for p, o in zip(parts, off)])
    rows.append(("pooled", score_glia(model, pooled)))
    print(f"samples {t1 - t0:.0f} s (made or read from the cache), scoring {t2 - t1:.1f} s\n")
    print("| seed | supervoxels | glia | classifier accuracy | accuracy after the split | "
          "glia precision | glia recall | neuron voxels to glia | glia voxels left |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, a in rows:
        print(f"| {name} | {a['supervoxels']} | {a['glia_supervoxels']} | "
              f"{a['accuracy_classifier']:.3f} | {a['accuracy']:.3f} | "
              f"{a['glia_precision']:.3f} | {a['glia_recall']:.3f} | "
              f"{a['neuron_voxels_to_glia']:.4f} | {a['glia_voxels_left']:.4f} |")


if __name__ == "__main__":
    main()
