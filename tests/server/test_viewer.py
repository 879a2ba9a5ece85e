"""The web viewer: its ``/api/`` routes against SQL (SQLite and PostgreSQL), the built front end
served from the package at ``/app``, and a headless-Chromium run of the viewer on a processed
working directory.

The route tests use working directories holding known rows (``known_wd``, see conftest), so
every expected value below is worked out by hand from those rows: threshold 0.5, voxel size
10 x 10 x 20 nm, neurons 10, 20 and 123, glia 30.
"""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syconn.server.viewer import STATIC_DIR, mount

ROOT = Path(__file__).resolve().parents[2]


def viewer_client(wd) -> TestClient:
    app = FastAPI()
    mount(app, wd)
    return TestClient(app)


def ids(page) -> list[int]:
    return [c["id"] for c in page["cells"]]


# ------------------------------------------------------------------ /api/ on SQLite and PostgreSQL

def test_cells_lists_neurons_with_counts(known_wd):
    c = viewer_client(known_wd())
    page = c.get("/api/cells").json()
    assert page["total"] == 3 and ids(page) == [20, 10, 123]  # size, largest first; no glia
    cell = {r["id"]: r for r in page["cells"]}
    assert cell[10]["key"] == "10"
    assert cell[10]["size_um3"] == pytest.approx(1000 * 10 * 10 * 20 / 1e9)
    # counted: syn_prob > 0.5 with a direction; s3 (0.3) and s4 (no direction) are not
    assert (cell[10]["n_synapses_out"], cell[10]["n_synapses_in"]) == (2, 1)
    assert (cell[20]["n_synapses_out"], cell[20]["n_synapses_in"]) == (0, 2)
    assert cell[10]["sum_area_out_um2"] == pytest.approx(0.3)
    assert (cell[10]["n_mi"], cell[10]["n_vc"], cell[20]["n_sj"]) == (2, 1, 1)
    assert cell[10]["cable_length_um"] == 12.5
    assert cell[20]["cable_length_um"] is None and cell[20]["skeleton_status"] == "too_small"
    assert cell[10]["cell_type"] is None
    assert (cell[10]["x_nm"], cell[10]["z_nm"]) == (50.0, 100.0)
    assert page["cell_types"] == [{"cell_type": None, "n_cells": 3}]


#: /api/cells query -> (ids in order, total)
CELL_QUERIES = {
    "q=1": ([10, 123], 2),                        # id prefix
    "q=12": ([123], 1),
    "min_size_um3=0.0015": ([20, 10], 2),
    "min_synapses=3": ([10], 1),                  # in + out: 10 has 1 + 2, 20 has 2 + 0
    "min_synapses_in=2": ([20], 1),
    "min_synapses_out=1": ([10, 123], 2),         # 123 -> 10 (s5) counts
    "min_cable_um=10": ([10], 1),                 # 20 has no cable length: not >= 10
    "type=EA": ([], 0),
    "sort=id&desc=false": ([10, 20, 123], 3),
    "sort=cable": ([10, 20, 123], 3),             # missing cable last, then by id
    "sort=cable&desc=false": ([10, 20, 123], 3),
    "sort=synapses": ([10, 20, 123], 3),
    "sort=id&desc=false&limit=1&offset=1": ([20], 3),
    "offset=3": ([], 3),                          # past the end: still counted
    "q=1&min_synapses_out=2": ([10], 1),
    "type=x' OR '1'='1": ([], 0),                 # bound, not formatted into the SQL
}

#: bad /api/cells query -> (status, text in the detail)
BAD_CELL_QUERIES = {
    "q=1%20OR%201=1": (400, "digits only"),
    "sort=size;DROP": (400, "expected one of id, size"),
    "limit=0": (422, ""),
    "min_size_um3=-1": (422, ""),
}


def test_cells_filters_sort_and_page_in_sql(known_wd):
    c = viewer_client(known_wd())
    for query, (expected, total) in CELL_QUERIES.items():
        page = c.get(f"/api/cells?{query}").json()
        assert (ids(page), page["total"]) == (expected, total), query
    for query, (status, needle) in BAD_CELL_QUERIES.items():
        r = c.get(f"/api/cells?{query}")
        assert r.status_code == status and needle in str(r.json()["detail"]), query


