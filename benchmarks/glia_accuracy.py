"""Glia accuracy per supervoxel on synthetic volumes the glia model never saw.

    python benchmarks/glia_accuracy.py [--model FILE] [--seeds 600-604] [--workdir syconn_train]

Each seed is made as the training volumes are (``syconn synth --variation --glia-merges 4``,
6 um, processed up to the cell meshes; reused when present), its cells rendered with the glia
view set, and every supervoxel that a rendering location shows is classified by the mean
P(glia) of its locations (threshold of the model's card).  Printed per seed and pooled:
supervoxels, glia supervoxels, accuracy, glia precision and recall, and the per-location
accuracy.  The default seeds 600-604 were used for nothing else (training 400-405,
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
    ap.add_argument("--model", type=Path, default=None,
                    help="default: the shipped model (none is shipped yet: pass a file)")
    ap.add_argument("--seeds", default="600-604")
    ap.add_argument("--workdir", type=Path, default=Path("syconn_train"))
    args = ap.parse_args()

    from syconn.glia import default_glia_model_path, sv_accuracy, synthetic_samples
    from syconn.ml.viewnet import load_view_classifier
    from syconn.train import parse_seeds

    path = args.model or default_glia_model_path()
    model = load_view_classifier(path, task="glia")
    thr = float(model.card.get("threshold", 0.5))
    seeds = parse_seeds(args.seeds)
    print(f"model {path.name} (training seeds {model.card.get('training_seeds')}); "
          f"threshold {thr}; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows, pooled = [], []
    for s in seeds:
        t0 = time.perf_counter()
        samples = synthetic_samples([s], args.workdir / "glia", log=lambda m: None)
        t1 = time.perf_counter()
        acc = sv_accuracy(model, samples, thr)
        t2 = time.perf_counter()
        rows.append((str(s), acc, t1 - t0, t2 - t1))
        pooled.append(samples)
    allsamples = {k: np.concatenate([p[k] for p in pooled]) for k in pooled[0]}
    rows.append(("pooled", sv_accuracy(model, allsamples, thr), 0.0, 0.0))
    print()
    print("| seed | supervoxels | glia | accuracy | glia precision | glia recall | "
          "locations | location accuracy | predict s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, a, _, pred_s in rows:
        print(f"| {name} | {a['supervoxels']} | {a['glia_supervoxels']} | {a['accuracy']:.3f} | "
              f"{a['glia_precision']:.3f} | {a['glia_recall']:.3f} | {a['locations']} | "
              f"{a['location_accuracy']:.3f} | {pred_s:.1f} |")


if __name__ == "__main__":
    main()
