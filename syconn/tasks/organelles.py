"""Organelles (mi, vc, sj) from probability maps (SyConn step 2a/2b and the SSV mapping).

Per kind:

1. ``OrganelleBlock[kind, block]``: threshold + morphology + labelling (seeds and watershed where
   erosions are configured) on the block core plus a halo; keeps the core's local labels, the
   first voxel of every local object, the face layers needed for stitching and a point sample of
   the object surfaces (for the synapse organelle-proximity features).
2. ``OrganelleStitch[kind]``: equivalences across block faces -> global ids 1..N ordered by each
   object's first voxel in global raster order (independent of block order and workers).
3. ``OrganelleRelabel[kind, block]``: global labels into ``labels.zarr`` (chunked like the block
   grid), per-block object statistics and supervoxel overlaps.
4. ``Organelles[kind]``: merged statistics, the size filter (``min_obj_vx``), assignment to cells
   with the kind's own thresholds, one transaction into ``organelles`` and
   ``organelle_overlaps``, and the per-cell organelle counts.

Halo: the exact reach of the morphology ops, and for watershed kinds at least 500 nm, so that a
watershed basin near a block face sees its whole neighbourhood.  Label-only kinds (sj by default)
are therefore exactly independent of the block size; watershed kinds are so as long as every
basin that crosses a block face reaches less than 500 nm beyond it (the original is not block
independent at all: it stitches per-chunk watersheds).
"""

from __future__ import annotations


import luigi
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from syconn.config import REP_LATTICE_VX
from syconn.io import create_volume, open_volume
from syconn.proc import (
    assign_organelles,
    extract_objects,
    face_pairs,
    first_voxels,
    merge_object_stats,
    object_stats,
    overlap_counts,
    organelle_surface_points,
    relabel,
    required_halo_vx,
    resolve_global_ids,
    upper_face_slabs,
)
from syconn.read import organelle_dir as read_organelle_dir
from syconn.read import organelle_sections
from syconn.tasks.base import (
    DBTarget,
    SyconnTask,
    atomic_path,
    cache_chunks,
    grid_counts,
    read_parquet,
    write_parquet,
)
from syconn.tasks.prepare import Prepare
from syconn.tasks.supervoxels import Cells, SupervoxelBlock, sv_to_cell_path

__all__ = ["OrganelleBlock", "OrganelleStitch", "OrganelleRelabel", "Organelles", "KINDS",
           "organelle_dir", "organelle_sections", "WATERSHED_MARGIN_NM", "SURFACE_STRIDE"]

KINDS = ("mi", "vc", "sj")
WATERSHED_MARGIN_NM = 500.0
SURFACE_STRIDE = 2  # keep about every 2nd surface voxel (the original: every 2nd mesh vertex)


def organelle_dir(task: SyconnTask, kind: str):
    """Folder of one organelle kind's files (:func:`syconn.read.organelle_dir`)."""
    return read_organelle_dir(task.wd, task.cfg, kind)


def organelle_halo(cfg, kind: str) -> tuple[int, int, int]:
    ops = getattr(cfg.cell_objects.extract_morph_op, kind)
    vs = cfg.dataset.voxel_size_nm
    halo = np.array(required_halo_vx(ops, vs, exact=True,
                                     struct=getattr(cfg.cell_objects.morph_struct, kind)))
    if "binary_erosion" in ops:
        margin = np.ceil(WATERSHED_MARGIN_NM / np.asarray(vs)).astype(int)
        halo = np.maximum(halo, margin)
    return tuple(int(h) for h in halo)


class _KindTask(SyconnTask):
    kind = luigi.ChoiceParameter(choices=KINDS)

    @property
    def kdir(self):
        return organelle_dir(self, self.kind)