def test_cell_attributes_and_partners(known_wd):
    d = viewer_client(known_wd()).get("/api/cell/10").json()
    assert d["id"] == 10 and d["attributes"]["n_supervoxels"] == 2
    assert d["attributes"]["bb_max_z_nm"] == 140.0  # (5 + 2) * 20
    [out] = d["partners_out"]
    assert (out["partner"], out["partner_key"], out["n_synapses"], out["n_symmetric"]) == \
        (20, "20", 2, 1)
    assert out["sum_area_um2"] == pytest.approx(0.3) and out["sign"] == 1  # 0.2 - 0.1 > 0
    [inp] = d["partners_in"]  # s3 (20 -> 10, 0.3) is below the threshold
    assert (inp["partner"], inp["n_synapses"], inp["sign"]) == (123, 1, 0)  # its sign unknown
    assert inp["sum_area_um2"] == pytest.approx(0.4)


def test_synapses_of_a_cell(known_wd, viewer_tools):
    c = viewer_client(known_wd())
    r = c.get("/api/synapses?cell=10").json()
    assert r["cell"] == 10 and r["threshold"] == 0.5
    syn = r["synapses"]
    big = viewer_tools.BIG_SYNAPSE_ID
    assert [s["id"] for s in syn] == [4, big, 2, 5, 3]  # most probable first
    by_id = {s["id"]: s for s in syn}
    s1 = by_id[big]
    assert s1["key"] == str(big)  # exact as text, where a JSON number would lose digits
    assert (s1["partner"], s1["direction"], s1["sign_label"]) == (20, "out", "excitatory")
    assert (s1["comp_pre_label"], s1["comp_post_label"]) == ("axon", "dendrite")
    assert (s1["rep_x"], s1["rep_y"], s1["rep_z"]) == (10, 6, 5)
    assert (s1["x_nm"], s1["y_nm"], s1["z_nm"]) == (100.0, 60.0, 100.0)
    assert (s1["syn_prob"], s1["size_vx"]) == (0.9, 40) and s1["area_um2"] == pytest.approx(0.2)
    assert by_id[2]["sign_label"] == "inhibitory" and by_id[2]["comp_pre"] is None
    assert (by_id[4]["partner"], by_id[4]["direction"]) == (123, "unknown")
    assert (by_id[5]["partner"], by_id[5]["direction"], by_id[5]["sign_label"]) == \
        (123, "in", "unknown")
    assert by_id[3]["direction"] == "in"
    assert {s["id"]: s["counted"] for s in syn} == {4: False, big: True, 2: True, 5: True,
                                                    3: False}
    # what the connectome counts for the cell is what the table marks as counted
    cell = c.get("/api/cell/10").json()["attributes"]
    counted = [s for s in syn if s["counted"]]
    assert len(counted) == cell["n_synapses_in"] + cell["n_synapses_out"]


BAD_IDS = ["/api/cell/999", "/api/cell/abc", "/api/cell/-10", "/api/cell/99999999999999999999",
           "/api/cell/10%20OR%201=1", "/api/synapses?cell=999", "/api/synapses?cell=1%20OR%201=1"]


def test_bad_ids_give_404_json(known_wd):
    c = viewer_client(known_wd())
    for path in BAD_IDS:
        r = c.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/json", path
        assert "cell" in r.json()["detail"], path
    r = c.get("/api/synapses")
    assert r.status_code == 400 and "cell" in r.json()["detail"]


def test_type_matrix_says_there_are_no_types_yet(known_wd, viewer_tools):
    c = viewer_client(known_wd())
    m = c.get("/api/type_matrix").json()
    assert m["available"] is False and m["types"] == [] and m["n_synapses"] == []
    assert m["message"].startswith("No cell types yet") and "3 neuron cells" in m["message"]
    ds = c.get("/api/dataset").json()
    assert ds["has_cell_types"] is False and ds["has_compartments"] is True  # s1 has comp_pre
    assert ds["name"] == "known_rows" and ds["voxel_size_nm"] == list(viewer_tools.VOXEL_NM)
    assert (ds["n_cells"], ds["n_synapses"], ds["n_connections"]) == (3, 5, 2)
    assert ds["syn_prob_threshold"] == 0.5


