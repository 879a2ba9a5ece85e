"""``syconn example``: synthesise the default dataset, run the pipeline, print the connectome.

Each stage resumes: an existing ``WD/data/synth.json`` is reused, an initialised working
directory is not initialised again, and the pipeline continues where it stopped.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import pandas as pd

from syconn.config import CONFIG_NAME, load_config
from syconn.db import run_query
from syconn.output import print_rows
from syconn.workdir import SYNTH_META, init_from_synth, open_engine

__all__ = ["run_example", "print_summary"]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_example(wd: Path | str, *, workers: int = 2, shape_xyz: Sequence[int] | None = None,
                seed: int = 0, db_url: str | None = None) -> None:
    from syconn.runner import run_pipeline
    from syconn.synth import EXAMPLE_SHAPE_XYZ
    from syconn.synth.command import generate

    wd = Path(wd)
    data = wd / "data"
    if not (data / SYNTH_META).is_file():
        _log(f"synthesising the example dataset into {data} ...")
        generate(data, shape_xyz=tuple(shape_xyz or EXAMPLE_SHAPE_XYZ), seed=seed, log=_log)
    else:
        _log(f"reusing the dataset in {data}")
    if not (wd / CONFIG_NAME).is_file():
        init_from_synth(wd, data, db_url=db_url, name="syconn_example")
        _log(f"initialised {wd}")
    run_pipeline(wd, workers=workers, log=_log)
    print_summary(wd, gt_dir=data)


def print_summary(wd: Path | str, *, gt_dir: Path | str | None = None) -> None:
    """Cells by (ground-truth) type, synapse counts, strongest connections, accuracy."""
    from syconn.evaluate import evaluate, evaluate_skeletons

    cfg = load_config(wd)
    engine = open_engine(wd, cfg, read_only=True)
    thresh = cfg.cell_objects.thresh_synssv_proba
    _, rows = run_query(engine, "SELECT id, size_vx, n_supervoxels, n_mi FROM cells")
    cells = pd.DataFrame(rows, columns=["id", "size_vx", "n_supervoxels", "n_mi"])
    types = None
    if gt_dir is not None and (Path(gt_dir) / "gt" / "cells.parquet").is_file():
        gt = pd.read_parquet(Path(gt_dir) / "gt" / "cells.parquet")
        types = dict(zip(gt["cell_id"], gt["type"]))
        cells["type"] = cells["id"].map(types).fillna("unknown")
        by_type = cells.groupby("type").agg(cells=("id", "size"),
                                            mitochondria=("n_mi", "sum")).reset_index()
        print_rows(["type (synthetic ground truth)", "cells", "mitochondria"],
                   by_type.itertuples(index=False), title=f"{len(cells)} cells")
    else:
        print(f"{len(cells)} cells")
    _, rows = run_query(engine, f"SELECT sign, COUNT(*) FROM synapses WHERE syn_prob > {thresh} "
                                f"GROUP BY sign ORDER BY sign")
    counts = {int(s) if s is not None else 0: n for s, n in rows}
    print(f"\n{sum(counts.values())} synapses with syn_prob > {thresh}: "
          f"{counts.get(1, 0)} excitatory (asymmetric), {counts.get(-1, 0)} inhibitory "
          f"(symmetric)")
    cols, rows = run_query(engine, "SELECT cell_pre, cell_post, n_synapses, sum_area_um2, sign, "
                                   "mean_syn_prob FROM connections ORDER BY sum_area_um2 DESC "
                                   "LIMIT 10")
    if types is not None and rows:
        ci = {c: i for i, c in enumerate(cols)}
        rows = [tuple(r) + (types.get(r[ci["cell_pre"]], "?"), types.get(r[ci["cell_post"]], "?"))
                for r in rows]
        cols = list(cols) + ["pre_type", "post_type"]
    print()
    print_rows(cols, rows, title="strongest connections")
    if gt_dir is not None and (Path(gt_dir) / SYNTH_META).is_file():
        print("\naccuracy against the synthetic ground truth:")
        for line in evaluate(wd, gt_dir).lines() + evaluate_skeletons(wd, gt_dir)[0].lines():
            print("  " + line)
    print(f"\nnext: syconn cells {wd} | syconn synapses {wd} --min-prob 0.5 | "
          f"syconn matrix {wd} | syconn sql {wd} \"SELECT * FROM connections\" | "
          f"syconn export {wd} swc")
