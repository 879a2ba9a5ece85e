"""Prepare: validate the inputs before any work, read the agglomeration graph, record the grid.

Fails early, with one line naming the file or value, on: volumes that do not open, a
non-integer segmentation, probability maps of another shape, an empty segmentation, an
agglomeration file that cannot be parsed or that names supervoxels absent from the segmentation.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import fastremap
import luigi
import numpy as np
import pyarrow as pa

from syconn.errors import InputError
from syconn.io import create_volume, open_volume
from syconn.io.agglomeration import read_agglomeration
from syconn.proc import check_agglomeration
from syconn.tasks.base import SyconnTask, atomic_path, cache_chunks, write_parquet
from syconn.workdir import validate_inputs

__all__ = ["Prepare", "read_agglomeration", "segmentation_ids"]

log = logging.getLogger("syconn.tasks")


def segmentation_ids(spec: str, block_shape) -> np.ndarray:
    """Sorted non-zero ids of a segmentation, read block by block."""
    from syconn.tasks.base import block_grid

    ids: list[np.ndarray] = []
    with open_volume(spec) as seg:
        for b in block_grid(seg.shape, block_shape):
            u = fastremap.unique(seg.read(b.offset, b.shape))
            ids.append(u[u != 0])
    out = np.unique(np.concatenate(ids)) if ids else np.zeros(0, np.uint64)
    return out.astype(np.uint64)


class Prepare(SyconnTask):
    """Validate inputs; write ``prepare/{grid.json, sv_ids.parquet, agglomeration.parquet}``."""

    def output(self):
        return luigi.LocalTarget(str(self.step_dir("prepare") / "grid.json"))

    def run(self):
        cfg = self.cfg
        # the agglomeration graph is parsed once, below, where its ids are checked too
        inputs = {k: v for k, v in vars(cfg.inputs).items() if v and k != "agglomeration"}
        summary = validate_inputs(inputs)
        ids = segmentation_ids(cfg.inputs.seg, cfg.dataset.block_shape)
        if ids.size == 0:
            raise InputError(f"{cfg.inputs.seg}: the segmentation is empty (all voxels are 0)")
        if int(ids[-1]) >= 2 ** 63:
            raise InputError(f"{cfg.inputs.seg}: supervoxel id {int(ids[-1])} does not fit a "
                             f"signed 64-bit integer")
        if cfg.inputs.agglomeration:
            edges = read_agglomeration(cfg.inputs.agglomeration)
            unknown = check_agglomeration(ids, edges)
            if unknown.size:
                shown = ", ".join(str(int(v)) for v in unknown[:5])
                more = f" and {unknown.size - 5} more" if unknown.size > 5 else ""
                raise InputError(f"{cfg.inputs.agglomeration}: names {unknown.size} supervoxel(s) "
                                 f"absent from the segmentation ({shown}{more})")
        else:
            log.warning("no agglomeration graph: every supervoxel is its own cell")
            edges = np.zeros((0, 2), np.uint64)
        out = self.step_dir("prepare")
        # the Zarr copy of the segmentation that SupervoxelBlock fills block by block
        create_volume(self.seg_cache_path(), summary.shape_xyz, np.uint64,
                      chunks=cache_chunks(cfg.dataset.block_shape),
                      voxel_size_nm=cfg.dataset.voxel_size_nm, overwrite=True)
        write_parquet(pa.table({"sv_id": ids}), out / "sv_ids.parquet")
        write_parquet(pa.table({"sv_a": edges[:, 0], "sv_b": edges[:, 1]}),
                      out / "agglomeration.parquet")
        grid = {"shape_xyz": list(summary.shape_xyz),
                "block_shape": list(cfg.dataset.block_shape),
                "n_blocks": len(self.blocks), "n_supervoxels": int(ids.size),
                "n_agglomeration_edges": int(edges.shape[0])}
        with atomic_path(self.output().path) as tmp:
            Path(tmp).write_text(json.dumps(grid, indent=1))
