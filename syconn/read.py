"""The read side: where a working directory keeps what the pipeline produced, and reading it.

Files.  Every step writes into ``WD/steps/<name>-<hash>``, ``hash`` being
:func:`settings_hash` of the config sections the step depends on (always ``dataset`` and
``inputs``), so a folder belongs to exactly one configuration and a changed setting makes
a new one.  The functions here (:func:`step_dir`, :func:`mesh_dir`, :func:`skeleton_dir`,
:func:`cells_dir`, ...) are the only place that naming lives: the Luigi tasks write where they
say, and everything that reads (CLI, export, evaluation, the server) finds the files through
them, for the working directory's current config.

- meshes: ``meshes_<kind>-<hash>/store`` (:class:`~syconn.io.meshes.MeshStore`), kind
  ``cells``, ``mi``, ``vc``, ``sj`` (organelles of at least ``meshes.mesh_min_obj_vx`` voxels)
  or ``syn`` (one per synapse); vertices in nm;
- skeletons: ``skeletons-<hash>/store`` (:class:`~syconn.io.skeletons.SkeletonStore`), one per
  cell with ``skeleton_status = 'ok'``: vertices in nm, edges, radii in nm, bridges;
- ``cells-<hash>/sv_to_cell.parquet`` and ``cells.parquet``: the supervoxel-to-cell mapping;
- ``prepare-<hash>/seg.zarr``: the segmentation copied for fast block reads;
- ``connectivity_matrix/conn_mat.*``: the matrix export;
- ``export/<format>``: ``syconn export``'s default destinations (:func:`export_dir`), the
  Neuroglancer precomputed folder ``export/neuroglancer`` (:func:`neuroglancer_dir`).

Tables.  Everything else is SQL, read through a read-only engine
(:func:`syconn.workdir.open_engine` with ``read_only=True``, as ``syconn sql`` uses).

:class:`Results` is one working directory's reader: the config, the engine, and thin methods
for cells, supervoxels, organelles, synapses, meshes and skeletons.  A missing thing (an id the
working directory does not hold, a step that has not run) raises
:class:`~syconn.errors.ObjectNotFound` with one line naming the working directory and the id.
Skeleton records hold no per-node labels yet (no compartment model writes any); per-node data
is the radius, per-edge data the ``bridges`` flag.

Examples
--------
>>> from syconn.read import settings_hash
>>> from syconn.config import Config
>>> len(settings_hash(Config(), "dataset", "inputs"))
8
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.exc import DBAPIError

from syconn.config import Config, config_to_dict, load_config
from syconn.db import tables as T
from syconn.errors import DatabaseError, InputError, ObjectNotFound

if TYPE_CHECKING:
    from syconn.io.meshes import MeshStore
    from syconn.io.skeletons import SkeletonStore
    from syconn.proc.meshes import Mesh
    from syconn.proc.skeletons import Skeleton

__all__ = ["Results", "settings_hash", "step_dir", "organelle_sections", "organelle_dir",
           "mesh_dir", "skeleton_dir", "cells_dir", "seg_cache_path", "concatenate_meshes",
           "export_dir", "neuroglancer_dir", "MESH_STORE_KINDS", "ORGANELLE_KINDS",
           "CELL_COLUMNS", "MATRIX_DIR"]

#: kinds of mesh store: cells, organelles (mi, vc, sj) and synapses (syn)
MESH_STORE_KINDS = ("cells", "mi", "vc", "sj", "syn")
ORGANELLE_KINDS = ("mi", "vc", "sj")
#: the cells columns :meth:`Results.cell_table` reads by default
CELL_COLUMNS = ("id", "size_vx", "cell_type", "volume_um3", "cable_length_um",
                "skeleton_status")
MATRIX_DIR = "connectivity_matrix"


# --------------------------------------------------------------------------------------------
# where things live
# --------------------------------------------------------------------------------------------

def settings_hash(cfg: Config, *sections: str) -> str:
    """8 hex digits identifying the config sections (dotted paths) a step depends on."""
    data = config_to_dict(cfg)
    picked = {}
    for s in sections:
        node: Any = data
        for part in s.split("."):
            node = node[part]
        picked[s] = node
    return hashlib.sha1(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:8]


#: steps whose files do not depend on which supervoxels form a cell
BEFORE_CELLS = ("prepare", "supervoxels", "glia_sums")


def step_dir(wd: Path | str, cfg: Config, name: str, *sections: str) -> Path:
    """Folder of a step's files: ``WD/steps/<name>-<hash of dataset, inputs, glia, sections>``
    (the glia settings decide which supervoxels form a cell, so every step from the cells on
    depends on them; the steps before it, :data:`BEFORE_CELLS`, do not)."""
    base = ("dataset", "inputs") if name in BEFORE_CELLS else ("dataset", "inputs", "glia")
    h = settings_hash(cfg, *base, *sections)
    return Path(wd) / "steps" / f"{name}-{h}"


def organelle_sections(kind: str) -> tuple[str, ...]:
    """Config sections the labels of one organelle kind depend on."""
    return (f"cell_objects.probathresholds.{kind}", f"cell_objects.extract_morph_op.{kind}",
            f"cell_objects.morph_struct.{kind}", f"cell_objects.min_seed_vx.{kind}")


def organelle_dir(wd: Path | str, cfg: Config, kind: str) -> Path:
    """Folder of one organelle kind's labels and tables (``organelles_<kind>-<hash>``)."""
    return step_dir(wd, cfg, f"organelles_{kind}", *organelle_sections(kind))


