"""Multi-view renderings of a working directory's cells, made on the fly from the stored meshes.

Views are rendered where they are used rather than stored: every model reads its own view set
once (glia: cell channel, 256 x 128 px, 2 views, 8 um window; spines: 4 channels at the same
size; compartments: 1024 x 512 px, 3 views, 41 um window), so storing them would add a write
and a read to one render each (``benchmarks/render.py`` measures the render).

::

    from syconn.views import render_cell
    v = render_cell(Results(wd), 42, "spines")
    v.views.shape        # (24, 4, 2, 128, 256)
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from syconn.errors import InputError
from syconn.proc.meshes import Mesh
from syconn.proc.render import (
    BACKGROUND,
    Renderer,
    ViewSpec,
    local_frames,
    rendering_locations,
)

__all__ = ["CHANNELS", "VIEW_SETS", "CellViews", "view_spec", "cell_meshes", "render_cell",
           "montage", "write_png"]

CHANNELS = ("cell", "mi", "vc", "syn")
"""The original's view channels: cell surface, mitochondria, vesicle clouds, synapses."""
VIEW_SETS = {"glia": ("cell",), "spines": CHANNELS, "compartments": CHANNELS}
"""Channels each view set renders (glia views show the cell surface only, as the original)."""


@dataclass
class CellViews:
    """One cell's views: ``locations`` (L, 3) nm, ``frames`` (L, 3, 3), ``views`` uint8
    (L, C, V, H, W) in ``channels`` order, ``index`` int64 (L, V, H, W) or None."""

    cell_id: int
    channels: tuple[str, ...]
    spec: ViewSpec
    locations: np.ndarray
    frames: np.ndarray
    views: np.ndarray
    index: np.ndarray | None = None


def view_spec(cfg, view_set: str) -> ViewSpec:
    """The :class:`ViewSpec` of ``view_set`` (glia, spines, compartments) in a config."""
    if view_set not in VIEW_SETS:
        raise InputError(f"view set: got {view_set!r}, expected one of {', '.join(VIEW_SETS)}")
    return ViewSpec.from_config(getattr(cfg.views, view_set))


def cell_meshes(results, cell_id: int, channels: Sequence[str] = CHANNELS) -> list[Mesh]:
    """The meshes of a cell's channels: its surface (``cell``) and its objects."""
    out = []
    for ch in channels:
        if ch == "cell":
            out.append(results.cell_mesh(cell_id))
        elif ch in CHANNELS:
            out.append(results.cell_object_mesh(cell_id, ch))
        else:
            raise InputError(f"channel: got {ch!r}, expected one of {', '.join(CHANNELS)}")
    return out


def render_cell(results, cell_id: int, view_set: str = "spines", *,
                renderer: Renderer | None = None, index: bool = False) -> CellViews:
    """Render a cell's views of ``view_set`` from its stored meshes (``results``: a
    :class:`syconn.read.Results`); with ``index`` also the index views of its surface."""
    spec = view_spec(results.cfg, view_set)
    channels = VIEW_SETS[view_set]
    meshes = cell_meshes(results, cell_id, channels)
    surface = meshes[0]
    loc = rendering_locations(surface.vertices, spec.window_nm)
    frames = local_frames(surface.vertices, loc, spec.window_nm)
    own = renderer is None
    r = Renderer() if own else renderer
    try:
        views = r.views(meshes, loc, frames, spec)
        idx = r.index_views(surface, loc, frames, spec) if index else None
    finally:
        if own:
            r.close()
    return CellViews(int(cell_id), channels, spec, loc, frames, views, idx)


def montage(views: np.ndarray, *, max_locations: int = 6, gap: int = 4) -> np.ndarray:
    """One greyscale image of views (L, C, V, H, W): a row per location (up to
    ``max_locations``, evenly spaced), a column per channel and view, ``gap`` px between."""
    v = np.asarray(views)
    if v.ndim != 5:
        raise InputError(f"views: got shape {v.shape}, expected (L, C, V, H, W)")
    n_loc, n_ch, n_v, h, w = v.shape
    pick = np.unique(np.linspace(0, n_loc - 1, min(n_loc, max_locations)).round().astype(int)) \
        if n_loc else np.zeros(0, int)
    cols = n_ch * n_v
    img = np.full((max(1, len(pick)) * (h + gap) - gap, cols * (w + gap) - gap), 200, np.uint8)
    for r, li in enumerate(pick):
        for c in range(cols):
            img[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = \
                v[li, c // n_v, c % n_v][::-1]            # row 0 of a view is its bottom
    return img


def write_png(path: str | Path, image: np.ndarray, *, title: str | None = None,
              column_labels: Sequence[str] | None = None) -> Path:
    """Write a greyscale montage as a PNG (atomically), with an optional title and labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from syconn.io.meshes import _atomic_write_bytes

    h, w = image.shape
    dpi, top = 100, (48 if title or column_labels else 0)
    H = h + top
    fig = plt.figure(figsize=(w / dpi, H / dpi), dpi=dpi)
    ax = fig.add_axes([0, 0, 1, h / H])
    ax.imshow(image, cmap="gray", vmin=0, vmax=BACKGROUND, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.text(0.01, 1 - 4 / H, title, ha="left", va="top", fontsize=10)
    for i, lab in enumerate(column_labels or ()):
        fig.text((i + 0.5) / len(column_labels), 1 - 26 / H, lab, ha="center", va="top",
                 fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    path = Path(path)
    _atomic_write_bytes(path, buf.getvalue())
    return path
