"""The original's KNOSSOS-plugin routes (syconn.server.app), route by route, on the processed
test working directory (SQLite and PostgreSQL): keys, types and values against SQL and the
stores the pipeline wrote; the plugin's own call sequence, parsed as the plugin parses it;
bad ids, malformed parameters, path traversal and SQL injection; writes only with
``allow_write``.  Plus unit tests of the payload helpers (syconn.server.knossos)."""

from __future__ import annotations

import json
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient

from syconn.errors import InputError, ObjectNotFound
from syconn.server import create_app
from syconn.server import knossos as K
from syconn.tasks.morphology import mesh_store, skeleton_store


def sql(results, query, **params):
    return results.query(query, params or None)[1]


def cells(results) -> list[int]:
    return [r[0] for r in sql(results, "SELECT id FROM cells ORDER BY id")]


def stored_concat(wd, kind, ids):
    """Vertices and faces of the stored meshes ``ids`` of ``kind`` joined in id order, read
    through the writer side's store function."""
    got = mesh_store(wd, kind).get_many(ids)
    parts = [got[i] for i in sorted(got)]
    if not parts:
        return np.zeros(0, np.float32), np.zeros(0, np.uint32)
    offs = np.cumsum([0] + [p.n_vertices for p in parts[:-1]])
    return (np.concatenate([p.vertices.ravel() for p in parts]),
            np.concatenate([(p.faces + o).ravel() for p, o in zip(parts, offs)]))


def as_f32(values) -> np.ndarray:
    return np.asarray(values, np.float64).astype(np.float32)


# ------------------------------------------------------------------ routes against SQL / stores

def test_greeting_and_cell_list(client, results):
    assert client.get("/").json() == {"Welcome to": "SyConnGate"}
    r = client.get("/ssv_list")
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"ssvs": cells(results)} and len(r.json()["ssvs"]) == 6


def test_cell_mesh_routes_are_the_stored_mesh(client, served_wd, results):
    for cid in cells(results):
        want = mesh_store(served_wd, "cells").get(cid)
        m = client.get(f"/ssv_mesh/{cid}").json()
        assert set(m) == {"vertices", "indices", "normals"} and m["normals"] == []
        assert np.array_equal(as_f32(m["vertices"]), want.vertices.ravel())   # nm, exact
        assert m["indices"] == want.faces.ravel().tolist()
        assert client.get(f"/ssv_vert/{cid}").json() == {"vert": m["vertices"]}
        assert client.get(f"/ssv_ind/{cid}").json() == {"ind": m["indices"]}
        assert client.get(f"/ssv_norm/{cid}").json() == {"norm": []}
        # the plugin asks for the cell mesh as object type sv
        assert client.get(f"/ssv_obj_vert/{cid}/sv").json() == {"vert": m["vertices"]}
        assert client.get(f"/ssv_obj_ind/{cid}/sv").json() == {"ind": m["indices"]}


def test_cached_meshes_follow_the_store(pipeline_wd, tmp_path):
    """Cell meshes are served from the server's cache until the store's record changes."""
    import shutil

    from syconn.proc.meshes import Mesh
    from syconn.read import Results

    wd = tmp_path / "wd"
    shutil.copytree(pipeline_wd, wd)
    app = create_app(wd, prewarm_bytes=0)
    c = TestClient(app)
    cid = cells(Results(wd))[0]
    first = c.get(f"/ssv_mesh/{cid}").content
    assert len(app.state.mesh_cache) == 1 and c.get(f"/ssv_mesh/{cid}").content == first
    assert c.get(f"/ssv_vert/{cid}").json()["vert"] == json.loads(first)["vertices"]
    assert len(app.state.mesh_cache) == 2  # one entry per route
    tri = Mesh(np.asarray([[0, 0, 0], [10, 0, 0], [0, 10, 0]], np.float32),
               np.asarray([[0, 1, 2]], np.uint32))
    mesh_store(wd, "cells").put(cid, tri)  # the pipeline rewrites the cell's mesh
    m = c.get(f"/ssv_mesh/{cid}").json()
    assert m["vertices"] == [0, 0, 0, 10, 0, 0, 0, 10, 0] and m["indices"] == [0, 1, 2]
    assert c.get(f"/ssv_ind/{cid}").json() == {"ind": [0, 1, 2]}
    n = len(app.state.mesh_cache)
    assert c.get("/ssv_mesh/999999999").status_code == 404  # not a cell: nothing cached
    assert len(app.state.mesh_cache) == n


@pytest.fixture
def wd_copy(pipeline_wd, tmp_path):
    """A copy of the processed working directory, to rewrite its stores."""
    import shutil

    wd = tmp_path / "wd"
    shutil.copytree(pipeline_wd, wd)
    return wd


def tri_mesh(scale: float = 10.0):
    from syconn.proc.meshes import Mesh

    return Mesh(np.asarray([[0, 0, 0], [scale, 0, 0], [0, scale, 0]], np.float32),
                np.asarray([[0, 1, 2]], np.uint32))


