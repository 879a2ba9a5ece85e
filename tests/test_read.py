"""The read side (syconn.read) on a hand-made working directory: known rows in SQL (SQLite and
PostgreSQL), known meshes and skeletons in the stores where the pipeline keeps them.

Cells 1 (supervoxels 1, 3) and 2 (supervoxel 2); supervoxel 4 is in no cell.  Organelles: mi
10 and 12 in cell 1 (12 too small for a mesh), mi 11 in cell 2, vc 20 in cell 1, sj 30 in no
cell.  Synapses: 100 (1 -> 2, p 0.9), 101 (1 - 2, no direction, p 0.2), 102 (2 -> 1, p 0.7).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import insert

from syconn.db import tables as T
from syconn.errors import InputError, ObjectNotFound, ReadOnlyViolation, VolumeNotFound
from syconn.io.meshes import MeshStore
from syconn.io.skeletons import SkeletonStore
from syconn.proc.meshes import Mesh
from syconn.proc.skeletons import Skeleton
from syconn.read import Results, concatenate_meshes, mesh_dir, skeleton_dir
from syconn.workdir import init_workdir, open_engine, read_synth_meta


def _tri(x0: float) -> Mesh:
    """One triangle, shifted by ``x0`` nm."""
    v = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], np.float32) + np.float32(x0)
    return Mesh(v, np.array([[0, 1, 2]], np.uint32))


def _obj(**kw) -> dict:
    """A row with a zero bounding box and representative voxel, plus ``kw``."""
    row = {f"bb_{m}_{a}": 0 for m in ("min", "max") for a in "xyz"}
    row.update({f"rep_{a}": 0 for a in "xyz"})
    row.update(kw)
    return row


MESHES = {"cells": {1: _tri(0), 2: _tri(100)}, "mi": {10: _tri(1), 11: _tri(2)},
          "vc": {20: _tri(3)}, "sj": {30: _tri(4)},
          "syn": {100: _tri(5), 101: _tri(6), 102: _tri(7)}}
SKELETON = Skeleton(np.array([[0, 0, 0], [100, 0, 0], [100, 100, 40]], np.float32),
                    np.array([[0, 1], [1, 2]], np.uint32), np.array([5, 6, 7], np.float32))


def _fill(wd) -> None:
    """The rows and stores of the module docstring in working directory ``wd``."""
    eng = open_engine(wd)
    with eng.begin() as conn:
        conn.execute(insert(T.cells), [_obj(id=1, size_vx=300, n_supervoxels=2),
                                       _obj(id=2, size_vx=100, n_supervoxels=1)])
        conn.execute(insert(T.supervoxels), [_obj(id=1, size_vx=200, cell_id=1),
                                             _obj(id=2, size_vx=100, cell_id=2),
                                             _obj(id=3, size_vx=100, cell_id=1),
                                             _obj(id=4, size_vx=10, cell_id=None)])
        conn.execute(insert(T.organelles), [
            _obj(kind="mi", id=10, size_vx=500, cell_id=1), _obj(kind="mi", id=11, size_vx=500,
                                                                 cell_id=2),
            _obj(kind="mi", id=12, size_vx=5, cell_id=1), _obj(kind="vc", id=20, size_vx=400,
                                                               cell_id=1),
            _obj(kind="sj", id=30, size_vx=300, cell_id=None)])
        syn = dict(size_vx=150, area_um2=0.1, sign=1)
        conn.execute(insert(T.synapses), [
            _obj(id=100, cell_pre=1, cell_post=2, cell_a=1, cell_b=2, syn_prob=0.9, **syn),
            _obj(id=101, cell_pre=None, cell_post=None, cell_a=1, cell_b=2, syn_prob=0.2,
                 **syn),
            _obj(id=102, cell_pre=2, cell_post=1, cell_a=1, cell_b=2, syn_prob=0.7, **syn)])
        conn.execute(insert(T.task_runs), [{"task_id": "Synapses@x", "task_family": "Synapses",
                                            "finished_at": dt.datetime.now(dt.timezone.utc)}])
    from syconn.config import load_config

    cfg = load_config(wd)
    for kind, meshes in MESHES.items():
        MeshStore(mesh_dir(wd, cfg, kind) / "store").put_many(meshes)
    SkeletonStore(skeleton_dir(wd, cfg) / "store").put_many({1: SKELETON})


@pytest.fixture
def tiny_wd(tmp_path, backend, tiny_inputs):
    """An initialised working directory (16x16x8 inputs) with no results yet."""
    name, url = backend
    wd = tmp_path / "wd"
    inputs = read_synth_meta(tiny_inputs(tmp_path / "data"))["inputs"]
    init_workdir(wd, inputs=inputs, voxel_size_nm=(10, 10, 20),
                 db_url=url if name == "postgresql" else None)
    return wd


@pytest.fixture
def res(tiny_wd):
    """:class:`Results` of :func:`tiny_wd` holding the module docstring's rows and stores."""
    _fill(tiny_wd)
    return Results(tiny_wd)


