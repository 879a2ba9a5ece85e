import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from syconn.errors import InputError
from syconn.io.neuroglancer import (
    export_neuroglancer,
    read_legacy_mesh,
    read_skeleton,
    write_segment_properties,
    write_synapse_annotations,
    write_volume_chunk,
)
from syconn.proc.meshes import Mesh
from syconn.proc.skeletons import Skeleton

VS = (10.0, 10.0, 20.0)


@pytest.fixture()
def exported(tmp_path):
    meshes = {7: Mesh([[0, 0, 0], [100, 0, 0], [0, 100, 0], [0, 0, 100]],
                      [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]),
              2**40: Mesh([[1, 2, 3], [4, 5, 6], [7, 8, 10]], [[0, 1, 2]])}
    skels = {7: Skeleton([[0, 0, 0], [50, 0, 0], [50, 60, 0]], [[0, 1], [1, 2]], [30, 20, 10])}
    cells = pd.DataFrame({"id": np.array([7, 2**40], np.uint64), "cell_type": ["MSN", "STN"],
                          "size": np.array([123456, 789], np.int64)})
    syn = pa.table({"id": pa.array([11, 3, 5], pa.uint64()),
                    "pre_id": pa.array([7, 7, 2**40], pa.uint64()),
                    "post_id": pa.array([2**40, 2**40, 7], pa.uint64()),
                    "x_nm": [10.0, 20.0, 30.0], "y_nm": [1.0, 2.0, 3.0], "z_nm": [40.0, 80.0, 120.0],
                    "syn_prob": [0.9, 0.5, 0.7], "size_vx": pa.array([10, 20, 30], pa.uint32())})
    root = export_neuroglancer(tmp_path / "ng", voxel_size_nm=VS, volume_shape_xyz=(64, 64, 32),
                               meshes=meshes, skeletons=skels,
                               compartments={7: np.array([1, 0, 2])}, cells=cells, synapses=syn,
                               synapse_properties=["syn_prob", "size_vx"])
    return root, meshes, skels


def test_segmentation_info(exported):
    root, _, _ = exported
    info = json.loads((root / "info").read_text())
    assert info["type"] == "segmentation" and info["data_type"] == "uint64"
    assert info["mesh"] == "mesh" and info["skeletons"] == "skeletons"
    assert info["segment_properties"] == "segment_properties"
    (scale,) = info["scales"]
    assert set(scale) >= {"key", "size", "resolution", "voxel_offset", "chunk_sizes", "encoding"}
    assert scale["size"] == [64, 64, 32] and scale["resolution"] == [10, 10, 20]


def test_legacy_meshes(exported):
    root, meshes, _ = exported
    assert json.loads((root / "mesh" / "info").read_text()) == {"@type": "neuroglancer_legacy_mesh"}
    for oid, m in meshes.items():
        manifest = json.loads((root / "mesh" / f"{oid}:0").read_text())
        assert manifest == {"fragments": [str(oid)]}
        raw = (root / "mesh" / manifest["fragments"][0]).read_bytes()
        n = np.frombuffer(raw, "<u4", count=1)[0]
        assert n == m.n_vertices
        v = np.frombuffer(raw, "<f4", count=3 * n, offset=4).reshape(-1, 3)
        f = np.frombuffer(raw, "<u4", offset=4 + 12 * n).reshape(-1, 3)
        assert np.array_equal(v, m.vertices) and np.array_equal(f, m.faces)
        assert np.array_equal(read_legacy_mesh(root / "mesh" / str(oid)).faces, m.faces)


def test_skeletons(exported):
    root, _, skels = exported
    info = json.loads((root / "skeletons" / "info").read_text())
    assert info["@type"] == "neuroglancer_skeletons" and len(info["transform"]) == 12
    assert [a["id"] for a in info["vertex_attributes"]] == ["radius", "compartment"]
    assert [a["data_type"] for a in info["vertex_attributes"]] == ["float32", "uint8"]
    raw = (root / "skeletons" / "7").read_bytes()
    nv, ne = np.frombuffer(raw, "<u4", count=2)
    assert (nv, ne) == (3, 2)
    assert len(raw) == 8 + 12 * nv + 8 * ne + 4 * nv + nv
    v = np.frombuffer(raw, "<f4", count=9, offset=8).reshape(3, 3)
    e = np.frombuffer(raw, "<u4", count=4, offset=8 + 36).reshape(2, 2)
    r = np.frombuffer(raw, "<f4", count=3, offset=8 + 36 + 16)
    c = np.frombuffer(raw, "u1", count=3, offset=8 + 36 + 16 + 12)
    assert np.array_equal(v, skels[7].vertices) and np.array_equal(e, skels[7].edges)
    assert r.tolist() == [30, 20, 10] and c.tolist() == [1, 0, 2]
    s, comp = read_skeleton(root / "skeletons" / "7")
    assert np.array_equal(s.radii_nm, r) and comp.tolist() == [1, 0, 2]


