"""The cell type step on the test volume: every cell's status, types and probabilities that
agree, the type_connections view, conn_mat's cell types; training from a user's labels; bad
model files and labels are one line and write nothing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml


def _rows(wd, sql, params=None):
    from syconn.read import Results

    return Results(wd).query(sql, params)[1]


def test_every_cell_has_a_status_and_typed_cells_agree_with_their_probabilities(pipeline_wd):
    from syconn.ml.celltypes import load_celltype_model

    model = load_celltype_model()
    cells = _rows(pipeline_wd, "SELECT id, cell_type, cell_type_certainty, cell_type_status, "
                               "skeleton_status FROM cells")
    assert cells and all(c[3] in ("ok", "too_small", "no_skeleton") for c in cells)
    typed = {c[0]: c for c in cells if c[3] == "ok"}
    assert typed, "no cell of the test volume was typed"
    for cid, t, cert, st, sk in cells:
        if st == "ok":
            assert t in model.classes and 0.0 <= cert <= 1.0 and sk == "ok"
        else:
            assert t is None and cert is None
        if sk != "ok":
            assert st == "no_skeleton"
    probs = _rows(pipeline_wd, "SELECT cell_id, cell_type, probability FROM "
                               "cell_type_probabilities ORDER BY cell_id, cell_type")
    by_cell: dict = {}
    for cid, name, p in probs:
        by_cell.setdefault(cid, {})[name] = p
    assert set(by_cell) == set(typed)
    for cid, p in by_cell.items():
        assert set(p) == set(model.classes)
        assert sum(p.values()) == pytest.approx(1.0)
        assert typed[cid][1] == max(p, key=p.get)
        q = np.array(list(p.values()))
        ent = -(q[q > 0] * np.log(q[q > 0])).sum()
        assert typed[cid][2] == pytest.approx(1 - ent / np.log(len(q)))


def test_too_small_cells_have_less_cable_than_the_floor(pipeline_wd):
    from syconn.celltypes import cell_features
    from syconn.ml.celltypes import load_celltype_model
    from syconn.read import Results

    from syconn.config import load_config

    floor = load_config(pipeline_wd).celltypes.min_cable_um
    assert floor is not None and floor != load_celltype_model().min_cable_um  # the config's
    ids, _, cable, _ = cell_features(Results(pipeline_wd))
    status = dict(_rows(pipeline_wd, "SELECT id, cell_type_status FROM cells"))
    for c, cab in zip(ids.tolist(), cable.tolist()):
        if status[c] == "too_small":
            assert 0 < cab < floor
        elif status[c] == "ok":
            assert cab >= floor


def test_type_connections_sum_the_connections_per_type_pair(pipeline_wd):
    got = {(r[0], r[1]): r[2:] for r in _rows(
        pipeline_wd, "SELECT type_pre, type_post, n_connections, n_synapses, sum_area_um2 "
                     "FROM type_connections")}
    want: dict = {}
    types = dict(_rows(pipeline_wd, "SELECT id, cell_type FROM cells"))
    for pre, post, n, area in _rows(pipeline_wd, "SELECT cell_pre, cell_post, n_synapses, "
                                                 "sum_area_um2 FROM connections"):
        if types.get(pre) is None or types.get(post) is None:
            continue
        k = (types[pre], types[post])
        c, s, a = want.get(k, (0, 0, 0.0))
        want[k] = (c + 1, s + n, a + area)
    assert set(got) == set(want)
    for k, (c, s, a) in want.items():
        assert got[k][0] == c and got[k][1] == s and got[k][2] == pytest.approx(a)


def test_conn_mat_names_the_partners_cell_types(pipeline_wd):
    import pyarrow.parquet as pq

    t = pq.read_table(pipeline_wd / "connectivity_matrix" / "conn_mat.parquet").to_pandas()
    types = dict(_rows(pipeline_wd, "SELECT id, cell_type FROM cells"))
    typed = t[t.ssv1.map(types).notna()]
    assert len(typed)
    assert (typed.celltype1 >= 0).all()
    assert (typed.celltype_name1 == typed.ssv1.map(types)).all()


def test_a_broken_model_file_is_one_line_and_nothing_is_written(pipeline_wd, tmp_path, cli,
                                                                one_line_error):
    wd = tmp_path / "wd"
    shutil.copytree(pipeline_wd, wd)
    (wd / "bad.npz").write_bytes(b"not a model")
    cfg = yaml.safe_load((wd / "config.yml").read_text())
    cfg["celltypes"] = {"model": "bad.npz"}
    (wd / "config.yml").write_text(yaml.safe_dump(cfg))
    before = _rows(wd, "SELECT id, cell_type, cell_type_status FROM cells ORDER BY id")
    r = cli("run", str(wd))
    one_line_error(r, "bad.npz", "not a readable model file")
    assert _rows(wd, "SELECT id, cell_type, cell_type_status FROM cells ORDER BY id") == before


def _labels(wd, path, rows):
    path.write_text("cell_id,cell_type\n" + "".join(f"{c},{t}\n" for c, t in rows))
    return path


def test_training_from_labels_writes_a_model_of_the_users_classes(pipeline_wd, tmp_path, cli):
    from syconn.ml.celltypes import load_celltype_model

    # the user's own two classes: thick and thin cells, by skeleton
    cells = _rows(pipeline_wd, "SELECT id, volume_um3 / cable_length_um FROM cells WHERE "
                               "cell_type_status IN ('ok', 'too_small') ORDER BY id")
    cut = float(np.median([c[1] for c in cells]))
    rows = [(c, "thick" if v > cut else "thin") for c, v in cells]
    labels = _labels(pipeline_wd, tmp_path / "labels.csv", rows)
    out = tmp_path / "mine.npz"
    r = cli("train", "celltypes", str(out), "--labels", str(labels), "--wd", str(pipeline_wd),
            "--folds", "2", "--trees", "20")
    assert r.returncode == 0, r.stderr
    assert "cross-validated accuracy" in r.stdout
    m = load_celltype_model(out)
    assert m.classes == ("thick", "thin")
    assert m.card["cross_validation"]["cells"] == len(rows)


@pytest.mark.parametrize("case, needle", [
    ("unknown", "not in"), ("empty", "empty labels file"), ("one_class", "at least two"),
    ("header_only", "no labelled cells"), ("bad_id", "is not an integer")])
def test_bad_labels_are_one_line_and_write_no_model(pipeline_wd, tmp_path, cli,
                                                    one_line_error, case, needle):
    ids = [r[0] for r in _rows(pipeline_wd, "SELECT id FROM cells WHERE skeleton_status = "
                                            "'ok' ORDER BY id")]
    path = tmp_path / "labels.csv"
    if case == "unknown":
        _labels(pipeline_wd, path, [(ids[0], "a"), (999999999, "b")])
    elif case == "empty":
        path.write_text("")
    elif case == "one_class":
        _labels(pipeline_wd, path, [(i, "a") for i in ids])
    elif case == "header_only":
        path.write_text("cell_id,cell_type\n")
    else:
        path.write_text("cell_id,cell_type\nx1,a\n")
    out = tmp_path / "m.npz"
    r = cli("train", "celltypes", str(out), "--labels", str(path), "--wd", str(pipeline_wd))
    one_line_error(r, str(path.name), needle)
    assert not out.exists()


def test_the_readmes_cell_type_queries_run(pipeline_wd):
    """Every SQL example of the README that reads cell types runs on a processed volume."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```sql")[1:]]
    stmts = [s.strip() for b in blocks for s in b.split(";")]
    stmts = ["\n".join(line for line in s.splitlines() if not line.lstrip().startswith("--"))
             for s in stmts if "cell_type" in s or "type_connections" in s]
    assert len(stmts) >= 5
    for s in stmts:
        _rows(pipeline_wd, s)


