"""Supervoxels, the region adjacency graph and cells (SyConn steps 2b, 2c, 4).

``SupervoxelBlock[block]`` measures every supervoxel in a block core (size, bounding box, sums
for the centroid, representative voxel) and the RAG edges whose lower voxel lies in the core
(core + an upper halo of ``rag_max_gap_vx + 1``).  ``Supervoxels`` reduces the blocks.  ``Cells``
groups supervoxels by the agglomeration graph (cell id = smallest supervoxel id) and loads
``supervoxels``, ``rag_edges`` and ``cells`` into SQL in one transaction.
"""

from __future__ import annotations

import fastremap
import luigi
import numpy as np
import pyarrow as pa

from syconn.config import REP_LATTICE_VX
from syconn.io import open_volume
from syconn.proc import cells_from_agglomeration, merge_object_stats, merge_rag_edges, object_stats
from syconn.proc import map_supervoxels, rag_edges, rag_halo_vx, sorted_mapping
from syconn.read import cells_dir
from syconn.tasks.base import DBTarget, SyconnTask, atomic_path, read_parquet, write_parquet
from syconn.tasks.prepare import Prepare

__all__ = ["SupervoxelBlock", "Supervoxels", "Cells", "cell_table", "sv_to_cell_path",
           "read_sv_to_cell", "cell_labels", "read_cell_table"]

_AXES = "xyz"


class SupervoxelBlock(SyconnTask):
    """Per-block supervoxel statistics and RAG edges -> ``supervoxels/block_NNNNN/``."""

    block_index = luigi.IntParameter()

    def requires(self):
        return Prepare(working_dir=self.working_dir)

    def output(self):
        d = self.step_dir("supervoxels", "cell_objects.rag_max_gap_vx")
        return luigi.LocalTarget(str(d / f"block_{self.block_index:05d}"))

    def run(self):
        b = self.block(self.block_index)
        gap = self.cfg.cell_objects.rag_max_gap_vx
        halo = rag_halo_vx(gap)
        with open_volume(self.cfg.inputs.seg) as seg:
            off, shp = b.grown((0, 0, 0), halo)
            data = seg.read(off, shp)
        core = data[:b.shape[0], :b.shape[1], :b.shape[2]]
        with open_volume(self.seg_cache_path(), mode="r+") as cache:
            cache.write(b.offset, core)  # whole chunks of this block only
        stats = object_stats(core, offset_xyz=b.offset, rep_lattice_vx=REP_LATTICE_VX)
        edges = rag_edges(data, core_shape_vx=b.shape, max_gap_vx=gap)
        with atomic_path(self.output().path) as tmp:
            tmp.mkdir()
            write_parquet(stats, tmp / "stats.parquet")
            write_parquet(edges, tmp / "rag.parquet")


class Supervoxels(SyconnTask):
    """Reduce block statistics: ``supervoxels/{supervoxels,rag}.parquet``."""

    def requires(self):
        return [SupervoxelBlock(working_dir=self.working_dir, block_index=b.index)
                for b in self.blocks]

    def output(self):
        d = self.step_dir("supervoxels", "cell_objects.rag_max_gap_vx")
        return {"supervoxels": luigi.LocalTarget(str(d / "supervoxels.parquet")),
                "rag": luigi.LocalTarget(str(d / "rag.parquet"))}

    def run(self):
        folders = [t.path for t in self.input()]
        stats = merge_object_stats([read_parquet(f"{f}/stats.parquet") for f in folders],
                                   rep="lattice")
        rag = merge_rag_edges([read_parquet(f"{f}/rag.parquet") for f in folders])
        write_parquet(rag, self.output()["rag"].path)
        write_parquet(stats, self.output()["supervoxels"].path)


def _stats_columns(t: pa.Table) -> dict[str, pa.Array]:
    cols = {}
    for m in ("min", "max"):
        for a in _AXES:
            cols[f"bb_{m}_{a}"] = t[f"bb_{m}_{a}"]
    for a in _AXES:
        cols[f"rep_{a}"] = t[f"rep_{a}"]
    return cols


