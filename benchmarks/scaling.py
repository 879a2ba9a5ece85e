"""How the whole pipeline scales with the volume: 1/8, 1/4, 1/2 and all of 1024^3 voxels.

    python benchmarks/scaling.py [--root scaling] [--sizes 8,4,2,1] [--workers 2]
                                 [--full 1024 1024 1024] [--tile 512 512 256]

Each size (the full volume halved in z, then y, then x) is made with ``syconn synth --tile``
(tiles of 512 x 512 x 256, one in memory at a time) in a child process, then run by the whole
pipeline (every step the default configuration runs, the compartments included) with
``--workers`` workers, and scored against its ground truth.  Printed per size: voxels,
synthesis seconds and peak memory, pipeline wall seconds and voxels/s per core, per voxel step
voxels/s per core (as ``benchmarks/pipeline.py``), the largest peak RSS of any task, database
size and rows per table, files and bytes in the working directory, synapse precision / recall
and skeleton cable within 10 %; then how each grows from the smallest size, and a plot
(``ROOT/scaling.png``).  Results go to ``ROOT/scaling.json`` as they come: a size already there
is not run again (delete its entry, or its folder, to redo it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from pipeline import VOXEL_STEPS  # benchmarks/pipeline.py: step -> volumes it covers

_SYNTH = """
import json, resource, sys, time
from syconn.synth.tiled import generate_tiled
a = json.loads(sys.argv[1])
t0 = time.perf_counter()
generate_tiled(a["out"], shape_xyz=a["shape"], tile_xyz=a["tile"], seed=a["seed"],
               log=lambda m: print(m, file=sys.stderr, flush=True))
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def sizes(full, denominators) -> dict[int, tuple[int, int, int]]:
    """The volume of each fraction 1/d of ``full``: halved in z, then y, then x, in turn.

    >>> sizes((1024, 1024, 1024), [8, 4, 2, 1])[8], sizes((1024, 1024, 1024), [2])[2]
    ((512, 512, 512), (1024, 1024, 512))
    """
    out = {}
    for d in denominators:
        s, axis, k = list(full), 2, int(d)
        while k > 1:
            if k % 2:
                raise SystemExit(f"--sizes: {d} is not a power of two")
            s[axis] //= 2
            axis, k = (axis - 1) % 3, k // 2
        out[int(d)] = tuple(s)
    return out


def _dir_stats(path: Path) -> tuple[int, int]:
    n = size = 0
    for p in path.rglob("*"):
        if p.is_file():
            n += 1
            size += p.stat().st_size
    return n, size


