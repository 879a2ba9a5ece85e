"""SQL store on SQLite and PostgreSQL: migrations, bulk load, read-only queries."""

import pyarrow as pa
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from syconn.db import (
    bulk_load,
    current_revision,
    head_revision,
    make_engine,
    run_query,
    table_counts,
    task_done,
    upgrade,
)
from syconn.db import tables as T
from syconn.errors import DatabaseError, InputError, ReadOnlyViolation

SCHEMA = "test_wd"


def _engine(url, **kw):
    return make_engine(url, schema=SCHEMA if url.startswith("postgresql") else None, **kw)


@pytest.fixture
def engine(backend):
    _, url = backend
    eng = _engine(url)
    upgrade(eng, schema=SCHEMA if url.startswith("postgresql") else None)
    return eng


def _svs(ids, size=10):
    n = len(ids)
    cols = {"id": pa.array(ids, pa.uint64()), "size_vx": pa.array([size] * n, pa.int64())}
    for m in ("min", "max"):
        for a in "xyz":
            cols[f"bb_{m}_{a}"] = pa.array([0 if m == "min" else 5] * n, pa.int64())
    for a in "xyz":
        cols[f"rep_{a}"] = pa.array([1] * n, pa.int64())
    return pa.table(cols)


def test_migration_creates_exactly_the_tables(engine):
    assert current_revision(engine) == head_revision()
    assert set(T.ALL_TABLES) <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), T.metadata)
    assert diff == []
    # upgrading again is a no-op
    assert upgrade(engine, schema=SCHEMA if engine.dialect.name == "postgresql" else None) \
        == head_revision()


def test_bulk_load_replaces_never_duplicates(engine):
    assert bulk_load(engine, "supervoxels", _svs([1, 2, 3])) == 3
    assert bulk_load(engine, "supervoxels", _svs([2, 3, 4], size=99)) == 3
    _, rows = run_query(engine, "SELECT id, size_vx FROM supervoxels ORDER BY id")
    assert rows == [(1, 10), (2, 99), (3, 99), (4, 99)]


def test_replace_deletes_previous_load_of_the_unit(engine):
    def ov(kind, org, svs):
        return pa.table({"kind": [kind] * len(svs), "organelle_id": [org] * len(svs),
                         "sv_id": svs, "n_vx": [1] * len(svs)})
    bulk_load(engine, "organelle_overlaps", ov("mi", 1, [10, 11, 12]), replace={"kind": "mi"})
    bulk_load(engine, "organelle_overlaps", ov("vc", 1, [10]), replace={"kind": "vc"})
    bulk_load(engine, "organelle_overlaps", ov("mi", 2, [13]), replace={"kind": "mi"})
    _, rows = run_query(engine, "SELECT kind, organelle_id, sv_id FROM organelle_overlaps "
                                "ORDER BY kind, sv_id")
    assert rows == [("mi", 2, 13), ("vc", 1, 10)]


def test_completion_row_in_the_same_transaction(engine):
    bulk_load(engine, "supervoxels", _svs([1]), task={"task_id": "Load(block=0)",
                                                      "params": {"block": 0}})
    assert task_done(engine, "Load(block=0)")
    bad = _svs([2]).drop(["size_vx"]).append_column("size_vx", pa.array([None], pa.int64()))
    with pytest.raises(Exception):
        bulk_load(engine, "supervoxels", bad, task={"task_id": "Load(block=1)"})
    assert not task_done(engine, "Load(block=1)")
    assert table_counts(engine)["supervoxels"] == 1  # nothing half-loaded