class OrganelleBlock(_KindTask):
    """Label one block of one organelle map -> ``organelles_<kind>/blocks/block_NNNNN.npz``."""

    block_index = luigi.IntParameter()

    def requires(self):
        return Prepare(working_dir=self.working_dir)

    def output(self):
        return luigi.LocalTarget(str(self.kdir / "blocks" / f"block_{self.block_index:05d}.npz"))

    def run(self):
        cfg, kind = self.cfg, self.kind
        b = self.block(self.block_index)
        halo = organelle_halo(cfg, kind)
        with open_volume(getattr(cfg.inputs, kind)) as vol:
            off, shp = b.grown(halo, halo)
            prob = vol.read(off, shp)
        labels = extract_objects(
            prob, threshold=getattr(cfg.cell_objects.probathresholds, kind),
            ops=getattr(cfg.cell_objects.extract_morph_op, kind),
            min_seed_vx=getattr(cfg.cell_objects.min_seed_vx, kind),
            voxel_size_nm=cfg.dataset.voxel_size_nm,
            struct=getattr(cfg.cell_objects.morph_struct, kind))
        core = labels[halo[0]:halo[0] + b.shape[0], halo[1]:halo[1] + b.shape[1],
                      halo[2]:halo[2] + b.shape[2]]
        fv = first_voxels(core, offset_xyz=b.offset)
        slabs = upper_face_slabs(labels, core_start_vx=halo, core_shape_vx=b.shape)
        # surface sample on the core (+1 voxel of halo, which the labels have)
        sub = labels[halo[0] - 1:halo[0] + b.shape[0] + 1, halo[1] - 1:halo[1] + b.shape[1] + 1,
                     halo[2] - 1:halo[2] + b.shape[2] + 1]
        pts = organelle_surface_points(sub, offset_xyz=b.offset, halo_vx=1, stride=SURFACE_STRIDE)
        arrays = {
            "n_labels": np.array([int(labels.max()) if labels.size else 0], np.int64),
            "core": np.asarray(core),
            "fv_id": fv["id"].to_numpy(), "fv_x": fv["x"].to_numpy(),
            "fv_y": fv["y"].to_numpy(), "fv_z": fv["z"].to_numpy(),
            "pt_id": pts["org_id"].to_numpy(), "pt_x": pts["x"].to_numpy(),
            "pt_y": pts["y"].to_numpy(), "pt_z": pts["z"].to_numpy(),
        }
        for ax, slab in enumerate(slabs):
            if slab is not None:
                arrays[f"slab{ax}"] = slab
        with atomic_path(self.output().path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)


