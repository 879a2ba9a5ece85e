"""Meshes, skeletons, their SQL columns and the exports, on the small pipeline run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from syconn.config import load_config
from syconn.db import run_query
from syconn.io import open_volume
from syconn.io.meshes import read_obj, read_ply
from syconn.io.neuroglancer import read_legacy_mesh, read_skeleton
from syconn.io.swc import read_swc
from syconn.proc.meshes import boundary_edges
from syconn.proc.skeletons import skeleton_components
from syconn.read import Results
from syconn.tasks.morphology import mesh_store, skeleton_store
from syconn.workdir import open_engine


def _cells(wd) -> pd.DataFrame:
    cols, rows = run_query(open_engine(wd, read_only=True), "SELECT * FROM cells ORDER BY id")
    return pd.DataFrame(rows, columns=cols)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "syconn.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_every_cell_has_a_closed_mesh_and_a_skeleton_status(pipeline_wd):
    cells = _cells(pipeline_wd)
    meshes = mesh_store(pipeline_wd, "cells")
    assert sorted(meshes.ids().tolist()) == cells["id"].tolist()
    for cid, mesh in meshes.items():
        assert len(boundary_edges(mesh)) == 0, cid
    # mesh volume close to the voxel volume (thin neurites lose more to the 40 nm error)
    vox_um3 = cells["size_vx"] * np.prod(load_config(pipeline_wd).dataset.voxel_size_nm) / 1e9
    rel = (cells["volume_um3"] - vox_um3).abs() / vox_um3
    assert rel.median() < 0.08 and rel.max() < 0.25
    assert set(cells["skeleton_status"]) <= {"ok", "too_small", "empty"}
    ok = cells[cells["skeleton_status"] == "ok"]
    assert len(ok) >= 3
    assert (ok["cable_length_um"] > 0).all() and (ok["n_tips"] >= 2).all()
    assert cells.loc[cells["skeleton_status"] != "ok", "cable_length_um"].isna().all()


def test_skeletons_are_connected_and_inside_their_cell(pipeline_wd):
    cfg = load_config(pipeline_wd)
    vs = cfg.dataset.voxel_size_nm
    cells = _cells(pipeline_wd).set_index("id")
    _, rows = run_query(open_engine(pipeline_wd, read_only=True),
                        "SELECT id, cell_id FROM supervoxels")
    sv_cell = dict(rows)
    with open_volume(cfg.inputs.seg) as v:
        seg = v.read((0, 0, 0), v.shape)
    inside = total = 0
    for cid, skel in skeleton_store(pipeline_wd).items():
        assert skeleton_components(skel) == 1, cid
        assert cells.loc[cid, "n_skeleton_nodes"] == skel.n_vertices
        vx = skel.vertices_vx(vs)
        labs = seg[vx[:, 0], vx[:, 1], vx[:, 2]]
        inside += sum(sv_cell.get(int(s)) == cid for s in labs)
        total += len(vx)
    assert total and inside / total >= 0.99


def test_organelle_and_synapse_meshes(pipeline_wd):
    eng = open_engine(pipeline_wd, read_only=True)
    for kind in ("mi", "vc", "sj"):
        _, rows = run_query(eng, "SELECT id, size_vx FROM organelles WHERE kind = :k", {"k": kind})
        big = sorted(i for i, n in rows if n >= load_config(pipeline_wd).meshes.mesh_min_obj_vx)
        assert sorted(mesh_store(pipeline_wd, kind).ids().tolist()) == big, kind
    _, rows = run_query(eng, "SELECT id FROM synapses")
    syn = mesh_store(pipeline_wd, "syn")
    assert rows and sorted(syn.ids().tolist()) == sorted(r[0] for r in rows)
    assert all(len(boundary_edges(m)) == 0 for _, m in syn.items())


def test_export_swc_ply_obj(pipeline_wd, tmp_path):
    ok = _cells(pipeline_wd).query("skeleton_status == 'ok'")["id"].tolist()
    r = _cli("export", pipeline_wd, "swc", "--out", tmp_path / "swc")
    assert r.returncode == 0, r.stderr
    files = sorted(tmp_path.joinpath("swc").glob("*.swc"), key=lambda f: int(f.stem))
    assert [int(f.stem) for f in files] == sorted(ok)
    skel, _ = read_swc(files[0])
    stored = skeleton_store(pipeline_wd).get(int(files[0].stem))
    assert skel.n_vertices == stored.n_vertices
    np.testing.assert_allclose(np.sort(skel.vertices, axis=0), np.sort(stored.vertices, axis=0),
                               atol=1e-3)
    cid = ok[0]
    for fmt, reader in (("ply", read_ply), ("obj", read_obj)):
        r = _cli("export", pipeline_wd, fmt, "--cells", cid, "--out", tmp_path / fmt)
        assert r.returncode == 0, r.stderr
        got = reader(tmp_path / fmt / f"cells_{cid}.{fmt}")
        mesh = mesh_store(pipeline_wd, "cells").get(cid)
        assert got.n_faces == mesh.n_faces
        np.testing.assert_allclose(got.vertices, mesh.vertices, atol=1e-3)
    r = _cli("export", pipeline_wd, "ply", "--kind", "mi", "--out", tmp_path / "mi")
    assert r.returncode == 0 and len(list((tmp_path / "mi").glob("mi_*.ply"))) == \
        len(mesh_store(pipeline_wd, "mi"))


def test_export_neuroglancer(pipeline_wd, tmp_path):
    out = tmp_path / "ng"
    r = _cli("export", pipeline_wd, "neuroglancer", "--out", out, "--volume")
    assert r.returncode == 0, r.stderr
    info = json.loads((out / "info").read_text())
    assert info["type"] == "segmentation" and info["mesh"] == "mesh"
    cid, skel = next(iter(skeleton_store(pipeline_wd).items()))
    got, comp = read_skeleton(out / "skeletons" / str(cid))
    # the compartment attribute is 1 + the compartment step's code (0: not labelled)
    assert got.n_vertices == skel.n_vertices
    assert comp.tolist() == (Results(pipeline_wd).node_compartments([cid])[cid] + 1).tolist()
    assert read_legacy_mesh(out / "mesh" / str(cid)).n_faces == \
        mesh_store(pipeline_wd, "cells").get(cid).n_faces
    props = json.loads((out / "segment_properties" / "info").read_text())["inline"]
    assert sorted(int(i) for i in props["ids"]) == _cells(pipeline_wd)["id"].tolist()
    assert {"size", "volume_um3", "cable_length_um"} <= {p["id"] for p in props["properties"]}
    ann = json.loads((out / "synapses" / "info").read_text())
    assert [r["id"] for r in ann["relationships"]] == ["pre", "post"]
    # the label volume holds cell ids: the first chunk against the segmentation mapped by SQL
    scale = info["scales"][0]
    chunk = scale["chunk_sizes"][0]
    name = f"0-{chunk[0]}_0-{chunk[1]}_0-{chunk[2]}"
    raw = np.frombuffer((out / scale["key"] / name).read_bytes(), "<u8")
    labels = raw.reshape(chunk, order="F")
    cfg = load_config(pipeline_wd)
    with open_volume(cfg.inputs.seg) as v:
        seg = v.read((0, 0, 0), chunk)
    _, rows = run_query(open_engine(pipeline_wd, read_only=True),
                        "SELECT id, cell_id FROM supervoxels")
    lut = dict(rows)
    expect = np.vectorize(lambda s: lut.get(int(s), 0), otypes=[np.uint64])(seg)
    np.testing.assert_array_equal(labels, expect)


@pytest.mark.parametrize("args, message", [
    (["gltf"], "expected one of ply, obj, swc, neuroglancer"),
    (["swc", "--cells", "123456789"], "not in the cells table"),
    (["swc", "--cells", "1,x"], "comma-separated integer ids"),
    (["ply", "--kind", "er"], "expected cells, mi, vc, sj or syn"),
])
def test_export_bad_input(pipeline_wd, tmp_path, args, message):
    out = tmp_path / "out"
    r = _cli("export", pipeline_wd, *args, "--out", out)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".out*"))
