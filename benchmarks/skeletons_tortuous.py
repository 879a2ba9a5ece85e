"""Cable length of blockwise TEASAR skeletons on tortuous axons with boutons (issue 14).

Run: ``python benchmarks/skeletons_tortuous.py [--quick]``.

Builds shapes with a known centreline (pure functions below, also used by
``tests/proc/test_skeletons.py``), skeletonizes them with ``skeletonize_block`` (the whole
shape in one block, and over a grid of blocks) and ``merge_skeletons`` (tips retracted, as
``SkeletonMerge``), and prints a markdown table: shape, voxel size, block layout, true cable,
cable before (``bend_tolerance=None``: every 10th vertex kept, SyConn's ``downsample(10)``) and
after (the default ``bend_tolerance``: vertices kept where the chord would cut a bend), the
errors and the time of each.

Shapes (all in nm, centrelines as polylines sampled every 10 nm):

- ``meander``: an axon folded into a 3D serpentine (runs 1 um apart, 500 nm turns) with en
  passant boutons (220-320 nm radius) every 1 um;
- ``collaterals``: the meander with side branches that leave at 55 degrees, rise 0.8 um and
  run 1 um beside their parent, past its boutons (ending in a terminal bouton);
- ``wavy``: an axon winding as a helix (1 um wave, 200 nm amplitude: bends of 400-500 nm
  radius everywhere) with boutons every 1 um;
- ``tube`` and ``branched``: a straight 300 nm dendrite and a Y of three such branches
  (controls: must not change).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

AXON_NM = 60.0


# --------------------------------------------------------------------------------------------
# shapes: centrelines (n, 3) nm and radii, rasterised as unions of spheres
# --------------------------------------------------------------------------------------------

def polyline_length_nm(points: np.ndarray) -> float:
    """Length of a polyline ``(n, 3)``."""
    return float(np.linalg.norm(np.diff(np.asarray(points, np.float64), axis=0), axis=1).sum())


def serpentine(n_runs: int = 4, run_nm: float = 3000.0, gap_nm: float = 1000.0,
               z_amp_nm: float = 200.0, step_nm: float = 10.0) -> np.ndarray:
    """An axon folded in the x-y plane: ``n_runs`` runs along y, ``gap_nm`` apart in x, joined
    by semicircles (radius ``gap_nm / 2``); z follows ``z_amp_nm * sin(2 pi s / 2.5 um)`` of
    the path length s.  Returns the centreline sampled about every ``step_nm``."""
    radius = gap_nm / 2
    parts = []
    for k in range(n_runs):
        y = np.arange(0.0, run_nm, step_nm)
        y = y[::-1] if k % 2 else y
        parts.append(np.c_[np.full_like(y, k * gap_nm), y, np.zeros_like(y)])
        if k < n_runs - 1:
            th = np.arange(0.0, np.pi, step_nm / radius)
            y0, sgn = (run_nm, 1.0) if k % 2 == 0 else (0.0, -1.0)
            parts.append(np.c_[k * gap_nm + radius * (1 - np.cos(th)),
                               y0 + sgn * radius * np.sin(th), np.zeros_like(th)])
    p = np.concatenate(parts)
    s = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))]
    p[:, 2] = z_amp_nm * np.sin(2 * np.pi * s / 2500.0)
    return p


def wavy(length_nm: float = 5000.0, wavelength_nm: float = 1000.0, amp_nm: float = 200.0,
         step_nm: float = 10.0) -> np.ndarray:
    """An axon along x winding as an elliptic helix: ``y = amp sin(2 pi x / wavelength)``,
    ``z = amp / 2 cos(...)`` (curved everywhere; the bends of a 1 um wave are 400-500 nm)."""
    x = np.arange(0.0, length_nm, step_nm)
    ph = 2 * np.pi * x / wavelength_nm
    return np.c_[x, amp_nm * np.sin(ph), 0.5 * amp_nm * np.cos(ph)]


def _arclength(p: np.ndarray) -> np.ndarray:
    return np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))]


def _at(p: np.ndarray, s_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Point and unit tangent of polyline ``p`` at path length ``s_nm``."""
    s = _arclength(p)
    i = int(np.clip(np.searchsorted(s, s_nm), 1, len(p) - 2))
    t = p[i + 1] - p[i - 1]
    return p[i], t / np.linalg.norm(t)


