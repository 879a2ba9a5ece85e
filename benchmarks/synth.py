"""Throughput of ``syconn.synth``: seconds, voxels/s and peak RSS per volume size.

    python benchmarks/synth.py                      # 256x256x128 and 512x512x256
    python benchmarks/synth.py --shape 512 512 256 --threads 2

Every size runs in a fresh subprocess (so peak RSS is per size) after a small warm-up run that
compiles the numba kernels (compile time is reported separately, not in the table).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, os, resource, sys, tempfile, time
from syconn.synth import synthesize
from syconn.synth.write import write_dataset
shape = tuple(json.loads(sys.argv[1])); seed = int(sys.argv[2]); write = sys.argv[3] == "1"
t = time.perf_counter(); synthesize(shape_xyz=(64, 64, 32), seed=0, n_cells=6); warm = time.perf_counter() - t
t = time.perf_counter(); r = synthesize(shape_xyz=shape, seed=seed); gen = time.perf_counter() - t
wt = 0.0
if write:
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter(); write_dataset(r, d); wt = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
c = r.cells
print(json.dumps(dict(shape=list(shape), warmup_s=warm, gen_s=gen, write_s=wt, rss_mb=rss,
    neurons=int((~c.is_glia).sum()), types=int(c[~c.is_glia].type.nunique()), glia=int(c.is_glia.sum()),
    sv=len(r.supervoxels), synapses=len(r.synapses), mito=len(r.mitochondria), timings=r.timings)))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", type=int, nargs=3, action="append", help="X Y Z (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="NUMBA_NUM_THREADS / OMP threads")
    ap.add_argument("--no-write", action="store_true", help="time generation only")
    ap.add_argument("--stages", action="store_true", help="also print per-stage seconds")
    args = ap.parse_args()
    shapes = args.shape or [[256, 256, 128], [512, 512, 256]]
    env = dict(os.environ, NUMBA_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads))
    head = (f"{'shape':>15} {'gen s':>7} {'write s':>8} {'total s':>8} {'Mvox/s':>7} {'peak RSS MB':>11} "
            f"{'neurons':>7} {'types':>5} {'glia':>4} {'SVs':>6} {'synapses':>8} {'mito':>5}")
    print(f"syconn synth benchmark, {args.threads} threads, seed {args.seed}, h5 output "
          f"{'off' if args.no_write else 'on'}")
    print(head)
    print("-" * len(head))
    for shape in shapes:
        out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(shape), str(args.seed),
                              "0" if args.no_write else "1"], env=env, capture_output=True, text=True,
                             cwd=tempfile.gettempdir())
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            raise SystemExit(out.returncode)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        n = shape[0] * shape[1] * shape[2]
        tot = r["gen_s"] + r["write_s"]
        print(f"{'x'.join(map(str, shape)):>15} {r['gen_s']:7.1f} {r['write_s']:8.1f} {tot:8.1f} "
              f"{n / tot / 1e6:7.2f} {r['rss_mb']:11.0f} {r['neurons']:7d} {r['types']:5d} {r['glia']:4d} "
              f"{r['sv']:6d} {r['synapses']:8d} {r['mito']:5d}")
        if args.stages:
            print("    " + ", ".join(f"{k} {v:.1f}" for k, v in r["timings"].items()))


if __name__ == "__main__":
    main()
