"""Cell type accuracy on synthetic volumes the cell type model never saw.

    python benchmarks/celltype_accuracy.py [--model FILE] [--seeds 920-924] [--size-um 6]
                                           [--workdir syconn_train]

Each seed is made as the training volumes are (``syconn synth --variation``, its own voxel
size, gap and maps; a cube of ``--size-um``; reused when present under
``WORKDIR/celltypes/ct_SEED``), processed by the pipeline up to the compartments, and its cells
typed by the model exactly as the ``CellTypes`` step does (features, cable floor, forest).
Printed per seed and pooled, over the neurons (glia left out) whose true cable in the volume
is at least 20 um (the issue's criterion), at least 10 um, and all: how many, the share the
model types (the others are below its cable floor or have no skeleton) and the accuracy of the
typed ones; the pooled confusion matrix of the >= 10 um neurons; and how well the typed cells'
synapses recover the true type-to-type connectivity: the Pearson correlation, over the pairs
of neuron types, of each pair's share of the synapses (found synapses above the threshold
between typed cells, by predicted type, against every true synapse by true type).

The default seeds 920-924 were used for nothing else (training 830, 831, 900-903; validation
910).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd


def type_pair_shares(res, data, model, typed_ids, pred_names) -> tuple[np.ndarray, np.ndarray,
                                                                       list[str]]:
    """Per pair of neuron types (row: pre), the share of synapses: found (predicted types of
    typed cells) and true (all ground-truth synapses)."""
    names = [c for c in model.classes if c != "glia"]
    k = {n: i for i, n in enumerate(names)}
    found = np.zeros((len(names), len(names)))
    kind = dict(zip(typed_ids.tolist(), pred_names))
    thr = res.syn_prob_threshold()
    _, rows = res.query("SELECT cell_pre, cell_post FROM synapses WHERE syn_prob >= :t AND "
                        "cell_pre IS NOT NULL", {"t": thr})
    for pre, post in rows:
        a, b = kind.get(int(pre)), kind.get(int(post))
        if a in k and b in k:
            found[k[a], k[b]] += 1
    true = np.zeros_like(found)
    gt = pd.read_parquet(Path(data) / "gt" / "synapses.parquet")
    for a, b in zip(gt.pre_type, gt.post_type):
        if a in k and b in k:
            true[k[a], k[b]] += 1
    return found, true, names


def main() -> None:
    from syconn.celltypes import score_cells, synthetic_cell_samples, type_status
    from syconn.ml.celltypes import load_celltype_model
    from syconn.read import Results
    from syconn.train import parse_seeds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model file (default: the shipped one)")
    ap.add_argument("--seeds", default="920-924")
    ap.add_argument("--size-um", type=float, default=6.0)
    ap.add_argument("--workdir", default="syconn_train")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    model = load_celltype_model(a.model)
    floor = model.min_cable_um
    print(f"model {model.digest} ({a.model or 'shipped'}), classes {list(model.classes)}, "
          f"cable floor {floor:g} um")
    root = Path(a.workdir) / "celltypes"
    rows, pooled, found_all, true_all = [], [], None, None
    for s in parse_seeds(a.seeds):
        t0 = time.perf_counter()
        d = synthetic_cell_samples([s], root, size_um=a.size_um, workers=a.workers,
                               log=lambda m: None)[0]
        secs = time.perf_counter() - t0
        pooled.append(d)
        res = Results(root / f"ct_{s}" / "wd")
        row = {"seed": s, "voxel": "x".join(f"{v:g}" for v in res.voxel_size_nm)}
        for name, cab in (("20", 20.0), ("10", 10.0), ("all", 0.0)):
            sc = score_cells(model, [d], min_cable_um=floor, min_true_cable_um=cab)
            row.update({f"n{name}": sc["cells"], f"typed{name}": sc["typed_share"],
                        f"acc{name}": sc["accuracy"]})
        t1 = time.perf_counter()
        st = type_status(d["status"], d["cable"], floor)
        ok = st == "ok"
        cls = model.predict(d["X"][ok])[0]
        row["type_s"] = round(time.perf_counter() - t1, 3)
        row["cells_typed"] = int(ok.sum())
        row["make_s"] = round(secs)
        found, true, names = type_pair_shares(res, root / f"ct_{s}" / "data", model,
                                              d["ids"][ok], [model.classes[c] for c in cls])
        found_all = found if found_all is None else found_all + found
        true_all = true if true_all is None else true_all + true
        row["pair_r"] = round(float(np.corrcoef((found / max(found.sum(), 1)).ravel(),
                                                (true / max(true.sum(), 1)).ravel())[0, 1]), 3)
        rows.append(row)
        print(row, flush=True)
    print()
    print("| seed | voxel (nm) | neurons >= 20 um | typed | accuracy | neurons >= 10 um | typed "
          "| accuracy | all neurons | typed | accuracy | type-pair r | typing s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    fmt = lambda v: "" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa
    for r in rows:
        print(f"| {r['seed']} | {r['voxel']} | " + " | ".join(
            fmt(r[k]) for k in ("n20", "typed20", "acc20", "n10", "typed10", "acc10", "nall",
                                "typedall", "accall", "pair_r", "type_s")) + " |")
    tot = {}
    for name, cab in (("20", 20.0), ("10", 10.0), ("all", 0.0)):
        tot[name] = score_cells(model, pooled, min_cable_um=floor, min_true_cable_um=cab)
    r_all = float(np.corrcoef((found_all / found_all.sum()).ravel(),
                              (true_all / true_all.sum()).ravel())[0, 1])
    print("| pooled | | " + " | ".join(
        fmt(v) for name in ("20", "10", "all")
        for v in (tot[name]["cells"], tot[name]["typed_share"], tot[name]["accuracy"]))
        + f" | {r_all:.3f} | |")
    conf = np.asarray(tot["10"]["confusion"])
    print("\nConfusion, neurons >= 10 um of true cable, typed (rows: truth, columns: model)\n")
    print("| truth \\ model | " + " | ".join(model.classes) + " |")
    print("|---|" + "---:|" * len(model.classes))
    for i, c in enumerate(model.classes):
        if c == "glia":
            continue
        print(f"| {c} | " + " | ".join(str(v) for v in conf[i]) + " |")
    print("\nType-to-type synapse shares, pooled (rows: pre; found / true)\n")
    print("| pre \\ post | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for i, c in enumerate(names):
        print(f"| {c} | " + " | ".join(f"{found_all[i, j] / found_all.sum():.3f} / "
                                       f"{true_all[i, j] / true_all.sum():.3f}"
                                       for j in range(len(names))) + " |")


if __name__ == "__main__":
    main()
