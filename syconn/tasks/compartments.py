"""Compartments (SyConn step 7, axoness): every skeleton node labelled, synapses and cells told.

``CompartmentShard[shard]`` labels the nodes of the skeletons of one skeleton merge shard
(features from the skeleton and the cell's own organelles, :mod:`syconn.ml.compartments`) and
writes ``compartments-<hash>-<model>/nodes/shard_NNN.parquet`` (``cell_id``, ``node``,
``compartment``).  ``Compartments`` reduces them: the compartment of each partner at every
synapse (the label of the partner's skeleton node nearest the synapse, within
:data:`MAX_NODE_DIST_NM`) into ``synapses.comp_pre`` / ``comp_post``, and per cell and
compartment the cable, nodes, separate runs (boutons: one each) and synapses in and out into
``cell_compartments``.  Off with ``compartments.enabled: false``.
"""

from __future__ import annotations

from pathlib import Path

import luigi
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from syconn import read as read_side

from syconn.tasks.base import (
    DBTarget, SyconnTask, WorkingDirParameter, read_parquet, write_parquet,
)
from syconn.tasks.morphology import (
    CellMorphology, SkeletonMerge, n_merge_shards, skeleton_cubes, skeleton_dir,
)
from syconn.tasks.organelles import KINDS, Organelles
from syconn.tasks.synapses import Synapses

__all__ = ["CompartmentShard", "Compartments", "CompartmentInputs", "compartment_model",
           "compartment_dir",
           "MAX_NODE_DIST_NM", "synapse_compartments", "compartment_summary",
           "oriented_synapses"]

#: a synapse farther than this from every node of a partner's skeleton gets no compartment
MAX_NODE_DIST_NM = 3000.0


def compartment_model(cfg, working_dir):
    """The compartment model of a working directory's config
    (:func:`syconn.read.compartment_model`)."""
    return read_side.compartment_model(working_dir, cfg)


def compartment_dir(task) -> Path:
    """``steps/compartments-<settings hash>-<model digest>``
    (:func:`syconn.read.compartment_dir`)."""
    return read_side.compartment_dir(task.wd, task.cfg, task.model)


class CompartmentInputs(luigi.WrapperTask):
    """What the compartment step reads (skeletons and their status, organelles, synapses),
    without the step: training volumes are processed this far before any model exists."""

    working_dir = WorkingDirParameter(description="syconn working directory")

    def requires(self):
        yield CellMorphology(working_dir=self.working_dir)
        yield Synapses(working_dir=self.working_dir)
        for k in KINDS:
            yield Organelles(working_dir=self.working_dir, kind=k)


class _ModelTask(SyconnTask):
    @property
    def model(self):
        if getattr(self, "_model", None) is None:
            self._model = compartment_model(self.cfg, self.working_dir)
        return self._model


class CompartmentShard(_ModelTask):
    """Node labels of the skeletons of one merge shard -> ``nodes/shard_NNN.parquet``."""

    shard = luigi.IntParameter()

    def requires(self):
        return {"skeletons": SkeletonMerge(working_dir=self.working_dir, shard=self.shard),
                "organelles": [Organelles(working_dir=self.working_dir, kind=k) for k in KINDS]}

    def output(self):
        return luigi.LocalTarget(str(compartment_dir(self) / "nodes"
                                     / f"shard_{self.shard:03d}.parquet"))

    def run(self):
        from syconn.compartments import cell_organelles
        from syconn.io.skeletons import SkeletonStore
        from syconn.proc.compartments import node_features

        stats = read_parquet(self.input()["skeletons"].path)
        ids = stats["id"].to_numpy()[stats["n_nodes"].to_numpy() > 0]
        objs = pa.concat_tables([read_parquet(o["objects"].path).select(
            ["kind", "cell_id", "rep_x", "rep_y", "rep_z", "size_vx"])
            for o in self.input()["organelles"]])
        objs = objs.filter(pc.is_valid(objs["cell_id"]))
        orgs = cell_organelles({c: objs[c].to_numpy(zero_copy_only=False)
                                for c in objs.column_names}, self.cfg.dataset.voxel_size_nm)
        store = SkeletonStore(skeleton_dir(self) / "store")
        smooth = self.cfg.compartments.smooth_um
        skels = store.get_many(ids.tolist())
        cid, node, comp = [], [], []
        for n, c in enumerate(sorted(skels)):
            sk = skels[c]
            feats = node_features(sk.vertices, sk.edges, sk.radii_nm, orgs.get(int(c)))
            lab, _ = self.model.predict(sk.vertices, sk.edges, feats, smooth_um=smooth)
            cid.append(np.full(len(lab), c, np.int64))
            node.append(np.arange(len(lab), dtype=np.int64))
            comp.append(lab.astype(np.int8))
            if n % 50 == 0:
                self.progress(n, len(ids), "skeletons labelled")
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
        write_parquet(pa.table({"cell_id": cat(cid, np.int64), "node": cat(node, np.int64),
                                "compartment": cat(comp, np.int8)}), self.output().path)


