"""bulk_update on SQLite and PostgreSQL, and migration 0006 (cells.skeleton_status,
n_skeleton_nodes in cells and cells_full)."""

import math

import numpy as np
import pyarrow as pa
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from syconn.db import (
    bulk_load,
    bulk_update,
    current_revision,
    head_revision,
    make_engine,
    run_query,
    task_done,
    upgrade,
)
from syconn.db import tables as T
from syconn.db.store import _alembic_config
from syconn.errors import InputError

SCHEMA = "test_upd"
NEW = ["skeleton_status", "n_skeleton_nodes"]
STATUS_COMMENT = ("'ok', 'too_small' (bounding-box diagonal below min_cc_size_ssv), 'empty' "
                  "(no skeleton path found); NULL before the skeleton step")


def _schema(url):
    return SCHEMA if url.startswith("postgresql") else None


@pytest.fixture
def engine(backend):
    _, url = backend
    eng = make_engine(url, schema=_schema(url))
    upgrade(eng, schema=_schema(url))
    return eng


def _cells(ids, **extra):
    n = len(ids)
    cols = {"id": pa.array(ids, pa.int64()), "size_vx": pa.array([100] * n, pa.int64()),
            "n_supervoxels": pa.array([1] * n, pa.int64())}
    for m in ("min", "max"):
        for a in "xyz":
            cols[f"bb_{m}_{a}"] = pa.array([0 if m == "min" else 5] * n, pa.int64())
    for a in "xyz":
        cols[f"rep_{a}"] = pa.array([1] * n, pa.int64())
    cols.update(extra)
    return pa.table(cols)


def _rows(engine, cols, table="cells", order="id"):
    return run_query(engine, f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}")[1]


def _snapshot(engine):
    return _rows(engine, [c.name for c in T.cells.c])


def _downgrade(engine, revision):
    with engine.begin() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _is_nan(v):
    return isinstance(v, float) and math.isnan(v)


# ------------------------------------------------------------------------------------------
# bulk_update
# ------------------------------------------------------------------------------------------

def test_update_sets_floats_ints_text_and_nulls(engine):
    bulk_load(engine, "cells", _cells([1, 2, 3, 4], n_tips=pa.array([9, 9, 9, 9], pa.int64()),
                                      cell_type=pa.array(["x", "x", "x", "x"])))
    data = pa.table({
        "id": pa.array([3, 1, 2], pa.uint64()),
        "cable_length_um": pa.array([1.5, None, 2.25]),
        "n_tips": pa.array([None, 4, 5], pa.int64()),
        "skeleton_status": pa.array(["ok", "too_small", None]),
        "cell_type": pa.array(["", None, "MSN"]),
        "is_glia": pa.array([True, False, None]),
    })
    assert bulk_update(engine, "cells", data) == 3
    assert _rows(engine, ["id", "cable_length_um", "n_tips", "skeleton_status", "cell_type",
                          "is_glia", "size_vx"]) == [
        (1, None, 4, "too_small", None, False, 100),
        (2, 2.25, 5, None, "MSN", None, 100),
        (3, 1.5, None, "ok", "", True, 100),   # NULL overwrites 9; "" is not NULL
        (4, None, 9, None, "x", None, 100),    # not in the data: untouched
    ]
    # the new columns read through the view
    assert run_query(engine, "SELECT id, skeleton_status FROM cells_full WHERE id = 1")[1] == [
        (1, "too_small")]


def test_numeric_update_keeps_nan(backend, engine):
    bulk_load(engine, "cells", _cells([10, 20, 30]))
    data = pa.table({"id": pa.array([30, 10, 20], pa.int64()),
                     "cable_length_um": pa.array([float("nan"), 7.0, None]),
                     "n_skeleton_nodes": pa.array([None, 12, 0], pa.int64()),
                     "n_branch_points": pa.array([1, 2, 3], pa.int32())})
    assert bulk_update(engine, "cells", data) == 3
    rows = _rows(engine, ["id", "cable_length_um", "n_skeleton_nodes", "n_branch_points"])
    assert rows[:2] == [(10, 7.0, 12, 2), (20, None, 0, 3)]
    assert rows[2][0] == 30 and rows[2][2:] == (None, 1)
    if backend[0] == "postgresql":
        assert _is_nan(rows[2][1])  # a value, not NULL
    else:
        assert rows[2][1] is None  # SQLite has no NaN: it stores NULL