def cell_table(svs: pa.Table, sv_to_cell: pa.Table) -> pa.Table:
    """Per cell: size (sum), bbox (union), rep (that of its largest supervoxel), n_supervoxels."""
    ids = svs["id"].to_numpy()
    cell = map_supervoxels(ids, *sorted_mapping(sv_to_cell))
    size = svs["size_vx"].to_numpy()
    uniq, inv = np.unique(cell, return_inverse=True)
    out = {"id": uniq.astype(np.int64),
           "size_vx": np.bincount(inv, weights=size, minlength=len(uniq)).astype(np.int64)}
    for a in _AXES:
        lo = np.full(len(uniq), np.iinfo(np.int64).max)
        hi = np.full(len(uniq), np.iinfo(np.int64).min)
        np.minimum.at(lo, inv, svs[f"bb_min_{a}"].to_numpy())
        np.maximum.at(hi, inv, svs[f"bb_max_{a}"].to_numpy())
        out[f"bb_min_{a}"], out[f"bb_max_{a}"] = lo, hi
    # representative voxel: the largest supervoxel's (ties: smallest sv id), inside the cell
    order = np.lexsort((ids, -size, inv))
    first = order[np.r_[0, np.flatnonzero(np.diff(inv[order])) + 1]]
    for a in _AXES:
        out[f"rep_{a}"] = svs[f"rep_{a}"].to_numpy()[first]
    out["n_supervoxels"] = np.bincount(inv, minlength=len(uniq)).astype(np.int64)
    return pa.table(out)


def sv_to_cell_path(task: SyconnTask):
    """The ``Cells`` mapping file (in :func:`syconn.read.cells_dir`)."""
    return cells_dir(task.wd, task.cfg) / "sv_to_cell.parquet"


def read_sv_to_cell(task: SyconnTask) -> tuple[np.ndarray, np.ndarray]:
    """The ``Cells`` mapping as two arrays sorted by supervoxel id: (sv ids, cell ids), uint64."""
    return sorted_mapping(read_parquet(sv_to_cell_path(task)))


def cell_labels(seg: np.ndarray, sv_ids: np.ndarray, cell_ids: np.ndarray) -> np.ndarray:
    """Supervoxel ids -> cell ids, in place; ids absent from the mapping keep their own id, 0
    stays 0.  ``sv_ids`` sorted (:func:`read_sv_to_cell`)."""
    present = fastremap.unique(seg)
    present = present[present != 0]
    cells = map_supervoxels(present, sv_ids, cell_ids, missing=None)
    mapping = {int(s): int(c) for s, c in zip(present, cells)}
    return fastremap.remap(seg, mapping, preserve_missing_labels=True, in_place=True)


def read_cell_table(task: SyconnTask) -> pa.Table:
    """The ``cells`` rows (size, bounding box, rep voxel) as ``Cells`` wrote them, without SQL."""
    return read_parquet(sv_to_cell_path(task).with_name("cells.parquet"))


def glia_runs(cfg) -> bool:
    """Whether the glia step runs: ``glia.enabled`` and raw EM to read (its features need it)."""
    return bool(cfg.glia.enabled and cfg.inputs.raw)