def count_makes(app) -> list:
    """Record every body the app makes (``(part, cell)``), slowed a little so that
    concurrent requests overlap."""
    import time

    meshes, made = app.state.meshes, []
    make = meshes.make

    def slow_make(store, cid, part, version):
        made.append((part, cid))
        time.sleep(0.05)
        return make(store, cid, part, version)

    meshes.make = slow_make
    return made


async def gather_gets(app, urls):
    import asyncio

    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as ac:
        return await asyncio.gather(*(ac.get(u) for u in urls))


def test_concurrent_requests_of_one_mesh_make_it_once(wd_copy):
    """Single flight: concurrent requests of the same body share one read and
    serialisation; another body or another cell is made on its own."""
    import asyncio

    from syconn.read import Results

    app = create_app(wd_copy, prewarm_bytes=0)
    made = count_makes(app)
    a, b = cells(Results(wd_copy))[:2]
    urls = [f"/ssv_mesh/{a}"] * 20 + [f"/ssv_vert/{a}"] * 5 + [f"/ssv_obj_vert/{a}/sv"] * 5 \
        + [f"/ssv_mesh/{b}"] * 10
    got = asyncio.run(gather_gets(app, urls))
    assert [r.status_code for r in got] == [200] * len(urls)
    assert sorted(made, key=str) == sorted([(None, a), ("vertices", a), (None, b)], key=str)
    assert len({r.content for r in got[:20]}) == 1 and len({r.content for r in got[20:30]}) == 1
    assert json.loads(got[0].content)["vertices"] == json.loads(got[20].content)["vert"]
    assert len(app.state.meshes.flight) == 0  # nothing left running
    # cached now: more requests make nothing
    asyncio.run(gather_gets(app, urls))
    assert len(made) == 3


def test_concurrent_requests_of_unknown_ids_are_404_and_cache_nothing(wd_copy):
    import asyncio

    from syconn.read import Results

    app = create_app(wd_copy, prewarm_bytes=0)
    missing = max(cells(Results(wd_copy))) + 10 ** 9
    urls = [f"/ssv_mesh/{missing}"] * 10 + [f"/ssv_ind/{missing}"] * 5 \
        + [f"/ssv_obj_ind/{missing}/sv"] * 5
    got = asyncio.run(gather_gets(app, urls))
    assert {r.status_code for r in got} == {404}
    assert all("no such cell" in r.json()["detail"] for r in got)
    assert len(app.state.mesh_cache) == 0 and len(app.state.meshes.flight) == 0


def test_a_cell_without_a_mesh_is_the_empty_mesh_and_other_ids_404(wd_copy):
    """A mesh in the store answers without SQL; an id the store lacks is asked of SQL: a
    cell gets the empty mesh, anything else 404."""
    from sqlalchemy import insert, select

    from syconn.db import tables as T
    from syconn.read import Results

    res = Results(wd_copy)
    new = max(cells(res)) + 12345  # a cell row without a stored mesh: a copy of a row
    with res.writer().begin() as conn:
        row = dict(conn.execute(select(T.cells)).first()._mapping)
        conn.execute(insert(T.cells).values({**row, "id": new}))
    app = create_app(wd_copy, prewarm_bytes=0)
    c = TestClient(app)
    assert c.get(f"/ssv_mesh/{new}").json() == {"vertices": [], "indices": [], "normals": []}
    assert c.get(f"/ssv_mesh/{new + 1}").status_code == 404
    # a stored mesh: no SQL is asked (the engine is not even needed)
    cid = cells(res)[0]

    def no_sql(*a, **k):
        raise AssertionError("SQL asked for a cell whose mesh is stored")

    app.state.results.require_cell = no_sql
    assert c.get(f"/ssv_mesh/{cid}").status_code == 200


def test_a_store_made_again_is_opened_again(wd_copy):
    """The cached bodies follow a store removed and written anew (another shard count:
    another shard holds the cell), not only a rewritten shard."""
    import shutil

    from syconn.io.meshes import MeshStore
    from syconn.read import Results

    app = create_app(wd_copy, prewarm_bytes=0)
    c = TestClient(app)
    ids = cells(Results(wd_copy))
    before = {cid: c.get(f"/ssv_mesh/{cid}").content for cid in ids}
    path = mesh_store(wd_copy, "cells").path
    old = MeshStore(path)
    meshes = {cid: old.get(cid) for cid in ids if cid in old}
    shutil.rmtree(path)
    new = MeshStore(path, n_shards=7)
    new.put_many({**meshes, ids[0]: tri_mesh()})
    assert c.get(f"/ssv_mesh/{ids[0]}").json()["indices"] == [0, 1, 2]
    assert c.get(f"/ssv_obj_ind/{ids[0]}/sv").json() == {"ind": [0, 1, 2]}
    for cid in ids[1:]:
        assert c.get(f"/ssv_mesh/{cid}").content == before[cid]