def test_reset_columns_clears_rows_not_in_data(engine):
    bulk_load(engine, "cells", _cells([1, 2, 3, 4],
                                      cable_length_um=pa.array([1.0, 2.0, 3.0, None]),
                                      n_tips=pa.array([1, 2, 3, 4], pa.int64()),
                                      skeleton_status=pa.array(["ok", "ok", "empty", None])))
    data = pa.table({"id": pa.array([2, 1], pa.int64()),
                     "n_tips": pa.array([20, 10], pa.int64()),
                     "skeleton_status": pa.array(["ok", "too_small"])})
    assert bulk_update(engine, "cells", data,
                       reset_columns=["cable_length_um", "n_tips", "skeleton_status"]) == 2
    assert _rows(engine, ["id", "cable_length_um", "n_tips", "skeleton_status", "size_vx"]) == [
        (1, None, 10, "too_small", 100),  # in the data: reset column not in it is NULL
        (2, None, 20, "ok", 100),
        (3, None, None, None, 100),       # not in the data: reset
        (4, None, None, None, 100),
    ]
    # a reset alone (empty data)
    empty = pa.table({"id": pa.array([], pa.int64()), "n_tips": pa.array([], pa.int64())})
    assert bulk_update(engine, "cells", empty, reset_columns="n_tips") == 0
    assert _rows(engine, ["id", "n_tips", "skeleton_status"]) == [
        (1, None, "too_small"), (2, None, "ok"), (3, None, None), (4, None, None)]


def test_completion_row_written_with_the_update(engine):
    bulk_load(engine, "cells", _cells([1, 2], n_tips=pa.array([5, 6], pa.int64())))
    data = pa.table({"id": [1], "n_tips": [7]})
    assert bulk_update(engine, "cells", data, task={"task_id": "Skel(a=1)",
                                                    "params": {"a": 1}}) == 1
    assert task_done(engine, "Skel(a=1)")
    assert run_query(engine, "SELECT task_family, n_rows, params FROM task_runs")[1] == [
        ("Skel", 1, '{"a": 1}')]
    # a failed update writes no completion row and changes nothing
    before = _snapshot(engine)
    bad = pa.table({"id": [2, 99], "n_tips": [0, 0]})
    with pytest.raises(InputError):
        bulk_update(engine, "cells", bad, reset_columns=["n_tips"],
                    task={"task_id": "Skel(a=2)"})
    assert not task_done(engine, "Skel(a=2)")
    assert _snapshot(engine) == before


def test_missing_keys_change_nothing(engine):
    bulk_load(engine, "cells", _cells([1, 2, 3], cable_length_um=pa.array([1.0, 2.0, 3.0])))
    before = _snapshot(engine)
    data = pa.table({"id": pa.array([2, 77, 3, 55], pa.int64()),
                     "cable_length_um": pa.array([0.0, 0.0, 0.0, 0.0])})
    with pytest.raises(InputError) as ei:
        bulk_update(engine, "cells", data, reset_columns=["cable_length_um"])
    msg = str(ei.value)
    assert "table cells" in msg and "2 key(s)" in msg and "first: id = 77" in msg
    assert "\n" not in msg
    assert _snapshot(engine) == before
    # key-only data: the keys are checked too
    with pytest.raises(InputError, match="1 key\\(s\\).*first: id = 8"):
        bulk_update(engine, "cells", pa.table({"id": [1, 8]}), reset_columns=["n_tips"])
    assert _snapshot(engine) == before
    assert bulk_update(engine, "cells", pa.table({"id": [1, 3]})) == 2