def synapse_compartments(rep_nm: np.ndarray, cells: np.ndarray, skeletons: dict,
                         labels: dict, max_dist_nm: float = MAX_NODE_DIST_NM) -> np.ndarray:
    """Per synapse, the label of the nearest node of its partner ``cells[i]``'s skeleton
    (``skeletons``: {cell: vertices nm}; ``labels``: {cell: node labels}); -1 where the cell has
    no skeleton or no node within ``max_dist_nm``.

    >>> sk = {7: np.array([[0, 0, 0], [1000, 0, 0.]])}
    >>> synapse_compartments(np.array([[900, 0, 0], [0, 0, 0], [0, 0, 5000.]]),
    ...                      np.array([7, 8, 7]), sk, {7: np.array([0, 1])}).tolist()
    [1, -1, -1]
    """
    from scipy.spatial import cKDTree

    rep = np.asarray(rep_nm, np.float64).reshape(-1, 3)
    cells = np.asarray(cells)
    out = np.full(len(rep), -1, np.int64)
    for c in np.unique(cells):
        v = skeletons.get(int(c))
        if v is None or not len(v):
            continue
        sel = np.flatnonzero(cells == c)
        d, i = cKDTree(np.asarray(v, np.float64)).query(rep[sel])
        ok = d <= max_dist_nm
        out[sel[ok]] = np.asarray(labels[int(c)])[i[ok]]
    return out


def compartment_summary(cell_ids: np.ndarray, skeletons: dict, labels: dict,
                        syn_in: tuple[np.ndarray, np.ndarray],
                        syn_out: tuple[np.ndarray, np.ndarray]) -> pa.Table:
    """``cell_compartments`` rows: per cell and compartment it has, cable (bridges left out),
    nodes, runs along the skeleton, synapses in and out (``syn_in`` / ``syn_out``: the cell
    and compartment of each synapse's post / pre partner)."""
    from syconn.proc.compartments import COMPARTMENTS, cable_per_class
    from syconn.proc.glia import component_labels

    k = len(COMPARTMENTS)
    rows = {n: [] for n in ("cell_id", "compartment", "cable_um", "n_nodes", "n_objects")}
    for c in np.asarray(cell_ids).tolist():
        sk, lab = skeletons[c], np.asarray(labels[c], np.int64)
        e = sk.edges.astype(np.int64)
        cable = cable_per_class(sk.vertices, e, lab, k, bridges=sk.bridges)
        same = e[lab[e[:, 0]] == lab[e[:, 1]]] if len(e) else e
        comp = component_labels(len(lab), same)
        for cls in np.unique(lab):
            sel = lab == cls
            rows["cell_id"].append(c)
            rows["compartment"].append(int(cls))
            rows["cable_um"].append(float(cable[cls]))
            rows["n_nodes"].append(int(sel.sum()))
            rows["n_objects"].append(int(len(np.unique(comp[sel]))))
    cid = np.asarray(rows["cell_id"], np.int64)
    cc = np.asarray(rows["compartment"], np.int64)

    def count(pairs):
        pc, pk = (np.asarray(a, np.int64) for a in pairs)
        key = cid * k + cc
        got, n = np.unique(pc[pk >= 0] * k + pk[pk >= 0], return_counts=True)
        pos = np.searchsorted(got, key)
        hit = (pos < len(got)) & (got[np.minimum(pos, len(got) - 1)] == key) if len(got) else \
            np.zeros(len(key), bool)
        out = np.zeros(len(key), np.int64)
        out[hit] = n[pos[hit]]
        return out

    return pa.table({"cell_id": pa.array(cid, pa.int64()),
                     "compartment": pa.array(cc, pa.int16()),
                     "name": pa.array([COMPARTMENTS[i] for i in cc], pa.string()),
                     "cable_um": pa.array(rows["cable_um"], pa.float64()),
                     "n_nodes": pa.array(rows["n_nodes"], pa.int64()),
                     "n_objects": pa.array(rows["n_objects"], pa.int64()),
                     "n_syn_in": pa.array(count(syn_in), pa.int64()),
                     "n_syn_out": pa.array(count(syn_out), pa.int64())})