def run_size(root: Path, shape, tile, seed: int, workers: int) -> dict:
    from syconn.evaluate import evaluate, evaluate_skeletons
    from syconn.read import Results
    from syconn.runner import run_pipeline
    from syconn.workdir import init_from_synth

    name = "x".join(map(str, shape))
    data, wd = root / name / "data", root / name / "wd"
    row: dict = {"shape": list(shape), "voxels": int(shape[0] * shape[1] * shape[2])}
    if not (data / "synth.json").is_file():
        arg = json.dumps({"out": str(data), "shape": list(shape), "tile": list(tile),
                          "seed": seed})
        r = subprocess.run([sys.executable, "-c", _SYNTH, arg], capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"synthesis of {name} failed:\n{r.stderr[-2000:]}")
        row["synth"] = json.loads(r.stdout.strip().splitlines()[-1])
    if not (wd / "config.yml").is_file():
        init_from_synth(wd, data)
    t0 = time.perf_counter()
    summary = run_pipeline(wd, workers=workers, log=lambda m: None)
    row["wall_s"] = time.perf_counter() - t0
    row["load_after"] = os.getloadavg()[0]
    steps: dict = defaultdict(lambda: [0, 0.0, 0.0])
    for family, seconds, rss in summary["per_task"]:
        s = steps[family]
        s[0] += 1
        s[1] += seconds
        s[2] = max(s[2], rss)
    row["steps"] = {f: {"tasks": n, "seconds": sec, "peak_rss_mb": rss}
                    for f, (n, sec, rss) in steps.items()}
    row["peak_rss_mb"] = max((v[2] for v in steps.values()), default=0.0)
    res = Results(wd)
    tables = [t for (t,) in res.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")[1]]
    row["rows"] = {t: int(res.query(f"SELECT count(*) FROM {t}")[1][0][0]) for t in tables}
    db = wd / "syconn.sqlite"
    row["db_mb"] = db.stat().st_size / 1e6 if db.is_file() else None
    row["files"], size = _dir_stats(wd)
    row["wd_gb"] = size / 1e9
    ev = evaluate(wd, data)
    sk, _ = evaluate_skeletons(wd, data)
    row["accuracy"] = {"precision": ev.precision, "recall": ev.recall,
                       "skeletons_within_10pct": sk.fraction_within,
                       "n_true_synapses": ev.n_true_synapses,
                       "direction": ev.direction_accuracy,
                       "supervoxel_to_cell_exact": ev.supervoxel_to_cell_exact}
    return row


def _plot(rows: list[dict], path: Path, workers: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = [r["voxels"] / 1e9 for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].plot(v, [r["voxels"] / r["wall_s"] / workers for r in rows], "o-", label="whole run")
    for f in ("SupervoxelBlock", "ContactBlock", "SkeletonBlock"):
        ax[0].plot(v, [VOXEL_STEPS[f] * r["voxels"] / r["steps"][f]["seconds"]
                       if f in r["steps"] else float("nan") for r in rows], ".--", label=f)
    ax[0].set(xlabel="volume (gigavoxels)", ylabel="voxels/s per core", xscale="log",
              yscale="log", title=f"throughput, {workers} workers")
    ax[0].legend(fontsize=8)
    ax[1].plot(v, [r["peak_rss_mb"] / 1024 for r in rows], "o-", label="largest task")
    ax[1].plot(v, [r.get("synth", {}).get("peak_mb", float("nan")) / 1024 for r in rows], "s-",
               label="synthesis")
    ax[1].axhline(3, color="grey", lw=0.8, ls=":")
    ax[1].set(xlabel="volume (gigavoxels)", ylabel="peak RSS (GB)", xscale="log",
              title="peak memory per process")
    ax[1].legend(fontsize=8)
    for a in ax:  # one labelled tick per size (a log axis' minor labels overlap)
        a.set_xticks(v, [f"{x:.2g}" for x in v])
        a.minorticks_off()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("scaling"))
    ap.add_argument("--sizes", default="8,4,2,1", help="denominators of the full volume")
    ap.add_argument("--full", type=int, nargs=3, default=(1024, 1024, 1024))
    ap.add_argument("--tile", type=int, nargs=3, default=(512, 512, 256))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    args.root.mkdir(parents=True, exist_ok=True)
    store = args.root / "scaling.json"
    done = json.loads(store.read_text()) if store.is_file() else {}
    wanted = sizes(args.full, [int(d) for d in args.sizes.split(",")])
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores")
    for d, shape in sorted(wanted.items(), reverse=True):
        key = "x".join(map(str, shape))
        if key in done:
            continue
        t0 = time.perf_counter()
        done[key] = run_size(args.root, shape, args.tile, args.seed, args.workers)
        store.write_text(json.dumps(done, indent=1) + "\n")
        print(f"1/{d} {key}: {time.perf_counter() - t0:.0f} s", flush=True)
    rows = sorted((r for k, r in done.items()), key=lambda r: r["voxels"])
    w = args.workers
    print("\n| volume | Mvoxels | synth s | synth peak GB | pipeline wall s | voxels/s per core "
          "| largest task RSS GB | DB MB | files | WD GB | precision | recall | cable within "
          "10 % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        s = r.get("synth", {})
        print(f"| {'x'.join(map(str, r['shape']))} | {r['voxels'] / 1e6:,.0f} | "
              f"{s.get('seconds', float('nan')):.0f} | {s.get('peak_mb', float('nan')) / 1024:.1f}"
              f" | {r['wall_s']:.0f} | {r['voxels'] / r['wall_s'] / w:,.0f} | "
              f"{r['peak_rss_mb'] / 1024:.2f} | {r['db_mb'] or 0:.0f} | {r['files']:,} | "
              f"{r['wd_gb']:.1f} | {r['accuracy']['precision']:.3f} | "
              f"{r['accuracy']['recall']:.3f} | {r['accuracy']['skeletons_within_10pct']:.3f} |")
    fams = sorted({f for r in rows for f in r["steps"] if f in VOXEL_STEPS})
    print("\nvoxels/s per core per voxel step (summed task seconds):\n")
    print("| step | " + " | ".join("x".join(map(str, r["shape"])) for r in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for f in fams:
        print(f"| {f} | " + " | ".join(
            f"{VOXEL_STEPS[f] * r['voxels'] / r['steps'][f]['seconds']:,.0f}"
            if f in r["steps"] else "" for r in rows) + " |")
    print("\nrows per table:\n")
    names = sorted({t for r in rows for t in r["rows"]})
    print("| table | " + " | ".join("x".join(map(str, r["shape"])) for r in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for t in names:
        print(f"| {t} | " + " | ".join(f"{r['rows'].get(t, 0):,}" for r in rows) + " |")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        k = b["voxels"] / a["voxels"]
        rate = [r["voxels"] / r["wall_s"] for r in (a, b)]
        print(f"\nfrom the smallest to the largest ({k:g} x the voxels): voxels/s per core "
              f"x {rate[1] / rate[0]:.2f}, largest task RSS x "
              f"{b['peak_rss_mb'] / max(a['peak_rss_mb'], 1e-9):.2f}, rows x "
              f"{sum(b['rows'].values()) / max(sum(a['rows'].values()), 1):.2f}, files x "
              f"{b['files'] / max(a['files'], 1):.2f}")
    _plot(rows, args.root / "scaling.png", w)
    print(f"\nplot: {args.root / 'scaling.png'}")


if __name__ == "__main__":
    main()
