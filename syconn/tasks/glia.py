"""Glia separation (SyConn's astrocyte split, reference §1.4), before the cells are built.

``GliaBlock[block]`` measures every supervoxel in a block core: its surface towards other cells,
the inscribed radius of its cell (the agglomeration's component, before any split) at each voxel,
and the voxels of each organelle map above its threshold (:func:`syconn.proc.glia.
glia_block_sums`).  ``Glia`` adds the blocks up, turns the sums into the model's features (the
supervoxel's own, its cell's and its agglomeration neighbours'), gives every supervoxel P(glia)
(:mod:`syconn.ml.glia`) and applies the original's split (:func:`syconn.proc.glia.split_glia`,
``min_cc_size_ssv``).  ``Cells`` then builds the cells from the agglomeration without the edges
between glia and neuron supervoxels, and stores ``supervoxels.glia_proba`` and
``cells.is_glia``.  Off with ``glia.enabled: false`` (``is_glia`` stays NULL).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import luigi
import numpy as np
import pyarrow as pa

from syconn.io import open_volume
from syconn.proc import cells_from_agglomeration, map_supervoxels, sorted_mapping
from syconn.proc.glia import (ORGANELLES, SUM_COLUMNS, glia_block_sums, glia_features,
                              glia_halo_vx, merge_glia_sums, split_glia)
from syconn.tasks.base import SyconnTask, read_parquet, write_parquet
from syconn.tasks.prepare import Prepare
from syconn.tasks.supervoxels import Supervoxels

__all__ = ["GliaBlock", "Glia", "glia_model", "glia_path", "split_edges", "GLIA_SECTIONS"]

#: config sections the glia decisions depend on (besides the dataset, inputs and model)
GLIA_SECTIONS = ("cell_objects.probathresholds", "min_cc_size_ssv", "glia")


def glia_model(cfg, working_dir):
    """The glia model the config names (relative to the working directory, or absolute), or
    the shipped one."""
    from syconn.ml.glia import load_glia_model

    path = cfg.glia.model
    return load_glia_model(Path(working_dir) / path if path else None)


@lru_cache(maxsize=4)
def _presplit_mapping(prepare_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """(sv ids, cell ids) sorted, of the agglomeration as given (one per worker process)."""
    sv_ids = read_parquet(Path(prepare_dir) / "sv_ids.parquet")["sv_id"].to_numpy()
    agg = read_parquet(Path(prepare_dir) / "agglomeration.parquet")
    edges = np.stack([agg["sv_a"].to_numpy(), agg["sv_b"].to_numpy()], axis=1)
    return sorted_mapping(cells_from_agglomeration(sv_ids, edges))


class GliaBlock(SyconnTask):
    """Per-block glia sums of every supervoxel -> ``glia/block_NNNNN.parquet``."""

    block_index = luigi.IntParameter()

    def requires(self):
        # the halo reaches into the neighbours' blocks of the segmentation copy
        return Supervoxels(working_dir=self.working_dir)

    def output(self):
        d = self.step_dir("glia_sums", "cell_objects.probathresholds")
        return luigi.LocalTarget(str(d / f"block_{self.block_index:05d}.parquet"))

    def run(self):
        from syconn.tasks.supervoxels import cell_labels

        cfg = self.cfg
        b = self.block(self.block_index)
        shape = self.dataset_shape()
        halo = glia_halo_vx(cfg.dataset.voxel_size_nm)
        # the halo stops at the volume's faces: a face of the volume is no cell surface
        lo = tuple(max(0, o - h) for o, h in zip(b.offset, halo))
        hi = tuple(min(n, e + h) for n, e, h in zip(shape, b.end, halo))
        sv = self.read_seg(lo, tuple(h - l for l, h in zip(lo, hi)))
        cell = cell_labels(sv.copy(), *_presplit_mapping(str(self.step_dir("prepare"))))
        maps = {}
        for kind in ORGANELLES:
            with open_volume(getattr(cfg.inputs, kind)) as vol:
                maps[kind] = vol.read(b.offset, b.shape)
        with open_volume(cfg.inputs.raw) as vol:
            raw = vol.read(b.offset, b.shape)
        thr = {k: 255.0 * getattr(cfg.cell_objects.probathresholds, k) for k in ORGANELLES}
        sums = glia_block_sums(sv, cell, maps, thr, cfg.dataset.voxel_size_nm,
                               tuple(o - l for o, l in zip(b.offset, lo)), b.shape, raw=raw)
        write_parquet(pa.table(sums), self.output().path)


def glia_path(task: SyconnTask, model) -> Path:
    """The ``Glia`` step's table (``sv_id``, ``glia_proba``, ``is_glia``), named by the model."""
    return task.step_dir("glia", *GLIA_SECTIONS) / f"glia-{model.digest[:8]}.parquet"


