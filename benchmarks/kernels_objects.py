"""Single-core throughput of the object kernels on synthetic 256^3 blocks.

Run: ``python benchmarks/kernels_objects.py [--size 256] [--repeat 3]``.  Prints a markdown table
(best of ``--repeat`` wall-clock runs, after one warm-up call that also compiles numba).
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from syconn.proc.morphology import extract_objects  # noqa: E402
from syconn.proc.objects import object_stats, overlap_counts  # noqa: E402
from syconn.proc.rag import rag_edges  # noqa: E402


def supervoxels(n: int, n_sv: int, n_cells: int, rng) -> np.ndarray:
    """Voronoi supervoxels grouped into Voronoi cells, 1-voxel background gap between cells."""
    shape = (n, n, n)
    seeds = np.zeros(shape, np.uint32)
    pts = rng.integers(0, n, size=(n_sv, 3))
    seeds[pts[:, 0], pts[:, 1], pts[:, 2]] = np.arange(1, n_sv + 1)
    idx = ndimage.distance_transform_edt(seeds == 0, return_distances=False, return_indices=True)
    sv = seeds[idx[0], idx[1], idx[2]]
    _, cell_of = cKDTree(rng.integers(0, n, size=(n_cells, 3))).query(pts)
    c = np.r_[0, cell_of + 1][sv]
    gap = np.zeros(shape, bool)
    for ax in range(3):
        sl = [slice(None)] * 3
        sl[ax] = slice(1, None)
        gap[tuple(sl)] |= np.diff(c, axis=ax) != 0
    sv = sv.astype(np.uint64) * np.uint64(1_000_003)  # large, sparse uint64 ids
    sv[gap] = 0
    return sv


def blobs(n: int, fg: float, rng) -> np.ndarray:
    """uint8 probability map with about ``fg`` foreground above 0.43*255."""
    small = ndimage.gaussian_filter(rng.random((n // 4,) * 3), 1.5)
    big = ndimage.zoom(small, 4, order=1)
    thr = np.quantile(big, 1 - fg)
    lo, hi = big.min(), big.max()
    scaled = np.where(big > thr, 0.43 + 0.57 * (big - thr) / (hi - thr),
                      0.43 * (big - lo) / (thr - lo))
    return (scaled * 255).astype(np.uint8)


def best_time(fn, repeat: int) -> float:
    fn()
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.size
    sv = supervoxels(n, int(50_000 * (n / 256) ** 3), max(2, int(300 * (n / 256) ** 3)), rng)
    prob = blobs(n, 0.05, rng)
    mi = extract_objects(prob, threshold=0.428571429)
    mi_ops = ["binary_opening", "binary_closing"] + ["binary_erosion"] * 4
    n_vx = sv.size
    rows = []
    with threadpool_limits(1):
        for order in ("C", "F"):
            s = np.asarray(sv, order=order)
            o = np.asarray(mi, order=order)
            p = np.asarray(prob, order=order)
            cases = [
                ("object_stats (supervoxels)", lambda: object_stats(s)),
                ("overlap_counts (mi x sv)", lambda: overlap_counts(o, s)),
                ("object_stats + overlap_counts", lambda: (object_stats(s), overlap_counts(o, s))),
                ("object_stats(rep_lattice_vx=8) + overlap_counts (the pipeline's)",
                 lambda: (object_stats(s, rep_lattice_vx=8), overlap_counts(o, s))),
                ("rag_edges (gap 2)", lambda: rag_edges(s, max_gap_vx=(2, 2, 2))),
                ("extract_objects (threshold + CC)",
                 lambda: extract_objects(p, threshold=0.428571429)),
                ("extract_objects (mi ops + watershed)",
                 lambda: extract_objects(p, threshold=0.428571429, ops=mi_ops, min_seed_vx=50)),
            ]
            for name, fn in cases:
                t = best_time(fn, args.repeat)
                rows.append((name, order, t))
    n_sv = len(np.unique(sv)) - 1
    print(f"\nblock {n}^3 uint64, {n_sv} supervoxels, background {np.mean(sv == 0):.1%}; "
          f"mi foreground {np.mean(prob > 0.428571429 * 255):.1%}, {int(mi.max())} objects\n")
    print("| kernel | block shape | order | seconds | Mvoxels/s (1 core) |")
    print("|---|---|---|---:|---:|")
    for name, order, t in rows:
        print(f"| {name} | {n}^3 | {order} | {t:.3f} | {n_vx / t / 1e6:.1f} |")


if __name__ == "__main__":
    main()
