"""Contact sites and synapses between cells (SyConn step 6: 6a contacts, 6b-6d synapses).

``ContactBlock[block]`` maps the block's supervoxels (core + :func:`contact_halo_vx`) to cells and
runs :func:`~syconn.proc.contacts.find_contacts`: per cell pair the contact statistics of the
core, its first contact voxel, and the synapse-fragment voxels (contact voxels in the sj mask,
with their sym/asym flags, sj value and sj object).  ``SynapseShard[shard]`` reduces the blocks
into the contact sites of the cell pairs hashed to its shard (:func:`pair_shards`, one shard per
:data:`BLOCKS_PER_SYNAPSE_SHARD` blocks) and groups their fragment voxels into cell-level synapse
candidates with their features (organelle proximity, sj objects, sj probability);
``SynapseFeatures`` merges the shards in the order of one unsharded run and adds what compares
candidates across pairs (sj shares, rival ratio), partner radii and direction; ``Synapses``
classifies them (``syn_prob``, :mod:`syconn.ml.synapses`) and loads ``contact_sites`` and
``synapses`` in one transaction with the completion row.

The steps are independent of the block layout: the halo is exact (:mod:`syconn.proc.contacts`),
contact-site ids are a hash of the cell pair, synapse ids a hash of the pair and the synapse's
first voxel, and every representative voxel is chosen by a rule on global coordinates.

Choices worth knowing:

- Supervoxels missing from ``sv_to_cell`` keep their own id (``fastremap.remap`` with
  ``preserve_missing_labels``).  This cannot happen with a consistent working directory
  (``Prepare`` enumerates every supervoxel and ``Cells`` maps all of them); keeping the id rather
  than erasing it to 0 means a stray supervoxel still separates its neighbours instead of
  silently creating a gap.
- ``contact_sites.rep_*`` is the contact's first voxel in global raster order (z, then y, then
  x), as the original's ``cs`` rep_coord: a voxel of the contact, exact and block independent.
  (A voxel near the centroid would need every contact voxel of the pair at once.)
- Contact sites smaller than ``min_obj_vx.cs`` voxels are not stored (the original's ``cs``
  size filter); every synapse's contact site is kept since synapses have >= ``syn_ssv`` voxels.
- Undetermined direction (equal vesicle-cloud voxels on both sides): ``cell_pre`` and
  ``cell_post`` are NULL, ``direction_confidence`` 0; the partners stay in ``cell_a < cell_b``.
- Every candidate is stored with its ``syn_prob``, whatever its value; ``connections`` and the
  cell counts apply ``dataset.syn_prob_threshold``.
"""

from __future__ import annotations

from pathlib import Path

import luigi
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from syconn.io import open_volume
from syconn.ml.synapses import SynapseModel, load_model
from syconn.proc import (
    SYNAPSES_SCHEMA,
    add_sj_counts,
    contact_halo_vx,
    find_contacts,
    group_synapses,
    merge_contact_stats,
    main_sj_objects,
    organelle_proximity,
    rival_ratio,
    sj_centre_offsets,
    sj_fragment_counts,
    sj_object_shares,
    sj_voxel_counts,
    split_organelles,
    synapse_rows,
)
from syconn.proc.cells import map_supervoxels
from syconn.proc.radius import partner_radii, radius_halo_vx
from syconn.proc.synapses import _hash_cols
from syconn.tasks.base import DBTarget, SyconnTask, atomic_path, read_parquet, write_parquet
from syconn.tasks.organelles import OrganelleRelabel, Organelles, organelle_dir
from syconn.tasks.supervoxels import Cells, cell_labels, read_sv_to_cell

__all__ = ["ContactBlock", "SynapseShard", "SynapseFeatures", "Synapses", "n_synapse_shards",
           "pair_shards", "merge_membership", "contact_dir", "synapses_dir",
           "contact_site_ids", "contact_options", "candidates_path", "synapse_model"]

#: config sections the contact blocks depend on (cells depend on rag_max_gap_vx)
_CONTACT_SECTIONS = ("cell_objects.cs_filtersize", "cell_objects.cs_closing",
                     "cell_objects.cs_dilation", "cell_objects.extract_morph_op.sj",
                     "cell_objects.morph_struct.sj",
                     "cell_objects.probathresholds.sj", "cell_objects.syntype_thresh",
                     "cell_objects.rag_max_gap_vx")


