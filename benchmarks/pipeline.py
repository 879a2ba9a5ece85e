"""Pipeline throughput on a synthetic volume (default 512 x 512 x 256 voxels).

    python benchmarks/pipeline.py [--shape 512 512 256] [--workers 2] [--block 256 256 256]
                                  [--without glia]

Synthesises the volume (not timed), runs the whole pipeline once, and prints per step: tasks,
summed task seconds, voxels/s per core (voxels the step covers / summed task seconds), and the
peak RSS of the worker processes that ran it; then the wall time of the whole run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

VOXEL_STEPS = {  # step -> how many times it covers the volume
    "SupervoxelBlock": 1, "OrganelleBlock": 3, "OrganelleRelabel": 3, "ContactBlock": 1,
    "MeshBlock": 4, "SkeletonBlock": 1,  # meshes of cells, mi, vc, sj; skeletons of cells
    "GliaBlock": 1,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=(512, 512, 256))
    ap.add_argument("--block", type=int, nargs=3, default=(256, 256, 256))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--without", action="append", default=[],
                    choices=["glia", "compartments", "celltypes", "spines"],
                    help="leave a learned step out (a baseline on the same machine)")
    ap.add_argument("--keep", help="folder to keep the data and working directory in")
    args = ap.parse_args()

    from syconn.runner import run_pipeline
    from syconn.synth.command import generate
    from syconn.workdir import init_from_synth

    root = Path(args.keep or tempfile.mkdtemp(prefix="syconn_bench_"))
    data, wd = root / "data", root / "wd"
    if not (data / "synth.json").is_file():
        generate(data, shape_xyz=tuple(args.shape), seed=args.seed)
    if not (wd / "config.yml").is_file():
        cfg = init_from_synth(wd, data, block_shape=tuple(args.block))
        if args.without:
            from syconn.config import save_config

            for step in args.without:
                getattr(cfg, step).enabled = False
            save_config(cfg, wd)
    n_vox = int(args.shape[0]) * int(args.shape[1]) * int(args.shape[2])
    t0 = time.perf_counter()
    summary = run_pipeline(wd, workers=args.workers, log=lambda m: None)
    wall = time.perf_counter() - t0
    steps: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
    for family, seconds, rss in summary["per_task"]:
        s = steps[family]
        s[0] += 1
        s[1] += seconds
        s[2] = max(s[2], rss)
    print(f"\n{args.shape[0]}x{args.shape[1]}x{args.shape[2]} voxels ({n_vox / 1e6:.0f} M), "
          f"blocks {tuple(args.block)}, {args.workers} workers, load {os.getloadavg()[0]:.1f}\n")
    print("| step | tasks | task seconds | voxels/s per core | peak RSS per worker (MB) |")
    print("|---|---:|---:|---:|---:|")
    for family, (n, sec, rss) in sorted(steps.items(), key=lambda kv: -kv[1][1]):
        if family == "Pipeline":
            continue
        rate = f"{VOXEL_STEPS[family] * n_vox / sec:,.0f}" if family in VOXEL_STEPS and sec else ""
        print(f"| {family} | {n} | {sec:.1f} | {rate} | {rss:,.0f} |")
    print(f"\nwhole pipeline: {wall:.1f} s wall on {args.workers} workers "
          f"({n_vox / wall / args.workers:,.0f} voxels/s per core)")


if __name__ == "__main__":
    main()