def test_syconn_cell_shows_type_compartments_and_partners_by_type(pipeline_wd, cli):
    import json

    cid, t = _rows(pipeline_wd, "SELECT id, cell_type FROM cells WHERE cell_type_status = 'ok' "
                                "ORDER BY id")[0]
    r = cli("cell", str(pipeline_wd), str(cid), "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["cell"]["cell_type"] == t and d["cell"]["cell_type_status"] == "ok"
    assert max(d["cell_type_probabilities"], key=d["cell_type_probabilities"].get) == t
    cable = dict(_rows(pipeline_wd, "SELECT name, cable_um FROM cell_compartments WHERE "
                                    "cell_id = :c", {"c": cid}))
    assert {c["compartment"]: c["cable_um"] for c in d["compartments"]} == pytest.approx(cable)
    types = dict(_rows(pipeline_wd, "SELECT id, cell_type FROM cells"))
    for side, direction in (("partners_out", "out"), ("partners_in", "in")):
        for p in d[side]:
            assert p["partner_type"] == types[p["partner"]]
        by = [b for b in d["by_partner_type"] if b["direction"] == direction]
        assert sum(b["n_synapses"] for b in by) == sum(p["n_synapses"] for p in d[side])
    r = cli("cell", str(pipeline_wd), str(cid))
    assert r.returncode == 0 and "cell type probabilities" in r.stdout