def oriented_synapses(syn: pa.Table, comp_a: np.ndarray, comp_b: np.ndarray,
                      columns) -> pa.Table:
    """The ``synapses`` columns that change with the direction, re-oriented by the partners'
    compartments: ``id``, ``cell_pre``, ``cell_post``, ``comp_pre``, ``comp_post``,
    ``direction_source`` and every pair ``<name>_pre`` / ``<name>_post`` of ``columns`` (the
    table's) that ``syn`` holds.

    ``syn`` holds the synapse step's rows (vesicle rule: ``cell_pre`` NULL where undecided, the
    ``_pre`` features then ``cell_a``'s); ``comp_a`` / ``comp_b`` the compartment of ``cell_a``
    / ``cell_b`` at each synapse (-1: none).  Where the compartments decide
    (:func:`~syconn.proc.compartments.compartment_direction`) they set the direction, the vesicle
    rule elsewhere (:func:`~syconn.proc.compartments.combine_direction`); a row whose direction
    turns has its ``_pre`` and ``_post`` values swapped.  Undecided rows keep ``cell_a`` as
    ``_pre`` (``comp_pre`` is ``cell_a``'s) with ``cell_pre`` / ``cell_post`` NULL.

    >>> syn = pa.table({"id": [1, 2, 3], "cell_a": [5, 5, 5], "cell_b": [9, 9, 9],
    ...                 "cell_pre": [9, 5, None], "cell_post": [5, 9, None],
    ...                 "n_vc_vxs_pre": [40, 30, 0], "n_vc_vxs_post": [2, 1, 0]})
    >>> t = oriented_synapses(syn, np.array([1, 0, 0]), np.array([0, 0, 1]),
    ...                       ["n_vc_vxs_pre", "n_vc_vxs_post"])
    >>> t.select(["cell_pre", "n_vc_vxs_pre", "comp_pre", "direction_source"]).to_pylist()[0]
    {'cell_pre': 5, 'n_vc_vxs_pre': 2, 'comp_pre': 1, 'direction_source': 'compartments'}
    >>> t["cell_pre"].to_pylist(), t["direction_source"].to_pylist()
    ([5, 5, 9], ['compartments', 'vesicles', 'compartments'])
    """
    from syconn.proc.compartments import DIRECTION_SOURCES, combine_direction, \
        compartment_direction

    a = syn["cell_a"].to_numpy().astype(np.int64)
    b = syn["cell_b"].to_numpy().astype(np.int64)
    pre = pc.fill_null(syn["cell_pre"], -1).to_numpy().astype(np.int64)
    vesicle = np.where(pre < 0, 0, np.where(pre == a, 1, -1)).astype(np.int8)
    comp_a, comp_b = np.asarray(comp_a, np.int64), np.asarray(comp_b, np.int64)
    direction, source = combine_direction(vesicle, compartment_direction(comp_a, comp_b))
    known = direction != 0
    b_pre = direction == -1
    flip = b_pre != (vesicle == -1)  # the synapse step stored cell_b's values as _pre there
    names = np.array(DIRECTION_SOURCES + (None,), object)
    out = {"id": syn["id"].cast(pa.int64()),
           "cell_pre": pa.array(np.where(b_pre, b, a), pa.int64(), mask=~known),
           "cell_post": pa.array(np.where(b_pre, a, b), pa.int64(), mask=~known)}
    c_pre, c_post = np.where(b_pre, comp_b, comp_a), np.where(b_pre, comp_a, comp_b)
    out["comp_pre"] = pa.array(np.where(c_pre >= 0, c_pre, None), pa.int16())
    out["comp_post"] = pa.array(np.where(c_post >= 0, c_post, None), pa.int16())
    out["direction_source"] = pa.array(names[source], pa.string())
    have = set(syn.column_names)
    m = pa.array(flip)
    for name in columns:
        base = name[:-4]
        if not name.endswith("_pre") or base in ("cell", "comp") or f"{base}_post" not in have \
                or name not in have:
            continue
        x, y = syn[name].combine_chunks(), syn[f"{base}_post"].combine_chunks()
        out[name] = pc.if_else(m, y, x)
        out[f"{base}_post"] = pc.if_else(m, x, y)
    return pa.table(out)


