"""Contact sites and synapses between cells (SyConn step 6: 6a contacts, 6b-6d synapses).

``ContactBlock[block]`` maps the block's supervoxels (core + :func:`contact_halo_vx`) to cells and
runs :func:`~syconn.proc.contacts.find_contacts`: per cell pair the contact statistics of the
core, its first contact voxel, and the synapse-fragment voxels (contact voxels in the sj mask,
with their sym/asym flags).  ``Synapses`` reduces the blocks into ``contact_sites`` and groups
the fragment voxels into cell-level ``synapses`` with organelle-proximity features, direction,
sign and probability; both tables are loaded in one transaction with the completion row.

Both steps are independent of the block layout: the halo is exact (:mod:`syconn.proc.contacts`),
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
- Synapse bounding boxes follow the table convention (``bb_max_*`` exclusive) although
  :func:`group_synapses` reports them inclusive, as the original's syn_ssv: +1 here.
- Undetermined direction (equal vesicle-cloud voxels on both sides): ``cell_pre`` and
  ``cell_post`` are NULL, ``direction_confidence`` 0; the partners stay in ``cell_a < cell_b``.
"""

from __future__ import annotations

import luigi
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from syconn.io import open_volume
from syconn.proc import (
    contact_halo_vx,
    find_contacts,
    group_synapses,
    merge_contact_stats,
    organelle_proximity,
    syn_prob_rule,
    synapse_direction,
)
from syconn.proc.synapses import _hash_cols
from syconn.tasks.base import DBTarget, SyconnTask, atomic_path, read_parquet, write_parquet
from syconn.tasks.organelles import OrganelleRelabel, Organelles, organelle_dir
from syconn.tasks.supervoxels import Cells, cell_labels, read_sv_to_cell, sv_to_cell_path

__all__ = ["ContactBlock", "Synapses", "contact_dir", "synapses_dir", "contact_site_ids",
           "contact_options"]

#: config sections the contact blocks depend on (cells depend on rag_max_gap_vx)
_CONTACT_SECTIONS = ("cell_objects.cs_filtersize", "cell_objects.cs_closing",
                     "cell_objects.cs_dilation", "cell_objects.extract_morph_op.sj",
                     "cell_objects.probathresholds.sj", "cell_objects.syntype_thresh",
                     "cell_objects.rag_max_gap_vx")
_FEATURES = ("n_{k}_objs", "n_{k}_vxs", "min_dst_{k}_nm")


def contact_dir(task: SyconnTask):
    return task.step_dir("contacts", *_CONTACT_SECTIONS)


def synapses_dir(task: SyconnTask):
    # synapses depend on nearly all of cell_objects (organelles, contacts, synapse settings)
    return task.step_dir("synapses", "cell_objects")