def test_cells_and_supervoxels(res):
    assert res.cell_ids().tolist() == [1, 2]
    assert res.supervoxels_of(1).tolist() == [1, 3]
    assert [res.cell_of(s) for s in (1, 2, 3, 4, 999)] == [1, 2, 1, 0, 0]
    assert res.has_cell(2) and not res.has_cell(3) and not res.has_cell("x")
    assert res.cell(1)["size_vx"] == 300 and res.cell(1)["cell_type"] is None
    assert res.cell_table(("id", "n_supervoxels")) == {"id": [1, 2], "n_supervoxels": [2, 1]}
    assert res.cell_types() == ([1, 2], [None, None])
    sv, cell = res.supervoxel_cells()
    assert dict(zip(sv.tolist(), cell.tolist())) == {1: 1, 2: 2, 3: 1, 4: 0}
    assert res.step_done("Synapses") and not res.step_done("Cells")


def test_organelles_and_synapses(res):
    assert res.organelle_ids("mi").tolist() == [10, 11, 12]
    assert res.organelle_ids("mi", [1]).tolist() == [10, 12]
    assert res.organelle_ids("mi", [1, 2]).tolist() == [10, 11, 12]
    assert res.organelle_count("vc") == 1
    assert res.syn_prob_threshold() == 0.5          # the dataset row's (init wrote it)
    assert res.synapse_ids().tolist() == [100, 101, 102]
    assert res.synapse_ids([2], above=0.5).tolist() == [100, 102]
    assert res.synapse_ids([1, 2], above=0.8).tolist() == [100]
    cols = res.synapse_columns(("id", "cell_pre", "syn_prob"), at_least=0.7)
    assert cols == {"id": [100, 102], "cell_pre": [1, 2], "syn_prob": [0.9, 0.7]}
    frame = res.synapse_frame(("id", "cell_pre"), above=0.1)
    assert frame["id"].tolist() == [100, 101, 102] and frame["cell_pre"].isna().tolist() == \
        [False, True, False]
    assert res.object_values("organelles", 11, ("cell_id", "size_vx"), kind="mi") == (2, 500)
    assert res.object_values("supervoxels", 4, ("cell_id",)) == (None,)


def test_meshes_and_skeletons(res):
    got = res.cell_mesh(2)
    assert np.array_equal(got.vertices, MESHES["cells"][2].vertices)
    mi = res.cell_object_mesh(1, "mi")          # 10 only: 12 has no mesh
    assert np.array_equal(mi.vertices, MESHES["mi"][10].vertices) and mi.n_faces == 1
    syn = res.cell_object_mesh(1, "syn")        # 100 and 102 (p > 0.5), in id order
    assert np.array_equal(syn.vertices, np.concatenate([MESHES["syn"][100].vertices,
                                                        MESHES["syn"][102].vertices]))
    assert syn.faces.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert res.cell_object_mesh(2, "vc").n_vertices == 0
    skel = res.skeleton(1)
    assert np.array_equal(skel.vertices, SKELETON.vertices)
    assert np.array_equal(skel.radii_nm, SKELETON.radii_nm)
    assert res.skeleton(2) is None
    assert sorted(res.meshes("mi", [10, 11, 12, 99])) == [10, 11]


def test_missing_things_raise_one_line(res, tiny_wd):
    for call, needles in [(lambda: res.supervoxels_of(5), ("cell 5", str(tiny_wd))),
                          (lambda: res.cell("abc"), ("cell 'abc'",)),
                          (lambda: res.cell_mesh(2 ** 63), ("cell",)),
                          (lambda: res.object_values("synapses", 7, ("sign",)), ("synapse 7",)),
                          (lambda: res.object_values("organelles", 10, ("id",), kind="vc"),
                           ("vc organelle 10",))]:
        with pytest.raises(ObjectNotFound) as e:
            call()
        assert all(n in str(e.value) for n in needles) and "\n" not in str(e.value)
    with pytest.raises(InputError, match="organelle kind: got 'xx'"):
        res.organelle_ids("xx")
    with pytest.raises(InputError, match="no column"):
        res.object_values("cells", 1, ("nope",))
    with pytest.raises(InputError, match="table: got 'task_runs'"):
        res.object_values("task_runs", 1, ("id",))


def test_before_the_pipeline_ran(tiny_wd):
    res = Results(tiny_wd)
    assert res.cell_ids().tolist() == [] and not res.step_done("Synapses")
    with pytest.raises(ObjectNotFound, match=r"no cells meshes yet; run 'syconn run "):
        res.mesh_store("cells")
    with pytest.raises(ObjectNotFound, match="no skeletons yet"):
        res.skeleton_store()
    with pytest.raises(ObjectNotFound, match="no supervoxel-to-cell mapping yet"):
        res.sv_to_cell()
    with pytest.raises(VolumeNotFound, match="config.yml: no such file"):
        Results(tiny_wd / "elsewhere")


@pytest.mark.parametrize("pool_size", [None, 2])
def test_reads_through_a_read_only_engine(res, pool_size):
    res = Results(res.wd, pool_size=pool_size)
    for _ in range(3):          # pooled: the same connections again, still read-only
        with pytest.raises(ReadOnlyViolation):
            res.query("DELETE FROM cells")
        assert res.query("SELECT COUNT(*) FROM cells WHERE id = :i", {"i": 1})[1] == [(1,)]
    if pool_size is not None:
        assert res.engine.pool.checkedin() == 1


def test_concatenate_meshes():
    a, b = _tri(0), Mesh(np.zeros((4, 3), np.float32), np.array([[0, 1, 2], [1, 2, 3]]))
    m = concatenate_meshes([a, b, a])
    assert m.n_vertices == 10 and m.faces.tolist() == [[0, 1, 2], [3, 4, 5], [4, 5, 6],
                                                       [7, 8, 9]]
    assert concatenate_meshes([]).n_vertices == 0
