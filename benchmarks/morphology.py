"""Single-core throughput and peak memory of blockwise meshing and skeletonization.

Run: ``python benchmarks/morphology.py [--shape 512 512 256] [--block 256] [--seed 0]``.

Builds a cell-id volume (``syconn.synth`` default generator when available: supervoxels remapped
to cell ids; else tubes and spheres), cuts it into ``--block``^3 blocks written to a temp folder
(core + 4,4,2 voxels of upper overlap, as a task would read them), and runs every step in a fresh
single-threaded process (NUMBA/OMP/BLAS threads = 1) so that its peak RSS is its own:

- mesh blocks:     ``mesh_block`` per block (downsampling 4,4,2, simplification 50, 40 nm)
- mesh merge:      ``merge_meshes`` per cell (weld + smoothing) over all block pieces
- skeleton blocks: ``skeletonize_block`` per block (downsampling 2,2,1, SyConn TEASAR params)
- skeleton merge:  ``merge_skeletons`` per cell (tips retracted, as in the pipeline)

Prints a markdown table: voxels (mag-1 voxels of the volume), wall and CPU seconds, voxels/s per
core (voxels / CPU seconds of the single-threaded step) and peak RSS of the step's process.  With
synth ground truth it also prints how many neurons have a total cable length within 10 % of the
true total (a rough check; the accuracy figure is ``syconn.evaluate.evaluate_skeletons``).
"""

from __future__ import annotations

import os

for _v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import pickle  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

VS = (10.0, 10.0, 20.0)
OVERLAP = (4, 4, 2)          # max over meshing (4,4,2) and skeletonization (2,2,1)


def build_volume(shape, seed):
    """Cell-id volume and (optional) ground-truth cable length per neuron."""
    try:
        import fastremap

        from syconn.synth import synthesize
    except ImportError:
        synthesize = None
    if synthesize is not None:
        r = synthesize(shape_xyz=shape, voxel_size_nm=VS, seed=seed)
        sv = r.supervoxels
        mapping = {int(s): int(c) for s, c in zip(sv.sv_id, sv.cell_id)}
        mapping[0] = 0
        cells = fastremap.remap(r.seg, mapping, preserve_missing_labels=True).astype(np.uint64)
        gt = r.cells[~r.cells.is_glia].set_index("cell_id")["cable_length_um"].to_dict()
        return cells, gt, "syconn.synth default generator"
    rng = np.random.default_rng(seed)
    cells = np.zeros(shape, np.uint64)
    x, y, z = np.ogrid[: shape[0], : shape[1], : shape[2]]
    for i in range(1, 41):
        p = rng.random(3) * shape
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        r = rng.uniform(4, 10)
        t = (x - p[0]) * d[0] + (y - p[1]) * d[1] + (z - p[2]) * d[2]
        dist2 = ((x - p[0] - t * d[0]) ** 2 + (y - p[1] - t * d[1]) ** 2
                 + ((z - p[2] - t * d[2]) * 2) ** 2)
        cells[(dist2 < r * r) & (cells == 0)] = i
    return cells, None, "random tubes (syconn.synth not available)"