def _with_glia(sv_rows: pa.Table, cells: pa.Table, glia: pa.Table) -> tuple[pa.Table, pa.Table]:
    """``supervoxels.glia_proba`` and ``cells.is_glia`` (a cell of glia supervoxels: after the
    split a cell holds only one kind; supervoxels the step did not see count as neuron)."""
    ids = glia["sv_id"].to_numpy().astype(np.uint64)
    order = np.argsort(ids)
    sv = sv_rows["id"].to_numpy().astype(np.uint64)
    pos = np.minimum(np.searchsorted(ids[order], sv), max(len(ids) - 1, 0))
    found = (ids[order][pos] == sv) if len(ids) else np.zeros(len(sv), bool)
    proba = np.where(found, glia["glia_proba"].to_numpy()[order][pos] if len(ids) else 0, np.nan)
    flag = found & (glia["is_glia"].to_numpy(zero_copy_only=False)[order][pos] if len(ids)
                    else found)
    sv_rows = sv_rows.append_column("glia_proba", pa.array(proba, pa.float64(),
                                                           mask=np.isnan(proba)))
    cid = sv_rows["cell_id"].to_numpy()
    glia_cells = np.unique(cid[flag])
    cells = cells.append_column("is_glia", pa.array(np.isin(cells["id"].to_numpy(), glia_cells)))
    return sv_rows, cells


class Cells(SyconnTask):
    """Cells from the agglomeration graph; loads supervoxels, rag_edges and cells into SQL."""

    def requires(self):
        req = {"prepare": Prepare(working_dir=self.working_dir),
               "supervoxels": Supervoxels(working_dir=self.working_dir)}
        if glia_runs(self.cfg):
            from syconn.tasks.glia import Glia

            req["glia"] = Glia(working_dir=self.working_dir)
        return req

    def output(self):
        return {"mapping": luigi.LocalTarget(str(sv_to_cell_path(self))),
                "cells": luigi.LocalTarget(str(sv_to_cell_path(self).with_name("cells.parquet"))),
                "db": DBTarget(self.working_dir, self.db_task_id())}

    def complete(self):
        return all(t.exists() for t in self.output().values())

    def run(self):
        from syconn.db import bulk_load_many

        prep = self.step_dir("prepare")
        sv_ids = read_parquet(prep / "sv_ids.parquet")["sv_id"].to_numpy()
        agg = read_parquet(prep / "agglomeration.parquet")
        edges = np.stack([agg["sv_a"].to_numpy(), agg["sv_b"].to_numpy()], axis=1)
        glia = read_parquet(self.input()["glia"].path) if "glia" in self.input() else None
        if glia is None and self.cfg.glia.enabled:
            import logging

            logging.getLogger("syconn").warning(
                "glia: left out (inputs.raw is not set; the glia model reads the raw EM): "
                "cells.is_glia stays NULL")
        if glia is not None:  # the split: no edge joins a glia and a neuron supervoxel
            from syconn.tasks.glia import split_edges

            edges = edges[split_edges(edges[:, 0], edges[:, 1], glia)]
        mapping = cells_from_agglomeration(sv_ids, edges)
        svs = read_parquet(self.input()["supervoxels"]["supervoxels"].path)
        rag = read_parquet(self.input()["supervoxels"]["rag"].path)

        lookup = sorted_mapping(mapping)

        def cell_of(ids: np.ndarray) -> np.ndarray:
            return map_supervoxels(ids, *lookup)

        sv_rows = pa.table({"id": svs["id"].cast(pa.int64()), "size_vx": svs["size_vx"],
                            **_stats_columns(svs),
                            "cell_id": pa.array(cell_of(svs["id"].to_numpy()).astype(np.int64))})
        cells = cell_table(svs, mapping)
        a, b = rag["sv_a"].to_numpy(), rag["sv_b"].to_numpy()
        rag_rows = pa.table({"sv_a": a.astype(np.int64), "sv_b": b.astype(np.int64),
                             "contact_vx": rag["contact_vx"].cast(pa.int64()),
                             "in_agglomeration": pa.array(cell_of(a) == cell_of(b))})
        if glia is not None:
            sv_rows, cells = _with_glia(sv_rows, cells, glia)
        write_parquet(mapping, self.output()["mapping"].path)
        write_parquet(cells, self.output()["cells"].path)
        bulk_load_many(self.engine, [("supervoxels", sv_rows, "all"),
                                     ("rag_edges", rag_rows, "all"), ("cells", cells, "all")],
                       task={"task_id": self.db_task_id(), "task_family": "Cells"})