def mesh_dir(wd: Path | str, cfg: Config, kind: str) -> Path:
    """Folder of the meshes of ``kind`` (``cells``, ``mi``, ``vc``, ``sj`` or ``syn``)."""
    if kind == "cells":
        sections: tuple[str, ...] = ("cell_objects.rag_max_gap_vx",)
    elif kind == "syn":
        sections = ("cell_objects",)
    elif kind in ORGANELLE_KINDS:
        sections = organelle_sections(kind) + (f"cell_objects.min_obj_vx.{kind}",)
    else:
        raise InputError(f"mesh kind: got {kind!r}, expected one of "
                         f"{', '.join(MESH_STORE_KINDS)}")
    return step_dir(wd, cfg, f"meshes_{kind}", *sections, "meshes")


def skeleton_dir(wd: Path | str, cfg: Config) -> Path:
    """Folder of the cell skeletons."""
    return step_dir(wd, cfg, "skeletons", "cell_objects.rag_max_gap_vx", "min_cc_size_ssv",
                    "skeleton")


COMPARTMENT_SECTIONS = ("cell_objects", "min_cc_size_ssv", "skeleton", "compartments")


def compartment_model(wd: Path | str, cfg: Config):
    """The compartment model the config names (relative to ``wd``, or absolute), or the
    shipped one."""
    from syconn.ml.compartments import load_compartment_model

    path = cfg.compartments.model
    return load_compartment_model(Path(wd) / path if path else None)


def compartment_dir(wd: Path | str, cfg: Config, model=None) -> Path:
    """Folder of the compartment step: ``steps/compartments-<settings hash>-<model digest>``."""
    model = model or compartment_model(wd, cfg)
    d = step_dir(wd, cfg, "compartments", *COMPARTMENT_SECTIONS)
    return d.with_name(f"{d.name}-{model.digest[:8]}")


def spine_model(wd: Path | str, cfg: Config):
    """The spine model the config names (relative to ``wd``, or absolute), or the shipped one."""
    from syconn.ml.spines import load_spine_model

    path = cfg.spines.model
    return load_spine_model(Path(wd) / path if path else None)


