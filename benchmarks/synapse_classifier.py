"""Synapse classification: the shipped forest against the original's kind of model, one run.

    python benchmarks/synapse_classifier.py [--train syconn_train] [--val val] [--repeat 5]

Takes the labelled candidates of the training volumes (``syconn train synapses --synthetic
100-115 --workdir syconn_train`` leaves them in ``syconn_train/synth_*``) and of the
validation volumes (seeds 200-203, prepared the same way under ``--val``), and fits on the
training candidates:

- the shipped configuration (300 trees, ``min_samples_leaf=2``, evaluated by
  :func:`syconn.ml.forest.forest_proba`);
- the original's (``RandomForestClassifier(n_estimators=2000, max_features='sqrt',
  random_state=0)``, evaluated by scikit-learn's ``predict_proba``, one thread);
- gradient boosting (``HistGradientBoostingClassifier``, defaults, ``random_state=0``).

For each: average precision and precision/recall at 0.5 on the validation candidates,
classification speed (candidates per second, best of ``--repeat``), and model size.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import time
from pathlib import Path

import numpy as np


def _table(folder: Path):
    from syconn.ml.synapses import feature_matrix
    from syconn.train import _wd_and_cfg, synthetic_labels

    Xs, ys = [], []
    # synth_* (syconn train synapses) or varied_* (benchmarks/accuracy.py) volumes
    for root in sorted(p for p in folder.iterdir() if (p / "wd" / "config.yml").is_file()):
        cand, y = synthetic_labels(root / "wd", root / "data")
        Xs.append(feature_matrix(cand, _wd_and_cfg(root / "wd")[1].dataset.voxel_size_nm))
        ys.append(y)
    if not Xs:
        raise SystemExit(f"{folder}: no volumes with wd/ and data/ (run syconn train synapses first)")
    return np.concatenate(Xs), np.concatenate(ys)


def _rate(fn, X, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(X)
        best = min(best, time.perf_counter() - t0)
    return len(X) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, default=Path("syconn_train"))
    ap.add_argument("--val", type=Path, default=Path("val"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.metrics import average_precision_score

    from syconn.ml.forest import forest_from_sklearn, forest_proba
    from syconn.ml.synapse_training import fit_forest, pr_figures

    X, y = _table(args.train)
    Xv, yv = _table(args.val)
    big = np.repeat(Xv, max(1, 20000 // len(Xv)), axis=0)  # timing on >= 20,000 candidates
    print(f"training: {len(y)} candidates ({y.sum()} synaptic); validation: {len(yv)} "
          f"({yv.sum()} synaptic); timing on {len(big)} candidates, one thread, "
          f"load {os.getloadavg()[0]:.1f}\n")
    rows = []
    t0 = time.perf_counter()
    ours = forest_from_sklearn(fit_forest(X, y, seed=0))
    fit_ours = time.perf_counter() - t0
    rows.append(("shipped: 300 trees, min leaf 2 (numba)", fit_ours,
                 lambda A: forest_proba(ours, A), sum(a.nbytes for a in ours.arrays().values())))
    t0 = time.perf_counter()
    orig = RandomForestClassifier(n_estimators=2000, max_features="sqrt", random_state=0,
                                  n_jobs=1).fit(X, y)
    fit_orig = time.perf_counter() - t0
    buf = io.BytesIO()
    pickle.dump(orig, buf)
    rows.append(("original: 2000 trees (scikit-learn)", fit_orig,
                 lambda A: orig.predict_proba(A)[:, 1], len(buf.getvalue())))
    t0 = time.perf_counter()
    hgb = HistGradientBoostingClassifier(random_state=0).fit(X, y)
    fit_hgb = time.perf_counter() - t0
    buf = io.BytesIO()
    pickle.dump(hgb, buf)
    rows.append(("gradient boosting (scikit-learn)", fit_hgb,
                 lambda A: hgb.predict_proba(A)[:, 1], len(buf.getvalue())))
    print("| model | fit (s) | validation AP | precision / recall at 0.5 | candidates/s | "
          "size (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, fit, fn, size in rows:
        p = fn(Xv)
        prec, rec = pr_figures(yv, p)
        rate = _rate(fn, big, args.repeat)
        print(f"| {name} | {fit:.1f} | {average_precision_score(yv, p):.4f} | "
              f"{prec:.3f} / {rec:.3f} | {rate:,.0f} | {size / 1e6:.1f} |")


if __name__ == "__main__":
    main()