def test_several_parts_and_nulls(engine):
    syn = pa.table({"id": pa.array([1, 2], pa.int64()), "cell_pre": [5, None],
                    "cell_post": [6, 7], "size_vx": [100, 200], "area_um2": [0.1, 0.2],
                    **{f"bb_{m}_{a}": [0, 0] for m in ("min", "max") for a in "xyz"},
                    **{f"rep_{a}": [3, 4] for a in "xyz"}, "sign": pa.array([1, -1], pa.int16()),
                    "syn_prob": [0.9, float("nan")]})
    syn2 = syn.set_column(0, "id", pa.array([3, 4], pa.int64()))
    assert bulk_load(engine, "synapses", [syn, syn2]) == 4
    _, rows = run_query(engine, "SELECT id, cell_pre, sign FROM synapses ORDER BY id")
    assert rows == [(1, 5, 1), (2, None, -1), (3, 5, 1), (4, None, -1)]


def test_bad_columns_rejected(engine):
    with pytest.raises(InputError, match="unknown column"):
        bulk_load(engine, "supervoxels", _svs([1]).append_column("bogus", pa.array([1])))
    with pytest.raises(InputError, match="missing required column.*size_vx"):
        bulk_load(engine, "supervoxels", _svs([1]).drop(["size_vx"]))
    with pytest.raises(InputError, match="2\\^63"):
        bulk_load(engine, "supervoxels", _svs([2 ** 63 + 1]))
    with pytest.raises(InputError, match="unknown table"):
        bulk_load(engine, "nope", _svs([1]))


def _readonly_engine(backend, engine):
    """A read-only engine: SQLite opened read-only; PostgreSQL as a SELECT-only role."""
    name, url = backend
    if name == "sqlite":
        return _engine(url, read_only=True)
    from syconn.db.roles import create_login_role, grant_select, role_url

    role = "test_wd_ro"
    with engine.begin() as conn:
        create_login_role(conn, role, "pw-of-the-reader")
        grant_select(conn, SCHEMA, role)
    return _engine(role_url(url, role, "pw-of-the-reader"), read_only=True)


def test_read_only_sessions_refuse_writes(backend, engine):
    bulk_load(engine, "supervoxels", _svs([1, 2]))
    ro = _readonly_engine(backend, engine)
    assert run_query(ro, "SELECT COUNT(*) FROM supervoxels")[1] == [(2,)]
    for stmt in ["DELETE FROM supervoxels", "DROP TABLE cells",
                 "INSERT INTO cells (id) VALUES (1)"]:
        with pytest.raises(ReadOnlyViolation, match="read-only"):
            run_query(ro, stmt)
    if backend[0] == "postgresql":
        # escaping the read-only transaction inside the statement does not help: the role is
        # read-only too
        with pytest.raises(ReadOnlyViolation):
            run_query(ro, "SET TRANSACTION READ WRITE; DELETE FROM supervoxels")
    else:
        with pytest.raises(ReadOnlyViolation):  # the authorizer keeps query_only on
            run_query(ro, "PRAGMA query_only = 0")
        with pytest.raises(ReadOnlyViolation):
            run_query(ro, "DELETE FROM supervoxels")
    assert run_query(engine, "SELECT COUNT(*) FROM supervoxels")[1] == [(2,)]
    with pytest.raises(DatabaseError, match="SQL error"):
        run_query(ro, "SELECT no_such_column FROM supervoxels")