def test_prewarm_makes_the_largest_meshes_at_start(wd_copy):
    from syconn.read import Results

    counts = mesh_store(wd_copy, "cells").counts()
    ids = [i for i in cells(Results(wd_copy)) if i in counts]
    largest = max(ids, key=lambda i: 2 * counts[i][0] + counts[i][1])
    app = create_app(wd_copy)  # the default: more than the test volume's meshes
    with TestClient(app) as c:
        assert app.state.meshes.prewarm_done.wait(30)
        assert {k for k in app.state.mesh_cache._items} == {(None, i) for i in ids}
        made = count_makes(app)
        for cid in ids:
            assert np.array_equal(as_f32(c.get(f"/ssv_mesh/{cid}").json()["vertices"]),
                                  mesh_store(wd_copy, "cells").get(cid).vertices.ravel())
        assert made == []
    app = create_app(wd_copy, prewarm_bytes=1)  # one mesh: the largest
    with TestClient(app):
        assert app.state.meshes.prewarm_done.wait(30)
        assert list(app.state.mesh_cache._items) == [(None, largest)]
    app = create_app(wd_copy, prewarm_bytes=0)
    with TestClient(app):
        assert app.state.meshes.prewarm_done.is_set() and len(app.state.mesh_cache) == 0


def test_cached_mesh_answers_are_the_routes_answers(wd_copy):
    """A cached body is answered before FastAPI's routing: the same status, headers and
    bytes as the route's answer that made it; a POST or another object type is not."""
    from syconn.read import Results

    app = create_app(wd_copy, prewarm_bytes=0)
    c = TestClient(app)
    cid = cells(Results(wd_copy))[0]
    for url in (f"/ssv_mesh/{cid}", f"/ssv_ind/{cid}", f"/ssv_vert/{cid}",
                f"/ssv_obj_ind/{cid}/sv", f"/ssv_obj_vert/{cid}/sv", f"/ssv_mesh/000{cid}"):
        made = c.get(url)
        cached = c.get(url)
        assert made.status_code == cached.status_code == 200
        assert made.content == cached.content
        assert dict(made.headers) == dict(cached.headers)
    assert len(app.state.mesh_cache) == 3
    assert c.post(f"/ssv_mesh/{cid}").status_code == 405
    assert c.get(f"/ssv_obj_ind/{cid}/mi").json().keys() == {"ind"}


def test_single_flight_shares_results_and_errors():
    import asyncio
    import threading

    from syconn.server.cache import SingleFlight

    calls, gate = [], threading.Event()

    def work(x):
        calls.append(x)
        gate.wait(5)
        if x < 0:
            raise ObjectNotFound(f"no {x}")
        return x * 2

    async def main():
        sf = SingleFlight()
        ok = [asyncio.ensure_future(sf.run("a", work, 3)) for _ in range(5)]
        bad = [asyncio.ensure_future(sf.run("b", work, -1)) for _ in range(3)]
        await asyncio.sleep(0.05)
        ok[0].cancel()  # one caller leaving does not stop the others' call
        gate.set()
        got = await asyncio.gather(*ok[1:])
        errs = await asyncio.gather(*bad, return_exceptions=True)
        assert len(sf) == 0
        return got, errs

    got, errs = asyncio.run(main())
    assert got == [6] * 4 and sorted(calls) == [-1, 3]
    assert all(isinstance(e, ObjectNotFound) for e in errs)


def test_object_meshes_are_the_cells_organelles_and_synapses(client, served_wd, results):
    thresh = sql(results, "SELECT syn_prob_threshold FROM dataset")[0][0]
    seen = {"mi": 0, "vc": 0, "syn": 0}
    for cid in cells(results):
        for obj_type, kind in (("mi", "mi"), ("vc", "vc"), ("sj", "syn"), ("syn_ssv", "syn")):
            if kind == "syn":
                ids = [r[0] for r in sql(results, "SELECT id FROM synapses WHERE syn_prob > :t "
                                         "AND (cell_a = :c OR cell_b = :c)", t=thresh, c=cid)]
            else:
                ids = [r[0] for r in sql(results, "SELECT id FROM organelles WHERE kind = :k "
                                         "AND cell_id = :c", k=kind, c=cid)]
            v, f = stored_concat(served_wd, kind, ids)
            vert = client.get(f"/ssv_obj_vert/{cid}/{obj_type}").json()["vert"]
            ind = client.get(f"/ssv_obj_ind/{cid}/{obj_type}").json()["ind"]
            assert np.array_equal(as_f32(vert), v) and ind == f.tolist(), (cid, obj_type)
            assert client.get(f"/ssv_obj_norm/{cid}/{obj_type}").json() == {"norm": []}
            seen[kind] += len(v) > 0
    assert all(seen.values()), seen   # the fixture has cells with each kind of object mesh