def test_type_matrix_sums_synapses_by_type(known_wd):
    c = viewer_client(known_wd(cell_types={10: "EA", 20: "MSN"}))
    m = c.get("/api/type_matrix").json()
    assert m["available"] is True and m["message"] is None
    assert m["types"] == ["EA", "MSN", "untyped"] and m["n_cells"] == [1, 1, 1]
    # thresholded connections: EA 10 -> MSN 20 (s1, s2), untyped 123 -> EA 10 (s5)
    assert m["n_synapses"] == [[0, 2, 0], [0, 0, 0], [1, 0, 0]]
    assert m["sum_area_um2"][0][1] == pytest.approx(0.3)
    page = c.get("/api/cells?type=MSN").json()
    assert ids(page) == [20] and {"cell_type": "EA", "n_cells": 1} in page["cell_types"]


def test_routes_read_through_a_read_only_engine(known_wd, monkeypatch):
    import syconn.workdir

    seen = []
    real = syconn.workdir.open_engine

    def spy(wd, *args, **kwargs):
        seen.append(kwargs.get("read_only"))
        return real(wd, *args, **kwargs)

    wd = known_wd()
    monkeypatch.setattr(syconn.workdir, "open_engine", spy)
    c = viewer_client(wd)
    assert seen == [True]
    assert c.get("/api/cells").status_code == 200


# ------------------------------------------------------------------ /app from the package

def _index() -> str:
    return (STATIC_DIR / "index.html").read_text()


def test_static_files_live_in_the_package():
    import importlib.resources

    assert STATIC_DIR == Path(importlib.resources.files("syconn.server")) / "static"
    assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', _index())
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    # every built file is package data of syconn.server
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["syconn.server"]
    for f in STATIC_DIR.rglob("*"):
        if f.is_file():
            rel = f.relative_to(STATIC_DIR.parent).as_posix()
            assert any(fnmatch(rel, p) for p in patterns), rel