def contact_dir(task: SyconnTask):
    return task.step_dir("contacts", *_CONTACT_SECTIONS)


#: version of the candidate columns, in the folder name: a working directory made by a syconn
#: whose candidates lack a column the classifier reads computes them again (2: sj centre,
#: 3: sj_prob_rival, 4: partner radii)
CANDIDATES_VERSION = 4


def synapses_dir(task: SyconnTask):
    """The candidates' folder: they depend on nearly all of cell_objects (organelles, contacts,
    grouping), not on the classifier."""
    return task.step_dir(f"synapses_v{CANDIDATES_VERSION}", *_feature_sections())


def contact_options(cfg) -> dict:
    """Keyword arguments of :func:`find_contacts` (and :func:`contact_halo_vx`) from the config."""
    co = cfg.cell_objects
    return {"voxel_size_nm": tuple(cfg.dataset.voxel_size_nm),
            "filtersize_vx": tuple(co.cs_filtersize), "closing_iterations": co.cs_closing,
            "dilation_iterations": co.cs_dilation, "sj_morph_ops": tuple(co.extract_morph_op.sj),
            "sj_struct": co.morph_struct.sj}


def contact_site_ids(cell_a, cell_b) -> np.ndarray:
    """Stable 63-bit contact-site ids: splitmix64 hash of the cell pair (``cell_a < cell_b``), never 0."""
    h = _hash_cols(np.asarray(cell_a, np.uint64), np.asarray(cell_b, np.uint64)) >> np.uint64(1)
    h[h == 0] = 1
    return h.astype(np.int64)


class ContactBlock(SyconnTask):
    """Contacts and synapse-fragment voxels of one block -> ``contacts-<hash>/block_NNNNN/``."""

    block_index = luigi.IntParameter()

    def requires(self):
        req = {"cells": Cells(working_dir=self.working_dir)}
        if self.cfg.inputs.sj:  # the sj objects, to tell which sj object each fragment is of
            req["sj"] = OrganelleRelabel(working_dir=self.working_dir, kind="sj",
                                         block_index=self.block_index)
        return req

    def output(self):
        return luigi.LocalTarget(str(contact_dir(self) / f"block_{self.block_index:05d}"))

    def run(self):
        cfg = self.cfg
        b = self.block(self.block_index)
        opts = contact_options(cfg)
        halo = contact_halo_vx(**opts)
        off, shp = b.grown(halo, halo)
        seg = self.read_seg(off, shp)  # the Zarr copy: halo reads touch thin chunk shells
        cells = cell_labels(seg, *read_sv_to_cell(self))

        maps = {}
        for kind in ("sj", "sym", "asym"):  # optional: without sj no synapses, without sym/asym
            spec = getattr(cfg.inputs, kind)  # no sign information (flags all False)
            if spec:
                with open_volume(spec) as vol:
                    maps[kind] = np.asfortranarray(vol.read(off, shp))
        co = cfg.cell_objects
        res = find_contacts(cells, maps.get("sj"), sym=maps.get("sym"), asym=maps.get("asym"),
                            offset_xyz=b.offset, halo_vx=halo,
                            sj_threshold=co.probathresholds.sj,
                            syntype_threshold=co.syntype_thresh, return_labels=True, **opts)
        stats = res.contact_stats
        # first contact voxel of each pair in global raster order (x fastest = Fortran order)
        flat = res.labels.ravel(order="F")
        nz = np.flatnonzero(flat)
        lab, first = np.unique(flat[nz], return_index=True)
        fx, fy, fz = np.unravel_index(nz[first], res.labels.shape, order="F")
        firsts = np.zeros((stats.num_rows, 3), np.int64)
        firsts[lab - 1] = np.stack([fx, fy, fz], 1) + np.asarray(b.offset, np.int64)
        stats = stats.append_column("first_x", pa.array(firsts[:, 0])) \
            .append_column("first_y", pa.array(firsts[:, 1])) \
            .append_column("first_z", pa.array(firsts[:, 2]))
        syn_voxels = res.syn_voxels
        if "sj" in maps:  # the sj object (global id) of every fragment voxel
            with open_volume(organelle_dir(self, "sj") / "labels.zarr") as vol:
                sj_core = vol.read(b.offset, b.shape)
            idx = [syn_voxels[c].to_numpy() - o for c, o in zip("xyz", b.offset)]
            syn_voxels = syn_voxels.append_column(
                "sj_id", pa.array(sj_core[idx[0], idx[1], idx[2]], pa.uint64()))
        with atomic_path(self.output().path) as tmp:
            tmp.mkdir()
            write_parquet(stats, tmp / "contact_stats.parquet")
            write_parquet(syn_voxels, tmp / "syn_voxels.parquet")


