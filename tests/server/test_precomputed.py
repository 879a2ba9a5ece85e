"""``/precomputed/``: the Neuroglancer export served read-only with CORS, only from inside its
folder, and the viewer's "open in Neuroglancer" link to it.

The export here is a hand-made folder in the layout of :mod:`syconn.io.neuroglancer` (an
``info``, one legacy mesh and its manifest, the synapses' ``info``) in a working directory of
known rows; files next to it and outside it must never be served.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syconn.read import neuroglancer_dir
from syconn.server.precomputed import resolve_file
from syconn.server.viewer import NEUROGLANCER_URL, mount

INFO = {"@type": "neuroglancer_multiscale_volume", "type": "segmentation", "mesh": "mesh"}
MESH = b"\x03\x00\x00\x00" + bytes(range(36)) + b"\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00"


@pytest.fixture
def wd(viewer_tools, tmp_path) -> Path:
    return viewer_tools.make_known_wd(tmp_path / "wd", f"sqlite:///{tmp_path / 'k.sqlite'}")


def make_export(wd: Path) -> Path:
    root = neuroglancer_dir(wd)
    (root / "mesh").mkdir(parents=True)
    (root / "synapses").mkdir()
    (root / "info").write_text(json.dumps(INFO))
    (root / "mesh" / "10:0").write_text('{"fragments": ["10"]}')
    (root / "mesh" / "10").write_bytes(MESH)
    (root / "synapses" / "info").write_text('{"@type": "neuroglancer_annotations_v1"}')
    (root / ".hidden").write_text("not served")
    (root.parent / "secret.txt").write_text("outside the export")
    (root.parent / ".neuroglancer.partial").mkdir()
    (root.parent / ".neuroglancer.partial" / "info").write_text("a half-written export")
    return root


def client(wd: Path, **kw) -> TestClient:
    app = FastAPI()
    mount(app, wd, **kw)
    return TestClient(app)


def test_serves_the_export_with_cors(wd):
    make_export(wd)
    c = client(wd)
    r = c.get("/precomputed/info")
    assert r.status_code == 200 and r.json() == INFO
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["content-type"].startswith("application/json")
    r = c.get("/precomputed/mesh/10:0")
    assert r.json() == {"fragments": ["10"]} and r.headers["access-control-allow-origin"] == "*"
    r = c.get("/precomputed/mesh/10")
    assert r.content == MESH and r.headers["content-type"] == "application/octet-stream"
    assert c.head("/precomputed/mesh/10").headers["content-length"] == str(len(MESH))
    assert c.get("/precomputed/synapses/info").status_code == 200


def test_missing_files_are_404_json_with_cors(wd):
    make_export(wd)
    c = client(wd)
    for path in ("/precomputed/mesh/99:0", "/precomputed/", "/precomputed/mesh",
                 "/precomputed/mesh/"):
        r = c.get(path)
        assert r.status_code == 404, path
        assert "no such file" in r.json()["detail"]
        assert r.headers["access-control-allow-origin"] == "*"


def test_preflight_allows_gets_from_any_origin(wd):
    make_export(wd)
    r = client(wd).options("/precomputed/info", headers={
        "Origin": "https://neuroglancer-demo.appspot.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Private-Network": "true"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-private-network"] == "true"


@pytest.mark.parametrize("path", [
    "%2e%2e/secret.txt", "..%2fsecret.txt", "mesh/%2e%2e/%2e%2e/secret.txt",
    "%2e%2e/%2e%2e/config.yml", "%2e%2e/.neuroglancer.partial/info", ".hidden",
    "mesh/%2e/10", "mesh//10", "%2fetc%2fpasswd", "..%5csecret.txt", "mesh/10%00",
])
def test_nothing_outside_the_export_is_served(wd, path):
    make_export(wd)
    r = client(wd).get(f"/precomputed/{path}")
    assert r.status_code == 404, path
    assert "outside" not in r.text and "half-written" not in r.text


def test_a_link_out_of_the_export_is_not_followed(wd):
    root = make_export(wd)
    os.symlink(root.parent / "secret.txt", root / "mesh" / "20")
    os.symlink(wd, root / "wd")
    c = client(wd)
    assert c.get("/precomputed/mesh/20").status_code == 404
    assert c.get("/precomputed/wd/config.yml").status_code == 404
    os.symlink(root / "mesh" / "10", root / "mesh" / "30")  # a link inside: served
    assert c.get("/precomputed/mesh/30").content == MESH


def test_resolve_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_text("x")
    assert resolve_file(tmp_path, "a/f") == (tmp_path / "a" / "f").resolve()
    for bad in ("", "a", "a/", "/a/f", "a/../a/f", "a/./f", ".a", "a\\f", "a/f\0", "a/g"):
        assert resolve_file(tmp_path, bad) is None, bad
    assert resolve_file(tmp_path / "nope", "a/f") is None


def test_dataset_says_whether_there_is_an_export(wd):
    ds = client(wd).get("/api/dataset").json()
    assert ds["precomputed"] is None and ds["neuroglancer_url"] == NEUROGLANCER_URL
    assert client(wd).get("/precomputed/info").status_code == 404  # none yet
    make_export(wd)  # an export made while the server runs
    c = client(wd, neuroglancer_url="http://localhost:8080/")
    ds = c.get("/api/dataset").json()
    assert ds["precomputed"] == {"path": "precomputed", "synapses": True}
    assert ds["neuroglancer_url"] == "http://localhost:8080"


@pytest.fixture(scope="module")
def exported_wd(pipeline_wd, tmp_path_factory) -> Path:
    """A copy of the processed volume with its Neuroglancer export (``syconn export WD
    neuroglancer``)."""
    import shutil

    from syconn.export import export

    wd = tmp_path_factory.mktemp("ng") / "wd"
    shutil.copytree(pipeline_wd, wd)
    export(wd, "neuroglancer", log=lambda m: None)
    return wd


def test_serves_a_real_export(exported_wd):
    from syconn.io.neuroglancer import read_legacy_mesh
    from syconn.read import Results
    from syconn.server import create_app

    c = TestClient(create_app(exported_wd))
    info = c.get("/precomputed/info").json()
    assert info["type"] == "segmentation" and info["mesh"] == "mesh"
    root = neuroglancer_dir(exported_wd)
    cid = max(Results(exported_wd).meshes("cells", Results(exported_wd).cell_ids()).items(),
              key=lambda kv: kv[1].n_vertices)[0]
    manifest = c.get(f"/precomputed/mesh/{cid}:0").json()
    (frag,) = manifest["fragments"]
    r = c.get(f"/precomputed/mesh/{frag}")
    assert r.content == (root / "mesh" / frag).read_bytes()
    assert len(read_legacy_mesh(root / "mesh" / frag).vertices) > 0
    assert c.get("/api/dataset").json()["precomputed"]["synapses"] is True
    assert c.get("/precomputed/synapses/info").json()["@type"] == "neuroglancer_annotations_v1"


def test_browser_links_a_cell_to_neuroglancer(exported_wd, browser, live_server):
    """The cell panel's link opens the configured Neuroglancer on the served export, with the
    cell selected and the view centred on it."""
    from syconn.server import create_app

    app = create_app(exported_wd, neuroglancer_url="https://ng.example")
    c = TestClient(app)
    cell = c.get("/api/cells?limit=1").json()["cells"][0]
    with live_server(app) as srv:
        browser.goto(f"{srv.url}/app/#cell={cell['key']}")
        browser.wait_for("document.body?.dataset.state === 'ready' && "
                         "document.querySelector('#neuroglancer-link') !== null")
        href = browser.js("document.querySelector('#neuroglancer-link').href")
        # what Neuroglancer, on another origin, reads first: allowed by CORS
        got = browser.js(f"""fetch('{srv.url}/precomputed/info')
            .then((r) => r.headers.get('access-control-allow-origin'))""")
    assert got == "*"
    base, _, fragment = href.partition("#!")
    assert base == "https://ng.example/"
    state = json.loads(unquote(fragment))
    assert state["layers"] == [
        {"type": "segmentation", "source": f"precomputed://{srv.url}/precomputed",
         "name": "cells", "segments": [cell["key"]]},
        {"type": "annotation", "source": f"precomputed://{srv.url}/precomputed/synapses",
         "name": "synapses"}]
    vs = c.get("/api/dataset").json()["voxel_size_nm"]
    assert state["dimensions"] == {a: [v * 1e-9, "m"] for a, v in zip("xyz", vs)}
    assert state["position"] == pytest.approx([cell[f"{a}_nm"] / v for a, v in zip("xyz", vs)])
    assert browser.errors == []