def split_edges(a: np.ndarray, b: np.ndarray, glia_table: pa.Table | None) -> np.ndarray:
    """Which agglomeration edges (supervoxel ids ``a``, ``b``) the glia split keeps: those
    whose two supervoxels are both glia or both neuron (all of them without a glia table;
    supervoxels absent from it count as neuron).

    >>> t = pa.table({"sv_id": pa.array([1, 2, 3], pa.uint64()), "is_glia": [False, True, True]})
    >>> split_edges(np.array([1, 2]), np.array([2, 3]), t).tolist()
    [False, True]
    """
    a, b = np.asarray(a, np.uint64), np.asarray(b, np.uint64)
    if glia_table is None:
        return np.ones(len(a), bool)
    ids = glia_table["sv_id"].to_numpy().astype(np.uint64)
    g = glia_table["is_glia"].to_numpy(zero_copy_only=False).astype(np.uint64)
    order = np.argsort(ids)
    ga = map_supervoxels(a, ids[order], g[order], missing=0)
    gb = map_supervoxels(b, ids[order], g[order], missing=0)
    return ga == gb


class Glia(SyconnTask):
    """P(glia) per supervoxel and the split -> ``glia-<hash>/glia-<model>.parquet``."""

    def requires(self):
        return {"prepare": Prepare(working_dir=self.working_dir),
                "supervoxels": Supervoxels(working_dir=self.working_dir),
                "blocks": [GliaBlock(working_dir=self.working_dir, block_index=b.index)
                           for b in self.blocks]}

    @property
    def model(self):
        if getattr(self, "_model", None) is None:
            self._model = glia_model(self.cfg, self.working_dir)
        return self._model

    def output(self):
        return luigi.LocalTarget(str(glia_path(self, self.model)))

    def run(self):
        model = self.model
        threshold = model.threshold if self.cfg.glia.threshold is None \
            else float(self.cfg.glia.threshold)
        sums = merge_glia_sums([{k: t[k].to_numpy() for k in ("sv_id",) + SUM_COLUMNS}
                                for t in (read_parquet(x.path) for x in self.input()["blocks"])])
        ids = sums["sv_id"]
        svs = read_parquet(self.input()["supervoxels"]["supervoxels"].path)
        order = np.argsort(svs["id"].to_numpy().astype(np.uint64))
        pos = order[np.searchsorted(svs["id"].to_numpy().astype(np.uint64)[order], ids)]
        vs = np.asarray(self.cfg.dataset.voxel_size_nm, np.float64)
        lo = np.stack([svs[f"bb_min_{a}"].to_numpy()[pos] for a in "xyz"], 1) * vs
        hi = np.stack([svs[f"bb_max_{a}"].to_numpy()[pos] for a in "xyz"], 1) * vs
        from syconn.glia import index_pairs

        agg = read_parquet(self.step_dir("prepare") / "agglomeration.parquet")
        edges = index_pairs(ids, np.stack([agg["sv_a"].to_numpy(), agg["sv_b"].to_numpy()], 1))
        rag = read_parquet(self.input()["supervoxels"]["rag"].path)
        pairs = np.stack([rag["sv_a"].to_numpy(), rag["sv_b"].to_numpy()], 1).astype(np.uint64)
        keep = np.isin(pairs[:, 0], ids) & np.isin(pairs[:, 1], ids)
        X = glia_features(sums, lo, hi, edges, vs, index_pairs(ids, pairs[keep]),
                          rag["contact_vx"].to_numpy()[keep])
        proba = model.glia_proba(X)
        part = self.cfg.glia.min_part_nm
        is_glia = split_glia(edges, proba >= threshold, lo, hi,
                             min_cc_size_nm=self.cfg.min_cc_size_ssv if part is None else part)
        table = pa.table({"sv_id": pa.array(ids, pa.uint64()), "glia_proba": proba,
                          "is_glia": is_glia})
        write_parquet(table, self.output().path)