def _first_voxels(tables: list[pa.Table]) -> pa.Table:
    """Per pair, the smallest of the blocks' first voxels in raster order (z, y, x)."""
    t = pa.concat_tables([tb.select(["cell_a", "cell_b", "first_x", "first_y", "first_z"])
                          for tb in tables])
    a, b = t["cell_a"].to_numpy(), t["cell_b"].to_numpy()
    x, y, z = (t[f"first_{c}"].to_numpy() for c in "xyz")
    o = np.lexsort((x, y, z, b, a))
    a, b, x, y, z = a[o], b[o], x[o], y[o], z[o]
    head = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])] if len(a) else np.zeros(0, bool)
    return pa.table({"cell_a": a[head], "cell_b": b[head], "rep_x": x[head], "rep_y": y[head],
                     "rep_z": z[head]})


def contact_site_rows(blocks: list[pa.Table], *, min_size_vx: int) -> pa.Table:
    """``contact_sites`` rows from the blocks' contact statistics (sorted by pair)."""
    merged = merge_contact_stats(blocks)
    reps = _first_voxels(blocks) if blocks else None
    merged = merged.filter(pc.greater_equal(merged["n_vx"], min_size_vx))
    a = merged["cell_a"].to_numpy()
    b = merged["cell_b"].to_numpy()
    cols = {"id": contact_site_ids(a, b), "cell_a": a.astype(np.int64),
            "cell_b": b.astype(np.int64), "size_vx": merged["n_vx"]}
    for m in ("min", "max"):
        for c in "xyz":
            cols[f"bb_{m}_{c}"] = merged[f"bbox_{m}_{c}"]
    if len(a):
        # both sorted by (cell_a, cell_b); merged is a subset of reps' pairs
        pos = _pair_index(reps["cell_a"].to_numpy(), reps["cell_b"].to_numpy(), a, b)
        for c in "xyz":
            cols[f"rep_{c}"] = reps[f"rep_{c}"].to_numpy()[pos]
    else:
        for c in "xyz":
            cols[f"rep_{c}"] = np.zeros(0, np.int64)
    cols["sj_vx"] = merged["n_sj_vx"]
    ids = cols["id"]
    if len(np.unique(ids)) != len(ids):  # 63-bit hash: astronomically unlikely
        raise RuntimeError("contact-site id hash collision; report this as a bug")
    return pa.table(cols)


def _pair_index(ref_a, ref_b, a, b) -> np.ndarray:
    """Positions of pairs (a, b) in the sorted unique reference pairs (ref_a, ref_b)."""
    ref = np.rec.fromarrays([ref_a, ref_b])
    q = np.rec.fromarrays([a, b])
    pos = np.searchsorted(ref, q)
    if len(q) and (np.any(pos >= len(ref)) or np.any(ref[np.minimum(pos, len(ref) - 1)] != q)):
        raise RuntimeError("contact pair without a first voxel; report this as a bug")
    return pos


_POINTS_BATCH_ROWS = 1 << 18


