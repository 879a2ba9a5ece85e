"""Spines (SyConn step 7, spiness and spine-head volume) at every synapse of known direction.

``SpineShard[shard]`` takes the synapses above the threshold whose direction is known (after
the compartments) whose representative voxel lies in block ``shard``, reads the postsynaptic cell's mask in a box around
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
        """One shard per block: shard ``k`` takes the synapses whose representative voxel lies
        in block ``k``, so each reads only its own rows and boxes near each other."""
        return len(self.blocks)


def spine_synapses(res, threshold: float, lo=None, hi=None) -> dict[str, np.ndarray]:
    """The synapses the spine step looks at: above ``threshold``, direction known, with the
    representative voxel in ``[lo, hi)`` where given, by id."""
    where = ""
    params = {"t": threshold}
    if lo is not None:
        for a, l0, h0 in zip("xyz", lo, hi):
            where += f" AND rep_{a} >= :lo_{a} AND rep_{a} < :hi_{a}"
            params[f"lo_{a}"], params[f"hi_{a}"] = int(l0), int(h0)
    cols, rows = res.query(
        "SELECT id, cell_post, comp_post, rep_x, rep_y, rep_z FROM synapses "
        f"WHERE syn_prob >= :t AND cell_post IS NOT NULL{where} ORDER BY id", params)
    out = {c: np.array([r[i] for r in rows]) for i, c in enumerate(cols)}
    out["comp_post"] = np.array([-1 if r[2] is None else int(r[2]) for r in rows], np.int64)
    for c in ("id", "cell_post", "rep_x", "rep_y", "rep_z"):
        out[c] = out[c].astype(np.int64) if len(rows) else np.zeros(0, np.int64)
    return out


class SpineShard(_ModelTask):
    """Spine class and head volume of the synapses in block ``shard`` ->
    ``synapses/shard_NNN.parquet``."""

    shard = luigi.IntParameter()

    def requires(self):
        return {"compartments": Compartments(working_dir=self.working_dir),
                "cells": Cells(working_dir=self.working_dir)}

    def output(self):
        # the shard reads the synapses' direction and syn_prob from SQL: the synapse and
        # compartment models that set them are part of its folder's name
        from syconn.tasks.compartments import compartment_model

        if getattr(self, "_dir", None) is None:   # luigi asks often; the models load once
            d = read_side.spine_dir(self.wd, self.cfg, self.model)
            self._dir = d.with_name(
                f"{d.name}-{Synapses(working_dir=self.working_dir).model.digest[:8]}"
                f"-{compartment_model(self.cfg, self.working_dir).digest[:8]}")
        d = self._dir
        return luigi.LocalTarget(str(d / "synapses" / f"shard_{self.shard:03d}.parquet"))

    def run(self):
        from syconn.proc.spines import OTHER, box_factors
        from syconn.read import Results
        from syconn.spines import box_bounds, synapse_spine

        res = Results(self.working_dir, self.cfg)
        b = self.block(self.shard)
        syn = spine_synapses(res, res.syn_prob_threshold(), b.offset, b.end)
        n_syn = len(syn["id"])
        sv_ids, sv_cells = read_sv_to_cell(self)
        by_cell = np.argsort(sv_cells, kind="stable")   # each cell's supervoxels: one range
        sv_ids, sv_cells = sv_ids[by_cell], sv_cells[by_cell]
        vs = np.asarray(self.cfg.dataset.voxel_size_nm, np.float64)
        shape = self.dataset_shape()
        radius = float(self.model.card.get("radius_nm", 150.0))
        f = np.asarray(box_factors(vs), np.int64)
        cls = np.full(n_syn, -1, np.int64)
        prob = np.full(n_syn, np.nan)
        vol = np.full(n_syn, np.nan)
        for i in range(n_syn):
            if syn["comp_post"][i] in _NOT_SPINE:
                cls[i], prob[i] = OTHER, 1.0
                continue
            p = np.array([syn[f"rep_{a}"][i] for a in "xyz"], np.int64)
            lo, hi = box_bounds(p, vs, shape)
            seg = self.read_seg(tuple(int(v) for v in lo), tuple(int(v) for v in hi - lo))
            seg = seg[::f[0], ::f[1], ::f[2]]   # strided first: fewer voxels to map
            c = np.uint64(syn["cell_post"][i])
            mine = sv_ids[np.searchsorted(sv_cells, c):np.searchsorted(sv_cells, c, "right")]
            mask = np.isin(seg, mine)
            if mask.any():
                cls[i], prob[i], vol[i] = synapse_spine(self.model, mask, vs * f,
                                                        (p - lo) / f, radius_nm=radius)
            if i % 25 == 0:
                self.progress(i, n_syn, "synapses")
        write_parquet(pa.table({
            "id": pa.array(syn["id"], pa.int64()),
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
