"""Synapse accuracy on a second generator written apart from ``syconn.synth``.

    python benchmarks/independent.py [--out benchmarks/out/independent] [--seeds 3-12]

``syconn.synth`` made the training data, so its habits (how it paints clefts, vesicle clouds and
decoys) could leak into the classifier.  This file builds tissue another way, from the issue's
description of the independent volume a user measured: straight dendrite cylinders, thin axons
(70-120 nm radius) with spherical boutons (220-320 nm) that touch a dendrite across a gap of 1-3
voxels, the synaptic junction a Gaussian blob flattened along the contact normal and centred in
the gap, a vesicle cloud in the bouton, sj-like decoy blobs inside single cells, and Gaussian
noise on every probability map.  Volumes of 512 x 512 x 256 voxels at 10 x 10 x 20 nm, written
as ``syconn synth`` does (so ``syconn init --from`` and the evaluation read them), processed up to
the synapses with the shipped model, scored with :func:`syconn.evaluate.score_synapses`.

Seeds 0-2 are development data.  They were looked at with the first trained model (precision
0.960, recall 0.850 pooled): its true synapses held a smaller share of their sj objects and
smaller vesicle clouds than any volume of ``syconn synth --variation`` then, so the variation
gained sj painted as a Gaussian blob and vesicle clouds of varied size.  They were looked at
again with the second model (seeds 3-7 then read 0.948 / 0.948): a thin axon passing beside a
bouton takes a large part of the cleft's sj blob, so the true contact holds a small share and
the bystander's contacts large ones; the variation gained wide blobs that reach such
bystanders, and the classifier where a candidate lies on its sj object and how its sj
probability compares with its bouton's other contacts (chosen on seeds 0-2 alone;
docs/accuracy.md).  Seeds 3-7 were held out for the second model; seeds 8-12 were used for
nothing but this table, for the third and fourth models (docs/accuracy.md says in which order),
seeds 13-17 were then scored once, with ``41b296da54b7`` only (after partner radii were tried
and dropped on seeds 0-2), so a next measurement needs seeds 18 and on.  The default runs 3-17.
"""

from __future__ import annotations

import argparse
import bz2
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

SHAPE = (512, 512, 256)
#: seeds from here on were used for nothing but the table (0-2 development, 3-7 seen scored)
NEVER_SEEN_FROM = 8
VS = np.array([10.0, 10.0, 20.0])


def _segment_dist(pts, a, b):
    """Distance (nm) of points (n, 3) to the segment a-b, and the parameter of the foot."""
    d = b - a
    dd = float(d @ d)
    t = np.clip(((pts - a) @ d) / dd, 0.0, 1.0) if dd > 0 else np.zeros(len(pts))
    return np.linalg.norm(pts - (a + t[:, None] * d), axis=1), t


def _paint(lab, a, b, r, value):
    """Set the empty voxels within ``r`` nm of segment a-b (nm) to ``value``, in x slabs."""
    lo = np.maximum(np.floor((np.minimum(a, b) - r) / VS).astype(int) - 1, 0)
    hi = np.minimum(np.ceil((np.maximum(a, b) + r) / VS).astype(int) + 2, SHAPE)
    for x0 in range(lo[0], hi[0], 16):
        x1 = min(x0 + 16, hi[0])
        # the part of the segment near this slab bounds y and z
        if abs(b[0] - a[0]) > 1e-9:
            ts = np.clip((np.array([x0 * VS[0] - r, x1 * VS[0] + r]) - a[0]) / (b[0] - a[0]), 0, 1)
        else:
            ts = np.array([0.0, 1.0])
        ends = a + ts[:, None] * (b - a)
        ylo, zlo = np.maximum(np.floor((ends.min(0)[1:] - r) / VS[1:]).astype(int) - 1, lo[1:])
        yhi, zhi = np.minimum(np.ceil((ends.max(0)[1:] + r) / VS[1:]).astype(int) + 2, hi[1:])
        if yhi <= ylo or zhi <= zlo:
            continue
        axes = [(np.arange(x0, x1) + 0.5) * VS[0], (np.arange(ylo, yhi) + 0.5) * VS[1],
                (np.arange(zlo, zhi) + 0.5) * VS[2]]
        g = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
        dist, _ = _segment_dist(g.reshape(-1, 3), a, b)
        m = (dist <= r).reshape(g.shape[:3])
        sub = lab[x0:x1, ylo:yhi, zlo:zhi]
        sub[m & (sub == 0)] = value