def collateral(p: np.ndarray, s_nm: float, *, rise_nm: float = 800.0, run_nm: float = 1000.0,
               up: float = 1.0, step_nm: float = 10.0) -> np.ndarray:
    """A side branch of ``p`` leaving at path length ``s_nm``: 55 degrees off the parent's
    x-y direction, rising ``rise_nm`` in z (``up`` = +1 or -1), then running ``run_nm``
    parallel to the parent (two straight pieces)."""
    a, t = _at(p, s_nm)
    t = np.array([t[0], t[1], 0.0]) / np.hypot(t[0], t[1])
    ang = np.radians(55.0)
    d = np.cos(ang) * t + np.sin(ang) * np.array([0.0, 0.0, up])
    b = a + rise_nm / np.sin(ang) * d
    seg1 = a + np.arange(0.0, rise_nm / np.sin(ang), step_nm)[:, None] * d
    seg2 = b + np.arange(0.0, run_nm + step_nm / 2, step_nm)[:, None] * t
    return np.concatenate([seg1, seg2])


def boutons_along(p: np.ndarray, *, interval_nm: float = 1000.0, first_nm: float = 500.0,
                  radii_nm: tuple[float, float] = (220.0, 320.0), offset: float = 0.4,
                  seed: int = 0) -> np.ndarray:
    """En passant boutons ``(k, 4)`` (centre nm, radius) every ``interval_nm`` of ``p``: radius
    drawn from ``radii_nm``, centre ``offset`` x radius off the axis in a random direction
    perpendicular to it."""
    rng = np.random.default_rng(seed)
    s = _arclength(p)
    out = []
    for pos in np.arange(first_nm, s[-1] - first_nm / 2, interval_nm):
        a, t = _at(p, pos)
        n = np.cross(t, rng.normal(size=3))
        n /= np.linalg.norm(n)
        rb = rng.uniform(*radii_nm)
        out.append([*(a + offset * rb * n), rb])
    return np.asarray(out, np.float64).reshape(-1, 4)


def tube_spheres(p: np.ndarray, radius_nm: float) -> np.ndarray:
    """Spheres ``(n, 4)`` along polyline ``p`` every ``radius_nm / 3`` (a tube of that radius)."""
    s = _arclength(p)
    si = np.arange(0.0, s[-1] + 1e-9, radius_nm / 3)
    q = np.stack([np.interp(si, s, p[:, k]) for k in range(3)], axis=1)
    return np.c_[q, np.full(len(q), radius_nm)]


def rasterise(spheres: np.ndarray, voxel_size_nm, *, margin_nm: float = 300.0
              ) -> tuple[np.ndarray, np.ndarray]:
    """Union of spheres ``(n, 4)`` (centre nm, radius nm) -> bool volume ``[x, y, z]`` and the
    nm position of voxel (0, 0, 0)'s centre.  One small box per sphere (vectorised inside)."""
    vs = np.asarray(voxel_size_nm, np.float64)
    c, r = spheres[:, :3], spheres[:, 3]
    lo = np.floor(((c - r[:, None]).min(axis=0) - margin_nm) / vs) * vs
    shape = np.ceil(((c + r[:, None]).max(axis=0) + margin_nm - lo) / vs).astype(int) + 1
    vol = np.zeros(shape, bool)
    for q, rr in zip(c, r):
        a = np.maximum(np.floor((q - rr - lo) / vs).astype(int), 0)
        b = np.minimum(np.ceil((q + rr - lo) / vs).astype(int) + 1, shape)
        g = [lo[i] + vs[i] * np.arange(a[i], b[i]) - q[i] for i in range(3)]
        d2 = g[0][:, None, None] ** 2 + g[1][None, :, None] ** 2 + g[2][None, None, :] ** 2
        vol[a[0]:b[0], a[1]:b[1], a[2]:b[2]] |= d2 <= rr * rr
    return vol, lo