def _organelles(task: SyconnTask, kind: str, cells: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """One kind's organelles cut into their parts per cell (:func:`split_organelles`), for
    the parts in ``cells`` only: the surface points are read a batch at a time and only those
    in ``cells`` kept (with every object's point count, which the parts' sizes share)."""
    d = organelle_dir(task, kind)
    objects = read_parquet(d / "objects.parquet")
    sv_ids, cell_ids = read_sv_to_cell(task)
    obj_ids = objects["id"].to_numpy().astype(np.uint64)
    want = np.asarray(cells, np.uint64)
    n_points = np.zeros(len(obj_ids) + 1, np.int64)
    kept = []
    f = pq.ParquetFile(d / "points.parquet")
    for batch in f.iter_batches(batch_size=_POINTS_BATCH_ROWS):
        org = batch.column("org_id").to_numpy().astype(np.uint64)
        n_points += np.bincount(np.searchsorted(obj_ids, org), minlength=len(n_points))
        cell = map_supervoxels(batch.column("sv_id").to_numpy(), sv_ids, cell_ids)
        kept.append(pa.Table.from_batches([batch]).filter(
            pa.array(np.isin(cell, want) & (cell != 0))))
    points = pa.concat_tables(kept) if kept else f.schema_arrow.empty_table()
    return split_organelles(objects, points, sv_ids, cell_ids, cells,
                            n_points=n_points[:len(obj_ids)])


#: settings that change the synapse classification only (not the candidates)
_CLASSIFY_KEYS = ("synapse_model", "thresh_synssv_proba")


def _feature_sections() -> tuple[str, ...]:
    from dataclasses import fields

    from syconn.config import CellObjectsConfig

    return tuple(f"cell_objects.{f.name}" for f in fields(CellObjectsConfig)
                 if f.name not in _CLASSIFY_KEYS)


def candidates_path(working_dir) -> Path:
    """The synapse candidates with their features (``SynapseFeatures``' Parquet) of a working
    directory, for its current config."""
    return synapses_dir(Cells(working_dir=str(working_dir))) / "candidates.parquet"


def synapse_model(cfg, working_dir) -> SynapseModel:
    """The synapse classifier a working directory's config names (a path relative to the
    working directory, or absolute), or the shipped one."""
    path = cfg.cell_objects.synapse_model
    return load_model(Path(working_dir) / path if path else None)


def candidate_radii(task: SyconnTask, syn: pa.Table, voxel_size_nm) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """:func:`~syconn.proc.radius.partner_radii` of every candidate (``cell_a``, ``cell_b``
    at its ``rep_*`` voxel), block by block: each block with candidates is read once with
    :func:`~syconn.proc.radius.radius_halo_vx` around its core."""
    rep = np.stack([syn[f"rep_{c}"].to_numpy() for c in "xyz"], 1).astype(np.int64)
    ra, rb = np.zeros(len(rep)), np.zeros(len(rep))
    if not len(rep):
        return ra, rb
    bshape = np.asarray(task.cfg.dataset.block_shape, np.int64)
    counts = -(-np.asarray(task.dataset_shape(), np.int64) // bshape)
    g = rep // bshape
    index = g[:, 0] + counts[0] * (g[:, 1] + counts[1] * g[:, 2])  # block_grid's raster order
    halo = radius_halo_vx(voxel_size_nm)
    sv_ids, cell_ids = read_sv_to_cell(task)
    a, b = syn["cell_a"].to_numpy(), syn["cell_b"].to_numpy()
    todo = np.unique(index)
    for k, bi in enumerate(todo):
        rows = np.flatnonzero(index == bi)
        off, shp = task.block(int(bi)).grown(halo, halo)
        ra[rows], rb[rows] = partner_radii(
            task.read_seg(off, shp), off, rep[rows], a[rows], b[rows],
            voxel_size_nm=voxel_size_nm, labels_of=lambda s: cell_labels(s, sv_ids, cell_ids))
        if k % 16 == 15:
            task.progress(k + 1, len(todo), "partner radii")
    return ra, rb


#: cell-pair shards of the synapse candidates: one per this many blocks (fixed by the block
#: grid, so results and files never depend on the number of workers)
BLOCKS_PER_SYNAPSE_SHARD = 8
MAX_SYNAPSE_SHARDS = 4096
_MEMBERSHIP_CHUNK_ROWS = 1 << 20  # membership rows per merge step and row group
_MEMBERSHIP_BATCH_ROWS = 1 << 16  # rows per read of a shard's membership


def n_synapse_shards(n_blocks: int) -> int:
    """Number of cell-pair shards of ``SynapseShard`` for a grid of ``n_blocks`` blocks."""
    return max(1, min(MAX_SYNAPSE_SHARDS, -(-int(n_blocks) // BLOCKS_PER_SYNAPSE_SHARD)))


def pair_shards(cell_a, cell_b, n_shards: int) -> np.ndarray:
    """The shard of each cell pair: splitmix64 hash of ``(cell_a, cell_b)`` modulo ``n_shards``."""
    return (_hash_cols(np.asarray(cell_a, np.uint64), np.asarray(cell_b, np.uint64))
            % np.uint64(n_shards)).astype(np.int64)


def synapse_shard_dir(task: SyconnTask) -> Path:
    """The shards' folder, named by their number (a grid of another size, another folder)."""
    return synapses_dir(task) / f"shards_{n_synapse_shards(len(task.blocks))}"


_MEMBERSHIP_SCHEMA = pa.schema([("synapse_id", pa.uint64()), ("x", pa.int64()),
                                ("y", pa.int64()), ("z", pa.int64())])


class SynapseShard(SyconnTask):
    """The synapse candidates of the cell pairs of one shard (:func:`pair_shards`) with their
    per-candidate features -> ``synapses_v4-<hash>/shards_N/shard_KKKK/``.

    Reads every block's synapse-fragment voxels and contact statistics one block at a time and
    keeps its pairs' rows, so it holds one block plus its shard.  Candidates are grouped per
    pair (:func:`group_synapses`); what crosses pairs is reduced apart: each sj object's
    fragment voxels over all pairs (``spill_share``) are counted in every block as it passes
    (:func:`sj_fragment_counts`), and the candidate-level features over all candidates
    (``sj_share``, ``sj_overlap``, ``sj_prob_rival``) are left to ``SynapseFeatures``, which
    gets each candidate's voxels per sj object (``sj_counts.parquet``).  Organelle proximity
    needs only the organelles of the shard's partner cells.
    """

    shard = luigi.IntParameter()

    def requires(self):
        req = {"blocks": [ContactBlock(working_dir=self.working_dir, block_index=b.index)
                          for b in self.blocks],
               "cells": Cells(working_dir=self.working_dir),
               "mi": Organelles(working_dir=self.working_dir, kind="mi"),
               "vc": Organelles(working_dir=self.working_dir, kind="vc")}
        if self.cfg.inputs.sj:  # the sj objects' boxes (sj_centre_offsets)
            req["sj"] = Organelles(working_dir=self.working_dir, kind="sj")
        return req

    def output(self):
        return luigi.LocalTarget(str(synapse_shard_dir(self) / f"shard_{self.shard:04d}"))

    def _read_blocks(self):
        """This shard's fragment voxels and contact statistics, and every sj object's fragment
        voxels over all pairs (None without sj objects)."""
        n = n_synapse_shards(len(self.blocks))
        folders = [t.path for t in self.input()["blocks"]]
        voxels, stats, sj_counts = [], [], []
        for i, f in enumerate(folders):
            v = read_parquet(f"{f}/syn_voxels.parquet")
            if "sj_id" in v.column_names:
                sj_counts.append(sj_fragment_counts(v))
            mine = pair_shards(v["cell_a"].to_numpy(), v["cell_b"].to_numpy(), n) == self.shard
            voxels.append(v.filter(pa.array(mine)))
            st = read_parquet(f"{f}/contact_stats.parquet")
            mine = pair_shards(st["cell_a"].to_numpy(), st["cell_b"].to_numpy(), n) == self.shard
            stats.append(st.filter(pa.array(mine)))
            del v, st
            if i % 8 == 7:
                self.progress(i + 1, len(folders), "blocks read")
        totals = add_sj_counts(sj_counts) if sj_counts else None
        return pa.concat_tables(voxels), stats, totals

    def run(self):
        cfg = self.cfg
        co = cfg.cell_objects
        vs = tuple(cfg.dataset.voxel_size_nm)
        voxels, stats, totals = self._read_blocks()
        cs = contact_site_rows(stats, min_size_vx=co.min_obj_vx.cs)
        del stats
        sj_ids = voxels.select(["x", "y", "z", "sj_id"]) if "sj_id" in voxels.column_names \
            else None
        syn, memb = group_synapses(voxels, voxel_size_nm=vs, gap_nm=co.cs_gap_nm,
                                   min_size_vx=co.min_obj_vx.syn_ssv, sym_thresh=co.sym_thresh,
                                   large_gap_nm=co.cs_gap_large_nm,
                                   spill_share=co.sj_spill_share, sj_totals=totals)
        del voxels
        sid = syn["synapse_id"].to_numpy()
        if sj_ids is not None:
            counts = sj_voxel_counts(memb, sj_ids)
            sj_objects = read_parquet(organelle_dir(self, "sj") / "objects.parquet")
        else:
            counts = sj_objects = None
        del sj_ids
        main = main_sj_objects(sid, None, None, counts=counts)
        centre_dist, extent = sj_centre_offsets(sid, memb, main, sj_objects, vs)
        del sj_objects
        self.progress(1, 3, "candidates grouped")

        partners = np.unique(np.concatenate([syn["cell_a"].to_numpy(),
                                             syn["cell_b"].to_numpy()]))
        feats = syn
        for kind in ("mi", "vc"):
            objs, pts = _organelles(self, kind, partners)
            prox = organelle_proximity(
                syn, memb, objs, pts, kind=kind, voxel_size_nm=vs,
                max_vert_dist_nm=getattr(co.max_vert_dist_nm, kind),
                max_rep_coord_dist_nm=co.max_rep_coord_dist_nm)
            del objs, pts
            for name in prox.column_names[1:]:
                feats = feats.append_column(name, prox[name])
        self.progress(2, 3, "organelle features")

        cs_ids = contact_site_ids(syn["cell_a"].to_numpy(), syn["cell_b"].to_numpy())
        missing = ~np.isin(cs_ids, cs["id"].to_numpy())
        if missing.any():
            raise RuntimeError(f"{int(missing.sum())} synapse(s) without a contact site; "
                               f"report this as a bug")
        feats = feats.append_column("main_sj_id", pa.array(main, pa.uint64())) \
            .append_column("sj_centre_dist_nm", pa.array(centre_dist)) \
            .append_column("sj_extent_nm", pa.array(extent))
        with atomic_path(self.output().path) as tmp:
            tmp.mkdir()
            write_parquet(feats, tmp / "candidates.parquet")
            write_parquet(memb.cast(_MEMBERSHIP_SCHEMA), tmp / "membership.parquet")
            write_parquet(cs, tmp / "contact_sites.parquet")
            if counts is not None:
                write_parquet(counts, tmp / "sj_counts.parquet")
        self.progress(3, 3, "written")


class _RowReader:
    """The rows of a Parquet file in order, ``take(n)`` at a time (a batch or so in memory)."""

    def __init__(self, path, schema: pa.Schema, batch_rows: int | None = None):
        self._it = pq.ParquetFile(path).iter_batches(
            batch_size=batch_rows or _MEMBERSHIP_BATCH_ROWS)
        self._schema = schema
        self._buf: list[pa.RecordBatch] = []
        self._n = 0

    def take(self, n: int) -> pa.Table:
        while self._n < n:
            try:
                b = next(self._it)
            except StopIteration:
                raise RuntimeError("shard membership shorter than its candidates' sizes; "
                                   "report this as a bug") from None
            self._buf.append(b)
            self._n += b.num_rows
        t = pa.Table.from_batches(self._buf, schema=self._schema).cast(self._schema)
        out, rest = t.slice(0, n), t.slice(n)
        self._buf, self._n = rest.to_batches(), rest.num_rows
        return out

    def exhausted(self) -> bool:
        return self._n == 0 and next(self._it, None) is None


def merge_membership(paths: list, shard: np.ndarray, size: np.ndarray, synapse_ids: np.ndarray,
                     out, *, chunk_rows: int | None = None) -> None:
    """Write the shards' membership files as one, in the merged candidates' order.

    ``shard``, ``size`` and ``synapse_ids``: per merged candidate (in the output order) its
    shard (index into ``paths``), voxel count and id.  Each shard's file lists its candidates'
    voxels in the shard's candidate order, which the merged order keeps; so the output is
    written a chunk of about ``chunk_rows`` rows at a time, taking the next rows of each
    shard's file, and only a chunk and one batch per shard are in memory.
    """
    chunk_rows = int(chunk_rows or _MEMBERSHIP_CHUNK_ROWS)
    readers = [_RowReader(p, _MEMBERSHIP_SCHEMA) for p in paths]
    size = np.asarray(size, np.int64)
    ends = np.cumsum(size)
    cut = np.searchsorted(ends, np.arange(chunk_rows, int(ends[-1]) if len(ends) else 0,
                                          chunk_rows), side="left") + 1
    bounds = np.unique(np.concatenate([[0], cut, [len(size)]]))
    with atomic_path(out) as tmp:
        with pq.ParquetWriter(tmp, _MEMBERSHIP_SCHEMA, compression="zstd") as w:
            if not len(size):
                w.write_table(_MEMBERSHIP_SCHEMA.empty_table())
            for i0, i1 in zip(bounds[:-1], bounds[1:]):
                sh, sz = shard[i0:i1], size[i0:i1]
                parts, base = [], np.zeros(len(paths), np.int64)
                at = 0
                for k in np.unique(sh).tolist():
                    base[k] = at
                    t = readers[k].take(int(sz[sh == k].sum()))
                    parts.append(t)
                    at += t.num_rows
                # each candidate's first row: its shard's base plus the sizes before it there
                before = np.zeros(len(sz), np.int64)
                for k in np.unique(sh).tolist():
                    m = sh == k
                    before[m] = np.cumsum(sz[m]) - sz[m]
                first = base[sh] + before
                idx = np.repeat(first - np.cumsum(np.r_[0, sz[:-1]]), sz) + np.arange(sz.sum())
                chunk = pa.concat_tables(parts).take(pa.array(idx))
                if not np.array_equal(chunk["synapse_id"].to_numpy(),
                                      np.repeat(synapse_ids[i0:i1], sz)):
                    raise RuntimeError("shard membership out of step with its candidates; "
                                       "report this as a bug")
                w.write_table(chunk)
    if not all(r.exhausted() for r in readers):
        raise RuntimeError("shard membership longer than its candidates' sizes; "
                           "report this as a bug")


class SynapseFeatures(SyconnTask):
    """Synapse candidates and their features -> ``synapses_v4-<hash>/`` (Parquet, no SQL).

    Merges the cell-pair shards (``SynapseShard``: candidates grouped by
    :func:`group_synapses`, the organelles of both partners near each by
    :func:`organelle_proximity`, their main sj object and :func:`sj_centre_offsets`) in the
    order of one unsharded run: candidates by cell pair then first voxel, contact sites by cell
    pair, membership in candidate order.  Then what compares candidates across pairs, on
    candidate-sized tables: :func:`sj_object_shares` (from the shards' per-object voxel
    counts) and :func:`rival_ratio`; and how thick each partner is near each candidate
    (:func:`candidate_radii`, block by block) and direction.  What the classifier
    (``Synapses``) and ``syconn train synapses`` read.
    """

    def requires(self):
        n = n_synapse_shards(len(self.blocks))
        req = {"shards": [SynapseShard(working_dir=self.working_dir, shard=k) for k in range(n)],
               "cells": Cells(working_dir=self.working_dir)}
        if self.cfg.inputs.sj:  # the sj objects' sizes (sj_overlap)
            req["sj"] = Organelles(working_dir=self.working_dir, kind="sj")
        return req

    def output(self):
        d = synapses_dir(self)
        return {"candidates": luigi.LocalTarget(str(d / "candidates.parquet")),
                "membership": luigi.LocalTarget(str(d / "membership.parquet")),
                "contact_sites": luigi.LocalTarget(str(d / "contact_sites.parquet"))}

    def run(self):
        cfg = self.cfg
        vs = tuple(cfg.dataset.voxel_size_nm)
        shards = [Path(t.path) for t in self.input()["shards"]]
        cand = [read_parquet(d / "candidates.parquet") for d in shards]
        of = np.repeat(np.arange(len(shards)), [t.num_rows for t in cand])
        cand = pa.concat_tables(cand)
        # a pair lies in one shard, sorted there: a stable sort by pair is the unsharded order
        order = np.lexsort((cand["cell_b"].to_numpy(), cand["cell_a"].to_numpy()))
        cand = cand.take(pa.array(order))
        of = of[order]
        sid = cand["synapse_id"].to_numpy()
        if len(np.unique(sid)) != len(sid):  # 63-bit hash: astronomically unlikely
            raise RuntimeError("synapse id hash collision; report this as a bug")
        cs = pa.concat_tables([read_parquet(d / "contact_sites.parquet") for d in shards])
        cs = cs.take(pa.array(np.lexsort((cs["cell_b"].to_numpy(), cs["cell_a"].to_numpy()))))
        if len(np.unique(cs["id"].to_numpy())) != cs.num_rows:
            raise RuntimeError("contact-site id hash collision; report this as a bug")
        self.progress(1, 4, "shards merged")

        if cfg.inputs.sj:
            counts = pa.concat_tables([read_parquet(d / "sj_counts.parquet") for d in shards])
            sj_sizes = read_parquet(organelle_dir(self, "sj") / "objects.parquet")
            share, overlap = sj_object_shares(sid, None, None, sj_sizes, counts=counts)
            del counts, sj_sizes
        else:
            share, overlap = sj_object_shares(sid, None, None)
        syn = cand.select(SYNAPSES_SCHEMA.names)
        radius_a, radius_b = candidate_radii(self, syn, vs)
        self.progress(2, 4, "partner radii")

        rows = synapse_rows(syn, cand, cs_ids=contact_site_ids(syn["cell_a"].to_numpy(),
                                                                syn["cell_b"].to_numpy()),
                            partner_extra={"radius_nm": (radius_a, radius_b)},
                            extra={"sj_share": share, "sj_overlap": overlap,
                                   "sj_centre_dist_nm": cand["sj_centre_dist_nm"].to_numpy(
                                       zero_copy_only=False),
                                   "sj_extent_nm": cand["sj_extent_nm"].to_numpy(
                                       zero_copy_only=False)})
        # the cleft against the bouton's contacts with bystanders on the same blob
        pre = rows["cell_pre"].fill_null(0).to_numpy().astype(np.uint64)
        rows = rows.append_column("sj_prob_rival", pa.array(rival_ratio(
            rows["sj_prob_mean"].to_numpy(), cand["main_sj_id"].to_numpy(), pre)))
        self.progress(3, 4, "candidate features")
        merge_membership([d / "membership.parquet" for d in shards], of,
                         syn["size_vx"].to_numpy(), sid, self.output()["membership"].path)
        write_parquet(cs, self.output()["contact_sites"].path)
        write_parquet(rows, self.output()["candidates"].path)
        self.progress(4, 4, "written")


class Synapses(SyconnTask):
    """Classify the candidates (``syn_prob``) and load contact sites and synapses into SQL, in
    one transaction with the completion row.  The model (``cell_objects.synapse_model`` or the
    shipped one) is part of the step's identity: another model reruns this step only."""

    def requires(self):
        return {"features": SynapseFeatures(working_dir=self.working_dir),
                "cells": Cells(working_dir=self.working_dir)}

    @property
    def model(self) -> SynapseModel:
        if getattr(self, "_model", None) is None:
            self._model = synapse_model(self.cfg, self.working_dir)
        return self._model

    def output(self):
        d = self.step_dir("syn_prob", *_feature_sections(),
                          *(f"cell_objects.{k}" for k in _CLASSIFY_KEYS))
        d = d.with_name(f"{d.name}-{self.model.digest[:8]}")
        return {"synapses": luigi.LocalTarget(str(d / "synapses.parquet")),
                "db": DBTarget(self.working_dir, self.db_task_id())}

    def db_task_id(self, *sections: str) -> str:
        return f"{super().db_task_id(*sections)}+model-{self.model.digest[:8]}"

    def complete(self):
        return all(t.exists() for t in self.output().values())

    def run(self):
        from syconn.db import bulk_load_many

        co = self.cfg.cell_objects
        inp = self.input()["features"]
        rows = read_parquet(inp["candidates"].path)
        cs = read_parquet(inp["contact_sites"].path)
        prob = self.model.predict_proba(rows, self.cfg.dataset.voxel_size_nm)
        rows = rows.append_column("syn_prob", pa.array(prob, pa.float64()))
        write_parquet(rows, self.output()["synapses"].path)
        # the threshold the `connections` view applies, with the rows it applies to
        threshold = ("UPDATE dataset SET syn_prob_threshold = :t", {"t": co.thresh_synssv_proba})
        bulk_load_many(self.engine, [("contact_sites", cs, "all"), ("synapses", rows, "all")],
                       statements=[threshold],
                       task={"task_id": self.db_task_id(), "task_family": "Synapses"})
        self.progress(1, 1, "classified and loaded")
