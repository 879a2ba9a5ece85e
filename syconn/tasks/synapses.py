"""Contact sites and synapses between cells (SyConn step 6: 6a contacts, 6b-6d synapses).

``ContactBlock[block]`` maps the block's supervoxels (core + :func:`contact_halo_vx`) to cells and
runs :func:`~syconn.proc.contacts.find_contacts`: per cell pair the contact statistics of the
core, its first contact voxel, and the synapse-fragment voxels (contact voxels in the sj mask,
with their sym/asym flags, sj value and sj object).  ``SynapseFeatures`` reduces the blocks into
contact sites and groups the fragment voxels into cell-level synapse candidates with their
features (organelle proximity, sj objects, sj probability, direction, sign); ``Synapses``
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

from syconn.io import open_volume
from syconn.ml.synapses import SynapseModel, load_model
from syconn.proc import (
    contact_halo_vx,
    find_contacts,
    group_synapses,
    merge_contact_stats,
    main_sj_objects,
    organelle_proximity,
    rival_ratio,
    sj_centre_offsets,
    sj_object_shares,
    split_organelles,
    synapse_rows,
)
from syconn.proc.radius import partner_radii, radius_halo_vx
from syconn.proc.synapses import _hash_cols
from syconn.tasks.base import DBTarget, SyconnTask, atomic_path, read_parquet, write_parquet
from syconn.tasks.organelles import OrganelleRelabel, Organelles, organelle_dir
from syconn.tasks.supervoxels import Cells, cell_labels, read_sv_to_cell

__all__ = ["ContactBlock", "SynapseFeatures", "Synapses", "contact_dir", "synapses_dir",
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


def _organelles(task: SyconnTask, kind: str, cells: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """One kind's organelles cut into their parts per cell (:func:`split_organelles`)."""
    d = organelle_dir(task, kind)
    return split_organelles(read_parquet(d / "objects.parquet"),
                            read_parquet(d / "points.parquet"), *read_sv_to_cell(task), cells)


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


class SynapseFeatures(SyconnTask):
    """Synapse candidates and their features -> ``synapses_v4-<hash>/`` (Parquet, no SQL).

    Groups the blocks' synapse-fragment voxels into candidates (:func:`group_synapses`),
    measures the organelles of both partners near each (:func:`organelle_proximity`), their sj
    objects (:func:`sj_object_shares`, :func:`sj_centre_offsets`, :func:`rival_ratio`), how thick
    each partner is near it (:func:`candidate_radii`) and direction, and reduces the contact
    sites.  What the
    classifier (``Synapses``) and ``syconn train synapses`` read.
    """

    def requires(self):
        req = {"blocks": [ContactBlock(working_dir=self.working_dir, block_index=b.index)
                          for b in self.blocks],
               "cells": Cells(working_dir=self.working_dir),
               "mi": Organelles(working_dir=self.working_dir, kind="mi"),
               "vc": Organelles(working_dir=self.working_dir, kind="vc")}
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
        co = cfg.cell_objects
        vs = tuple(cfg.dataset.voxel_size_nm)
        folders = [t.path for t in self.input()["blocks"]]
        stats = [read_parquet(f"{f}/contact_stats.parquet") for f in folders]
        cs = contact_site_rows(stats, min_size_vx=co.min_obj_vx.cs)
        self.progress(1, 4, "contact sites")

        voxels = pa.concat_tables([read_parquet(f"{f}/syn_voxels.parquet") for f in folders])
        sj_ids = voxels.select(["x", "y", "z", "sj_id"]) if "sj_id" in voxels.column_names \
            else None
        syn, memb = group_synapses(voxels, voxel_size_nm=vs, gap_nm=co.cs_gap_nm,
                                   min_size_vx=co.min_obj_vx.syn_ssv, sym_thresh=co.sym_thresh,
                                   large_gap_nm=co.cs_gap_large_nm,
                                   spill_share=co.sj_spill_share)
        del voxels
        sj_sizes = read_parquet(organelle_dir(self, "sj") / "objects.parquet") \
            if sj_ids is not None else None
        share, overlap = sj_object_shares(syn["synapse_id"].to_numpy(), memb, sj_ids, sj_sizes)
        main = main_sj_objects(syn["synapse_id"].to_numpy(), memb, sj_ids)
        centre_dist, extent = sj_centre_offsets(syn["synapse_id"].to_numpy(), memb, main,
                                                sj_sizes, vs)
        self.progress(2, 4, "candidates grouped")

        partners = np.unique(np.concatenate([syn["cell_a"].to_numpy(),
                                             syn["cell_b"].to_numpy()]))
        feats = pa.table({"cell_a": syn["cell_a"], "cell_b": syn["cell_b"]})
        for kind in ("mi", "vc"):
            objs, pts = _organelles(self, kind, partners)
            prox = organelle_proximity(
                syn, memb, objs, pts, kind=kind, voxel_size_nm=vs,
                max_vert_dist_nm=getattr(co.max_vert_dist_nm, kind),
                max_rep_coord_dist_nm=co.max_rep_coord_dist_nm)
            for name in prox.column_names[1:]:
                feats = feats.append_column(name, prox[name])
        self.progress(3, 4, "organelle features")
        radius_a, radius_b = candidate_radii(self, syn, vs)

        cs_ids = contact_site_ids(syn["cell_a"].to_numpy(), syn["cell_b"].to_numpy())
        missing = ~np.isin(cs_ids, cs["id"].to_numpy())
        if missing.any():
            raise RuntimeError(f"{int(missing.sum())} synapse(s) without a contact site; "
                               f"report this as a bug")
        rows = synapse_rows(syn, feats, cs_ids=cs_ids,
                            partner_extra={"radius_nm": (radius_a, radius_b)},
                            extra={"sj_share": share, "sj_overlap": overlap,
                                   "sj_centre_dist_nm": centre_dist, "sj_extent_nm": extent})
        # the cleft against the bouton's contacts with bystanders on the same blob
        pre = rows["cell_pre"].fill_null(0).to_numpy().astype(np.uint64)
        rows = rows.append_column("sj_prob_rival", pa.array(rival_ratio(
            rows["sj_prob_mean"].to_numpy(), main, pre)))
        write_parquet(memb.cast(pa.schema([("synapse_id", pa.uint64()), ("x", pa.int64()),
                                           ("y", pa.int64()), ("z", pa.int64())])),
                      self.output()["membership"].path)
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
