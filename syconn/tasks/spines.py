"""Spines (SyConn step 7, spiness and spine-head volume) at every synapse of known direction.

``SpineShard[shard]`` takes the synapses above the threshold whose direction is known (after
the compartments), every ``n``-th by id, reads the postsynaptic cell's mask in a box around
each (:data:`syconn.proc.spines.BOX_UM`) and runs the spine model (:mod:`syconn.spines`): the
spine class at the synapse (the original's codes: 0 neck, 1 head, 2 shaft, 3 other) and, on a
head, its volume; a synapse whose post compartment is axon, bouton or soma is ``other`` without
a look.  It writes ``spines-<hash>-<model>/synapses/shard_NNN.parquet``; ``Spines`` loads them
into ``synapses.spiness_post`` and ``spinehead_vol_post_um3``.  Off with
``spines.enabled: false``.
"""

from __future__ import annotations

import luigi
import numpy as np
import pyarrow as pa

from syconn import read as read_side
from syconn.tasks.base import DBTarget, SyconnTask, read_parquet, write_parquet
from syconn.tasks.compartments import Compartments
from syconn.tasks.morphology import n_merge_shards, skeleton_cubes
from syconn.tasks.supervoxels import Cells, read_sv_to_cell
from syconn.tasks.synapses import Synapses

__all__ = ["SpineShard", "Spines", "spine_synapses"]

#: post compartments (axoness codes) that are no spine: axon, soma, en-passant, terminal bouton
_NOT_SPINE = (1, 2, 3, 4)


class _ModelTask(SyconnTask):
    @property
    def model(self):
        if getattr(self, "_model", None) is None:
            self._model = read_side.spine_model(self.working_dir, self.cfg)
        return self._model

    def n_shards(self) -> int:
        """One shard per block (at least one per skeleton merge shard): enough to keep every
        worker busy, few enough that the per-shard reads stay small."""
        return max(len(self.blocks), n_merge_shards(len(skeleton_cubes(self))))


def spine_synapses(res, threshold: float) -> dict[str, np.ndarray]:
    """The synapses the spine step looks at: above ``threshold``, direction known, by id."""
    cols, rows = res.query(
        "SELECT id, cell_post, comp_post, rep_x, rep_y, rep_z FROM synapses "
        "WHERE syn_prob >= :t AND cell_post IS NOT NULL ORDER BY id", {"t": threshold})
    out = {c: np.array([r[i] for r in rows]) for i, c in enumerate(cols)}
    out["comp_post"] = np.array([-1 if r[2] is None else int(r[2]) for r in rows], np.int64)
    for c in ("id", "cell_post", "rep_x", "rep_y", "rep_z"):
        out[c] = out[c].astype(np.int64) if len(rows) else np.zeros(0, np.int64)
    return out


class SpineShard(_ModelTask):
    """Spine class and head volume of every ``n``-th synapse -> ``synapses/shard_NNN.parquet``."""

    shard = luigi.IntParameter()

    def requires(self):
        return {"compartments": Compartments(working_dir=self.working_dir),
                "cells": Cells(working_dir=self.working_dir)}

    def output(self):
        # the shard reads the synapses' direction and syn_prob from SQL: the synapse and
        # compartment models that set them are part of its folder's name
        from syconn.tasks.compartments import compartment_model

        d = read_side.spine_dir(self.wd, self.cfg, self.model)
        d = d.with_name(f"{d.name}-{Synapses(working_dir=self.working_dir).model.digest[:8]}"
                        f"-{compartment_model(self.cfg, self.working_dir).digest[:8]}")
        return luigi.LocalTarget(str(d / "synapses" / f"shard_{self.shard:03d}.parquet"))

    def run(self):
        from syconn.proc.spines import OTHER, box_factors
        from syconn.read import Results
        from syconn.spines import box_bounds, synapse_spine

        res = Results(self.working_dir, self.cfg)
        syn = spine_synapses(res, res.syn_prob_threshold())
        sel = np.flatnonzero(syn["id"] % self.n_shards() == self.shard)
        sv_ids, sv_cells = read_sv_to_cell(self)
        vs = np.asarray(self.cfg.dataset.voxel_size_nm, np.float64)
        shape = self.dataset_shape()
        radius = float(self.model.card.get("radius_nm", 150.0))
        f = np.asarray(box_factors(vs), np.int64)
        cls = np.full(len(sel), -1, np.int64)
        prob = np.full(len(sel), np.nan)
        vol = np.full(len(sel), np.nan)
        for n, i in enumerate(sel):
            if syn["comp_post"][i] in _NOT_SPINE:
                cls[n], prob[n] = OTHER, 1.0
                continue
            p = np.array([syn[f"rep_{a}"][i] for a in "xyz"], np.int64)
            lo, hi = box_bounds(p, vs, shape)
            seg = self.read_seg(tuple(int(v) for v in lo), tuple(int(v) for v in hi - lo))
            seg = seg[::f[0], ::f[1], ::f[2]]   # strided first: a quarter of the voxels to map
            mask = np.isin(seg, sv_ids[sv_cells == np.uint64(syn["cell_post"][i])])
            if mask.any():
                cls[n], prob[n], vol[n] = synapse_spine(self.model, mask, vs * f,
                                                        (p - lo) / f, radius_nm=radius)
            if n % 25 == 0:
                self.progress(n, len(sel), "synapses")
        write_parquet(pa.table({
            "id": pa.array(syn["id"][sel], pa.int64()),
            "spiness_post": pa.array(np.where(cls >= 0, cls, None).tolist(), pa.int16()),
            "spiness_prob": pa.array(np.where(np.isfinite(prob), prob, None).tolist(),
                                     pa.float64()),
            "spinehead_vol_post_um3": pa.array(np.where(np.isfinite(vol), vol, None).tolist(),
                                               pa.float64())}), self.output().path)


class Spines(_ModelTask):
    """The shards' spine classes and head volumes -> ``synapses`` in SQL."""

    def requires(self):
        # the compartments too: shards found complete (a copied or resumed working directory)
        # do not bring in their requirements, and the rows must be in SQL before the update
        return {"shards": [SpineShard(working_dir=self.working_dir, shard=k)
                           for k in range(self.n_shards())],
                "compartments": Compartments(working_dir=self.working_dir)}

    def db_task_id(self) -> str:
        from syconn.tasks.compartments import compartment_model

        return (f"{super().db_task_id('min_cc_size_ssv', 'skeleton', 'compartments', 'spines')}"
                f"+model-{self.model.digest[:8]}"
                f"+comp-{compartment_model(self.cfg, self.working_dir).digest[:8]}")

    def output(self):
        return DBTarget(self.working_dir, self.db_task_id())

    def run(self):
        from syconn.db import bulk_update

        t = pa.concat_tables([read_parquet(s.path) for s in self.input()["shards"]])
        t = t.select(["id", "spiness_post", "spinehead_vol_post_um3"])
        n = bulk_update(self.engine, "synapses", t,
                        reset_columns=["spiness_post", "spinehead_vol_post_um3"],
                        task={"task_id": self.db_task_id(), "task_family": "Spines"})
        self.progress(1, 1, f"spines of {n} synapses loaded")