def contact_options(cfg) -> dict:
    """Keyword arguments of :func:`find_contacts` (and :func:`contact_halo_vx`) from the config."""
    co = cfg.cell_objects
    return {"voxel_size_nm": tuple(cfg.dataset.voxel_size_nm),
            "filtersize_vx": tuple(co.cs_filtersize), "closing_iterations": co.cs_closing,
            "dilation_iterations": co.cs_dilation, "sj_morph_ops": tuple(co.extract_morph_op.sj)}


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
    """One kind's organelles, split per cell, for the organelle-proximity features.

    An organelle is what lies inside a partner cell: each object is cut into its parts per
    cell by the supervoxel under each of its surface points (a vesicle cloud found across two
    touching boutons counts for each bouton with its own part, not for the cell it is assigned
    to as a whole).  A part's size is the object's size times its share of the points; its rep
    coord is the part's point closest to the part's mean.  Only parts in ``cells`` are returned.
    """
    d = organelle_dir(task, kind)
    objs = read_parquet(d / "objects.parquet")
    pts = read_parquet(d / "points.parquet")
    sv_cell = read_parquet(sv_to_cell_path(task))
    m_sv, m_cell = sv_cell["sv_id"].to_numpy(), sv_cell["cell_id"].to_numpy()
    order = np.argsort(m_sv)
    m_sv, m_cell = m_sv[order], m_cell[order]
    sv = pts["sv_id"].to_numpy()
    pos = np.clip(np.searchsorted(m_sv, sv), 0, max(len(m_sv) - 1, 0))
    cell = np.where((sv != 0) & (m_sv[pos] == sv), m_cell[pos], 0) if len(m_sv) else sv * 0
    keep = np.isin(cell, cells) & (cell != 0)
    org = pts["org_id"].to_numpy()[keep]
    cell = cell[keep]
    xyz = np.stack([pts[c].to_numpy()[keep] for c in "xyz"], axis=1)
    empty = pa.table({"org_id": pa.array([], pa.uint64()), "cell_id": pa.array([], pa.uint64()),
                      "size_vx": pa.array([], pa.int64()),
                      **{f"rep_{c}": pa.array([], pa.int64()) for c in "xyz"}})
    if not len(org):
        return empty, pa.table({"org_id": pa.array([], pa.uint64()),
                                **{c: pa.array([], pa.int64()) for c in "xyz"}})
    # part key: (organelle, cell) -> a new id 1..n, in sorted (org, cell) order
    parts, part_idx = np.unique(np.stack([org, cell], axis=1), axis=0, return_inverse=True)
    part_idx = part_idx.ravel()
    n_part = np.bincount(part_idx, minlength=len(parts))
    obj_ids = objs["id"].to_numpy().astype(np.uint64)
    obj_size = objs["size_vx"].to_numpy()
    n_obj_pts = np.bincount(np.searchsorted(obj_ids, org), minlength=len(obj_ids))
    oi = np.searchsorted(obj_ids, parts[:, 0])
    size = np.rint(obj_size[oi] * n_part / np.maximum(n_obj_pts[oi], 1)).astype(np.int64)
    mean = np.stack([np.bincount(part_idx, weights=xyz[:, k], minlength=len(parts)) / n_part
                     for k in range(3)], axis=1)
    d2 = ((xyz - mean[part_idx]) ** 2).sum(axis=1)
    best = np.lexsort((d2, part_idx))
    first = best[np.r_[0, np.flatnonzero(np.diff(part_idx[best])) + 1]]
    new_ids = np.arange(1, len(parts) + 1, dtype=np.uint64)
    objects = pa.table({"org_id": new_ids, "cell_id": parts[:, 1].astype(np.uint64),
                        "size_vx": size, **{f"rep_{c}": xyz[first, k] for k, c in enumerate("xyz")}})
    points = pa.table({"org_id": new_ids[part_idx], **{c: xyz[:, k] for k, c in enumerate("xyz")}})
    return objects, points


def sj_share(synapse_ids: np.ndarray, membership: pa.Table, sj_voxels: pa.Table | None
             ) -> np.ndarray:
    """Per synapse, the largest share it holds of one sj object's fragment voxels.

    A synaptic junction object lies on one cleft; where its band also touches a bystander
    cell's contact, that contact gets a small fragment of the same object.  The share
    (fragment voxels of this synapse in the object / fragment voxels of the object in all
    synapses) is about 1 for the real synapse and small for such spill-over.  All ones without
    sj object ids.
    """
    if sj_voxels is None or not len(synapse_ids):
        return np.ones(len(synapse_ids))
    j = membership.join(sj_voxels, keys=["x", "y", "z"], join_type="left outer")
    sid = j["synapse_id"].to_numpy()
    obj = j["sj_id"].fill_null(0).to_numpy()
    ok = obj != 0
    pairs, counts = np.unique(np.stack([sid[ok], obj[ok]], axis=1), axis=0, return_counts=True)
    if not len(pairs):
        return np.ones(len(synapse_ids))
    objs, inv = np.unique(pairs[:, 1], return_inverse=True)
    total = np.bincount(inv.ravel(), weights=counts)
    frac = counts / total[inv.ravel()]
    out = np.zeros(len(synapse_ids))
    order = np.argsort(synapse_ids)
    pos = np.searchsorted(synapse_ids[order], pairs[:, 0])
    found = pos < len(order)
    found[found] = synapse_ids[order][pos[found]] == pairs[found, 0]
    pos, frac = order[pos[found]], frac[found]
    np.maximum.at(out, pos, frac)
    return out