def spine_dir(wd: Path | str, cfg: Config, model=None) -> Path:
    """Folder of the spine step: ``steps/spines-<settings hash>-<model digest>`` (the
    compartments decide which synapses have a post side, so their settings count)."""
    model = model or spine_model(wd, cfg)
    d = step_dir(wd, cfg, "spines", *COMPARTMENT_SECTIONS, "spines")
    return d.with_name(f"{d.name}-{model.digest[:8]}")


def pa_array(values: Sequence[int]):
    """An int64 Arrow array (for ``is_in`` filters)."""
    import pyarrow as pa

    return pa.array(list(values), pa.int64())


def cells_dir(wd: Path | str, cfg: Config) -> Path:
    """Folder of the ``Cells`` step: ``sv_to_cell.parquet`` and ``cells.parquet``."""
    return step_dir(wd, cfg, "cells", "cell_objects.rag_max_gap_vx")


def seg_cache_path(wd: Path | str, cfg: Config) -> Path:
    """The segmentation copied into Zarr by the supervoxel step (fast block reads)."""
    return step_dir(wd, cfg, "prepare") / "seg.zarr"


def export_dir(wd: Path | str) -> Path:
    """Folder of ``syconn export``'s default destinations (``WD/export``)."""
    return Path(wd) / "export"


def neuroglancer_dir(wd: Path | str) -> Path:
    """The whole working directory's Neuroglancer precomputed export
    (``WD/export/neuroglancer``; it exists once its ``info`` file does)."""
    return export_dir(wd) / "neuroglancer"


def concatenate_meshes(meshes: Iterable[Mesh]) -> Mesh:
    """One mesh of several (vertices stacked, face indices shifted), as the original serves an
    object type of a cell: no welding, no smoothing.

    >>> from syconn.proc.meshes import Mesh
    >>> tri = Mesh(np.eye(3, dtype=np.float32), np.array([[0, 1, 2]], np.uint32))
    >>> concatenate_meshes([tri, tri]).faces.tolist()
    [[0, 1, 2], [3, 4, 5]]
    """
    from syconn.proc.meshes import Mesh

    parts = list(meshes)
    if not parts:
        return Mesh.empty()
    offsets = np.cumsum([0] + [m.n_vertices for m in parts[:-1]]).astype(np.uint64)
    vertices = np.concatenate([m.vertices for m in parts])
    faces = np.concatenate([(m.faces.astype(np.uint64) + o) for m, o in zip(parts, offsets)])
    if len(vertices) > np.iinfo(np.uint32).max:
        raise InputError(f"concatenated mesh: {len(vertices)} vertices, more than uint32 "
                         f"face indices hold")
    return Mesh(vertices, faces.astype(np.uint32))


def _as_id(value, what: str) -> int:
    """``value`` as a 64-bit signed id, or an :class:`ObjectNotFound` naming it."""
    try:
        i = int(value)
    except (TypeError, ValueError):
        raise ObjectNotFound(f"{what} {value!r}: not an integer id") from None
    if not 0 <= i < 2 ** 63:
        raise ObjectNotFound(f"{what} {i}: ids are integers in 0 .. 2**63-1")
    return i


# --------------------------------------------------------------------------------------------
# one working directory
# --------------------------------------------------------------------------------------------