def _peak_mb():
    """Peak RSS of this process (VmHWM; unlike ru_maxrss it is not inherited from the parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _blocks(tmp):
    return sorted(Path(tmp).glob("block_*.npz"))


def _per_block(tmp, fn, out_name: str, what: str):
    """Run ``fn`` (mesh_block or skeletonize_block) on every stored block; pickle the pieces."""
    meta = pickle.loads((Path(tmp) / "meta.pkl").read_bytes())
    t0, c0 = time.perf_counter(), time.process_time()
    pieces = {}
    for f in _blocks(tmp):
        with np.load(f) as z:
            lab, off, core = z["labels"], z["offset"], z["core"]
        for oid, piece in fn(lab, voxel_size_nm=VS, offset_xyz=off, core_shape_xyz=core,
                             volume_shape_xyz=meta["shape"]).items():
            pieces.setdefault(oid, []).append(piece)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    (Path(tmp) / out_name).write_bytes(pickle.dumps(pieces))
    n = sum(len(v) for v in pieces.values())
    return wall, cpu, _peak_mb(), f"{len(pieces)} {what}, {n} pieces"


def step_mesh_blocks(tmp):
    from syconn.proc.meshes import mesh_block

    return _per_block(tmp, mesh_block, "mesh_pieces.pkl", "objects")


def step_mesh_merge(tmp):
    from syconn.proc.meshes import boundary_edges, merge_meshes, mesh_area_nm2

    pieces = pickle.loads((Path(tmp) / "mesh_pieces.pkl").read_bytes())
    t0, c0 = time.perf_counter(), time.process_time()
    merged = {oid: merge_meshes(p) for oid, p in pieces.items()}
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    closed = sum(len(boundary_edges(m)) == 0 for m in merged.values())
    area = sum(mesh_area_nm2(m) for m in merged.values()) / 1e6
    return wall, cpu, _peak_mb(), f"{closed}/{len(merged)} closed, {area:.0f} um2"


def step_skel_blocks(tmp):
    from syconn.proc.skeletons import skeletonize_block

    return _per_block(tmp, skeletonize_block, "skel_pieces.pkl", "cells")


def step_skel_merge(tmp):
    from syconn.proc.skeletons import (merge_skeletons, skeleton_components, skeleton_stats,
                                       tip_retraction_args)

    pieces = pickle.loads((Path(tmp) / "skel_pieces.pkl").read_bytes())
    shape = pickle.loads((Path(tmp) / "meta.pkl").read_bytes())["shape"]
    tips = tip_retraction_args(VS, shape)                   # as SkeletonMerge: tips retracted
    t0, c0 = time.perf_counter(), time.process_time()
    merged = {oid: merge_skeletons(p, **tips) for oid, p in pieces.items()}
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    one = sum(skeleton_components(s) == 1 for s in merged.values())
    stats = {oid: skeleton_stats(s) for oid, s in merged.items()}
    (Path(tmp) / "skel_stats.pkl").write_bytes(pickle.dumps(stats))
    return wall, cpu, _peak_mb(), f"{one}/{len(merged)} connected"


STEPS = [("mesh blocks", step_mesh_blocks), ("mesh merge", step_mesh_merge),
         ("skeleton blocks", step_skel_blocks), ("skeleton merge", step_skel_merge)]


def _run(fn, tmp, q):
    q.put(fn(tmp))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=(512, 512, 256))
    ap.add_argument("--block", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    shape = tuple(args.shape)
    load0 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    t = time.perf_counter()
    cells, gt, source = build_volume(shape, args.seed)
    print(f"volume {shape} from {source}: {len(np.unique(cells)) - 1} cells, "
          f"{time.perf_counter() - t:.0f} s to build")
    n_vox = int(np.prod(shape))
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="syconn_bench_morph_") as tmp:
        b = args.block
        for ox in range(0, shape[0], b):
            for oy in range(0, shape[1], b):
                for oz in range(0, shape[2], b):
                    lab = cells[ox: ox + b + OVERLAP[0], oy: oy + b + OVERLAP[1],
                                oz: oz + b + OVERLAP[2]]
                    core = np.minimum(b, np.asarray(shape) - [ox, oy, oz])
                    np.savez(Path(tmp) / f"block_{ox:06d}_{oy:06d}_{oz:06d}.npz",
                             labels=np.ascontiguousarray(lab), offset=np.array([ox, oy, oz]),
                             core=core)
        (Path(tmp) / "meta.pkl").write_bytes(pickle.dumps({"shape": shape}))
        del cells
        rows = []
        for name, fn in STEPS:
            q = ctx.Queue()
            p = ctx.Process(target=_run, args=(fn, tmp, q))
            p.start()
            wall, cpu, rss, note = q.get()
            p.join()
            rows.append((name, wall, cpu, rss, note))
        stats = pickle.loads((Path(tmp) / "skel_stats.pkl").read_bytes())
    load1 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\nload before: {load0}\nload after:  {load1}\n")
    print(f"blocks {args.block}^3, voxel size {VS} nm, 1 thread per step\n")
    print("| step | voxels | wall s | CPU s | voxels/s per core | peak RSS MB | result |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, wall, cpu, rss, note in rows:
        print(f"| {name} | {n_vox:,} | {wall:.1f} | {cpu:.1f} | {n_vox / cpu:,.0f} | {rss:.0f} | "
              f"{note} |")
    for label, sel in (("meshing", ("mesh blocks", "mesh merge")),
                       ("skeletonization", ("skeleton blocks", "skeleton merge"))):
        cpu = sum(r[2] for r in rows if r[0] in sel)
        print(f"| **{label} total** | {n_vox:,} | {sum(r[1] for r in rows if r[0] in sel):.1f} | "
              f"{cpu:.1f} | {n_vox / cpu:,.0f} | {max(r[3] for r in rows if r[0] in sel):.0f} | |")
    if gt:
        ok, n, missing = 0, 0, 0
        for cid, length in gt.items():
            if length <= 0:
                continue
            n += 1
            if cid not in stats:
                missing += 1
                continue
            ok += abs(stats[cid][0] - length) <= 0.1 * length
        print(f"\ntotal cable (soma fans, spines and bridges included; not the neurite metric "
              f"of syconn.evaluate) within 10 % of the true total: {ok}/{n} neurons "
              f"({missing} without skeleton)")


if __name__ == "__main__":
    main()
