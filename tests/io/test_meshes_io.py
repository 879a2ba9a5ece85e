import json
import multiprocessing as mp

import numpy as np
import pytest

from syconn.errors import InputError, VolumeFormatError
from syconn.io.meshes import MeshStore, read_obj, read_ply, write_obj, write_ply
from syconn.io.skeletons import SkeletonStore
from syconn.io.swc import read_swc, swc_order, write_swc
from syconn.proc.meshes import Mesh
from syconn.proc.skeletons import Skeleton


def _mesh(seed, n=5):
    rng = np.random.default_rng(seed)
    return Mesh(rng.random((n, 3)) * 1000, rng.integers(0, n, (2 * n, 3)))


def _skel(seed, n=6):
    rng = np.random.default_rng(seed)
    return Skeleton(rng.random((n, 3)) * 1000, [[i, i + 1] for i in range(n - 1)], rng.random(n) * 50)


def test_mesh_store_roundtrip_and_replace(tmp_path):
    store = MeshStore(tmp_path / "meshes", n_shards=4)
    meshes = {i: _mesh(i % 1000, 3 + i % 7) for i in (1, 2, 5, 9, 2**63 + 3)}
    meshes[7] = Mesh.empty()
    store.put_many(meshes)
    assert store.ids().tolist() == sorted(meshes)
    assert len(store) == len(meshes) and 9 in store and 4 not in store
    for i, m in meshes.items():
        got = store.get(i)
        assert np.array_equal(got.vertices, m.vertices) and np.array_equal(got.faces, m.faces)
        assert got.vertices.dtype == np.float32 and got.faces.dtype == np.uint32
    with pytest.raises(KeyError):
        store.get(4)
    # not one file per object: store.json + per shard (index, data, lock)
    assert len(list((tmp_path / "meshes").iterdir())) <= 1 + 3 * 4
    # replace, reopen, compact
    store.put_many({5: _mesh(100, 4)})
    reopened = MeshStore(tmp_path / "meshes")
    assert reopened.n_shards == 4
    assert np.array_equal(reopened.get(5).vertices, _mesh(100, 4).vertices)
    reopened.compact()
    assert np.array_equal(reopened.get(5).faces, _mesh(100, 4).faces)
    assert np.array_equal(reopened.get(9).faces, meshes[9].faces)
    assert reopened.counts()[5] == (4, 8)
    assert dict(reopened.items()).keys() == set(meshes)
    with pytest.raises(InputError, match="n_shards"):
        MeshStore(tmp_path / "meshes", n_shards=8)
    with pytest.raises(VolumeFormatError, match="kind"):
        SkeletonStore(tmp_path / "meshes")


def _writer(path, start):
    store = MeshStore(path, n_shards=2)
    for i in range(start, start + 20, 2):
        store.put_many({i: _mesh(i)})


def test_store_version_changes_with_every_write_to_the_shard(tmp_path):
    store = MeshStore(tmp_path / "s", n_shards=2)
    assert store.version(3) is None  # nothing in shard 1 yet
    store.put(3, _mesh(0))
    v = store.version(3)
    assert v is not None and store.version(3) == v
    store.put(4, _mesh(1))  # shard 0: shard 1's record is untouched
    assert store.version(3) == v
    store.put(5, _mesh(2))  # shard 1 rewritten
    assert store.version(3) != v and store.version(3) == store.version(5)


def test_shard_indexes_are_parsed_once_until_replaced(tmp_path, monkeypatch):
    reader = MeshStore(tmp_path / "s", n_shards=2)
    writer = MeshStore(tmp_path / "s", n_shards=2)        # another process's store object
    writer.put_many({1: _mesh(0), 2: _mesh(1)})
    loads = []
    real = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: loads.append(a[0]) or real(*a, **k))
    assert set(reader.get_many([1, 2, 3])) == {1, 2}
    assert len(reader.get_many([1, 3])) == 1 and len(loads) == 2    # one parse per shard
    writer.put_many({3: _mesh(2)})        # reads shard 1's index (1 parse) and replaces it
    got = reader.get_many([1, 3])
    assert set(got) == {1, 3} and len(loads) == 4                   # the reader's one re-parse
    np.testing.assert_array_equal(got[3].vertices, _mesh(2).vertices)
    with pytest.raises(ValueError):                                  # shared, so read-only
        reader._read_index(1)[0][0, 0] = 7


def test_concurrent_writers(tmp_path):
    MeshStore(tmp_path / "m", n_shards=2).put_many({1000: _mesh(1000)})
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(tmp_path / "m", s)) for s in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    store = MeshStore(tmp_path / "m")
    assert store.ids().tolist() == list(range(20)) + [1000]
    assert np.array_equal(store.get(13).vertices, _mesh(13).vertices)