class Results:
    """What the pipeline wrote into one working directory, read-only.

    Parameters
    ----------
    wd
        The working directory (holds ``config.yml``).
    cfg
        Its config, if already loaded.
    pool_size
        Connections the read-only engine keeps for reuse (a long-lived reader: the server);
        default none, a new connection per query.

    The read-only engine is opened on first use.  Nothing is cached but the config, the engine
    and the folders the config names, so a long-lived reader (the server) sees rows and files
    as they are now.
    """

    def __init__(self, wd: Path | str, cfg: Config | None = None, *,
                 pool_size: int | None = None):
        self.wd = Path(wd)
        self.cfg = cfg if cfg is not None else load_config(wd)
        self.pool_size = pool_size
        self._mesh_dirs: dict[str, Path] = {}

    def __repr__(self) -> str:
        return f"Results({str(self.wd)!r})"

    # ---- database -------------------------------------------------------------------------
    @functools.cached_property
    def engine(self) -> Engine:
        """The read-only engine (PostgreSQL: the SELECT-only role of ``readonly_url``)."""
        from syconn.workdir import open_engine

        return open_engine(self.wd, self.cfg, read_only=True, pool_size=self.pool_size)

    def writer(self) -> Engine:
        """An engine that may write (the working directory's own user); for the few writes
        a reader is allowed (the server's ``--allow-write``)."""
        from syconn.workdir import open_engine

        return open_engine(self.wd, self.cfg)

    def query(self, sql: str, params: dict | None = None) -> tuple[list[str], list[tuple]]:
        """Run one read-only SQL statement with bound ``params``: (columns, rows)."""
        from syconn.db import run_query

        return run_query(self.engine, sql, params)

    def _fetch(self, stmt) -> list[tuple]:
        """Rows of a SQLAlchemy Core statement (parameters bound by SQLAlchemy)."""
        from syconn.db.engine import error_reason

        try:
            with self.engine.connect() as conn:
                return [tuple(r) for r in conn.execute(stmt).fetchall()]
        except DBAPIError as exc:
            raise DatabaseError(f"{self.wd}: SQL error: {error_reason(exc)}") from None

    @property
    def voxel_size_nm(self) -> np.ndarray:
        """(x, y, z) in nm, float64."""
        return np.asarray(self.cfg.dataset.voxel_size_nm, np.float64)

    def syn_prob_threshold(self) -> float:
        """Synapses with ``syn_prob`` above this count: the dataset row's threshold, else the
        config's ``cell_objects.thresh_synssv_proba``."""
        rows = self._fetch(select(T.dataset.c.syn_prob_threshold))
        if rows and rows[0][0] is not None:
            return float(rows[0][0])
        return float(self.cfg.cell_objects.thresh_synssv_proba)

    def step_done(self, family: str) -> bool:
        """Whether a step of ``family`` (``Cells``, ``Synapses``, ...) has loaded its rows."""
        n = self._fetch(select(func.count()).select_from(T.task_runs)
                        .where(T.task_runs.c.task_family == family))[0][0]
        return int(n) > 0

    # ---- cells and supervoxels ------------------------------------------------------------
    def cell_table(self, columns: Sequence[str] = CELL_COLUMNS) -> dict[str, list]:
        """``{column: values}`` of every cell, ordered by id."""
        unknown = [c for c in columns if c not in T.cells.c]
        if unknown:
            raise InputError(f"cells: no column(s) {', '.join(unknown)}")
        cols = [T.cells.c[c] for c in columns]
        rows = self._fetch(select(*cols).order_by(T.cells.c.id))
        return {c: [r[i] for r in rows] for i, c in enumerate(columns)}

    def cell_ids(self) -> np.ndarray:
        """Every cell id, ascending (int64)."""
        rows = self._fetch(select(T.cells.c.id).order_by(T.cells.c.id))
        return np.asarray([r[0] for r in rows], np.int64)

    def cell(self, cell_id) -> dict[str, Any]:
        """The cells row of ``cell_id``; :class:`ObjectNotFound` if there is none."""
        cid = _as_id(cell_id, "cell")
        rows = self._fetch(select(T.cells).where(T.cells.c.id == cid))
        if not rows:
            raise ObjectNotFound(f"cell {cid}: no such cell in {self.wd}")
        return dict(zip(T.cells.c.keys(), rows[0]))

    def has_cell(self, cell_id) -> bool:
        """Whether ``cell_id`` is a cell of the working directory."""
        try:
            cid = _as_id(cell_id, "cell")
        except ObjectNotFound:
            return False
        return bool(self._fetch(select(T.cells.c.id).where(T.cells.c.id == cid)))

    def require_cell(self, cell_id) -> int:
        """``cell_id`` as an int if it is a cell, else :class:`ObjectNotFound`."""
        cid = _as_id(cell_id, "cell")
        if not self.has_cell(cid):
            raise ObjectNotFound(f"cell {cid}: no such cell in {self.wd}")
        return cid

    def supervoxels_of(self, cell_id) -> np.ndarray:
        """The supervoxel ids of a cell, ascending (int64)."""
        cid = self.require_cell(cell_id)
        rows = self._fetch(select(T.supervoxels.c.id).where(T.supervoxels.c.cell_id == cid)
                           .order_by(T.supervoxels.c.id))
        return np.asarray([r[0] for r in rows], np.int64)

    def cell_of(self, sv_id) -> int:
        """The cell of supervoxel ``sv_id``; 0 if it is in no cell (or no such supervoxel)."""
        sid = _as_id(sv_id, "supervoxel")
        rows = self._fetch(select(T.supervoxels.c.cell_id).where(T.supervoxels.c.id == sid))
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def supervoxel_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """(supervoxel ids, their cell ids; 0 where none) of every supervoxel, int64."""
        rows = self._fetch(select(T.supervoxels.c.id, T.supervoxels.c.cell_id))
        sv = np.asarray([r[0] for r in rows], np.int64)
        cell = np.asarray([0 if r[1] is None else r[1] for r in rows], np.int64)
        return sv, cell

    def skeleton_status(self) -> dict[int, str | None]:
        """``{cell id: skeleton_status}`` (None before the skeleton step)."""
        rows = self._fetch(select(T.cells.c.id, T.cells.c.skeleton_status))
        return {int(k): v for k, v in rows}

    def sv_to_cell(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``Cells`` step's mapping as (sv ids, cell ids), uint64, sorted by sv id."""
        import pyarrow.parquet as pq

        from syconn.proc.cells import sorted_mapping

        path = cells_dir(self.wd, self.cfg) / "sv_to_cell.parquet"
        if not path.is_file():
            raise ObjectNotFound(f"{self.wd}: no supervoxel-to-cell mapping yet; run "
                                 f"'syconn run {self.wd}' first")
        return sorted_mapping(pq.read_table(path))

    def cell_types(self) -> tuple[list[int], list[str | None]]:
        """(cell ids, their ``cell_type``, None where not predicted), ordered by id."""
        t = self.cell_table(("id", "cell_type"))
        return [int(c) for c in t["id"]], t["cell_type"]

    # ---- any object by table ------------------------------------------------------------
    def object_columns(self, table: str) -> tuple[str, ...]:
        """Column names of an object table (``cells``, ``supervoxels``, ``organelles``,
        ``synapses``)."""
        return tuple(_object_table(table).c.keys())

    def object_values(self, table: str, obj_id, columns: Sequence[str], *,
                      kind: str | None = None) -> tuple:
        """The ``columns`` of one row of an object table, by id (and organelle ``kind``);
        :class:`ObjectNotFound` if there is no such row.  Column names are checked against
        the table, values bound: nothing of the caller reaches the SQL text."""
        tbl = _object_table(table)
        oid = _as_id(obj_id, _SINGULAR[table])
        unknown = [c for c in columns if c not in tbl.c]
        if unknown:
            raise InputError(f"{table}: no column(s) {', '.join(unknown)}")
        stmt = select(*(tbl.c[c] for c in columns)).where(tbl.c.id == oid)
        if table == "organelles":
            _check_kind(kind, ORGANELLE_KINDS, "organelle kind")
            stmt = stmt.where(tbl.c.kind == kind)
        rows = self._fetch(stmt)
        if not rows:
            what = f"{kind} organelle" if table == "organelles" else _SINGULAR[table]
            raise ObjectNotFound(f"{what} {oid}: no such object in {self.wd}")
        return rows[0]

    # ---- organelles and synapses ------------------------------------------------------------
    def organelle_count(self, kind: str) -> int:
        """Number of organelles of ``kind``."""
        _check_kind(kind, ORGANELLE_KINDS, "organelle kind")
        return int(self._fetch(select(func.count()).select_from(T.organelles)
                               .where(T.organelles.c.kind == kind))[0][0])

    def organelle_ids(self, kind: str, cells: Sequence[int] | None = None) -> np.ndarray:
        """Ids of the organelles of ``kind`` (assigned to one of ``cells``), ascending."""
        _check_kind(kind, ORGANELLE_KINDS, "organelle kind")
        o = T.organelles.c
        stmt = select(o.id, o.cell_id).where(o.kind == kind).order_by(o.id)
        if cells is not None and len(cells) == 1:
            stmt = stmt.where(o.cell_id == int(cells[0]))
        rows = self._fetch(stmt)
        return _ids_of(rows, cells)

    def synapse_ids(self, cells: Sequence[int] | None = None, *,
                    above: float | None = None) -> np.ndarray:
        """Ids of the synapses (touching one of ``cells``; with ``syn_prob > above``)."""
        s = T.synapses.c
        stmt = select(s.id, s.cell_a, s.cell_b).order_by(s.id)
        if above is not None:
            stmt = stmt.where(s.syn_prob > float(above))
        if cells is not None and len(cells) == 1:
            c = int(cells[0])
            stmt = stmt.where(or_(s.cell_a == c, s.cell_b == c))
        rows = self._fetch(stmt)
        if cells is None:
            return np.asarray([r[0] for r in rows], np.int64)
        want = np.asarray(list(cells), np.int64)
        ids = np.asarray([r[0] for r in rows], np.int64)
        a = np.asarray([-1 if r[1] is None else r[1] for r in rows], np.int64)
        b = np.asarray([-1 if r[2] is None else r[2] for r in rows], np.int64)
        return ids[np.isin(a, want) | np.isin(b, want)]

    def _synapse_rows(self, columns: Sequence[str], above: float | None,
                      at_least: float | None, order_by_id: bool = True) -> list[tuple]:
        s = T.synapses.c
        unknown = [c for c in columns if c not in s]
        if unknown:
            raise InputError(f"synapses: no column(s) {', '.join(unknown)}")
        conds = []
        if above is not None:
            conds.append(s.syn_prob > float(above))
        if at_least is not None:
            conds.append(s.syn_prob >= float(at_least))
        stmt = select(*(s[c] for c in columns))
        if order_by_id:
            stmt = stmt.order_by(s.id)
        if conds:
            stmt = stmt.where(and_(*conds))
        return self._fetch(stmt)

    def synapse_columns(self, columns: Sequence[str], *, above: float | None = None,
                        at_least: float | None = None) -> dict[str, list]:
        """``{column: values}`` of the synapses, ordered by id, optionally only those with
        ``syn_prob > above`` and / or ``syn_prob >= at_least``; values as the database gives
        them (None for NULL, 64-bit ids exact)."""
        rows = self._synapse_rows(columns, above, at_least)
        values = list(zip(*rows)) if rows else [() for _ in columns]
        return {c: list(v) for c, v in zip(columns, values)}

    def synapse_frame(self, columns: Sequence[str], *, above: float | None = None,
                      at_least: float | None = None, order_by_id: bool = True):
        """:meth:`synapse_columns` as a pandas DataFrame (a column with NULLs becomes float);
        ``order_by_id=False``: in the order the database keeps the rows (the load order)."""
        import pandas as pd

        rows = self._synapse_rows(columns, above, at_least, order_by_id)
        return pd.DataFrame(rows, columns=list(columns))

    # ---- meshes and skeletons -------------------------------------------------------------
    def mesh_store(self, kind: str) -> MeshStore:
        """The :class:`~syconn.io.meshes.MeshStore` of ``kind`` (``cells``, ``mi``, ``vc``,
        ``sj``, ``syn``); :class:`ObjectNotFound` before the meshes are made."""
        from syconn.io.meshes import MeshStore

        store = MeshStore(self._mesh_dir(kind) / "store")
        if not (store.path / "store.json").exists():
            raise ObjectNotFound(f"{self.wd}: no {kind} meshes yet; run 'syconn run "
                                 f"{self.wd}' first")
        return store

    def _mesh_dir(self, kind: str) -> Path:
        """:func:`mesh_dir` of this reader's config, worked out once per kind (hashing the
        config takes most of a millisecond; the config is fixed for the reader's life)."""
        path = self._mesh_dirs.get(kind)
        if path is None:
            path = self._mesh_dirs[kind] = mesh_dir(self.wd, self.cfg, kind)
        return path

    def skeleton_store(self) -> SkeletonStore:
        """The :class:`~syconn.io.skeletons.SkeletonStore`; :class:`ObjectNotFound` before the
        skeleton step."""
        from syconn.io.skeletons import SkeletonStore

        store = SkeletonStore(skeleton_dir(self.wd, self.cfg) / "store")
        if not (store.path / "store.json").exists():
            raise ObjectNotFound(f"{self.wd}: no skeletons yet; run 'syconn run {self.wd}' "
                                 f"first")
        return store

    def mesh_version(self, kind: str, obj_id) -> tuple[int, int, int] | None:
        """A token that changes whenever the stored mesh of ``obj_id`` may have
        (:meth:`~syconn.io.meshes.ShardedStore.version`); for caches of meshes read."""
        return self.mesh_store(kind).version(_as_id(obj_id, "object"))

    def meshes(self, kind: str, ids: Iterable[int]) -> dict[int, Mesh]:
        """``{id: Mesh}`` of the ``ids`` that have a mesh of ``kind`` (others left out)."""
        return self.mesh_store(kind).get_many(int(i) for i in ids)

    def cell_mesh(self, cell_id) -> Mesh:
        """The mesh of a cell (empty if it has none: fewer than ``mesh_min_obj_vx`` voxels)."""
        from syconn.proc.meshes import Mesh

        cid = self.require_cell(cell_id)
        return self.meshes("cells", [cid]).get(cid, Mesh.empty())

    def cell_object_mesh(self, cell_id, kind: str) -> Mesh:
        """All meshes of one object kind of a cell in one mesh (:func:`concatenate_meshes`):
        ``mi``, ``vc``, ``sj`` (organelles assigned to the cell) or ``syn`` (its synapses with
        ``syn_prob`` above :meth:`syn_prob_threshold`, as the original's ``syn_ssv``)."""
        _check_kind(kind, ORGANELLE_KINDS + ("syn",), "object kind")
        cid = self.require_cell(cell_id)
        if kind == "syn":
            ids = self.synapse_ids([cid], above=self.syn_prob_threshold())
        else:
            ids = self.organelle_ids(kind, [cid])
        got = self.meshes(kind, ids.tolist())
        return concatenate_meshes(got[i] for i in sorted(got))

    def skeletons(self, ids: Iterable[int]) -> dict[int, Skeleton]:
        """``{cell id: Skeleton}`` of the ``ids`` that have one."""
        return self.skeleton_store().get_many(int(i) for i in ids)

    def node_compartments(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """``{cell id: compartment code per skeleton node}`` (0 dendrite, 1 axon, 2 soma,
        3 en-passant bouton, 4 terminal bouton) of the ``ids`` the compartment step labelled;
        empty where it has not run."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        want = sorted({int(i) for i in ids})
        try:
            d = compartment_dir(self.wd, self.cfg) / "nodes"
        except Exception:  # noqa: BLE001  no model: the step cannot have run
            return {}
        files = sorted(d.glob("shard_*.parquet")) if d.is_dir() and want else []
        out: dict[int, np.ndarray] = {}
        for f in files:
            t = pq.read_table(f)
            t = t.filter(pc.is_in(t["cell_id"], value_set=pa_array(want)))
            if not t.num_rows:
                continue
            cid, node = t["cell_id"].to_numpy(), t["node"].to_numpy()
            comp = t["compartment"].to_numpy().astype(np.int64)
            order = np.lexsort((node, cid))
            cells, start = np.unique(cid[order], return_index=True)
            out.update(zip(cells.tolist(), np.split(comp[order], start[1:])))
        return out

    def skeleton(self, cell_id) -> Skeleton | None:
        """The skeleton of a cell, or None if it has none (``skeleton_status`` other than
        ``'ok'``, or the skeleton step has not run)."""
        cid = self.require_cell(cell_id)
        try:
            store = self.skeleton_store()
        except ObjectNotFound:
            return None
        return store.get_many([cid]).get(cid)

    # ---- volumes and exports --------------------------------------------------------------
    def seg_shape(self) -> tuple[int, int, int]:
        """Shape (x, y, z) of the input segmentation, voxels."""
        from syconn.io import open_volume

        with open_volume(self.cfg.inputs.seg) as seg:
            return tuple(int(s) for s in seg.shape)

    def cell_label_blocks(self, ids: Sequence[int] | None = None
                          ) -> Iterator[tuple[tuple[int, int, int], np.ndarray]]:
        """``(offset, labels)`` block by block (the processing grid): the segmentation copy
        mapped to cell ids (only ``ids`` kept, others 0, if given)."""
        import fastremap

        from syconn.io import open_volume
        from syconn.tasks.base import block_grid
        from syconn.tasks.supervoxels import cell_labels

        sv, cell = self.sv_to_cell()
        path = seg_cache_path(self.wd, self.cfg)
        if not path.exists():
            raise ObjectNotFound(f"{self.wd}: no segmentation copy yet; run 'syconn run "
                                 f"{self.wd}' first")
        with open_volume(path) as vol:
            for b in block_grid(self.seg_shape(), self.cfg.dataset.block_shape):
                labels = cell_labels(vol.read(b.offset, b.shape), sv, cell)
                if ids is not None:
                    labels = fastremap.mask_except(labels, list(ids))
                yield b.offset, labels

    def n_blocks(self) -> int:
        """Number of blocks of the processing grid."""
        shape, bs = self.seg_shape(), self.cfg.dataset.block_shape
        return int(np.prod([-(-int(n) // int(b)) for n, b in zip(shape, bs)]))

    def matrix_files(self) -> list[Path]:
        """The matrix export's files (``connectivity_matrix/conn_mat*``), sorted."""
        return sorted((self.wd / MATRIX_DIR).glob("conn_mat*"))


_OBJECT_TABLES = {"cells": T.cells, "supervoxels": T.supervoxels, "organelles": T.organelles,
                  "synapses": T.synapses}
_SINGULAR = {"cells": "cell", "supervoxels": "supervoxel", "organelles": "organelle",
             "synapses": "synapse"}


def _object_table(name: str):
    if name not in _OBJECT_TABLES:
        raise InputError(f"table: got {name!r}, expected one of {', '.join(_OBJECT_TABLES)}")
    return _OBJECT_TABLES[name]


def _check_kind(kind: str, allowed: Sequence[str], what: str) -> None:
    if kind not in allowed:
        raise InputError(f"{what}: got {kind!r}, expected one of {', '.join(allowed)}")


def _ids_of(rows: list[tuple], cells: Sequence[int] | None) -> np.ndarray:
    """Ids (first column) of rows whose second column is one of ``cells`` (all if None)."""
    ids = np.asarray([r[0] for r in rows], np.int64)
    if cells is None:
        return ids
    owner = np.asarray([-1 if r[1] is None else r[1] for r in rows], np.int64)
    return ids[np.isin(owner, np.asarray(list(cells), np.int64))]
