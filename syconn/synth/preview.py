"""Preview PNG of a synthetic volume: raw EM slices with the segmentation and synapses."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["write_preview"]


def _colors(ids: np.ndarray, seed: int = 7) -> np.ndarray:
    """Stable pseudo-random RGB per id (0 -> transparent black)."""
    h = (ids.astype(np.uint64) * np.uint64(2654435761) + np.uint64(seed)) % np.uint64(2**24)
    rgb = np.stack([(h >> np.uint64(s)) & np.uint64(255) for s in (0, 8, 16)], axis=-1).astype(np.float32)
    return 0.25 + 0.75 * rgb / 255.0


def write_preview(result, path, *, n_slices: int = 3) -> Path:
    """Write raw slices (top row) and the same slices with cells overlaid and synapses marked.

    Cells are coloured by cell (not supervoxel); synapses within +-3 sections of a slice are
    drawn as circles (red excitatory, blue inhibitory).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nz = result.shape_xyz[2]
    zs = [int(nz * (k + 1) / (n_slices + 1)) for k in range(n_slices)]
    sv2cell = np.zeros(int(result.seg.max()) + 1, np.uint64)
    sv2cell[result.supervoxels.sv_id.to_numpy().astype(np.int64)] = result.supervoxels.cell_id.to_numpy()
    vx, vy = result.voxel_size_nm[:2]
    aspect = vy / vx
    fig, axes = plt.subplots(2, n_slices, figsize=(5 * n_slices, 10.4), squeeze=False)
    for k, z in enumerate(zs):
        raw = result.raw[:, :, z].T.astype(np.float32) / 255.0
        cells = sv2cell[result.seg[:, :, z].astype(np.int64)].T
        ax = axes[0, k]
        ax.imshow(raw, cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect=aspect)
        ax.set_title(f"raw EM, z = {z}")
        ax = axes[1, k]
        col = _colors(cells)
        alpha = np.where(cells > 0, 0.38, 0.0)[..., None]
        ov = raw[..., None] * (1 - alpha) + col * alpha
        ax.imshow(ov, interpolation="nearest", aspect=aspect)
        syn = result.synapses
        near = syn[(syn.z - z).abs() <= 3]
        for sign, c in ((1, "red"), (-1, "cyan")):
            s = near[near.sign == sign]
            ax.scatter(s.x, s.y, s=70, facecolors="none", edgecolors=c, linewidths=1.6)
        ax.set_title(f"cells + synapses (red exc., cyan inh.), z = {z}")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    n_types = result.cells[~result.cells.is_glia].type.nunique()
    fig.suptitle(
        f"syconn synth: {tuple(result.shape_xyz)} voxels at {tuple(result.voxel_size_nm)} nm, seed "
        f"{result.seed}: {result.n_neurons} neurons ({n_types} types), "
        f"{int(result.cells.is_glia.sum())} glia, {len(result.synapses)} synapses")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