def test_skeletons_in_voxels_as_the_original(client, served_wd, results):
    vs = np.array(sql(results, "SELECT voxel_x_nm, voxel_y_nm, voxel_z_nm FROM dataset")[0])
    ok = [r[0] for r in sql(results, "SELECT id FROM cells WHERE skeleton_status = 'ok'")]
    assert ok
    for cid in ok:
        want = skeleton_store(served_wd).get(cid)
        s = client.get(f"/ssv_skeleton/{cid}").json()
        # no compartment model has run: no axoness / spiness keys, as the original omits them
        assert set(s) == {"nodes", "edges", "diameters"}
        assert s["nodes"] == np.rint(want.vertices / vs).astype(np.int64).ravel().tolist()
        assert s["edges"] == want.edges.ravel().tolist()
        assert np.allclose(s["diameters"], 2 * want.radii_nm / vs[0], rtol=1e-6)


def test_supervoxels_and_their_cells(client, results):
    rows = sql(results, "SELECT id, cell_id FROM supervoxels ORDER BY id")
    for cid in cells(results):
        assert client.get(f"/svs_of_ssv/{cid}").json() == \
            {"svs": [s for s, c in rows if c == cid]}
    for sv, cid in rows:
        assert client.get(f"/ssv_of_sv/{sv}").json() == {"ssv": cid or 0}
    missing = max(s for s, _ in rows) + 1
    assert client.get(f"/ssv_of_sv/{missing}").json() == {"ssv": 0}


def test_cell_type_and_certainty_or_the_originals_missing_value(client, results):
    types = {c: (t, p) for c, t, p in sql(results, "SELECT id, cell_type, cell_type_certainty "
                                                   "FROM cells")}
    assert any(t is not None for t, _ in types.values())
    for cid in cells(results):
        t, p = types[cid]
        got = client.get(f"/ct_of_ssv/{cid}").json()
        if t is None:  # too small to type: the original's missing value
            assert got == {"ct": "", "certainty": ""}
        else:
            assert got["ct"] == t and got["certainty"] == pytest.approx(p)


def syn_meta_url(synthresh, axodend_only) -> str:
    """The URL the plugin builds: ``json.dumps`` of the parameters in the path."""
    return "/all_syn_meta/" + json.dumps({"synthresh": synthresh, "axodend_only": axodend_only})


@pytest.mark.parametrize("synthresh", [0.0, 0.5, 0.99])
def test_all_syn_meta_against_sql(client, results, synthresh):
    rows = sql(results, "SELECT id, area_um2, syn_prob, sign, rep_x, rep_y, rep_z, cell_pre, "
                        "cell_post, cell_a, cell_b, comp_pre, comp_post, spiness_post "
                        "FROM synapses WHERE syn_prob >= :t ORDER BY id", t=synthresh)
    m = client.get(syn_meta_url(synthresh, False)).json()
    assert list(m) == list(K.SYN_META_KEYS)
    assert all(len(v) == len(rows) for v in m.values())
    assert m["ids"] == [r[0] for r in rows]                        # 64-bit ids, exact
    assert np.allclose(m["syn_size"], [r[1] for r in rows])
    assert np.allclose(m["synaptivity_proba"], [r[2] for r in rows])
    assert m["syn_sign"] == [r[3] for r in rows]
    assert [m["coord_x"], m["coord_y"], m["coord_z"]] == [[r[i] for r in rows] for i in (4, 5, 6)]
    assert m["ssv_partner_0"] == [r[7] if r[7] is not None else r[9] for r in rows]
    assert m["ssv_partner_1"] == [r[8] if r[7] is not None else r[10] for r in rows]
    # compartments: boutons (3, 4) folded to axon (1), NULL -> -1
    fold = (lambda c: -1 if c is None else (1 if c in (3, 4) else c))
    ax0, ax1 = [fold(r[11]) for r in rows], [fold(r[12]) for r in rows]
    assert m["neuron_partner_ax_0"] == ax0 and m["neuron_partner_ax_1"] == ax1
    assert any(a >= 0 for a in ax0 + ax1) or not rows
    # cell types: the index of the partner's type in the sorted types present, -1 untyped
    types = dict(sql(results, "SELECT id, cell_type FROM cells"))
    legend = sorted({t for t in types.values() if t is not None})
    code = (lambda c: -1 if types.get(c) is None else legend.index(types[c]))
    assert m["neuron_partner_ct_0"] == [code(p) for p in m["ssv_partner_0"]]
    assert m["neuron_partner_ct_1"] == [code(p) for p in m["ssv_partner_1"]]
    # spiness: only the postsynaptic side is measured; NULL (direction unknown, below the
    # threshold) -> -1
    assert m["neuron_partner_sp_0"] == [-1] * len(rows)
    assert m["neuron_partner_sp_1"] == [-1 if r[13] is None else r[13] for r in rows]
    assert any(v >= 0 for v in m["neuron_partner_sp_1"]) or synthresh > 0.9
    # axodend_only keeps the axo-dendritic synapses and those it cannot tell
    keep = [a < 0 or b < 0 or a + b == 1 for a, b in zip(ax0, ax1)]
    assert client.get(syn_meta_url(synthresh, True)).json()["ids"] == \
        [r[0] for r, k in zip(rows, keep) if k]