def test_bad_columns_and_keys_rejected(engine):
    bulk_load(engine, "cells", _cells([1, 2]))
    before = _snapshot(engine)
    cases = [
        (pa.table({"id": [1], "bogus": [1.0]}), {}, "table cells: unknown column\\(s\\) bogus"),
        (pa.table({"n_tips": [1]}), {}, "table cells: missing key column id"),
        (pa.table({"id": [1], "n_tips": [1]}), {"key": "nope"},
         "table cells: unknown column\\(s\\) nope"),
        (pa.table({"id": [1], "n_tips": [1]}), {"reset_columns": ["n_tipz"]},
         "unknown column\\(s\\) n_tipz"),
        (pa.table({"id": [1], "n_tips": [1]}), {"reset_columns": ["size_vx"]},
         "cannot reset NOT NULL column\\(s\\) size_vx"),
        (pa.table({"id": [1], "size_vx": pa.array([None], pa.int64())}), {},
         "NULL in NOT NULL column\\(s\\) size_vx"),
        (pa.table({"id": [1, 2, 1], "n_tips": [1, 2, 3]}), {}, "id = 1 appears more than once"),
        (pa.table({"id": pa.array([1, None], pa.int64()), "n_tips": [1, 2]}), {},
         "1 NULL key\\(s\\)"),
        (pa.table({"id": pa.array([2 ** 63 + 1], pa.uint64()), "n_tips": [1]}), {}, "2\\^63"),
        (pa.table({"n_supervoxels": [1], "n_tips": [1]}), {"key": "n_supervoxels"},
         "key n_supervoxels does not identify one row"),
    ]
    for data, kw, pattern in cases:
        with pytest.raises(InputError, match=pattern) as ei:
            bulk_update(engine, "cells", data, **kw)
        assert "\n" not in str(ei.value)
    with pytest.raises(InputError, match="synapses.sign: value 100000 does not fit SMALLINT"):
        bulk_update(engine, "synapses", pa.table({"id": [1], "sign": [100000]}))
    with pytest.raises(InputError, match="does not identify one row"):
        bulk_update(engine, "organelles", pa.table({"id": [1], "cell_id": [1]}))
    with pytest.raises(InputError, match="unknown table"):
        bulk_update(engine, "nope", pa.table({"id": [1]}))
    assert _snapshot(engine) == before


def test_empty_data(engine):
    bulk_load(engine, "cells", _cells([1], n_tips=pa.array([3], pa.int64())))
    before = _snapshot(engine)
    empty = pa.table({"id": pa.array([], pa.int64()), "n_tips": pa.array([], pa.int64()),
                      "skeleton_status": pa.array([], pa.string())})
    assert bulk_update(engine, "cells", empty, task={"task_id": "Skel()"}) == 0
    assert _snapshot(engine) == before
    assert run_query(engine, "SELECT n_rows FROM task_runs WHERE task_id = 'Skel()'")[1] == [
        (0,)]


def test_text_key(engine):
    for t in ("A(x=1)", "B(x=2)"):
        bulk_load(engine, "task_runs", pa.table({
            "task_id": [t], "task_family": [t[0]],
            "finished_at": pa.array([0], pa.timestamp("us", tz="UTC"))}))
    assert bulk_update(engine, "task_runs", pa.table({"task_id": ["B(x=2)"], "n_rows": [5]}),
                       key="task_id") == 1
    assert _rows(engine, ["task_id", "n_rows"], "task_runs", "task_id") == [
        ("A(x=1)", None), ("B(x=2)", 5)]
    with pytest.raises(InputError, match="first: task_id = 'C'"):
        bulk_update(engine, "task_runs", pa.table({"task_id": ["C"], "n_rows": [1]}),
                    key="task_id")


def test_many_rows_in_any_order(engine):
    n = 120_000  # more than one COPY / executemany chunk
    ids = np.arange(1, n + 1, dtype=np.int64) * 3
    bulk_load(engine, "cells", _cells(ids))
    rng = np.random.default_rng(0)
    order = rng.permutation(n)[: n - 1000]  # the last 1000 cells in id order are left out
    keep = np.sort(order)
    data = pa.table({"id": ids[order], "n_tips": order.astype(np.int64),
                     "cable_length_um": order * 0.5})
    assert bulk_update(engine, "cells", data, reset_columns=["n_branch_points"]) == n - 1000
    got = run_query(engine, "SELECT COUNT(n_tips), SUM(n_tips), SUM(cable_length_um), "
                            "MIN(id), MAX(id) FROM cells WHERE n_tips IS NOT NULL")[1][0]
    assert tuple(int(v) if i != 2 else float(v) for i, v in enumerate(got)) == (
        n - 1000, int(keep.sum()), float(keep.sum()) * 0.5, int(ids[keep[0]]),
        int(ids[keep[-1]]))
    # every row got its own values (key and value agree: n_tips = id / 3 - 1)
    assert run_query(engine, "SELECT COUNT(*) FROM cells WHERE n_tips IS NOT NULL "
                             "AND n_tips * 3 + 3 <> id")[1] == [(0,)]