class Compartments(_ModelTask):
    """Synapse partner compartments and ``cell_compartments`` -> SQL."""

    def requires(self):
        n = n_merge_shards(len(skeleton_cubes(self)))
        return {"shards": [CompartmentShard(working_dir=self.working_dir, shard=k)
                           for k in range(n)],
                "synapses": Synapses(working_dir=self.working_dir)}

    def db_task_id(self) -> str:
        return f"{super().db_task_id('min_cc_size_ssv', 'skeleton', 'compartments')}" \
               f"+model-{self.model.digest[:8]}"

    def output(self):
        return DBTarget(self.working_dir, self.db_task_id())

    def run(self):
        from syconn.db import bulk_load_many, bulk_update
        from syconn.io.skeletons import SkeletonStore

        nodes = pa.concat_tables([read_parquet(t.path) for t in self.input()["shards"]])
        cid = nodes["cell_id"].to_numpy()
        comp = nodes["compartment"].to_numpy().astype(np.int64)
        order = np.lexsort((nodes["node"].to_numpy(), cid))
        cid, comp = cid[order], comp[order]
        cells, start = np.unique(cid, return_index=True)
        labels = dict(zip(cells.tolist(), np.split(comp, start[1:]))) if len(cells) else {}
        store = SkeletonStore(skeleton_dir(self) / "store")
        skels = store.get_many(cells.tolist())
        verts = {c: s.vertices for c, s in skels.items()}
        syn = read_parquet(self.input()["synapses"]["synapses"].path)
        vs = np.asarray(self.cfg.dataset.voxel_size_nm, np.float64)
        rep = np.stack([syn[f"rep_{a}"].to_numpy() for a in "xyz"], 1) * vs
        from syconn.db.tables import synapses as syn_table

        c_a, c_b = (synapse_compartments(rep, syn[f"cell_{s}"].to_numpy().astype(np.int64),
                                         verts, labels) for s in ("a", "b"))
        upd = oriented_synapses(syn, c_a, c_b, [c.name for c in syn_table.columns])
        pre, post = (pc.fill_null(upd[f"cell_{s}"], -1).to_numpy().astype(np.int64)
                     for s in ("pre", "post"))
        c_pre, c_post = (pc.fill_null(upd[f"comp_{s}"], -1).to_numpy().astype(np.int64)
                         for s in ("pre", "post"))
        above = syn["syn_prob"].to_numpy() > self.cfg.cell_objects.thresh_synssv_proba
        summary = compartment_summary(cells, skels, labels, (post[above], c_post[above]),
                                      (pre[above], c_pre[above]))
        task = {"task_id": self.db_task_id(), "task_family": "Compartments"}
        bulk_load_many(self.engine, [("cell_compartments", summary, "all")])
        bulk_update(self.engine, "synapses", upd, task=task)
        self.progress(1, 1, "compartments loaded")
