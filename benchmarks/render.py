"""Multi-view rendering throughput on the example's cells (one process, one OpenGL context).

    python benchmarks/render.py [--wd WD] [--cells 20] [--out benchmarks/out/render]

Uses a processed working directory (default: the example, made once in OUT/example by
``syconn example``), renders the largest ``--cells`` cells with every view set of the config
(glia: cell channel; spines: cell, mi, vc, syn; compartments: 4 channels at 1024 x 512 px, 3
views) plus the index views of the spine set, and prints per set: locations, views, seconds
(geometry: locations and frames; draw: OpenGL + read-back), views per second and
locations per second.  CPU rendering is Mesa's llvmpipe; the renderer string is printed.
Also writes OUT/views_<cell>.png, a montage of the largest cell's spine views.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def example_wd(wd: Path) -> Path:
    from syconn.read import Results

    if (wd / "config.yml").is_file() and Results(wd).step_done("Synapses"):
        return wd
    from syconn.example import run_example

    _log(f"making the example in {wd} (syconn example; several minutes) ...")
    with contextlib.redirect_stdout(sys.stderr):
        run_example(wd, workers=2)
    return wd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wd", type=Path, default=None)
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/render"))
    args = ap.parse_args()

    from syconn.proc.render import Renderer, local_frames, rendering_locations
    from syconn.read import Results
    from syconn.views import VIEW_SETS, cell_meshes, montage, view_spec, write_png

    args.out.mkdir(parents=True, exist_ok=True)
    wd = args.wd or example_wd(args.out / "example")
    res = Results(wd)
    t = res.cell_table(["id", "size_vx"])
    order = np.argsort(np.asarray(t["size_vx"]))[::-1][:args.cells]
    cells = [int(np.asarray(t["id"])[i]) for i in order]
    meshes = {c: cell_meshes(res, c) for c in cells}
    faces = sum(m[0].n_faces for m in meshes.values())

    rows = []
    with Renderer() as r:
        print(f"renderer: {r.device}; {len(cells)} cells of {wd} ({faces:,} cell faces); "
              f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        r.views([meshes[cells[0]][0]], np.zeros((1, 3)), np.eye(3)[None],
                view_spec(res.cfg, "glia"))                                # warm-up
        for name in (*VIEW_SETS, "spines (index)"):
            vs = name.split()[0]
            spec = view_spec(res.cfg, vs)
            chans = [("cell", "mi", "vc", "syn").index(c) for c in VIEW_SETS[vs]]
            n_loc = 0
            geo = draw = 0.0
            for c in cells:
                surface = meshes[c][0]
                t0 = time.perf_counter()
                loc = rendering_locations(surface.vertices, spec.window_nm)
                fr = local_frames(surface.vertices, loc, spec.window_nm)
                t1 = time.perf_counter()
                if name.endswith("(index)"):
                    r.index_views(surface, loc, fr, spec)
                else:
                    r.views([meshes[c][i] for i in chans], loc, fr, spec)
                draw += time.perf_counter() - t1
                geo += t1 - t0
                n_loc += len(loc)
            n_views = n_loc * spec.n_views
            ch = 1 if name.endswith("(index)") else len(chans)
            rows.append((name, f"{spec.size_px[0]}x{spec.size_px[1]}", spec.n_views, ch,
                         n_loc, n_views, geo, draw, n_views / draw, n_loc / (geo + draw)))
        big = cells[0]
        from syconn.views import render_cell

        v = render_cell(res, big, "spines", renderer=r)
        labels = [f"{c} {a}" for c in v.channels for a in ("-25 deg", "+25 deg")]
        png = write_png(args.out / f"views_{big}.png", montage(v.views, max_locations=4),
                        title=f"cell {big}: spine view set ({spec.window_nm / 1000:g} um window)",
                        column_labels=labels)

    print()
    print("| view set | px | views/loc | channels | locations | views | geometry s | "
          "draw s | views/s | locations/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, px, nv, ch, nl, nviews, geo, draw, vps, lps in rows:
        print(f"| {name} | {px} | {nv} | {ch} | {nl:,} | {nviews:,} | {geo:.2f} | {draw:.2f} | "
              f"{vps:,.1f} | {lps:,.1f} |")
    print(f"\nmontage: {png}")


if __name__ == "__main__":
    main()