def test_skeleton_store_roundtrip(tmp_path):
    store = SkeletonStore(tmp_path / "skel", n_shards=3)
    skels = {i: _skel(i, 2 + i) for i in range(6)}
    store.put_many(skels)
    for i, s in skels.items():
        g = store.get(i)
        assert np.array_equal(g.vertices, s.vertices) and np.array_equal(g.edges, s.edges)
        assert np.array_equal(g.radii_nm, s.radii_nm)
    meta = json.loads((tmp_path / "skel" / "store.json").read_text())
    assert meta["kind"] == "skeleton" and meta["n_shards"] == 3


def test_skeleton_store_keeps_bridges_and_reads_the_older_layout(tmp_path):
    s = _skel(1, 5)
    s.bridges[[1, 3]] = True
    store = SkeletonStore(tmp_path / "skel", n_shards=2)
    store.put(7, s)
    assert SkeletonStore(tmp_path / "skel").get(7).bridges.tolist() == [False, True, False, True]
    # a store written before bridges were recorded: three fields per record
    old = tmp_path / "old"
    store = SkeletonStore(old, n_shards=1)
    store.FIELDS = store.FIELDS[:3]
    store._fields = store.FIELDS
    store._encode = lambda obj: ([obj.vertices, obj.edges, obj.radii_nm],
                                 [obj.n_vertices, obj.n_edges])
    store.put(7, s)
    back = SkeletonStore(old).get(7)
    assert np.array_equal(back.vertices, s.vertices) and not back.bridges.any()
    with pytest.raises(VolumeFormatError, match="can be read, not extended"):
        SkeletonStore(old).put(8, s)


def test_ply_binary_roundtrip(tmp_path):
    m = _mesh(3, 7)
    write_ply(tmp_path / "a.ply", m, comment="cell 3")
    raw = (tmp_path / "a.ply").read_bytes()
    assert raw.startswith(b"ply\nformat binary_little_endian 1.0\ncomment cell 3\n")
    body = raw[raw.index(b"end_header\n") + 11:]
    assert len(body) == 7 * 12 + m.n_faces * 13
    assert np.array_equal(np.frombuffer(body[:84], "<f4").reshape(7, 3), m.vertices)
    back = read_ply(tmp_path / "a.ply")
    assert np.array_equal(back.vertices, m.vertices) and np.array_equal(back.faces, m.faces)


def test_obj_roundtrip(tmp_path):
    m = _mesh(4, 6)
    write_obj(tmp_path / "a.obj", m)
    text = (tmp_path / "a.obj").read_text().splitlines()
    assert sum(line.startswith("v ") for line in text) == 6
    assert min(int(x) for line in text if line.startswith("f ") for x in line.split()[1:]) >= 1
    back = read_obj(tmp_path / "a.obj")
    assert np.array_equal(back.vertices, m.vertices) and np.array_equal(back.faces, m.faces)


def test_swc_spec(tmp_path):
    # a branched tree with a soma node in the middle, plus a second component
    v = np.array([[0, 0, 0], [10, 0, 0], [20, 0, 0], [20, 10, 0], [20, -10, 0],
                  [100, 100, 100], [110, 100, 100]], np.float32)
    e = [[0, 1], [1, 2], [2, 3], [2, 4], [5, 6]]
    r = np.array([1, 2, 5, 1, 1, 3, 1], np.float32)
    types = np.array([3, 3, 1, 2, 3, 0, 0])
    s = Skeleton(v, e, r)
    write_swc(tmp_path / "c.swc", s, node_types=types)
    lines = (tmp_path / "c.swc").read_text().splitlines()
    assert lines[0].startswith("#")
    rows = np.array([[float(x) for x in ln.split()] for ln in lines if not ln.startswith("#")])
    assert rows.shape == (7, 7)
    assert rows[:, 0].tolist() == list(range(1, 8))                   # 1-based, consecutive
    assert (rows[:, 6] < rows[:, 0]).all()                            # parents first
    roots = rows[rows[:, 6] == -1]
    assert len(roots) == 2 and roots[0][1] == 1                       # soma is a root
    assert roots[0][2:5].tolist() == [20, 0, 0] and roots[0][5] == 5
    back, back_types = read_swc(tmp_path / "c.swc")
    # same nodes and edges up to order
    order, parent = swc_order(s, node_types=types)
    assert np.array_equal(back.vertices, v[order]) and np.array_equal(back_types, types[order])
    assert back.n_edges == 5
    with pytest.raises(InputError, match="node_types"):
        write_swc(tmp_path / "d.swc", s, node_types=[1, 2])
    assert "bridges" not in (tmp_path / "c.swc").read_text()


def test_swc_names_the_bridges(tmp_path):
    # a path 0-1-2 whose middle edge is a bridge; root is the thickest node (2)
    s = Skeleton([[0, 0, 0], [10, 0, 0], [500, 0, 0]], [[0, 1], [1, 2]], [1, 2, 3],
                 bridges=[False, True])
    write_swc(tmp_path / "b.swc", s)
    lines = (tmp_path / "b.swc").read_text().splitlines()
    assert "# bridges (straight edges joining parts of the cell, not cable): 2-1" in lines
    assert lines[2].startswith("# bridges") and lines[3].startswith("# id type")