def _free(lab, centre, r, own):
    """No voxel of another cell within ``r`` nm of ``centre``."""
    lo = np.maximum(np.floor((centre - r) / VS).astype(int), 0)
    hi = np.minimum(np.ceil((centre + r) / VS).astype(int) + 1, SHAPE)
    g = np.stack(np.meshgrid(*[(np.arange(l_, h_) + 0.5) * v for l_, h_, v in zip(lo, hi, VS)],
                             indexing="ij"), -1)
    inside = np.linalg.norm(g - centre, axis=-1) <= r
    sub = lab[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    return not np.any(inside & (sub != 0) & (sub != own))


def _blob(vol, centre, sig_n, sig_t, normal, peak, lab=None, inside=0):
    """Add a Gaussian blob (sigma ``sig_n`` along ``normal``, ``sig_t`` across; nm) to a map;
    with ``lab``, only in the voxels of cell ``inside``."""
    r = 3 * max(sig_n, sig_t)
    lo = np.maximum(np.floor((centre - r) / VS).astype(int), 0)
    hi = np.minimum(np.ceil((centre + r) / VS).astype(int) + 1, SHAPE)
    if np.any(hi <= lo):
        return
    g = np.stack(np.meshgrid(*[(np.arange(l_, h_) + 0.5) * v for l_, h_, v in zip(lo, hi, VS)],
                             indexing="ij"), -1) - centre
    along = g @ normal
    across2 = (g ** 2).sum(-1) - along ** 2
    val = peak * np.exp(-0.5 * (along ** 2 / sig_n ** 2 + across2 / sig_t ** 2))
    sub = vol[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    if lab is not None:
        val = np.where(lab[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] == inside, val, 0)
    np.maximum(sub, val, out=sub)


def make_volume(seed: int, out: Path) -> dict:
    rng = np.random.default_rng(10_000 + seed)
    size = np.array(SHAPE) * VS
    lab = np.zeros(SHAPE, np.uint32)
    dendrites = []  # (a, b, r, cell)
    cell = 0
    for _ in range(200):
        if len(dendrites) == 9:
            break
        p = rng.uniform(0.1, 0.9, 3) * size
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        a, b = p - d * 8000, p + d * 8000
        r = rng.uniform(300, 550)
        if any(_seg_seg(a, b, a2, b2) < r + r2 + 250 for a2, b2, r2, _ in dendrites):
            continue
        cell += 1
        dendrites.append((a, b, r, cell))
        _paint(lab, a, b, r, cell)
    boutons, synapses = [], []
    sj = np.zeros(SHAPE, np.float32)
    vc = np.zeros(SHAPE, np.float32)
    sym = np.zeros(SHAPE, np.float32)
    asym = np.zeros(SHAPE, np.float32)
    mi = np.zeros(SHAPE, np.float32)
    gaps = {}
    for _ in range(150):
        p = rng.uniform(0.05, 0.95, 3) * size
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        a, b = p - d * 8000, p + d * 8000
        ra = rng.uniform(70, 120)
        cell += 1  # an axon may run through a dendrite: it is cut there (painted after it)
        axon = cell
        inhibitory = rng.random() < 0.3
        _paint(lab, a, b, ra, axon)
        # boutons where the axon passes near a dendrite
        ts = np.linspace(0, 1, 400)
        pts = a + ts[:, None] * (b - a)
        for da, db, dr, dcell in dendrites:
            dist, t = _segment_dist(pts, da, db)
            k = int(np.argmin(dist))
            if dist[k] - dr > 900 or dist[k] - dr < 150:
                continue
            foot = da + t[k] * (db - da)
            normal = (pts[k] - foot) / np.linalg.norm(pts[k] - foot)
            gap_vx = int(rng.integers(1, 4))
            gap_nm = gap_vx * float(np.abs(normal) @ VS) / 1.0  # gap along the normal
            rb = rng.uniform(220, 320)
            surface = foot + normal * dr
            centre = surface + normal * (gap_nm + rb)
            if not np.all((centre > 300) & (centre < size - 300)):
                continue
            if not _free(lab, centre, rb + 20, axon):
                continue  # another cell holds the place: no bouton here
            _paint(lab, pts[k], centre, ra, axon)  # stalk
            _paint(lab, centre, centre, rb, axon)  # bouton
            contact = surface + normal * (0.5 * gap_nm)
            gaps[(axon, dcell)] = gap_vx
            synaptic = rng.random() < 0.7
            boutons.append((axon, dcell, contact, synaptic))
            if synaptic:
                peak = rng.uniform(170, 250)
                _blob(sj, contact, rng.uniform(25, 40), rng.uniform(110, 170), normal, peak)
                strong, weak = (sym, asym) if inhibitory else (asym, sym)
                _blob(strong, contact, 40, 140, normal, rng.uniform(180, 240))
                _blob(weak, contact, 40, 140, normal, rng.uniform(20, 60))
                synapses.append((axon, dcell, contact, -1 if inhibitory else 1, normal,
                                 gap_nm))
            if synaptic or rng.random() < 0.3:
                _blob(vc, centre - normal * 0.3 * rb, 90, 90, normal, rng.uniform(190, 240),
                      lab=lab, inside=axon)
    # mitochondria in dendrites, decoy sj blobs inside single cells
    for da, db, dr, dcell in dendrites:
        for _ in range(3):
            c = da + rng.uniform(0.3, 0.7) * (db - da)
            if np.all((c > 0) & (c < size)):
                d = (db - da) / np.linalg.norm(db - da)
                _blob(mi, c, 400, 0.4 * dr, d, 230, lab=lab, inside=dcell)
    for _ in range(max(3, len(synapses) // 2)):
        v = rng.integers(0, SHAPE)
        c = int(lab[tuple(v)])
        if c:
            _blob(sj, (v + 0.5) * VS, rng.uniform(50, 90), rng.uniform(50, 90), np.array(
                [0, 0, 1.0]), rng.uniform(120, 200), lab=lab, inside=c)
    # a background layer between cells touching elsewhere (1 voxel, 6-neighbourhood)
    other = np.zeros(SHAPE, bool)
    for ax in range(3):
        for sh in (1, -1):
            n = np.roll(lab, sh, axis=ax)
            other |= (n != 0) & (n < lab)
    lab[other & (lab != 0)] = 0
    # a synapse is one where bouton and dendrite face each other across the gap with nothing
    # between them (a later axon may have filled the gap: then the sj blob is a decoy)
    kept = []
    for pre, post, c, sign, normal, gap_nm in synapses:
        line = c + np.arange(-0.5 * gap_nm - 40, 0.5 * gap_nm + 41, 5.0)[:, None] * normal
        v = np.floor(line / VS).astype(int)
        v = v[np.all((v >= 0) & (v < SHAPE), axis=1)]
        ids = set(lab[v[:, 0], v[:, 1], v[:, 2]].tolist())
        if ids <= {0, pre, post} and {pre, post} <= ids:
            kept.append((pre, post, c, sign))
    synapses = kept
    maps = {}
    for name, vol in (("sj", sj), ("vc", vc), ("mi", mi), ("sym", sym), ("asym", asym)):
        vol += rng.normal(0, 12, SHAPE).astype(np.float32)
        maps[name] = np.clip(np.rint(vol), 0, 255).astype(np.uint8)
    # supervoxels: each dendrite cut in two along its length, axons whole
    seg = lab.astype(np.uint64) * 2
    edges = []
    for da, db, dr, dcell in dendrites:
        m = lab == dcell
        g = np.argwhere(m)
        if not len(g):
            continue
        t = ((g + 0.5) * VS - da) @ (db - da) / ((db - da) @ (db - da))
        half = g[t > np.median(t)]
        seg[half[:, 0], half[:, 1], half[:, 2]] = dcell * 2 + 1
        edges.append((dcell * 2, dcell * 2 + 1))
    present = np.unique(seg)
    present = present[present != 0]
    edges = [e for e in edges if e[0] in present and e[1] in present]
    edges += [(s, s) for s in present.tolist()]
    # a cell's id is its smallest supervoxel id (as the pipeline names cells)
    cell_id = {int(v) // 2: int(v) for v in present[::-1]}
    synapses = [(cell_id[pre], cell_id[post], c, sign) for pre, post, c, sign in synapses
                if pre in cell_id and post in cell_id]
    gaps = {(cell_id[a], cell_id[b]): g for (a, b), g in gaps.items()
            if a in cell_id and b in cell_id}
    return _write(out, seg, maps, edges, synapses, gaps, seed)


def _seg_seg(a, b, c, d, n=50):
    t = np.linspace(0, 1, n)[:, None]
    p = a + t * (b - a)
    q = c + t * (d - c)
    return float(np.min(np.linalg.norm(p[:, None] - q[None], axis=-1)))


def _write(out: Path, seg, maps, edges, synapses, gaps, seed) -> dict:
    import h5py

    out.mkdir(parents=True, exist_ok=True)
    (out / "gt").mkdir(exist_ok=True)
    vols = {}
    for name, arr in {"seg": seg, "raw": np.full(seg.shape, 128, np.uint8), **maps}.items():
        with h5py.File(out / f"{name}.h5", "w") as f:
            f.create_dataset(name, data=arr, chunks=(128, 128, 64), compression="lzf")
        vols[name] = f"{name}.h5"
    with bz2.open(out / "neuron_rag.bz2", "wt") as f:
        f.write("".join(f"{a} {b}\n" for a, b in edges))
    # cell id = smallest supervoxel id of the cell (as the pipeline names cells)
    rows = []
    for k, (pre, post, c, sign) in enumerate(synapses, 1):
        v = np.floor(c / VS).astype(int)
        rows.append((k, pre, post, int(v[0]), int(v[1]), int(v[2]), sign, gaps[(pre, post)]))
    syn = pd.DataFrame(rows, columns=["syn_id", "pre_cell_id", "post_cell_id", "x", "y", "z",
                                      "sign", "gap_vx"])
    syn.to_parquet(out / "gt" / "synapses.parquet", index=False)
    meta = {"voxel_size_nm": VS.tolist(), "shape_xyz": list(SHAPE), "seed": seed,
            "format": "h5", "volumes": vols, "agglomeration": "neuron_rag.bz2",
            "generator": "benchmarks/independent.py",
            "ground_truth": {"tables": {"synapses": "gt/synapses.parquet"}}}
    (out / "synth.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/independent"))
    ap.add_argument("--seeds", default="3-17")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    from syconn.evaluate import score_synapses, synapse_tables
    from syconn.runner import run_pipeline
    from syconn.tasks import Synapses
    from syconn.train import parse_seeds
    from syconn.workdir import init_from_synth

    print("| volume | true | candidates | precision | recall | F1 | AP | candidate recall | "
          "direction | sign | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    seeds = parse_seeds(args.seeds)
    tot = {}  # pooled (true, predicted, matched) per group of seeds
    for seed in seeds:
        root = args.out / f"independent_{seed}"
        if not (root / "data" / "synth.json").is_file():
            make_volume(seed, root / "data")
        if not (root / "wd" / "config.yml").is_file():
            init_from_synth(root / "wd", root / "data", name=f"independent_{seed}")
        t0 = time.perf_counter()
        run_pipeline(root / "wd", workers=args.workers, log=lambda m: None,
                     task=Synapses(working_dir=str(root / "wd")))
        sec = time.perf_counter() - t0
        pred, true = synapse_tables(root / "wd", root / "data")
        s, _, _ = score_synapses(pred, true, tuple(VS))
        for group in _groups(seed, seeds):
            tot[group] = tot.get(group, np.zeros(3)) + (s.n_true, s.n_predicted, s.n_matched)
        print(f"| independent {seed} | {s.n_true} | {s.n_candidates} | {s.precision:.3f} | "
              f"{s.recall:.3f} | {s.f1:.3f} | {s.average_precision:.3f} | "
              f"{s.candidate_recall:.3f} | {s.direction_accuracy:.3f} | "
              f"{s.sign_accuracy:.3f} | {sec:.0f} |")
    for group, (n_t, n_p, n_m) in tot.items():
        print(f"| **pooled, {group}** | {int(n_t)} | | **{n_m / max(n_p, 1):.3f}** | "
              f"**{n_m / max(n_t, 1):.3f}** | | | | | | |")


def _groups(seed: int, seeds: list[int]) -> list[str]:
    """The pooled rows a seed counts in: all seeds, and where the run mixes them, the seeds
    seen before (< ``NEVER_SEEN_FROM``) and those used for nothing else apart."""
    out = [f"seeds {_span(seeds)}"]
    if min(seeds) < NEVER_SEEN_FROM <= max(seeds):
        part = [s for s in seeds if (s >= NEVER_SEEN_FROM) == (seed >= NEVER_SEEN_FROM)]
        out.append(f"seeds {_span(part)}")
    return out


def _span(seeds: list[int]) -> str:
    return f"{min(seeds)}-{max(seeds)}" if len(seeds) > 1 else str(seeds[0])


if __name__ == "__main__":
    main()