def test_the_plugins_call_sequence_parses_as_the_plugin_parses_it(client):
    """What SyConnGateInteraction does on connect, on a cell and on a synapse."""
    ssvs = json.loads(client.get("/ssv_list").content)["ssvs"]
    syns = json.loads(client.get(syn_meta_url(0.5, True)).content)
    assert [str((a, b)) for a, b in zip(syns["ssv_partner_0"], syns["ssv_partner_1"])]
    for ix in range(len(syns["ids"])):
        c = [syns["coord_x"][ix], syns["coord_y"][ix], syns["coord_z"][ix]]
        assert all(isinstance(v, int) for v in c) and abs(syns["syn_size"][ix]) > 0
    for ssv in ssvs:
        svs = json.loads(client.get(f"/svs_of_ssv/{ssv}").content)["svs"]
        assert all(json.loads(client.get(f"/ssv_of_sv/{sv}").content)["ssv"] == ssv
                   for sv in svs)
        assert isinstance(json.loads(client.get(f"/ct_of_ssv/{ssv}").content)["ct"], str)
        skel = json.loads(client.get(f"/ssv_skeleton/{ssv}").content)
        nodes = np.array(skel["nodes"], dtype=np.uint32).reshape(-1, 3)
        edges = np.array(skel["edges"], dtype=np.uint32).reshape(-1, 2)
        assert edges.max() < len(nodes)
        assert len(np.array(skel["diameters"], dtype=np.float32)) == len(nodes)
        for obj_type in ("sv", "mi", "vc", "syn_ssv"):
            ind = np.array(json.loads(client.get(f"/ssv_obj_ind/{ssv}/{obj_type}").content)
                           ["ind"], dtype=np.uint32)
            vert = np.array(json.loads(client.get(f"/ssv_obj_vert/{ssv}/{obj_type}").content)
                            ["vert"], dtype=np.float32)
            norm = np.array(json.loads(client.get(f"/ssv_obj_norm/{ssv}/{obj_type}").content)
                            ["norm"], dtype=np.float32)
            assert len(vert) % 3 == 0 and len(ind) % 3 == 0 and len(norm) == 0
            assert not len(ind) or ind.max() < len(vert) // 3


def test_pull_so_attr(client, results):
    sv, size, rx, ry, rz = sql(results, "SELECT id, size_vx, rep_x, rep_y, rep_z FROM "
                                        "supervoxels ORDER BY id")[0]
    assert client.get(f"/pull_so_attr/{sv}/sv/size").json() == size
    assert client.get(f"/pull_so_attr/{sv}/sv/size_vx").json() == size
    assert client.get(f"/pull_so_attr/{sv}/sv/rep_coord").json() == [rx, ry, rz]
    sid, prob, sign, a, b = sql(results, "SELECT id, syn_prob, sign, cell_a, cell_b FROM "
                                          "synapses ORDER BY id")[0]
    assert client.get(f"/pull_so_attr/{sid}/syn_ssv/syn_prob").json() == pytest.approx(prob)
    assert client.get(f"/pull_so_attr/{sid}/syn_ssv/syn_sign").json() == sign
    assert client.get(f"/pull_so_attr/{sid}/syn_ssv/neuron_partners").json() == [a, b]
    cid = cells(results)[0]
    # missing: a key the object does not have, and a value not computed (a cell too small to
    # type); a typed cell's type
    assert client.get(f"/pull_so_attr/{cid}/ssv/gt_syntype").json() == ""
    types = sql(results, "SELECT id, cell_type FROM cells ORDER BY id")
    untyped = [c for c, t in types if t is None]
    typed = [(c, t) for c, t in types if t is not None]
    assert typed
    for c in untyped[:1]:
        assert client.get(f"/pull_so_attr/{c}/ssv/cell_type").json() == ""
    assert client.get(f"/pull_so_attr/{typed[0][0]}/ssv/cell_type").json() == typed[0][1]
    for kind in ("mi", "vc", "sj"):
        rows = sql(results, "SELECT id, cell_id FROM organelles WHERE kind = :k ORDER BY id",
                   k=kind)
        assert [client.get(f"/pull_so_attr/{i}/{kind}/cell_id").json() for i, _ in rows] == \
            [c if c is not None else "" for _, c in rows]
        assert client.get(f"/pull_so_attr/{rows[-1][0] + 1}/{kind}/id").status_code == 404
    assert client.get(f"/pull_so_attr/{sid}/cs/size").status_code == 404


# ------------------------------------------------------------------ bad input

BAD_IDS = ["abc", "-1", "1.5", "0x10", str(2 ** 63), "9" * 30, "", " 1", "1%20", "%00"]


@pytest.mark.parametrize("route", ["/ssv_mesh/{}", "/ssv_ind/{}", "/ssv_vert/{}",
                                   "/ssv_norm/{}", "/ssv_obj_ind/{}/mi", "/ssv_obj_vert/{}/sv",
                                   "/ssv_obj_norm/{}/vc", "/ssv_skeleton/{}", "/svs_of_ssv/{}",
                                   "/ct_of_ssv/{}", "/ssv_of_sv/{}", "/pull_so_attr/{}/sv/size"])