# ------------------------------------------------------------------------------------------
# migration 0006
# ------------------------------------------------------------------------------------------

def _view_columns(engine):
    with engine.connect() as conn:
        return list(conn.exec_driver_sql("SELECT * FROM cells_full LIMIT 0").keys())


def test_new_columns_and_view_after_upgrade(backend, engine):
    assert current_revision(engine) == head_revision() >= "0006"
    cols = {c["name"]: c for c in inspect(engine).get_columns("cells")}
    assert set(NEW) <= set(cols)
    assert all(cols[c]["nullable"] for c in NEW)
    if backend[0] == "postgresql":
        assert cols["skeleton_status"]["comment"] == STATUS_COMMENT
    view = _view_columns(engine)
    i = view.index("n_tips")
    assert view[i + 1: i + 3] == NEW
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), T.metadata) == []


def test_downgrade_to_0005_and_upgrade_again(backend, engine):
    _, url = backend
    bulk_load(engine, "cells", _cells([1, 2], n_tips=pa.array([3, 4], pa.int64()),
                                      skeleton_status=pa.array(["ok", "empty"])))
    bulk_load(engine, "synapses", pa.table({
        "id": [1], "cell_pre": [1], "cell_post": [2], "size_vx": [10], "area_um2": [0.5],
        **{f"bb_{m}_{a}": [0] for m in ("min", "max") for a in "xyz"},
        **{f"rep_{a}": [0] for a in "xyz"}, "sign": pa.array([1], pa.int16()),
        "syn_prob": [0.9], "cell_a": [1], "cell_b": [2]}))
    _downgrade(engine, "0005")
    assert current_revision(engine) == "0005"
    cols = [c["name"] for c in inspect(engine).get_columns("cells")]
    assert not set(NEW) & set(cols) and "n_tips" in cols
    view = _view_columns(engine)
    assert view[view.index("n_tips") + 1] == "size_um3"  # the 0002 column list again
    assert not set(NEW) & set(view)
    # the rows survived the table rebuild, and every view still answers
    assert _rows(engine, ["id", "n_tips"]) == [(1, 3), (2, 4)]
    assert run_query(engine, "SELECT id, n_synapses_out FROM cells_full ORDER BY id")[1] == [
        (1, 1), (2, 0)]
    assert run_query(engine, "SELECT id, cell_a, cell_type_pre FROM synapses_full")[1] == [
        (1, 1, None)]
    assert run_query(engine, "SELECT cell_pre, n_synapses FROM connections")[1] == [(1, 1)]

    assert upgrade(engine, schema=_schema(url)) == head_revision()
    assert _rows(engine, ["id", "n_tips", "skeleton_status"]) == [(1, 3, None), (2, 4, None)]
    view = _view_columns(engine)
    assert view[view.index("n_tips") + 1: view.index("n_tips") + 3] == NEW
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), T.metadata) == []
    assert bulk_update(engine, "cells", pa.table({"id": [2], "skeleton_status": ["ok"]})) == 1
    assert run_query(engine, "SELECT skeleton_status FROM cells_full WHERE id = 2")[1] == [
        ("ok",)]


SJ_FEATURES = ["sj_share", "sj_overlap", "sj_prob_mean", "sj_prob_max"]