def tortuous_shape(name: str, *, scale: float = 1.0, axon_nm: float = AXON_NM, seed: int = 0,
                   rise_nm: float = 800.0, run_nm: float = 1000.0
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Spheres ``(n, 4)`` and centrelines of a named shape (module docstring); ``scale``
    multiplies every length (``axon_nm`` and the bouton radii too)."""
    if name in ("meander", "collaterals"):
        flat = name == "collaterals"
        main = serpentine(gap_nm=1000.0 * scale, run_nm=3000.0 * scale,
                          z_amp_nm=(0.0 if flat else 200.0) * scale)
        paths = [main]
        if flat:                                  # one collateral per run, up and down
            run, turn = 3000.0 * scale, np.pi * 500.0 * scale
            for k in range(4):
                paths.append(collateral(main, k * (run + turn) + 0.25 * run,
                                        rise_nm=rise_nm * scale, run_nm=run_nm * scale,
                                        up=(-1.0) ** k))
        sph = [tube_spheres(p, axon_nm * scale) for p in paths]
        sph += [boutons_along(p, interval_nm=1000.0 * scale, first_nm=500.0 * scale,
                              radii_nm=(220.0 * scale, 320.0 * scale), seed=seed + i)
                for i, p in enumerate(paths)]
        return np.concatenate(sph), paths
    if name == "wavy":
        p = wavy(length_nm=5000.0 * scale, wavelength_nm=1000.0 * scale, amp_nm=200.0 * scale)
        sph = [tube_spheres(p, axon_nm * scale),
               boutons_along(p, interval_nm=1000.0 * scale, first_nm=500.0 * scale,
                             radii_nm=(220.0 * scale, 320.0 * scale), seed=seed)]
        return np.concatenate(sph), [p]
    if name == "tube":
        x = np.arange(0.0, 6000.0 * scale + 5.0, 10.0)
        p = np.c_[x, np.zeros_like(x), np.zeros_like(x)]
        return tube_spheres(p, 300.0 * scale), [p]
    if name == "branched":
        o = np.zeros(3)
        ends = np.array([[0, -3000, 0], [2600, 1500, 0], [-2600, 1500, 600]]) * scale
        paths = [o + np.linspace(0, 1, 400)[:, None] * e for e in ends]
        return np.concatenate([tube_spheres(p, 300.0 * scale) for p in paths]), paths
    raise ValueError(f"tortuous_shape: unknown shape {name!r}, expected meander, collaterals, "
                     "tube or branched")


def true_cable_um(paths: list[np.ndarray]) -> float:
    return sum(polyline_length_nm(p) for p in paths) / 1000.0


# --------------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------------

def skeleton_cable_um(lab: np.ndarray, voxel_size_nm, *, block=None, before: bool = False,
                      **merge_kw) -> float:
    """Cable (um, bridges left out) of the merged skeleton of label 1 of ``lab``: one block, or
    a grid of ``block`` cores (plus one downsampled voxel of upper overlap) as the pipeline."""
    from syconn.proc.skeletons import (merge_skeletons, skeleton_downsampling, skeleton_stats,
                                       skeletonize_block, tip_retraction_args)

    from syconn.proc.skeletons import BEND_TOLERANCE

    mkw = {"bend_tolerance": None if before else BEND_TOLERANCE}
    mkw.update(merge_kw)
    shape = np.asarray(lab.shape)
    ds = np.asarray(skeleton_downsampling(voxel_size_nm))
    block = shape if block is None else np.asarray(block)
    pieces = []
    for o in np.ndindex(*(-(-shape // block))):
        o = np.asarray(o) * block
        sl = tuple(slice(a, a + b + d) for a, b, d in zip(o, block, ds))
        got = skeletonize_block(lab[sl], voxel_size_nm=voxel_size_nm, offset_xyz=o,
                                core_shape_xyz=np.minimum(block, shape - o),
                                volume_shape_xyz=shape)
        pieces.extend(got.values())
    skel = merge_skeletons(pieces, **tip_retraction_args(voxel_size_nm, shape), **mkw)
    return skeleton_stats(skel)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x10x20 nm only, one block layout")
    args = ap.parse_args()
    names = ("wavy", "meander", "collaterals", "tube", "branched")
    cases = [(n, (10, 10, 20), 1.0) for n in names]
    if not args.quick:       # at 40x40x80 nm every length twice (a 120 nm axon)
        cases += [(n, (40, 40, 80), 2.0) for n in names]
    print("| shape | voxel (nm) | blocks | true (um) | before (um) | after (um) | error before | "
          "error after | time before (s) | time after (s) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, vs, scale in cases:
        sph, paths = tortuous_shape(name, scale=scale)
        vol, _ = rasterise(sph, vs)
        lab = vol.astype(np.uint8)
        truth = true_cable_um(paths)
        # one block, and about 2 x 2 blocks in x and y (even sizes, the stride's multiple)
        layouts = [None] if args.quick else [None, (-(-lab.shape[0] // 4) * 2,
                                                    -(-lab.shape[1] // 4) * 2, lab.shape[2])]
        for block in layouts:
            t0 = time.perf_counter()
            b = skeleton_cable_um(lab, vs, block=block, before=True)
            t1 = time.perf_counter()
            a = skeleton_cable_um(lab, vs, block=block)
            t2 = time.perf_counter()
            lay = "1" if block is None else "x".join(map(str, block))
            print(f"| {name} | {'x'.join(map(str, vs))} | {lay} | {truth:.2f} | {b:.2f} | "
                  f"{a:.2f} | {100 * (b / truth - 1):+.1f} % | {100 * (a / truth - 1):+.1f} % | "
                  f"{t1 - t0:.1f} | {t2 - t1:.1f} |")


if __name__ == "__main__":
    main()
