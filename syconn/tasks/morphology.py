"""Cell morphology: meshes of cells, organelles and synapses; cell skeletons (reference §3.1-3.2).

Tasks
-----
``MeshBlock[kind, block]``
    zmesh on one block (kind ``cells``, ``mi``, ``vc`` or ``sj``): the block core plus an upper
    overlap of one downsampled voxel, the contract of :mod:`syconn.proc.meshes`, so pieces of an
    object from neighbouring blocks share bit-identical vertices on the block faces.  Cells are
    the segmentation mapped through ``sv_to_cell``; organelles are the stitched ``labels.zarr``
    restricted to the objects that passed the size filter.  Objects with fewer than
    ``meshes.mesh_min_obj_vx`` voxels get no mesh (the original: an empty one).
``MeshMerge[kind, shard]``
    Welds (exactly, no duplicated vertices along block faces, unlike the original's per-chunk
    concatenation) and smooths the pieces of the objects of one merge shard, stores them in the
    sharded :class:`~syconn.io.meshes.MeshStore` and writes area, volume and closedness per object.
``SynapseMeshes``
    One mesh per synapse from its voxels, max-pooled to the sj downsampling (striding, as for
    blocks, would drop parts of a one-voxel-thick cleft; the original reconstructs synapse surfaces
    from points with Poisson instead).
``SkeletonBlock[cube]`` / ``SkeletonMerge[shard]``
    kimimaro TEASAR per skeletonization cube (``skeleton.block_shape``: 768x768x512 against the
    original's 1024x1024x512, to stay near 2 GB per worker), larger than the processing blocks
    because TEASAR's paths end on cube faces and cubes not much wider than its invalidation
    radius give block-dependent skeletons.  Same overlap contract, downsampling
    ``voxel_z // voxel``.  Merged into one connected tree per cell; straight *bridges* that
    only connect components (parts of a cell that leave the volume and come back) are not
    counted in ``cable_length_um`` (their number and length are in the merge shard's stats).
    Cells whose bounding-box diagonal is below ``min_cc_size_ssv`` (5 µm; the original drops
    such cells altogether) get no skeleton and ``skeleton_status = 'too_small'``; a cell large
    enough for which kimimaro finds no path (every cube piece below the dust threshold) gets
    ``'empty'``.
``CellMorphology``
    Per cell ``mesh_area_um2``, ``volume_um3``, ``cable_length_um``, ``n_branch_points``,
    ``n_tips``, ``n_skeleton_nodes`` and ``skeleton_status`` into SQL in one transaction.
``Morphology``
    All of the above.

Merge shards: an object goes to shard ``id % n`` with ``n = ceil(blocks / 4)`` (at most 256), so a
merge task holds about four blocks' worth of pieces whatever the volume size.  Each block writes
one pieces file holding its pieces grouped by merge shard; a merge task reads only its own
groups.  The stores live in the step folders (``mesh_store`` / ``skeleton_store`` find them).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import fastremap
import luigi
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from syconn import read as read_side
from syconn.config import load_config
from syconn.io import open_volume
from syconn.io.meshes import MeshStore
from syconn.io.skeletons import SkeletonStore
from syconn.proc.meshes import (
    Mesh,
    boundary_edges,
    merge_meshes,
    mesh_area_nm2,
    mesh_block,
    mesh_voxel_set,
    mesh_volume_nm3,
)
from syconn.proc.skeletons import (
    Skeleton,
    merge_skeletons,
    skeleton_components,
    skeleton_downsampling,
    skeleton_stats,
    skeletonize_block,
    tip_retraction_args,
)
from syconn.tasks.base import DBTarget, SyconnTask, atomic_path, block_grid, read_parquet
from syconn.tasks.base import write_parquet
from syconn.tasks.organelles import Organelles, organelle_dir
from syconn.tasks.supervoxels import Cells, cell_labels, read_cell_table, read_sv_to_cell
from syconn.tasks.synapses import Synapses, synapses_dir

__all__ = ["MESH_KINDS", "MeshBlock", "MeshMerge", "Meshes", "SynapseMeshes", "SkeletonBlock",
           "SkeletonMerge", "Skeletons", "CellMorphology", "Morphology", "mesh_store",
           "skeleton_store", "skeleton_merge_args", "n_merge_shards", "MORPHOLOGY_COLUMNS"]

MESH_KINDS = ("cells", "mi", "vc", "sj")
BLOCKS_PER_MERGE_SHARD = 4
MAX_MERGE_SHARDS = 256
_PUT_BATCH = 256  # objects per MeshStore/SkeletonStore write

#: the cells columns CellMorphology fills (and resets first)
MORPHOLOGY_COLUMNS = ("mesh_area_um2", "volume_um3", "cable_length_um", "n_branch_points",
                      "n_tips", "n_skeleton_nodes", "skeleton_status")


def n_merge_shards(n_blocks: int) -> int:
    """Number of merge shards for a grid of ``n_blocks`` blocks."""
    return max(1, min(MAX_MERGE_SHARDS, -(-int(n_blocks) // BLOCKS_PER_MERGE_SHARD)))


# --------------------------------------------------------------------------------------------
# where things live
# --------------------------------------------------------------------------------------------

def mesh_dir(task: SyconnTask, kind: str) -> Path:
    """Folder of the meshes of ``kind`` (:func:`syconn.read.mesh_dir`)."""
    return read_side.mesh_dir(task.wd, task.cfg, kind)


def skeleton_dir(task: SyconnTask) -> Path:
    """Folder of the cell skeletons (:func:`syconn.read.skeleton_dir`)."""
    return read_side.skeleton_dir(task.wd, task.cfg)


def mesh_store(working_dir: str | Path, kind: str) -> MeshStore:
    """The mesh store of ``kind`` (``cells``, ``mi``, ``vc``, ``sj`` or ``syn``) of a working
    directory, for the current config (it need not exist yet)."""
    if kind not in MESH_KINDS + ("syn",):
        raise ValueError(f"kind: got {kind!r}, expected one of {MESH_KINDS + ('syn',)}")
    return MeshStore(read_side.mesh_dir(working_dir, load_config(working_dir), kind) / "store")


def skeleton_store(working_dir: str | Path) -> SkeletonStore:
    """The cell skeleton store of a working directory, for the current config."""
    return SkeletonStore(read_side.skeleton_dir(working_dir, load_config(working_dir)) / "store")


# --------------------------------------------------------------------------------------------
# pieces files: per block, the pieces of every object grouped by merge shard
# --------------------------------------------------------------------------------------------

def write_pieces(path: str | Path, objects: Mapping[int, Sequence[np.ndarray]],
                 n_shards: int) -> None:
    """Write ``{id: (array, ...)}`` (every array with one row per element) as one ``.npz``:
    per shard ``s{k}.ids`` and per field ``s{k}.f{j}`` (rows concatenated) and ``s{k}.n{j}``."""
    arrays: dict[str, np.ndarray] = {}
    ids = np.asarray(sorted(int(i) for i in objects), np.uint64)
    shard = ids % np.uint64(n_shards)
    for k in np.unique(shard).tolist():
        sel = ids[shard == k]
        arrays[f"s{k}.ids"] = sel
        n_fields = len(objects[int(sel[0])])
        for j in range(n_fields):
            parts = [np.asarray(objects[int(i)][j]) for i in sel.tolist()]
            arrays[f"s{k}.n{j}"] = np.asarray([len(p) for p in parts], np.int64)
            arrays[f"s{k}.f{j}"] = np.concatenate(parts)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def read_pieces(paths: Sequence[str | Path], shard: int) -> dict[int, list[tuple]]:
    """``{id: [pieces]}`` of one merge shard from the pieces files of all blocks."""
    out: dict[int, list[tuple]] = {}
    for p in paths:
        with np.load(p) as z:
            if f"s{shard}.ids" not in z.files:
                continue
            ids = z[f"s{shard}.ids"]
            fields = []
            j = 0
            while f"s{shard}.f{j}" in z.files:
                bounds = np.cumsum(z[f"s{shard}.n{j}"])[:-1]
                fields.append(np.split(z[f"s{shard}.f{j}"], bounds))
                j += 1
            for i, oid in enumerate(ids.tolist()):
                out.setdefault(int(oid), []).append(tuple(f[i] for f in fields))
    return out


# --------------------------------------------------------------------------------------------
# shared block reading
# --------------------------------------------------------------------------------------------

class _BlockTask(SyconnTask):
    block_index = luigi.IntParameter()

    def read_block(self, kind: str, ds: Sequence[int]) -> np.ndarray:
        """Labels of the block core plus an upper overlap of ``ds`` voxels (inside the volume):
        cell ids for ``kind == 'cells'``, global organelle ids otherwise."""
        b = self.block(self.block_index)
        end = np.minimum(np.asarray(b.end) + np.asarray(ds), self.dataset_shape())
        shape = tuple(int(v) for v in end - np.asarray(b.offset))
        if kind == "cells":
            return cell_labels(self.read_seg(b.offset, shape), *read_sv_to_cell(self))
        with open_volume(organelle_dir(self, kind) / "labels.zarr") as vol:
            return vol.read(b.offset, shape)


def _select(labels: np.ndarray, allowed: np.ndarray) -> np.ndarray | None:
    """The allowed labels present in ``labels`` (``None``: all present ones are allowed)."""
    present = fastremap.unique(labels)
    present = present[present != 0].astype(np.uint64)
    want = np.intersect1d(present, allowed.astype(np.uint64))
    return None if len(want) == len(present) else want


def _mesh_candidates(task: SyconnTask, kind: str) -> np.ndarray:
    """Ids of objects of ``kind`` with at least ``mesh_min_obj_vx`` voxels."""
    t = read_cell_table(task) if kind == "cells" else \
        read_parquet(organelle_dir(task, kind) / "objects.parquet")
    size = t["size_vx"].to_numpy()
    return t["id"].to_numpy()[size >= task.cfg.meshes.mesh_min_obj_vx].astype(np.uint64)


def _mesh_downsampling(cfg, kind: str) -> tuple[int, int, int]:
    return tuple(getattr(cfg.meshes.downsampling, "sv" if kind == "cells" else kind))


# --------------------------------------------------------------------------------------------
# meshes
# --------------------------------------------------------------------------------------------

class MeshBlock(_BlockTask):
    """Mesh pieces of one block -> ``meshes_<kind>-<hash>/blocks/block_NNNNN.npz``."""

    kind = luigi.ChoiceParameter(choices=MESH_KINDS)

    def requires(self):
        if self.kind == "cells":
            return Cells(working_dir=self.working_dir)
        return Organelles(working_dir=self.working_dir, kind=self.kind)

    def output(self):
        return luigi.LocalTarget(str(mesh_dir(self, self.kind) / "blocks"
                                     / f"block_{self.block_index:05d}.npz"))

    def run(self):
        cfg = self.cfg
        b = self.block(self.block_index)
        ds = _mesh_downsampling(cfg, self.kind)
        labels = self.read_block(self.kind, ds)
        ids = _select(labels, _mesh_candidates(self, self.kind))
        props = cfg.meshes.meshing_props
        pieces = {} if ids is not None and not len(ids) else mesh_block(
            labels, voxel_size_nm=cfg.dataset.voxel_size_nm, offset_xyz=b.offset,
            downsampling=ds, simplification_factor=props.simplification_factor,
            max_simplification_error_nm=props.max_simplification_error, ids=ids,
            core_shape_xyz=b.shape, volume_shape_xyz=self.dataset_shape())
        write_pieces(self.output().path, {i: (m.vertices, m.faces) for i, m in pieces.items()},
                     n_merge_shards(len(self.blocks)))


def _mesh_row(oid: int, mesh: Mesh) -> tuple:
    return (oid, mesh.n_vertices, mesh.n_faces, mesh_area_nm2(mesh) / 1e6,
            mesh_volume_nm3(mesh) / 1e9, len(boundary_edges(mesh)) == 0)


def _mesh_stats(rows: list[tuple]) -> pa.Table:
    cols = list(zip(*rows)) if rows else [[]] * 6
    return pa.table({"id": pa.array(cols[0], pa.uint64()),
                     "n_vertices": pa.array(cols[1], pa.int64()),
                     "n_faces": pa.array(cols[2], pa.int64()),
                     "area_um2": pa.array(cols[3], pa.float64()),
                     "volume_um3": pa.array(cols[4], pa.float64()),
                     "closed": pa.array(cols[5], pa.bool_())})


class _StoreWriter:
    """Buffered ``put_many`` into a sharded store."""

    def __init__(self, store):
        self.store, self.buf = store, {}

    def put(self, oid: int, obj) -> None:
        self.buf[oid] = obj
        if len(self.buf) >= _PUT_BATCH:
            self.flush()

    def flush(self) -> None:
        self.store.put_many(self.buf)
        self.buf = {}


class MeshMerge(SyconnTask):
    """Welded, smoothed meshes of one merge shard -> the mesh store and ``stats/shard_NNN.parquet``."""

    kind = luigi.ChoiceParameter(choices=MESH_KINDS)
    shard = luigi.IntParameter()

    def requires(self):
        return [MeshBlock(working_dir=self.working_dir, kind=self.kind, block_index=b.index)
                for b in self.blocks]

    def output(self):
        return luigi.LocalTarget(str(mesh_dir(self, self.kind) / "stats"
                                     / f"shard_{self.shard:03d}.parquet"))

    def run(self):
        pieces = read_pieces([t.path for t in self.input()], self.shard)
        writer = _StoreWriter(MeshStore(mesh_dir(self, self.kind) / "store"))
        rows = []
        for n, oid in enumerate(sorted(pieces)):
            mesh = merge_meshes([Mesh(v, f) for v, f in pieces.pop(oid)],
                                smoothing_iterations=self.cfg.meshes.smoothing_iterations)
            rows.append(_mesh_row(oid, mesh))
            writer.put(oid, mesh)
            if n % 100 == 0:
                self.progress(n, len(rows) + len(pieces), "meshes merged")
        writer.flush()
        write_parquet(_mesh_stats(rows), self.output().path)


class _Wrapper(SyconnTask):
    """Complete when everything it requires is."""

    def complete(self):
        return all(r.complete() for r in luigi.task.flatten(self.requires()))


class Meshes(_Wrapper):
    """All meshes of one kind (wrapper)."""

    kind = luigi.ChoiceParameter(choices=MESH_KINDS)

    def requires(self):
        return [MeshMerge(working_dir=self.working_dir, kind=self.kind, shard=k)
                for k in range(n_merge_shards(len(self.blocks)))]


class SynapseMeshes(SyconnTask):
    """One mesh per synapse -> the ``syn`` mesh store and ``meshes_syn-<hash>/stats.parquet``."""

    def requires(self):
        return Synapses(working_dir=self.working_dir)

    def output(self):
        return luigi.LocalTarget(str(mesh_dir(self, "syn") / "stats.parquet"))

    def run(self):
        cfg = self.cfg
        path = synapses_dir(self) / "membership.parquet"
        n_total = pq.ParquetFile(path).metadata.num_rows
        writer = _StoreWriter(MeshStore(mesh_dir(self, "syn") / "store"))
        props = cfg.meshes.meshing_props
        rows = []
        done = 0
        for oid, xyz in synapse_voxels(path):
            mesh = mesh_voxel_set(xyz, voxel_size_nm=cfg.dataset.voxel_size_nm,
                                  downsampling=cfg.meshes.downsampling.sj,
                                  simplification_factor=props.simplification_factor,
                                  max_simplification_error_nm=props.max_simplification_error)
            rows.append(_mesh_row(oid, mesh))
            writer.put(oid, mesh)
            done += len(xyz)
            if len(rows) % 200 == 1:
                self.progress(done, n_total, "synapse voxels meshed")
        writer.flush()
        rows.sort(key=lambda r: r[0])  # by id, as the store
        write_parquet(_mesh_stats(rows), self.output().path)


def synapse_voxels(path, *, batch_rows: int = 1 << 18):
    """``(synapse id, (n, 3) voxels)`` of a membership file (``SynapseFeatures``: every
    synapse's rows together), one synapse at a time, reading it a batch of rows at a time;
    the rows of a synapse that runs past a batch are carried over to the next."""
    seen: set[int] = set()
    carry_sid = np.zeros(0, np.uint64)
    carry_xyz = np.zeros((0, 3), np.int64)
    batches = pq.ParquetFile(path).iter_batches(batch_size=batch_rows,
                                                columns=["synapse_id", "x", "y", "z"])
    for batch in itertools.chain(batches, [None]):
        if batch is None:  # the end: what is carried is complete
            sid, xyz, keep = carry_sid, carry_xyz, len(carry_sid)
        else:
            sid = np.concatenate([carry_sid, batch.column(0).to_numpy().astype(np.uint64)])
            xyz = np.concatenate([carry_xyz, np.stack(
                [batch.column(k).to_numpy().astype(np.int64) for k in (1, 2, 3)], axis=1)])
            # the last synapse of the batch may go on in the next
            keep = int(np.flatnonzero(sid != sid[-1])[-1]) + 1 if np.any(sid != sid[-1]) else 0
        starts = np.flatnonzero(np.r_[True, sid[1:keep] != sid[:keep - 1]]) if keep else []
        bounds = np.r_[starts, keep]
        for a, b in zip(bounds[:-1], bounds[1:]):
            oid = int(sid[a])
            if oid in seen:
                raise RuntimeError(f"{path}: the rows of synapse {oid} are not together; "
                                   f"rerun SynapseFeatures")
            seen.add(oid)
            yield oid, xyz[a:b]
        carry_sid, carry_xyz = sid[keep:], xyz[keep:]


# --------------------------------------------------------------------------------------------
# skeletons
# --------------------------------------------------------------------------------------------

def skeleton_candidates(cells: pa.Table, voxel_size_nm: Sequence[float],
                        min_diagonal_nm: float) -> np.ndarray:
    """Boolean per cell row: bounding-box diagonal (nm) at least ``min_diagonal_nm``."""
    ext = np.stack([cells[f"bb_max_{a}"].to_numpy() - cells[f"bb_min_{a}"].to_numpy()
                    for a in "xyz"], axis=1) * np.asarray(voxel_size_nm, np.float64)
    return np.linalg.norm(ext, axis=1) >= min_diagonal_nm


def skeleton_cubes(task: SyconnTask):
    """The skeletonization grid (``skeleton.block_shape``)."""
    return block_grid(task.dataset_shape(), task.cfg.skeleton.block_shape)


def teasar_params(cfg) -> dict[str, float]:
    sk = cfg.skeleton.kimimaro_skelgen
    return {k: getattr(sk, k) for k in (
        "scale", "const", "pdrf_scale", "pdrf_exponent", "soma_detection_threshold",
        "soma_acceptance_threshold", "soma_invalidation_scale", "soma_invalidation_const",
        "max_paths")}


class SkeletonBlock(SyconnTask):
    """kimimaro skeletons of the cells in one skeletonization cube (``skeleton.block_shape``,
    768x768x512 by default) -> ``skeletons-<hash>/blocks/block_NNNNN.npz``.

    The cube is read in slabs and downsampled on the fly, so only the downsampled cube (plus
    one slab) is in memory; cell ids are renumbered to the smallest dtype for kimimaro.
    """

    block_index = luigi.IntParameter()

    def requires(self):
        return Cells(working_dir=self.working_dir)

    def output(self):
        return luigi.LocalTarget(str(skeleton_dir(self) / "blocks"
                                     / f"block_{self.block_index:05d}.npz"))

    def read_downsampled(self, b, ds: np.ndarray) -> np.ndarray:
        """Cell ids of cube ``b`` plus one downsampled voxel of upper overlap, strided by ``ds``."""
        vol = np.asarray(self.dataset_shape())
        off = np.asarray(b.offset)
        end = np.minimum(np.asarray(b.end) + ds, vol)
        out = np.zeros(tuple(-(-(end - off) // ds)), np.uint64, order="F")
        slab = int(ds[2]) * max(1, 64 // int(ds[2]))
        for z0 in range(int(off[2]), int(end[2]), slab):
            nz = min(slab, int(end[2]) - z0)
            data = self.read_seg((int(off[0]), int(off[1]), z0),
                                 (int(end[0] - off[0]), int(end[1] - off[1]), nz))
            k = (z0 - int(off[2])) // int(ds[2])
            sub = data[::ds[0], ::ds[1], ::ds[2]]
            out[:, :, k:k + sub.shape[2]] = sub
        return cell_labels(out, *read_sv_to_cell(self))

    def run(self):
        cfg = self.cfg
        cubes = skeleton_cubes(self)
        b = cubes[self.block_index]
        vs = np.asarray(cfg.dataset.voxel_size_nm, np.float64)
        ds = np.asarray(skeleton_downsampling(vs), np.int64)
        labels = self.read_downsampled(b, ds)
        cells = read_cell_table(self)
        ok = skeleton_candidates(cells, vs, cfg.min_cc_size_ssv)
        ids = _select(labels, cells["id"].to_numpy()[ok])
        skels = {}
        if ids is None or len(ids):
            labels, remap = fastremap.renumber(labels, in_place=True)   # compact ids for kimimaro
            back = {int(v): int(k) for k, v in remap.items() if k != 0}
            want = None if ids is None else [remap[int(i)] for i in ids]
            sk = cfg.skeleton.kimimaro_skelgen
            got = skeletonize_block(
                labels, voxel_size_nm=vs * ds, offset_xyz=np.asarray(b.offset) // ds,
                downsampling=(1, 1, 1), teasar_params=teasar_params(cfg),
                dust_threshold=sk.dust_threshold, fix_branching=sk.fix_branching,
                fill_holes=sk.fill_holes, ids=want,
                core_shape_xyz=-(-np.asarray(b.shape) // ds),
                volume_shape_xyz=-(-np.asarray(self.dataset_shape()) // ds))
            skels = {back[i]: s for i, s in got.items()}
        write_pieces(self.output().path,
                     {i: (s.vertices, s.edges, s.radii_nm) for i, s in skels.items()},
                     n_merge_shards(len(cubes)))


def skeleton_merge_args(cfg, shape_xyz: Sequence[int]) -> dict:
    """The :func:`~syconn.proc.skeletons.merge_skeletons` keywords of ``SkeletonMerge`` for
    config ``cfg`` and a volume of ``shape_xyz`` voxels: all from the ``skeleton`` section (so
    :func:`syconn.read.skeleton_dir`'s hash covers them) and the voxel size."""
    sk = cfg.skeleton
    args = {"dust_threshold_nm": sk.kimimaro_merge.dust_threshold,
            "tick_threshold_nm": sk.kimimaro_merge.tick_threshold,
            "downsample": sk.downsample, "bend_tolerance": sk.bend_tolerance}
    if sk.retract_tips:
        args.update(tip_retraction_args(cfg.dataset.voxel_size_nm, shape_xyz))
    return args


class SkeletonMerge(SyconnTask):
    """One connected skeleton per cell of a merge shard -> the skeleton store and stats."""

    shard = luigi.IntParameter()

    def requires(self):
        return [SkeletonBlock(working_dir=self.working_dir, block_index=b.index)
                for b in skeleton_cubes(self)]

    def output(self):
        return luigi.LocalTarget(str(skeleton_dir(self) / "stats"
                                     / f"shard_{self.shard:03d}.parquet"))

    def run(self):
        args = skeleton_merge_args(self.cfg, self.dataset_shape())
        pieces = read_pieces([t.path for t in self.input()], self.shard)
        writer = _StoreWriter(SkeletonStore(skeleton_dir(self) / "store"))
        rows = []
        for n, oid in enumerate(sorted(pieces)):
            skel = merge_skeletons(
                [Skeleton(v, e, r) for v, e, r in pieces.pop(oid)], **args)
            cable, n_branch, n_tips = skeleton_stats(skel)              # bridges left out
            rows.append((oid, skel.n_vertices, cable, n_branch, n_tips,
                         skeleton_components(skel), int(skel.bridges.sum()),
                         skeleton_stats(skel, exclude_edges=~skel.bridges)[0]))
            if skel.n_vertices:
                writer.put(oid, skel)
            if n % 50 == 0:
                self.progress(n, len(rows) + len(pieces), "skeletons merged")
        writer.flush()
        cols = list(zip(*rows)) if rows else [[]] * 8
        write_parquet(pa.table({
            "id": pa.array(cols[0], pa.uint64()), "n_nodes": pa.array(cols[1], pa.int64()),
            "cable_length_um": pa.array(cols[2], pa.float64()),
            "n_branch_points": pa.array(cols[3], pa.int64()),
            "n_tips": pa.array(cols[4], pa.int64()),
            "n_components": pa.array(cols[5], pa.int64()),
            "n_bridges": pa.array(cols[6], pa.int64()),
            "bridge_length_um": pa.array(cols[7], pa.float64())}), self.output().path)


class Skeletons(_Wrapper):
    """All cell skeletons (wrapper)."""

    def requires(self):
        return [SkeletonMerge(working_dir=self.working_dir, shard=k)
                for k in range(n_merge_shards(len(skeleton_cubes(self))))]


# --------------------------------------------------------------------------------------------
# SQL
# --------------------------------------------------------------------------------------------

def cell_morphology_rows(cells: pa.Table, mesh_stats: pa.Table, skel_stats: pa.Table,
                         eligible: np.ndarray) -> pa.Table:
    """``cells`` morphology columns for every cell (NULL where there is no mesh / skeleton)."""
    ids = cells["id"].to_numpy().astype(np.int64)

    def position(t: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """Row of ``t`` for every cell, and whether there is one."""
        if not t.num_rows:
            return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
        tid = t["id"].to_numpy().astype(np.int64)
        order = np.argsort(tid)
        pos = np.minimum(np.searchsorted(tid[order], ids), len(tid) - 1)
        return order[pos], tid[order][pos] == ids

    def column(t: pa.Table, col: str, rows: np.ndarray, present: np.ndarray) -> pa.Array:
        vals = t[col].to_numpy()[rows] if t.num_rows else np.zeros(len(ids))
        return pa.array(vals, mask=~present)

    m_rows, has_mesh = position(mesh_stats)
    s_rows, has_skel = position(skel_stats)
    if skel_stats.num_rows:
        has_skel &= skel_stats["n_nodes"].to_numpy()[s_rows] > 0
    out = {"id": ids}
    for col in ("area_um2", "volume_um3"):
        out["mesh_area_um2" if col == "area_um2" else col] = \
            column(mesh_stats, col, m_rows, has_mesh)
    for col in ("cable_length_um", "n_branch_points", "n_tips"):
        out[col] = column(skel_stats, col, s_rows, has_skel)
    out["n_skeleton_nodes"] = column(skel_stats, "n_nodes", s_rows, has_skel)
    status = np.where(~eligible, "too_small", np.where(has_skel, "ok", "empty"))
    out["skeleton_status"] = pa.array(status.tolist(), pa.string())
    return pa.table(out)


class CellMorphology(SyconnTask):
    """Mesh area and volume, skeleton statistics and status of every cell -> SQL ``cells``."""

    def requires(self):
        return {"cells": Cells(working_dir=self.working_dir),
                "meshes": [MeshMerge(working_dir=self.working_dir, kind="cells", shard=k)
                           for k in range(n_merge_shards(len(self.blocks)))],
                "skeletons": [SkeletonMerge(working_dir=self.working_dir, shard=k)
                              for k in range(n_merge_shards(len(skeleton_cubes(self))))]}

    def db_task_id(self) -> str:
        return super().db_task_id("min_cc_size_ssv", "meshes", "skeleton")

    def output(self):
        return DBTarget(self.working_dir, self.db_task_id())

    def run(self):
        from syconn.db import bulk_update

        cfg = self.cfg
        cells = read_cell_table(self)
        meshes = pa.concat_tables([read_parquet(t.path) for t in self.input()["meshes"]])
        skels = pa.concat_tables([read_parquet(t.path) for t in self.input()["skeletons"]])
        eligible = skeleton_candidates(cells, cfg.dataset.voxel_size_nm, cfg.min_cc_size_ssv)
        rows = cell_morphology_rows(cells, meshes, skels, eligible)
        bulk_update(self.engine, "cells", rows, reset_columns=list(MORPHOLOGY_COLUMNS),
                    task={"task_id": self.db_task_id(), "task_family": "CellMorphology"})


class Morphology(_Wrapper):
    """Every mesh and skeleton, and the cell morphology in SQL (wrapper)."""

    def requires(self):
        yield CellMorphology(working_dir=self.working_dir)
        for kind in MESH_KINDS[1:]:
            yield Meshes(working_dir=self.working_dir, kind=kind)
        yield SynapseMeshes(working_dir=self.working_dir)