def test_0008_classifier_features_down_and_up(backend, engine):
    """Migration 0008 adds the synapse classifier's sj features; a downgrade to 0007 drops them
    and leaves the rows and every view answering; upgrading again matches the tables."""
    _, url = backend
    bulk_load(engine, "cells", _cells([1, 2]))
    bulk_load(engine, "synapses", pa.table({
        "id": [1], "cell_pre": [1], "cell_post": [2], "size_vx": [10], "area_um2": [0.5],
        **{f"bb_{m}_{a}": [0] for m in ("min", "max") for a in "xyz"},
        **{f"rep_{a}": [0] for a in "xyz"}, "sign": pa.array([1], pa.int16()),
        "syn_prob": [0.9], "cell_a": [1], "cell_b": [2], "sj_share": [0.75],
        "sj_overlap": [0.5], "sj_prob_mean": [0.6], "sj_prob_max": [0.9]}))
    assert run_query(engine, "SELECT sj_share, sj_prob_max FROM synapses")[1] == [(0.75, 0.9)]
    _downgrade(engine, "0007")
    assert current_revision(engine) == "0007"
    cols = [c["name"] for c in inspect(engine).get_columns("synapses")]
    assert not set(SJ_FEATURES) & set(cols) and "syn_prob" in cols
    assert run_query(engine, "SELECT cell_pre, n_synapses FROM connections")[1] == [(1, 1)]
    assert run_query(engine, "SELECT cell_pre, n_synapses FROM all_connections")[1] == [(1, 1)]
    assert run_query(engine, "SELECT id, n_synapses_out FROM cells_full ORDER BY id")[1] == [
        (1, 1), (2, 0)]
    assert run_query(engine, "SELECT id, cell_a FROM synapses_full")[1] == [(1, 1)]
    assert upgrade(engine, schema=_schema(url)) == head_revision()
    assert run_query(engine, "SELECT id, syn_prob, sj_share FROM synapses")[1] == [
        (1, 0.9, None)]
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), T.metadata) == []


@pytest.mark.parametrize("revision, columns", [
    ("0009", {"sj_centre_dist_nm": 40.0, "sj_extent_nm": None}),
    ("0010", {"sj_prob_rival": 0.5}),
    ("0011", {"radius_nm_pre": 240.0, "radius_nm_post": None})])
def test_later_classifier_features_down_and_up(backend, engine, revision, columns):
    """Migrations 0009 (where a synapse lies on its sj object), 0010 (the cleft against its
    bouton's other contacts) and 0011 (partner radii) add feature columns; a downgrade past one drops its columns, keeps
    the 0008 features and every view; upgrading again matches the tables."""
    _, url = backend
    bulk_load(engine, "cells", _cells([1, 2]))
    bulk_load(engine, "synapses", pa.table({
        "id": [1], "cell_pre": [1], "cell_post": [2], "size_vx": [10], "area_um2": [0.5],
        **{f"bb_{m}_{a}": [0] for m in ("min", "max") for a in "xyz"},
        **{f"rep_{a}": [0] for a in "xyz"}, "sign": pa.array([1], pa.int16()),
        "syn_prob": [0.9], "cell_a": [1], "cell_b": [2], "sj_share": [0.75],
        **{k: pa.array([v], pa.float64()) for k, v in columns.items()}}))
    names = ", ".join(columns)
    assert run_query(engine, f"SELECT {names} FROM synapses")[1] == [tuple(columns.values())]
    before = f"{int(revision) - 1:04d}"
    _downgrade(engine, before)
    assert current_revision(engine) == before
    cols = [c["name"] for c in inspect(engine).get_columns("synapses")]
    assert not set(columns) & set(cols) and set(SJ_FEATURES) <= set(cols)
    assert run_query(engine, "SELECT cell_pre, n_synapses FROM connections")[1] == [(1, 1)]
    assert run_query(engine, "SELECT id, n_synapses_out FROM cells_full ORDER BY id")[1] == [
        (1, 1), (2, 0)]
    assert run_query(engine, "SELECT id, cell_a FROM synapses_full")[1] == [(1, 1)]
    assert upgrade(engine, schema=_schema(url)) == head_revision()
    assert run_query(engine, f"SELECT id, sj_share, {names} FROM synapses")[1] == [
        (1, 0.75, *[None] * len(columns))]
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), T.metadata) == []