def test_bad_and_unknown_ids_give_404_json(client, results, route):
    missing = max(cells(results)) + 10 ** 9        # a valid id that is no cell
    for bad in BAD_IDS + ([] if "ssv_of_sv" in route else [str(missing)]):
        r = client.get(route.format(bad))
        assert r.status_code == 404, (route, bad, r.text)
        assert r.headers["content-type"] == "application/json"
        assert isinstance(r.json()["detail"], str) and "\n" not in r.json()["detail"]


def test_unknown_object_types_give_404(client, results):
    cid = cells(results)[0]
    for t in ("cs", "SV", "mi ", "syn", "..", "sv%2F..", "%2e%2e"):
        r = client.get(f"/ssv_obj_ind/{cid}/{t}")
        assert r.status_code == 404 and "detail" in r.json(), t


@pytest.mark.parametrize("params", [
    "{bad json", "[0.5, true]", "null", '"x"', '{"synthresh": 0.5}',
    '{"synthresh": 0.5, "axodend_only": true, "x": 1}', '{"synthresh": 2, "axodend_only": true}',
    '{"synthresh": -0.1, "axodend_only": true}', '{"synthresh": "0.5", "axodend_only": true}',
    '{"synthresh": true, "axodend_only": true}', '{"synthresh": NaN, "axodend_only": true}',
    '{"synthresh": 0.5, "axodend_only": "yes"}', '{"synthresh": 0.5, "axodend_only": 1}',
    '{"synthresh": "a/b", "axodend_only": true}', "[" * 5000 + "]" * 5000])
def test_malformed_all_syn_meta_gives_400_json(client, params):
    r = client.get("/all_syn_meta/" + quote(params, safe=""))
    assert r.status_code == 400, (params, r.text)
    assert r.json()["detail"].startswith("all_syn_meta: ") and "\n" not in r.json()["detail"]


# percent-encoded: a client would resolve a bare ".." itself; the server decodes these
TRAVERSALS = ["..%2F..%2Fconfig.yml", "..%2f..%2fsyconn.sqlite", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
              "%2e%2e", "..%5C..%5Cconfig.yml", "steps%2F..%2F..%2Fconfig.yml", "%2Fetc%2Fpasswd"]


def test_paths_never_reach_files(client, results):
    cid, sv = cells(results)[0], sql(results, "SELECT id FROM supervoxels")[0][0]
    for t in TRAVERSALS:
        for url in (f"/ssv_mesh/{t}", f"/ssv_skeleton/{t}", f"/ssv_obj_vert/{cid}/{t}",
                    f"/ssv_obj_vert/{t}/mi", f"/svs_of_ssv/{t}", f"/pull_so_attr/{t}/sv/size",
                    f"/pull_so_attr/{sv}/{t}/size", f"/push_so_attr/{sv}/{t}/size/1",
                    f"/all_syn_meta/{t}"):
            r = client.get(url)
            assert r.status_code in (400, 403, 404), (url, r.status_code)
            assert b"voxel_size_nm" not in r.content and b"SQLite" not in r.content
        # an attribute name is a column name or nothing: a path as a key reads nothing (or
        # matches no route, where it decodes to more than one path segment)
        r = client.get(f"/pull_so_attr/{sv}/sv/{t}")
        assert (r.status_code, r.json()) in ((200, ""), (404, {"detail": "Not Found"})), t


INJECTIONS = ["1 OR 1=1", "1; DROP TABLE cells", "1' OR '1'='1", "1)--", "1 UNION SELECT 1"]


def test_sql_injection_strings_change_nothing(client, results):
    before = sql(results, "SELECT COUNT(*) FROM cells")[0][0], \
        sql(results, "SELECT COUNT(*) FROM synapses")[0][0]
    sv = sql(results, "SELECT id FROM supervoxels")[0][0]
    for s in INJECTIONS:
        q = quote(s, safe="")
        for url in (f"/ssv_mesh/{q}", f"/svs_of_ssv/{q}", f"/ssv_of_sv/{q}", f"/ct_of_ssv/{q}",
                    f"/pull_so_attr/{q}/sv/size", f"/pull_so_attr/{sv}/{q}/size",
                    f"/push_so_attr/{sv}/ssv/cell_type/{q}"):
            assert client.get(url).status_code in (403, 404), url
        assert client.get(f"/pull_so_attr/{sv}/sv/{q}").json() == ""
    assert (sql(results, "SELECT COUNT(*) FROM cells")[0][0],
            sql(results, "SELECT COUNT(*) FROM synapses")[0][0]) == before


# ------------------------------------------------------------------ writes

def test_push_is_refused_without_allow_write(client, results):
    sid, sign = sql(results, "SELECT id, sign FROM synapses ORDER BY id")[0]
    r = client.get(f"/push_so_attr/{sid}/syn_ssv/syn_sign/{-sign}")
    assert r.status_code == 403 and "--allow-write" in r.json()["detail"]
    assert sql(results, "SELECT sign FROM synapses WHERE id = :i", i=sid) == [(sign,)]


