"""Throughput of the contact-site kernels on one core (prints a markdown table).

Run:  NUMBA_NUM_THREADS=1 python benchmarks/kernels_contacts.py [--core 256] [--cell-um 0.5]

Test volume: dense Voronoi tissue at 10 x 10 x 20 nm -- random seeds (mean cell spacing
``--cell-um``), every voxel labelled with its nearest seed (nm space), then every voxel with a
6-neighbour of another label set to 0, giving a 2-voxel background gap between cells (1 voxel
where three cells meet diagonally).  A synthetic sj map has one 9 x 9 x 5 blob per 40,000
voxels, centred on gap voxels.  The block is the core plus the halo :func:`contact_halo_vx` needs; throughput is CORE voxels per second of the
whole call (halo work included), best of ``--repeat`` (3) after a warm-up call that
compiles/loads the numba cache.  The load average is printed with the table: on a shared
machine compare runs at similar load only.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from syconn.proc import _contact_kernels as _k  # noqa: E402
from syconn.proc.contacts import contact_halo_vx, find_contacts  # noqa: E402

VOXEL_NM = (10.0, 10.0, 20.0)


def voronoi_tissue(shape, cell_um, seed=0):
    """Dense Voronoi cells (uint64, Fortran order) with background gaps on label boundaries."""
    rng = np.random.default_rng(seed)
    ext_nm = np.array(shape) * np.array(VOXEL_NM)
    n = max(2, int(np.prod(ext_nm) / (cell_um * 1000.0) ** 3))
    seeds = rng.random((n, 3)) * ext_nm
    tree = cKDTree(seeds)
    g = np.stack(np.meshgrid(*[np.arange(s) * v for s, v in zip(shape, VOXEL_NM)],
                             indexing="ij"), -1).reshape(-1, 3)
    _, lab = tree.query(g, workers=-1)
    seg = (lab.reshape(shape) + 1).astype(np.uint64)
    gap = np.zeros(shape, bool)
    for ax in range(3):
        d = np.diff(seg, axis=ax) != 0
        sl_lo = [slice(None)] * 3
        sl_hi = [slice(None)] * 3
        sl_lo[ax] = slice(0, -1)
        sl_hi[ax] = slice(1, None)
        gap[tuple(sl_lo)] |= d
        gap[tuple(sl_hi)] |= d
    seg[gap] = 0
    sj = np.zeros(shape, np.uint8)
    gx, gy, gz = np.nonzero(gap)
    pick = rng.choice(len(gx), size=max(1, int(np.prod(shape) / 40000)), replace=False)
    for x, y, z in zip(gx[pick], gy[pick], gz[pick]):  # 9 x 9 x 5 sj blobs on the cleft
        sj[max(x - 4, 0):x + 5, max(y - 4, 0):y + 5, max(z - 2, 0):z + 3] = 255
    return np.asfortranarray(seg), np.asfortranarray(sj), n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--core", type=int, default=256)
    ap.add_argument("--cell-um", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    halo = contact_halo_vx(voxel_size_nm=VOXEL_NM)
    core = (args.core, args.core, args.core)
    shape = tuple(c + 2 * h for c, h in zip(core, halo))
    seg, sj, ncells = voronoi_tissue(shape, args.cell_um)
    ncore = int(np.prod(core))
    kw = dict(offset_xyz=(0, 0, 0), halo_vx=halo, voxel_size_nm=VOXEL_NM)
    find_contacts(seg[:80, :80, :80], sj[:80, :80, :80], **kw)  # warm-up / cache load

    def best(f):
        ts = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = f()
            ts.append(time.perf_counter() - t)
        return min(ts), out

    hw = (6, 6, 3)
    reach = 14
    r0 = [h - reach for h in halo]
    r1 = [h + c + reach for h, c in zip(halo, core)]
    t_run, run = best(lambda: _k.run_lengths_x(seg))
    t_runy, runy = best(lambda: _k.run_lengths_y(seg))
    t_par, (xs, ys, zs, own, par) = best(lambda: _k.find_partners(
        seg, run, runy, *hw, r0[0], r1[0], r0[1], r1[1], r0[2], r1[2]))
    t_all, res = best(lambda: find_contacts(seg, sj, **kw))
    nb = len(xs)
    rows = [
        ("run_lengths_x + run_lengths_y", shape, t_run + t_runy),
        ("find_partners (boundary + 13x13x7 mode)", shape, t_par),
        ("find_contacts (all: partners, closing, sj, stats)", shape, t_all),
    ]
    print(f"Voronoi tissue: {ncells} cells of ~{args.cell_um} um, core {core}, block+halo "
          f"{shape}, {nb} boundary voxels with a partner ({nb / np.prod(shape):.1%}), "
          f"{res.contact_stats.num_rows} contacts, {res.syn_voxels.num_rows} syn voxels; "
          f"NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}; load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs\n")
    print("| kernel | block shape (incl. halo) | seconds | core voxels/s (1 core) |")
    print("|---|---|---|---|")
    for name, shp, t in rows:
        print(f"| {name} | {'x'.join(map(str, shp))} | {t:.3f} | {ncore / t / 1e6:.1f} M |")


if __name__ == "__main__":
    main()