class OrganelleStitch(_KindTask):
    """Global ids of one kind -> ``organelles_<kind>/lookups.npz`` (one lookup per block)."""

    def requires(self):
        return [OrganelleBlock(working_dir=self.working_dir, kind=self.kind, block_index=b.index)
                for b in self.blocks]

    def output(self):
        return luigi.LocalTarget(str(self.kdir / "lookups.npz"))

    def run(self):
        counts = grid_counts(self.dataset_shape(), self.cfg.dataset.block_shape)
        n_labels, fvs, pairs = [], [], []
        files = [np.load(t.path) for t in self.input()]
        for f in files:
            n_labels.append(int(f["n_labels"][0]))
            fvs.append(pa.table({"id": f["fv_id"], "x": f["fv_x"], "y": f["fv_y"],
                                 "z": f["fv_z"]}))
        strides = (1, counts[0], counts[0] * counts[1])
        for b in self.blocks:
            f = files[b.index]
            pos = (b.index % counts[0], (b.index // counts[0]) % counts[1],
                   b.index // (counts[0] * counts[1]))
            for ax in range(3):
                if pos[ax] + 1 >= counts[ax] or f"slab{ax}" not in f:
                    continue
                nb = b.index + strides[ax]
                core_b = files[nb]["core"]
                first_layer = np.take(core_b, [0], axis=ax)
                pr = face_pairs(f[f"slab{ax}"], first_layer)
                if len(pr):
                    pairs.append(pa.table({
                        "block_a": np.full(len(pr), b.index, np.int64), "local_a": pr[:, 0],
                        "block_b": np.full(len(pr), nb, np.int64), "local_b": pr[:, 1]}))
            self.progress(b.index + 1, len(self.blocks), "stitched")
        luts = resolve_global_ids(n_labels, fvs, pa.concat_tables(pairs) if pairs else None)
        # the global label volume, filled by OrganelleRelabel (chunks never straddle blocks)
        create_volume(self.kdir / "labels.zarr", self.dataset_shape(), np.uint64,
                      chunks=cache_chunks(self.cfg.dataset.block_shape),
                      voxel_size_nm=self.cfg.dataset.voxel_size_nm, overwrite=True)
        with atomic_path(self.output().path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **{f"b{i}": lut for i, lut in enumerate(luts)})


class OrganelleRelabel(_KindTask):
    """Global labels into ``labels.zarr``; per-block stats, overlaps and surface points."""

    block_index = luigi.IntParameter()

    def requires(self):
        return {"stitch": OrganelleStitch(working_dir=self.working_dir, kind=self.kind),
                "block": OrganelleBlock(working_dir=self.working_dir, kind=self.kind,
                                        block_index=self.block_index),
                "seg": SupervoxelBlock(working_dir=self.working_dir, block_index=self.block_index)}

    def output(self):
        return luigi.LocalTarget(str(self.kdir / "relabel" / f"block_{self.block_index:05d}"))

    def run(self):
        b = self.block(self.block_index)
        lut = np.load(self.input()["stitch"].path)[f"b{self.block_index}"]
        f = np.load(self.input()["block"].path)
        core = relabel(f["core"], lut)
        sv = self.read_seg(b.offset, b.shape)
        stats = object_stats(core, offset_xyz=b.offset, rep_lattice_vx=REP_LATTICE_VX)
        ov = overlap_counts(core, np.asfortranarray(sv), names=("org_id", "sv_id"))
        pt_ids = lut[f["pt_id"].astype(np.int64)] if f["pt_id"].size else f["pt_id"]
        # the supervoxel under every surface point: organelles that straddle two cells (vesicle
        # clouds of touching boutons) are later split per cell for the synapse features
        px, py, pz = f["pt_x"], f["pt_y"], f["pt_z"]
        pt_sv = sv[px - b.offset[0], py - b.offset[1], pz - b.offset[2]] if px.size else \
            np.zeros(0, np.uint64)
        pts = pa.table({"org_id": pa.array(pt_ids, pa.uint64()), "x": px, "y": py, "z": pz,
                        "sv_id": pa.array(pt_sv, pa.uint64())})
        pts = pts.filter(pc.not_equal(pts["org_id"], 0))
        with open_volume(self.kdir / "labels.zarr", mode="r+") as vol:
            vol.write(b.offset, core)  # whole chunks of this block only (cache_chunks)
        with atomic_path(self.output().path) as tmp:
            tmp.mkdir()
            write_parquet(stats, tmp / "stats.parquet")
            write_parquet(ov, tmp / "overlaps.parquet")
            write_parquet(pts, tmp / "points.parquet")


class Organelles(_KindTask):
    """Merged, size-filtered, cell-assigned organelles of one kind, loaded into SQL."""

    def requires(self):
        return {"blocks": [OrganelleRelabel(working_dir=self.working_dir, kind=self.kind,
                                            block_index=b.index) for b in self.blocks],
                "cells": Cells(working_dir=self.working_dir)}

    def output(self):
        return {"objects": luigi.LocalTarget(str(self.kdir / "objects.parquet")),
                "points": luigi.LocalTarget(str(self.kdir / "points.parquet")),
                "db": DBTarget(self.working_dir, self.db_task_id())}

    def complete(self):
        return all(t.exists() for t in self.output().values())

    def run(self):
        from syconn.db import bulk_load_many

        cfg, kind = self.cfg, self.kind
        co = cfg.cell_objects
        folders = [t.path for t in self.input()["blocks"]]
        stats = merge_object_stats([read_parquet(f"{p}/stats.parquet") for p in folders],
                                   rep="lattice")
        keep = pc.greater_equal(stats["size_vx"], getattr(co.min_obj_vx, kind))
        stats = stats.filter(keep)
        ids = stats["id"]
        ov = pa.concat_tables([read_parquet(f"{p}/overlaps.parquet") for p in folders])
        ov = ov.group_by(["org_id", "sv_id"]).aggregate([("n_vx", "sum")]) \
            .rename_columns(["org_id", "sv_id", "n_vx"])
        ov = ov.filter(pc.is_in(ov["org_id"], value_set=ids)).sort_by([("org_id", "ascending"),
                                                                       ("sv_id", "ascending")])
        pts = pa.concat_tables([read_parquet(f"{p}/points.parquet") for p in folders])
        pts = pts.filter(pc.is_in(pts["org_id"], value_set=ids))
        sv_to_cell = read_parquet(sv_to_cell_path(self))
        assigned = assign_organelles(
            ov, sv_to_cell, pa.table({"id": ids, "size_vx": stats["size_vx"]}),
            lower_ratio=getattr(co.lower_mapping_ratios, kind),
            upper_ratio=getattr(co.upper_mapping_ratios, kind),
            min_size_vx=getattr(co.sizethresholds, kind))
        best = _best_assignment(assigned, ids.to_numpy())
        objects = pa.table({
            "kind": pa.array([kind] * stats.num_rows, pa.string()),
            "id": ids.cast(pa.int64()), "size_vx": stats["size_vx"],
            **{f"bb_{m}_{a}": stats[f"bb_{m}_{a}"] for m in ("min", "max") for a in "xyz"},
            **{f"rep_{a}": stats[f"rep_{a}"] for a in "xyz"},
            "cell_id": best["cell_id"], "cell_ratio": best["ratio"]})
        overlaps = pa.table({"kind": pa.array([kind] * ov.num_rows, pa.string()),
                             "organelle_id": ov["org_id"].cast(pa.int64()),
                             "sv_id": ov["sv_id"].cast(pa.int64()),
                             "n_vx": ov["n_vx"].cast(pa.int64())})
        write_parquet(pts, self.output()["points"].path)
        write_parquet(objects, self.output()["objects"].path)
        # the per-cell counts in the same transaction as the rows and the completion row: a
        # kill between the two used to leave cells.n_<kind> NULL for good
        counts = (f"UPDATE cells SET n_{kind} = (SELECT COUNT(*) FROM organelles o "
                  f"WHERE o.kind = :k AND o.cell_id = cells.id)", {"k": kind})
        bulk_load_many(self.engine, [("organelles", objects, {"kind": kind}),
                                     ("organelle_overlaps", overlaps, {"kind": kind})],
                       statements=[counts],
                       task={"task_id": self.db_task_id(), "task_family": "Organelles",
                             "params": {"kind": kind}})


def _best_assignment(assigned: pa.Table, ids: np.ndarray) -> dict[str, pa.Array]:
    """One (cell_id, ratio) per organelle: the assigned cell with the largest ratio, else null."""
    cell_out = np.zeros(len(ids), np.int64)
    has_cell = np.zeros(len(ids), bool)
    ratio_out = np.zeros(len(ids))
    if assigned.num_rows:
        org = assigned["org_id"].to_numpy()
        ratio = assigned["ratio"].to_numpy()
        valid = ~assigned["cell_id"].is_null().to_numpy(zero_copy_only=False)
        cell = assigned["cell_id"].fill_null(0).to_numpy()
        order = np.lexsort((-ratio, ~valid, org))  # per org: assigned first, then largest ratio
        first = order[np.r_[0, np.flatnonzero(np.diff(org[order])) + 1]]
        pos = np.minimum(np.searchsorted(org[first], ids), len(first) - 1)
        sel = first[pos]
        found = org[sel] == ids
        has_cell = found & valid[sel]
        cell_out = np.where(has_cell, cell[sel], 0).astype(np.int64)
        ratio_out = np.where(found, ratio[sel], 0.0)
    return {"cell_id": pa.array(cell_out, mask=~has_cell), "ratio": pa.array(ratio_out)}