def test_push_writes_whitelisted_columns_with_allow_write(served_wd, results):
    sid, sign = sql(results, "SELECT id, sign FROM synapses ORDER BY id")[0]
    cid = cells(results)[0]
    # the working directory is the session's shared one: put back exactly what was there
    before = sql(results, "SELECT cell_type, cell_type_certainty, is_glia FROM cells "
                 "WHERE id = :i", i=cid)[0]
    writer = TestClient(create_app(served_wd, allow_write=True))
    try:
        r = writer.get(f"/push_so_attr/{sid}/syn_ssv/syn_sign/{-sign}")
        assert r.status_code == 200 and r.json() == ""
        assert sql(results, "SELECT sign FROM synapses WHERE id = :i", i=sid) == [(-sign,)]
        assert writer.get(f"/pull_so_attr/{sid}/syn_ssv/syn_sign").json() == -sign
        assert writer.get(f"/push_so_attr/{cid}/ssv/cell_type/MSN").json() == ""
        assert writer.get(f"/push_so_attr/{cid}/ssv/cell_type_certainty/0.25").json() == ""
        assert writer.get(f"/ct_of_ssv/{cid}").json() == {"ct": "MSN", "certainty": 0.25}
        assert writer.get(f"/push_so_attr/{cid}/ssv/is_glia/false").json() == ""
        assert sql(results, "SELECT is_glia FROM cells WHERE id = :i", i=cid)[0][0] in (0, False)
        for url, status in [(f"/push_so_attr/{sid}/syn_ssv/syn_sign/0", 400),
                            (f"/push_so_attr/{sid}/syn_ssv/syn_sign/1.0", 400),
                            (f"/push_so_attr/{sid}/syn_ssv/syn_prob/1", 400),   # not writable
                            (f"/push_so_attr/{sid}/sv/size/1", 400),
                            (f"/push_so_attr/{cid}/ssv/cell_type/{quote('x; DROP TABLE cells')}",
                             400),
                            (f"/push_so_attr/{cid}/ssv/cell_type_certainty/nan", 400),
                            (f"/push_so_attr/{cid}/ssv/cell_type_certainty/1.5", 400),
                            (f"/push_so_attr/{cid + 10 ** 9}/ssv/cell_type/GP", 404),
                            (f"/push_so_attr/{2 ** 62}/syn_ssv/syn_sign/1", 404)]:
            r = writer.get(url)
            assert r.status_code == status, (url, r.text)
            assert "\n" not in r.json()["detail"]
        assert sql(results, "SELECT COUNT(*) FROM cells WHERE cell_type = 'GP'") == [(0,)]
    finally:
        from sqlalchemy import update

        from syconn.db import tables as T

        with results.writer().begin() as conn:
            conn.execute(update(T.synapses).where(T.synapses.c.id == sid).values(sign=sign))
            conn.execute(update(T.cells).where(T.cells.c.id == cid)
                         .values(cell_type=before[0], cell_type_certainty=before[1],
                                 is_glia=before[2]))
    assert sql(results, "SELECT sign FROM synapses WHERE id = :i", i=sid) == [(sign,)]
    assert sql(results, "SELECT cell_type, cell_type_certainty, is_glia FROM cells "
               "WHERE id = :i", i=cid)[0] == before


# ------------------------------------------------------------------ refusal and the command

def test_refuses_a_working_directory_without_synapses(tmp_path, tiny_inputs, cli,
                                                      one_line_error):
    from syconn.workdir import init_workdir, read_synth_meta

    wd = tmp_path / "wd"
    init_workdir(wd, inputs=read_synth_meta(tiny_inputs(tmp_path / "data"))["inputs"],
                 voxel_size_nm=(10, 10, 20))
    with pytest.raises(InputError, match="no processed synapses"):
        create_app(wd)
    one_line_error(cli("server", wd), "no processed synapses", str(wd))


def test_server_command_binds_localhost_unless_told(served_wd, monkeypatch):
    import gc

    import uvicorn
    from typer.testing import CliRunner

    from syconn.cli import app

    calls, frozen = [], []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: calls.append((application, kw)))
    # the server's objects are frozen out of the collector's sight; not this test process's
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(len(calls)))
    r = CliRunner().invoke(app, ["server", str(served_wd)])
    assert r.exit_code == 0, r.output
    (application, kw), = calls
    assert kw["host"] == "127.0.0.1" and kw["port"] == 10001
    assert application.state.allow_write is False
    r = CliRunner().invoke(app, ["server", str(served_wd), "--host", "0.0.0.0", "--port", "8123",
                                 "--allow-write"])
    assert r.exit_code == 0, r.output
    assert calls[1][1]["host"] == "0.0.0.0" and calls[1][1]["port"] == 8123
    assert calls[1][0].state.allow_write is True
    assert calls[0][0].state.prewarm_bytes == 64 * 2 ** 20
    r = CliRunner().invoke(app, ["server", str(served_wd), "--prewarm-mb", "0"])
    assert r.exit_code == 0, r.output
    assert calls[2][0].state.prewarm_bytes == 0
    assert frozen == [0, 1, 2]  # before each server starts