def test_sqlite_read_only_creates_no_files(tmp_path):
    """ATTACH DATABASE and VACUUM INTO used to create files from a read-only session."""
    url = f"sqlite:///{tmp_path / 'wd.sqlite'}"
    upgrade(make_engine(url))
    ro = make_engine(url, read_only=True)
    before = sorted(p.name for p in tmp_path.iterdir())
    for stmt in (f"ATTACH DATABASE '{tmp_path / 'x.db'}' AS x", f"VACUUM INTO '{tmp_path / 'y.db'}'",
                 "PRAGMA journal_mode = DELETE", "PRAGMA user_version = 7"):
        with pytest.raises(ReadOnlyViolation, match="read-only"):
            run_query(ro, stmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    # reading pragmas still work
    assert [r[1] for r in run_query(ro, "PRAGMA table_info(cells)")[1]][:2] == ["id", "size_vx"]
    assert run_query(ro, "PRAGMA user_version")[1] == [(0,)]


def test_run_query_never_commits(engine):
    """A statement that writes through run_query is rolled back (it used to be committed)."""
    bulk_load(engine, "supervoxels", _svs([1, 2]))
    assert run_query(engine, "DELETE FROM supervoxels") == ([], [])
    assert run_query(engine, "SELECT COUNT(*) FROM supervoxels")[1] == [(2,)]


def test_postgres_read_only_engine_refuses_a_writing_role(pg_url):
    """A read-only session on a role that can write is refused at connect, not trusted."""
    from syconn.db.roles import create_login_role, role_url
    from syconn.errors import ReadOnlyRoleError

    eng = make_engine(pg_url, schema=SCHEMA)
    upgrade(eng, schema=SCHEMA)
    with pytest.raises(ReadOnlyRoleError, match="is a superuser"):
        run_query(make_engine(pg_url, schema=SCHEMA, read_only=True), "SELECT 1")
    # a role that may INSERT into one table, or that can SET ROLE to one that may
    with eng.begin() as conn:
        create_login_role(conn, "test_writer_ro", None)
        conn.execute(text(f"GRANT USAGE ON SCHEMA {SCHEMA} TO test_writer_ro"))
        conn.execute(text(f"GRANT SELECT, INSERT ON {SCHEMA}.cells TO test_writer_ro"))
        create_login_role(conn, "test_member_ro", None)
        conn.execute(text("GRANT test_writer_ro TO test_member_ro"))
    for role, message in (("test_writer_ro", "test_writer_ro may write table cells"),
                          ("test_member_ro", "through its membership in test_writer_ro")):
        with pytest.raises(ReadOnlyRoleError, match=message):
            run_query(make_engine(role_url(pg_url, role, None), schema=SCHEMA, read_only=True),
                      "SELECT 1")


def test_postgres_schema_per_working_directory(pg_url):
    a = make_engine(pg_url, schema="test_a")
    b = make_engine(pg_url, schema="test_b")
    upgrade(a, schema="test_a")
    upgrade(b, schema="test_b")
    bulk_load(a, "supervoxels", _svs([1, 2, 3]))
    assert table_counts(a)["supervoxels"] == 3
    assert table_counts(b)["supervoxels"] == 0
    with a.connect() as conn:
        assert conn.execute(text("SELECT current_schema()")).scalar() == "test_a"


def test_unreachable_database_one_line():
    eng = make_engine("postgresql://postgres@127.0.0.1:1/nope")
    with pytest.raises(DatabaseError) as ei:
        upgrade(eng)
    assert "cannot connect" in str(ei.value) and "\n" not in str(ei.value)
    with pytest.raises(DatabaseError, match="not a database URL"):
        make_engine("::nonsense")
    with pytest.raises(DatabaseError, match="unsupported database"):
        make_engine("mysql://u@h/db")


def test_large_load_into_empty_table_keeps_indexes(engine):
    import numpy as np

    n = 60_000  # above the threshold where secondary indexes are rebuilt after the load
    syn = pa.table({"id": np.arange(1, n + 1), "cell_pre": np.arange(n) % 97,
                    "cell_post": np.arange(n) % 89, "size_vx": np.full(n, 100),
                    "area_um2": np.full(n, 0.1),
                    **{f"bb_{m}_{a}": np.zeros(n, np.int64) for m in ("min", "max") for a in "xyz"},
                    **{f"rep_{a}": np.zeros(n, np.int64) for a in "xyz"}})
    assert bulk_load(engine, "synapses", syn) == n
    names = {ix["name"] for ix in inspect(engine).get_indexes("synapses")}
    assert {"ix_synapses_cell_pre", "ix_synapses_cell_post"} <= names
    assert run_query(engine, "SELECT COUNT(*) FROM synapses WHERE cell_pre = 5")[1] == [
        (len(range(5, n, 97)),)]