def test_app_serves_index_and_assets(tmp_path, viewer_tools):
    c = viewer_client(viewer_tools.make_known_wd(tmp_path / "wd",
                                                 f"sqlite:///{tmp_path / 'wd.sqlite'}"))
    r = c.get("/app", follow_redirects=False)
    assert r.status_code in (307, 308) and r.headers["location"].endswith("/app/")
    r = c.get("/app/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text == _index() and '<div id="view">' in r.text
    for asset in re.findall(r'(?:src|href)="\./(assets/[^"]+)"', r.text):
        got = c.get(f"/app/{asset}")
        assert got.status_code == 200, asset
        assert got.content == (STATIC_DIR / asset).read_bytes()
        kind = "javascript" if asset.endswith(".js") else "css"
        assert kind in got.headers["content-type"]
    assert c.get("/app/../pyproject.toml").status_code == 404
    # nothing is fetched from elsewhere at run time: the bundle names no other host
    bundle = next(STATIC_DIR.glob("assets/*.js")).read_text()
    assert not re.search(r"""(?:import|fetch)\s*\(\s*["']https?://""", bundle)
    assert "https://" not in _index() and "http://" not in _index()


# ------------------------------------------------------------------ the real app, and a browser

def real_app(wd) -> FastAPI:
    """``syconn server``'s app (it mounts the viewer)."""
    from syconn.server.app import create_app

    return create_app(wd)


def test_api_agrees_with_itself_on_the_pipeline_results(served_wd):
    """On the processed volume (SQLite, and its rows on PostgreSQL): the list, each cell's
    partners and its synapse table count the same synapses."""
    c = viewer_client(served_wd)
    page = c.get("/api/cells?limit=10000").json()
    assert page["total"] == len(page["cells"]) > 0
    n_counted = 0
    for cell in page["cells"]:
        d = c.get(f"/api/cell/{cell['key']}").json()
        assert sum(p["n_synapses"] for p in d["partners_out"]) == cell["n_synapses_out"]
        assert sum(p["n_synapses"] for p in d["partners_in"]) == cell["n_synapses_in"]
        syn = c.get(f"/api/synapses?cell={cell['key']}").json()["synapses"]
        assert sum(s["counted"] and s["direction"] == "out" for s in syn) == cell["n_synapses_out"]
        assert sum(s["counted"] and s["direction"] == "in" for s in syn) == cell["n_synapses_in"]
        assert all(s["x_nm"] is not None and s["partner"] != cell["id"] for s in syn)
        n_counted += cell["n_synapses_out"]
    ds = c.get("/api/dataset").json()
    assert n_counted > 0 and ds["n_cells"] == page["total"]


def test_create_app_serves_the_viewer_and_its_meshes(pipeline_wd):
    c = TestClient(real_app(pipeline_wd))
    page = c.get("/api/cells?limit=10000").json()
    assert page["total"] == len(page["cells"]) > 0
    ssvs = set(c.get("/ssv_list").json()["ssvs"])
    assert {x["id"] for x in page["cells"]} <= ssvs
    cell = max(page["cells"], key=lambda x: x["n_synapses_in"] + x["n_synapses_out"])
    mesh = c.get(f"/ssv_mesh/{cell['key']}").json()
    assert len(mesh["vertices"]) > 0 and len(mesh["indices"]) % 3 == 0
    syn = c.get(f"/api/synapses?cell={cell['key']}").json()["synapses"]
    assert sum(s["counted"] for s in syn) == cell["n_synapses_in"] + cell["n_synapses_out"]
    assert c.get("/app/").status_code == 200


_PIXELS = """(() => {
  const c = document.querySelector('#view canvas');
  const t = document.createElement('canvas');
  t.width = c.width; t.height = c.height;
  const g = t.getContext('2d');
  g.drawImage(c, 0, 0);
  const d = g.getImageData(0, 0, t.width, t.height).data;
  let n = 0;  // pixels that differ from the background #f4f5f7
  for (let i = 0; i < d.length; i += 4)
    if (Math.abs(d[i] - 0xf4) + Math.abs(d[i + 1] - 0xf5) + Math.abs(d[i + 2] - 0xf7) > 24) n++;
  return n;
})()"""


def test_browser_selects_a_cell_and_jumps_to_a_synapse(pipeline_wd, browser, live_server):
    with live_server(real_app(pipeline_wd)) as srv:
        browser.goto(f"{srv.url}/app/")
        browser.wait_for("document.querySelectorAll('#cells tbody tr').length > 0")
        # the cell type step typed cells: the type-by-type tab shows its heatmap (own fetch)
        browser.wait_for("document.querySelector('#tab-types table.heatmap') !== null")
        assert browser.js("document.querySelector('#view canvas') !== null")
        assert browser.js(_PIXELS) == 0  # nothing drawn before a cell is chosen
        # the cell with the most synapses counted, from the list the page shows
        key = browser.js("""(() => {
          const rows = [...document.querySelectorAll('#cells tbody tr')];
          const n = (tr) => +tr.children[3].textContent + +tr.children[4].textContent;
          rows.sort((a, b) => n(b) - n(a));
          rows[0].click();
          return rows[0].dataset.key; })()""")
        browser.wait_for(f"document.body.dataset.state === 'ready' && "
                         f"document.body.dataset.cell === '{key}'")
        assert browser.js(_PIXELS) > 2000  # the mesh is drawn
        assert browser.js("document.querySelector('#tab-cell h2').textContent") == f"Cell {key}"
        # no Neuroglancer export in this working directory: no link to one
        assert browser.js("document.querySelector('#neuroglancer-link') === null")
        before = browser.js("document.querySelector('#view canvas').dataset.target")
        browser.js("document.querySelector('#tabs button[data-tab=synapses]').click()")
        n_rows = browser.js("document.querySelectorAll('#tab-synapses tbody tr').length")
        assert n_rows > 0
        row = "document.querySelector('#tab-synapses tbody tr:last-child')"
        browser.js(f"{row}.click()")
        where = json.loads(browser.js(f"{row}.dataset.nm"))
        after = json.loads(browser.js("document.querySelector('#view canvas').dataset.target"))
        assert after != json.loads(before)
        assert after == [round(v) for v in where]  # the view is centred on the synapse
        assert browser.js(f"{row}.classList.contains('selected')")
        assert browser.js(_PIXELS) > 2000
        # one click on a partner overlays its mesh
        partner = browser.js("""(() => {
          const box = document.querySelector('#tab-cell .partners input[type=checkbox]');
          box.click();
          return box.closest('tr').dataset.partner; })()""")
        browser.wait_for("document.querySelector('#view canvas').dataset.partners === "
                         f"'{partner}'")
    assert browser.errors == []