def synapse_rows(syn: pa.Table, features: pa.Table, *, cs_ids: np.ndarray,
                 sj_share: np.ndarray | None = None) -> pa.Table:
    """``synapses`` rows: direction, per-partner features as pre/post, syn_prob."""
    a = syn["cell_a"].to_numpy()
    b = syn["cell_b"].to_numpy()
    pre, post, conf = synapse_direction(features)
    known = pre != 0
    swap = known & (pre == b)  # cell_b is presynaptic: its _b features become _pre
    cols: dict[str, pa.Array | np.ndarray] = {
        "id": syn["synapse_id"].to_numpy().astype(np.int64),
        "cell_pre": pa.array(pre.astype(np.int64), mask=~known),
        "cell_post": pa.array(post.astype(np.int64), mask=~known),
        "cell_a": a.astype(np.int64), "cell_b": b.astype(np.int64),
        "contact_site_id": cs_ids,
        "size_vx": syn["size_vx"], "area_um2": syn["area_um2"],
    }
    for c in "xyz":
        cols[f"bb_min_{c}"] = syn[f"bbox_min_{c}"]
    for c in "xyz":  # group_synapses: inclusive; the tables: exclusive
        cols[f"bb_max_{c}"] = syn[f"bbox_max_{c}"].to_numpy() + 1
    for c in "xyz":
        cols[f"rep_{c}"] = syn[f"rep_{c}"]
    cols.update({"sym_prop": syn["sym_prop"], "asym_prop": syn["asym_prop"],
                 "sym_ratio": syn["sym_ratio"], "sign": syn["sign"].cast(pa.int16()),
                 "direction_confidence": conf})
    # undetermined direction: _a stays _pre and _b stays _post (cell_pre/post are NULL there)
    for side in ("pre", "post"):
        for kind in ("mi", "vc"):
            for f in _FEATURES:
                name = f.format(k=kind)
                fa = features[f"{name}_a"].to_numpy()
                fb = features[f"{name}_b"].to_numpy()
                v = np.where(swap, fb, fa) if side == "pre" else np.where(swap, fa, fb)
                if name.startswith("n_"):  # n_*_vxs is an estimate (float): rounded voxels
                    v = np.rint(v).astype(np.int64)
                cols[f"{name}_{side}"] = v
    vc_pre = np.maximum(features["n_vc_vxs_a"].to_numpy(), features["n_vc_vxs_b"].to_numpy())
    cols["syn_prob"] = syn_prob_rule(syn["size_vx"].to_numpy(), vc_pre, sj_share=sj_share) \
        if len(a) else np.zeros(0)
    return pa.table(cols)


class Synapses(SyconnTask):
    """Contact sites and synapses -> ``synapses-<hash>/`` Parquet and SQL, in one transaction."""

    def requires(self):
        return {"blocks": [ContactBlock(working_dir=self.working_dir, block_index=b.index)
                           for b in self.blocks],
                "cells": Cells(working_dir=self.working_dir),
                "mi": Organelles(working_dir=self.working_dir, kind="mi"),
                "vc": Organelles(working_dir=self.working_dir, kind="vc")}

    def output(self):
        d = synapses_dir(self)
        return {"synapses": luigi.LocalTarget(str(d / "synapses.parquet")),
                "membership": luigi.LocalTarget(str(d / "membership.parquet")),
                "contact_sites": luigi.LocalTarget(str(d / "contact_sites.parquet")),
                "db": DBTarget(self.working_dir, self.db_task_id())}

    def complete(self):
        return all(t.exists() for t in self.output().values())

    def run(self):
        from syconn.db import bulk_load_many

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
        if sj_ids is not None:
            voxels = voxels.drop(["sj_id"])
        syn, memb = group_synapses(voxels, voxel_size_nm=vs, gap_nm=co.cs_gap_nm,
                                   min_size_vx=co.min_obj_vx.syn_ssv, sym_thresh=co.sym_thresh)
        del voxels
        share = sj_share(syn["synapse_id"].to_numpy(), memb, sj_ids)
        self.progress(2, 4, "synapses grouped")

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

        cs_ids = contact_site_ids(syn["cell_a"].to_numpy(), syn["cell_b"].to_numpy())
        missing = ~np.isin(cs_ids, cs["id"].to_numpy())
        if missing.any():
            raise RuntimeError(f"{int(missing.sum())} synapse(s) without a contact site; "
                               f"report this as a bug")
        rows = synapse_rows(syn, feats, cs_ids=cs_ids, sj_share=share)
        write_parquet(memb.cast(pa.schema([("synapse_id", pa.uint64()), ("x", pa.int64()),
                                           ("y", pa.int64()), ("z", pa.int64())])),
                      self.output()["membership"].path)
        write_parquet(cs, self.output()["contact_sites"].path)
        write_parquet(rows, self.output()["synapses"].path)
        # the threshold the `connections` view applies, with the rows it applies to
        threshold = ("UPDATE dataset SET syn_prob_threshold = :t", {"t": co.thresh_synssv_proba})
        bulk_load_many(self.engine, [("contact_sites", cs, "all"), ("synapses", rows, "all")],
                       statements=[threshold],
                       task={"task_id": self.db_task_id(), "task_family": "Synapses"})
        self.progress(4, 4, "loaded")