def test_segment_properties(exported):
    root, _, _ = exported
    info = json.loads((root / "segment_properties" / "info").read_text())
    assert info["@type"] == "neuroglancer_segment_properties"
    inline = info["inline"]
    assert inline["ids"] == ["7", str(2**40)]
    props = {p["id"]: p for p in inline["properties"]}
    assert props["label"]["type"] == "label"
    assert props["cell_type"] == {"id": "cell_type", "type": "string", "values": ["MSN", "STN"]}
    assert props["size"]["type"] == "number" and props["size"]["data_type"] == "uint32"
    assert props["size"]["values"] == [123456, 789]
    for p in inline["properties"]:
        assert len(p["values"]) == len(inline["ids"])


def test_synapse_annotations(exported):
    root, _, _ = exported
    d = root / "synapses"
    info = json.loads((d / "info").read_text())
    assert info["@type"] == "neuroglancer_annotations_v1"
    assert info["annotation_type"] == "POINT"
    assert list(info["dimensions"]) == ["x", "y", "z"]
    assert info["relationships"] == [{"id": "pre", "key": "pre"}, {"id": "post", "key": "post"}]
    assert info["by_id"] == {"key": "by_id"}
    assert [p["type"] for p in info["properties"]] == ["float32", "uint32"]
    lvl = info["spatial"][0]
    assert np.allclose(np.multiply(lvl["grid_shape"], lvl["chunk_size"]),
                       np.subtract(info["upper_bound"], info["lower_bound"]))
    rec = np.dtype([("xyz", "<f4", (3,)), ("syn_prob", "<f4"), ("size_vx", "<u4")])
    # by_id: geometry, properties, then per relationship uint32 count + uint64 ids
    raw = (d / "by_id" / "5").read_bytes()
    a = np.frombuffer(raw, rec, count=1)[0]
    assert a["xyz"].tolist() == [30, 3, 120] and a["size_vx"] == 30
    assert a["syn_prob"] == pytest.approx(0.7)
    tail = raw[rec.itemsize:]
    assert np.frombuffer(tail, "<u4", count=1)[0] == 1
    assert np.frombuffer(tail, "<u8", count=1, offset=4)[0] == 2**40
    assert np.frombuffer(tail, "<u4", count=1, offset=12)[0] == 1
    assert np.frombuffer(tail, "<u8", count=1, offset=16)[0] == 7
    assert len(tail) == 24

    def multiple(path):
        raw = path.read_bytes()
        n = int(np.frombuffer(raw, "<u8", count=1)[0])
        recs = np.frombuffer(raw, rec, count=n, offset=8)
        ids = np.frombuffer(raw, "<u8", count=n, offset=8 + n * rec.itemsize)
        assert len(raw) == 8 + n * (rec.itemsize + 8)
        return recs, ids

    recs, ids = multiple(d / "pre" / "7")
    assert ids.tolist() == [3, 11] and recs["xyz"][:, 0].tolist() == [20, 10]
    _, ids = multiple(d / "post" / "7")
    assert ids.tolist() == [5]
    _, ids = multiple(d / "post" / str(2**40))
    assert ids.tolist() == [3, 11]
    _, ids = multiple(d / "spatial0" / "0_0_0")
    assert sorted(ids.tolist()) == [3, 5, 11]


def test_annotation_errors(tmp_path):
    with pytest.raises(InputError, match="missing column"):
        write_synapse_annotations(tmp_path, {"id": [1], "pre_id": [2]})
    with pytest.raises(InputError, match="property id"):
        write_synapse_annotations(tmp_path, {"id": [1], "pre_id": [2], "post_id": [3], "x_nm": [0],
                                             "y_nm": [0], "z_nm": [0], "Bad": [1.0]},
                                  properties=["Bad"])
    with pytest.raises(InputError, match="'size'"):
        write_segment_properties(tmp_path, [1, 2], numbers={"size": [1]})


def test_volume_chunks(exported):
    root, _, _ = exported
    lab = np.arange(64 * 64 * 32, dtype=np.uint64).reshape(64, 64, 32)
    names = write_volume_chunk(root, lab, (0, 0, 0))
    assert "0-64_0-64_0-32" in names and len(names) == 1
    raw = np.frombuffer((root / "mag1" / "0-64_0-64_0-32").read_bytes(), "<u8")
    assert np.array_equal(raw.reshape(32, 64, 64), lab.transpose(2, 1, 0))   # x fastest