# ------------------------------------------------------------------ payload helpers (no data)

def test_parse_syn_meta_params():
    assert K.parse_syn_meta_params('{"synthresh": 1, "axodend_only": false}') == (1.0, False)
    assert K.parse_syn_meta_params('{"axodend_only": true, "synthresh": 0}') == (0.0, True)
    for bad, needle in [("{", "is not JSON"), ("[]", "expected a JSON object"),
                        ('{"synthresh": 0.5}', "missing axodend_only"),
                        ('{"synthresh": 0.5, "axodend_only": true, "k": 1}', "unknown k"),
                        ('{"synthresh": 1.5, "axodend_only": true}', "synthresh 1.5"),
                        ('{"synthresh": 0.5, "axodend_only": 0}', "axodend_only 0")]:
        with pytest.raises(InputError, match=needle):
            K.parse_syn_meta_params(bad)


def test_parse_id():
    assert K.parse_id("0") == 0 and K.parse_id(str(2 ** 63 - 1)) == 2 ** 63 - 1
    for bad in ("", "-1", "+1", "1e3", "١", str(2 ** 63), "1 ", "..", "1/2"):
        with pytest.raises(ObjectNotFound):
            K.parse_id(bad)


def _syn(*rows) -> dict:
    """``{column: values}`` of rows given as dicts (absent columns: None)."""
    base = {"area_um2": 0.2, "syn_prob": 0.9, "sign": 1, "rep_x": 1, "rep_y": 2, "rep_z": 3}
    full = [{**base, **r} for r in rows]
    return {c: [r.get(c) for r in full] for c in K.SYN_META_COLUMNS}


def test_syn_meta_partners_and_missing_values():
    rows = _syn({"id": 2 ** 62 + 1, "cell_pre": 9, "cell_post": 4, "cell_a": 4, "cell_b": 9,
                 "spiness_post": 1},
                {"id": 5, "cell_a": 4, "cell_b": 9, "sign": None})
    m = K.syn_meta(rows, {4: 0, 9: 1}, axodend_only=False)
    assert m["ids"].tolist() == [2 ** 62 + 1, 5]                 # no float detour
    assert m["ssv_partner_0"].tolist() == [9, 4]                 # pre first, else id order
    assert m["ssv_partner_1"].tolist() == [4, 9]
    assert m["neuron_partner_ct_0"].tolist() == [1, 0]
    assert m["neuron_partner_ax_0"].tolist() == [-1, -1]
    assert m["neuron_partner_sp_0"].tolist() == [-1, -1]
    assert m["neuron_partner_sp_1"].tolist() == [1, -1]
    assert m["syn_sign"].tolist() == [1, 0]


@pytest.mark.parametrize("comp_pre, comp_post, kept", [
    (1, 0, True), (0, 1, True),            # axon - dendrite
    (3, 0, True), (4, 0, True),            # boutons count as axon
    (1, 1, False), (0, 0, False),          # axo-axonic, dendro-dendritic
    (1, 2, False), (2, 0, False),          # soma: not axo-dendritic (the original's rule)
    (None, 0, True), (1, None, True), (None, None, True)])   # unknown: kept
def test_syn_meta_axodend_only(comp_pre, comp_post, kept):
    rows = _syn({"id": 1, "cell_pre": 1, "cell_post": 2, "cell_a": 1, "cell_b": 2,
                 "comp_pre": comp_pre, "comp_post": comp_post})
    m = K.syn_meta(rows, {}, axodend_only=True)
    assert m["ids"].tolist() == ([1] if kept else [])
    assert all(len(v) == len(m["ids"]) for v in m.values())
    assert K.syn_meta(rows, {}, axodend_only=False)["ids"].tolist() == [1]


def test_payload_helpers():
    from syconn.proc.skeletons import Skeleton

    assert K.skeleton_payload(None, (10, 10, 20)) == {}
    s = Skeleton(np.array([[10, 20, 40], [30, 20, 80]], np.float32), np.array([[0, 1]]),
                 np.array([5, 15], np.float32))
    p = K.skeleton_payload(s, (10, 10, 20))
    assert p["nodes"].tolist() == [1, 2, 2, 3, 2, 4] and p["diameters"].tolist() == [1.0, 3.0]
    assert K.cell_type_payload("MSN", 0.8) == {"ct": "MSN", "certainty": 0.8}
    assert K.cell_type_payload("MSN", None) == {"ct": "MSN", "certainty": ""}
    assert K.pull_value((None,)) == "" and K.pull_value((1, 2, 3)) == [1, 2, 3]
    assert K.pull_value((float("nan"),)) == ""
    assert K.pull_columns("sv", "syn_sign", ["sign"]) is None     # synapse alias only
    assert K.cell_type_codes([1, 2], [None, None]) == {}
    with pytest.raises(InputError, match="not writable"):
        K.writable("ssv", "size_vx")
    with pytest.raises(InputError, match="expected 1 or -1"):
        K.parse_value(K.WRITABLE[("syn_ssv", "syn_sign")], "2")
