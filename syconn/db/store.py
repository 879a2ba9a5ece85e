"""Schema management (Alembic), bulk loading from Arrow, and read-only queries.

Bulk loads are all or nothing: one transaction per call, and the completion row of the task that
produced the rows (``task_runs``) is written in that same transaction, so a crash between the two
cannot duplicate rows on a rerun.  Loading the same rows twice replaces them: rows whose primary
key already exists are overwritten, and ``replace={"col": value}`` first deletes every row of a
previous load of the same unit (a block, an organelle kind).

PostgreSQL loads stream CSV through ``COPY`` (into a staging table when the target already holds
rows); SQLite loads use ``executemany`` of ``INSERT OR REPLACE``.

:func:`bulk_update` sets columns of existing rows (a later step's results for rows an earlier
step loaded), with the same transaction and completion-row rules: on PostgreSQL through ``COPY``
into a temporary table and one ``UPDATE ... FROM``, on SQLite by ``executemany`` of one
``UPDATE``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import socket
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    Engine,
    Integer,
    SmallInteger,
    Table,
    delete,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from syconn.db import tables as T
from syconn.db.engine import check_connection, error_reason, is_postgres, quote_ident, safe_url
from syconn.errors import DatabaseError, InputError, ReadOnlyViolation

__all__ = [
    "upgrade",
    "migrate",
    "current_revision",
    "head_revision",
    "bulk_load",
    "bulk_load_many",
    "bulk_update",
    "record_task",
    "task_done",
    "run_query",
    "table_counts",
]

MIGRATIONS = Path(__file__).parent / "migrations"
_CHUNK_ROWS = 100_000
_DEFER_INDEX_ROWS = 50_000


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, *, schema: str | None = None, revision: str = "head") -> str:
    """Bring the database to ``revision`` in one transaction (on PostgreSQL creating ``schema``).

    Returns the revision reached.  Read-only roles are the working directory's business
    (:func:`syconn.workdir.init_workdir`, ``syconn db upgrade``), which call :func:`migrate`
    inside their own transaction.
    """
    check_connection(engine)
    with engine.begin() as conn:
        migrate(conn, schema=schema, revision=revision)
    return current_revision(engine) or ""


def migrate(conn, *, schema: str | None = None, revision: str = "head") -> None:
    """Create ``schema`` (PostgreSQL) and apply the migrations on ``conn``, in its transaction.

    DDL is transactional on both backends: if the caller's transaction rolls back, nothing of
    the schema remains.
    """
    if is_postgres(conn.engine) and schema:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}"))
        conn.execute(text(f"SET LOCAL search_path TO {quote_ident(schema)}, public"))
    cfg = _alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


# ------------------------------------------------------------------------------------------
# bulk loading
# ------------------------------------------------------------------------------------------

def _table(name_or_table: str | Table) -> Table:
    if isinstance(name_or_table, Table):
        return name_or_table
    try:
        return T.metadata.tables[name_or_table]
    except KeyError:
        raise InputError(f"unknown table {name_or_table!r} (tables: {', '.join(T.ALL_TABLES)})") \
            from None


def _check_known(table: Table, names: Iterable[str]) -> None:
    unknown = [c for c in names if c not in table.c]
    if unknown:
        raise InputError(f"table {table.name}: unknown column(s) {', '.join(unknown)}")


_INT_BITS = ((SmallInteger, 16), (BigInteger, 64), (Integer, 32))  # subclasses first


def _check_int_range(table: Table, data: pa.Table) -> None:
    """Integers must fit their column (the binary COPY would wrap them silently)."""
    for name in data.column_names:
        col, sqltype = data.column(name), table.c[name].type
        bits = next((b for t, b in _INT_BITS if isinstance(sqltype, t)), None)
        if bits is None or not pa.types.is_integer(col.type) or col.null_count == len(col):
            continue
        lo, hi = (v.as_py() for v in pa.compute.min_max(col).values())
        if hi >= 2 ** 63:
            raise InputError(f"table {table.name}.{name}: value >= 2^63 does not fit BIGINT")
        if lo < -2 ** (bits - 1) or hi >= 2 ** (bits - 1):
            bad = lo if lo < -2 ** (bits - 1) else hi
            raise InputError(f"table {table.name}.{name}: value {bad} does not fit "
                             f"{sqltype.compile(dialect=_pg_dialect())}")


def _check_columns(table: Table, data: pa.Table) -> list[str]:
    cols = list(data.column_names)
    _check_known(table, cols)
    missing = [c.name for c in table.c if not c.nullable and c.name not in cols
               and c.server_default is None and c.default is None]
    if missing:
        raise InputError(f"table {table.name}: missing required column(s) {', '.join(missing)}")
    _check_int_range(table, data)
    return cols


def _pylist_columns(data: pa.Table) -> list[list]:
    out = []
    for col in data.columns:
        if col.null_count == 0 and (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
                                    or pa.types.is_boolean(col.type)):
            out.append(col.to_numpy().tolist())
        else:
            out.append(col.to_pylist())
    return out


def _completion_row(task: Mapping[str, Any], n_rows: int) -> dict:
    return {
        "task_id": task["task_id"],
        "task_family": task.get("task_family", task["task_id"].split("(")[0]),
        "params": json.dumps(task.get("params", {}), sort_keys=True, default=str),
        "n_rows": n_rows,
        "host": socket.gethostname(),
        "finished_at": dt.datetime.now(dt.timezone.utc),
    }


def bulk_load(engine: Engine, table: str | Table, data: pa.Table | Iterable[pa.Table], *,
              replace: Mapping[str, Any] | None = None,
              task: Mapping[str, Any] | None = None) -> int:
    """Load Arrow rows into ``table`` in one transaction; return the number of rows.

    Parameters
    ----------
    engine
        From :func:`syconn.db.make_engine`.
    table
        Table name or :class:`~sqlalchemy.Table`.
    data
        One Arrow table, or several with the same columns (loaded in the same transaction).
    replace
        Delete the rows matching these column values first (the previous load of this unit),
        or every row with ``"all"`` (a step that owns the whole table).
    task
        ``{"task_id": ..., "task_family": ..., "params": {...}}``: written to ``task_runs`` in the
        same transaction, marking the step complete only if its rows are in.
    """
    return bulk_load_many(engine, [(table, data, replace)], task=task)[0]


def bulk_load_many(engine: Engine, loads: Sequence[tuple], *,
                   statements: Sequence[tuple[str, Mapping[str, Any]]] = (),
                   task: Mapping[str, Any] | None = None) -> list[int]:
    """Several :func:`bulk_load` calls ``(table, data, replace)`` in ONE transaction.

    ``statements`` (SQL, parameters) run after the loads in the same transaction, before the
    completion row: the writes a step derives from its rows (per-cell counts, the dataset
    row), so that they are in exactly when the step is marked complete.
    """
    prepared = []
    for table, data, replace in loads:
        tbl = _table(table)
        parts = [data] if isinstance(data, pa.Table) else list(data)
        parts = [p for p in parts if p.num_rows] or parts[:1]
        cols = _check_columns(tbl, parts[0]) if parts else []
        for p in parts[1:]:
            if p.column_names != cols:
                raise InputError(f"table {tbl.name}: all parts of one load need the same columns")
        prepared.append((tbl, parts, cols, replace, sum(p.num_rows for p in parts)))
    try:
        with engine.begin() as conn:
            for tbl, parts, cols, replace, n in prepared:
                _load_one(conn, engine, tbl, parts, cols, replace, n)
            for sql, params in statements:
                conn.execute(text(sql), dict(params))
            if task is not None:
                _upsert_task(conn, _completion_row(task, sum(p[4] for p in prepared)))
    except (DBAPIError, engine.dialect.loaded_dbapi.Error) as exc:  # raw cursors: the latter
        names = ", ".join(p[0].name for p in prepared)
        raise DatabaseError(f"{safe_url(str(engine.url))}: load into {names} failed "
                            f"({error_reason(exc)}); nothing of it was written") from None
    return [p[4] for p in prepared]


def _load_one(conn, engine: Engine, tbl: Table, parts, cols, replace, n: int) -> None:
    if isinstance(replace, str) and replace == "all":
        conn.execute(delete(tbl))
    elif replace:
        conn.execute(delete(tbl).where(*[tbl.c[k] == v for k, v in replace.items()]))
    if not n:
        return
    empty = conn.execute(select(1).select_from(tbl).limit(1)).first() is None
    # a large load into an empty table builds its secondary indexes afterwards (one sort
    # instead of n random B-tree inserts); DDL is transactional on both backends
    deferred = list(tbl.indexes) if empty and n >= _DEFER_INDEX_ROWS else []
    for ix in deferred:
        ix.drop(conn)
    if is_postgres(engine):
        _load_postgres(conn, tbl, cols, parts, empty=empty)
    else:
        _load_sqlite(conn, tbl, cols, parts)
    for ix in deferred:
        ix.create(conn)


def _load_sqlite(conn, tbl: Table, cols: list[str], parts: list[pa.Table]) -> None:
    sql = (f'INSERT OR REPLACE INTO "{tbl.name}" ({", ".join(cols)}) '
           f'VALUES ({", ".join("?" * len(cols))})')
    cur = conn.connection.driver_connection.cursor()
    cur.execute("PRAGMA cache_size = -262144")  # 256 MiB page cache for index inserts
    for part in parts:
        for batch in part.to_batches(max_chunksize=_CHUNK_ROWS):
            cur.executemany(sql, zip(*_pylist_columns(pa.Table.from_batches([batch]))))
    cur.close()


def _csv_chunks(part: pa.Table):
    opts = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for batch in part.to_batches(max_chunksize=_CHUNK_ROWS):
        buf = io.BytesIO()
        pacsv.write_csv(pa.Table.from_batches([batch]), buf, opts)
        buf.seek(0)
        yield buf


_PG_BINARY = {"BIGINT": "i8", "INTEGER": "i4", "SMALLINT": "i2", "FLOAT": "f8",
              "DOUBLE PRECISION": "f8", "BOOLEAN": "?"}
_PG_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8


def _binary_types(tbl: Table, cols: list[str]) -> list[np.dtype] | None:
    """Big-endian numpy dtypes of the columns, or None if one is not fixed-width numeric."""
    out = []
    for c in cols:
        name = tbl.c[c].type.compile(dialect=_pg_dialect()).upper()
        if name not in _PG_BINARY:
            return None
        out.append(np.dtype(_PG_BINARY[name]))
    return out


def _pg_dialect():
    from sqlalchemy.dialects import postgresql
    return postgresql.dialect()


def _binary_copy_payload(batch: pa.Table, types: list[np.dtype]) -> bytes:
    """PostgreSQL binary COPY rows for a batch of fixed-width numeric columns (numba kernel)."""
    from syconn.db._copy_kernels import encode_rows, max_size

    n, k = batch.num_rows, len(types)
    values = np.empty((k, n), dtype=np.int64)  # one contiguous row per column
    has_nulls = np.zeros(k, dtype=np.bool_)
    nulls = np.zeros((k, n if any(c.null_count for c in batch.columns) else 1), dtype=np.bool_)
    for j, (col, t) in enumerate(zip(batch.columns, types)):
        if t.kind == "f":  # the float64 bit pattern, written as 8 big-endian bytes
            values[j] = col.fill_null(0).cast(pa.float64()).to_numpy(
                zero_copy_only=False).view(np.int64)
        elif t.kind == "b":
            values[j] = col.fill_null(False).to_numpy(zero_copy_only=False)
        else:
            values[j] = col.fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False)
        if col.null_count:
            has_nulls[j] = True
            nulls[j] = col.is_null().to_numpy(zero_copy_only=False)
    vb = values.byteswap().view(np.uint8)  # (k, 8 n) big-endian bytes
    widths = np.array([t.itemsize for t in types], dtype=np.int64)
    out = np.empty(max_size(n, widths), dtype=np.uint8)
    used = encode_rows(vb, widths, nulls, has_nulls, out)
    return out[:used].tobytes()


def _binary_chunks(part: pa.Table, types: list[np.dtype]):
    """COPY payloads of ``part`` in chunks; the next chunk is encoded (in a thread: the numba
    kernel releases the GIL) while the server copies the current one."""
    from concurrent.futures import ThreadPoolExecutor

    batches = part.to_batches(max_chunksize=_CHUNK_ROWS)
    if not batches:
        return

    def encode(batch):
        return io.BytesIO(_PG_SIGNATURE + _binary_copy_payload(pa.Table.from_batches([batch]),
                                                               types) + b"\xff\xff")

    with ThreadPoolExecutor(max_workers=1) as pool:
        nxt = pool.submit(encode, batches[0])
        for b in batches[1:]:
            cur, nxt = nxt, pool.submit(encode, b)
            yield cur.result()
        yield nxt.result()


def _load_postgres(conn, tbl: Table, cols: list[str], parts: list[pa.Table], *,
                   empty: bool) -> None:
    raw = conn.connection.driver_connection
    cur = raw.cursor()
    collist = ", ".join(f'"{c}"' for c in cols)
    target = f'"{tbl.name}"'
    if not empty:
        # rows may exist: stage, delete the rows with the same primary key, insert
        target = '"_syconn_stage"'
        cur.execute(f'CREATE TEMP TABLE {target} (LIKE "{tbl.name}" INCLUDING DEFAULTS) '
                    f'ON COMMIT DROP')
    types = _binary_types(tbl, cols)
    for part in parts:
        if types is not None:  # all fixed-width numeric: binary COPY, no text formatting
            for buf in _binary_chunks(part, types):
                cur.copy_expert(f"COPY {target} ({collist}) FROM STDIN WITH (FORMAT binary)", buf)
        else:
            for buf in _csv_chunks(part):
                cur.copy_expert(f"COPY {target} ({collist}) FROM STDIN WITH (FORMAT csv)", buf)
    if not empty:
        pk = [c.name for c in tbl.primary_key.columns]
        on = " AND ".join(f't."{c}" = s."{c}"' for c in pk)
        cur.execute(f'DELETE FROM "{tbl.name}" t USING {target} s WHERE {on}')
        cur.execute(f'INSERT INTO "{tbl.name}" ({collist}) SELECT {collist} FROM {target}')
        cur.execute(f"DROP TABLE {target}")
    cur.close()


def _upsert_task(conn, row: dict) -> None:
    conn.execute(delete(T.task_runs).where(T.task_runs.c.task_id == row["task_id"]))
    conn.execute(T.task_runs.insert().values(**row))


def record_task(engine: Engine, task_id: str, *, task_family: str | None = None,
                params: Mapping | None = None, n_rows: int | None = None) -> None:
    """Mark a step complete without loading rows."""
    with engine.begin() as conn:
        _upsert_task(conn, _completion_row(
            {"task_id": task_id, "task_family": task_family or task_id.split("(")[0],
             "params": dict(params or {})}, n_rows or 0))


def task_done(engine: Engine, task_id: str) -> bool:
    """Whether ``task_id`` has a completion row."""
    try:
        with engine.connect() as conn:
            return conn.execute(select(T.task_runs.c.task_id)
                                .where(T.task_runs.c.task_id == task_id)).first() is not None
    except (OperationalError, DBAPIError):
        return False


# ------------------------------------------------------------------------------------------
# bulk updates
# ------------------------------------------------------------------------------------------

_UPDATE_STAGE = '"_syconn_update"'


def bulk_update(engine: Engine, table: str | Table, data: pa.Table, *, key: str = "id",
                reset_columns: Sequence[str] | None = None,
                task: Mapping[str, Any] | None = None) -> int:
    """Set columns of existing rows from Arrow rows matched on ``key``; return the rows updated.

    In one transaction: ``reset_columns`` are set to NULL on every row of ``table``; each row of
    ``data`` sets the columns named by its other columns on the row whose ``key`` equals its
    key (NULLs in ``data`` become SQL NULL; a float NaN is a value, though SQLite stores it as
    NULL); then ``task``'s completion row is written.  Keys of ``data`` that are not in
    ``table`` are an :class:`~syconn.errors.InputError`, and nothing is changed.

    Parameters
    ----------
    engine
        From :func:`syconn.db.make_engine`.
    table
        Table name or :class:`~sqlalchemy.Table`.
    data
        The key column and the columns to set, one row per key.
    key
        A column identifying one row: the table's single-column primary key or a unique column.
    reset_columns
        Columns cleared on every row first (a step that rewrites them for some of the rows).
    task
        ``{"task_id": ..., "task_family": ..., "params": {...}}``, as for :func:`bulk_load`.
    """
    tbl = _table(table)
    if isinstance(reset_columns, str):
        reset_columns = [reset_columns]
    values = _check_update(tbl, data, key, reset_columns)
    reset = list(dict.fromkeys(reset_columns or []))
    n = data.num_rows
    # in key order neighbouring updates share pages: 2-4x faster than random order
    rows = data.select([key] + values).sort_by(key) if n > 1 else data.select([key] + values)
    try:
        with engine.begin() as conn:
            if n and values and is_postgres(engine):
                updated = _update_postgres(conn, tbl, key, values, rows, reset)
            else:
                if reset:
                    conn.execute(tbl.update().where(or_(*[tbl.c[c].is_not(None) for c in reset]))
                                 .values({c: None for c in reset}))
                if not n:
                    updated = 0
                elif not values:  # only the key: nothing to set, but the keys must exist
                    updated = n - len(_missing_keys(conn, tbl, key, data))
                else:
                    updated = _update_sqlite(conn, tbl, key, values, rows)
            if updated != n:
                missing = _missing_keys(conn, tbl, key, data)
                raise InputError(f"table {tbl.name}: {len(missing)} key(s) of the data not in "
                                 f"the table (first: {key} = {missing[0]!r})")
            if task is not None:
                _upsert_task(conn, _completion_row(task, n))
    except (DBAPIError, engine.dialect.loaded_dbapi.Error) as exc:  # raw cursors: the latter
        raise DatabaseError(f"{safe_url(str(engine.url))}: update of {tbl.name} failed "
                            f"({error_reason(exc)}); nothing of it was written") from None
    return n


def _check_update(tbl: Table, data: pa.Table, key: str,
                  reset_columns: Sequence[str] | None) -> list[str]:
    """Validate a :func:`bulk_update`; return the columns it sets."""
    cols = list(data.column_names)
    _check_known(tbl, cols + ([] if key in cols else [key]) + list(reset_columns or []))
    if key not in cols:
        raise InputError(f"table {tbl.name}: missing key column {key}")
    pk = [c.name for c in tbl.primary_key.columns]
    if pk != [key] and not tbl.c[key].unique:
        raise InputError(f"table {tbl.name}: key {key} does not identify one row "
                         f"(use the primary key {', '.join(pk)} or a unique column)")
    not_null = [c for c in reset_columns or [] if not tbl.c[c].nullable]
    if not_null:
        raise InputError(f"table {tbl.name}: cannot reset NOT NULL column(s) "
                         f"{', '.join(not_null)}")
    keys = data.column(key)
    if keys.null_count:
        raise InputError(f"table {tbl.name}: {keys.null_count} NULL key(s) in column {key}")
    nulls = [c for c in cols if not tbl.c[c].nullable and data.column(c).null_count]
    if nulls:
        raise InputError(f"table {tbl.name}: NULL in NOT NULL column(s) {', '.join(nulls)}")
    if len(keys) and pa.compute.count_distinct(keys).as_py() != len(keys):
        counts = pa.compute.value_counts(keys)
        first = counts.filter(pa.compute.greater(counts.field("counts"), 1))[0]["values"]
        raise InputError(f"table {tbl.name}: key {key} = {first.as_py()!r} appears more than "
                         f"once in the data")
    _check_int_range(tbl, data)
    return [c for c in cols if c != key]


def _missing_keys(conn, tbl: Table, key: str, data: pa.Table) -> list:
    """Keys of ``data`` that ``tbl`` lacks, in data order (the error path: reads every key)."""
    existing = set(conn.execute(select(tbl.c[key])).scalars())
    return [k for k in data.column(key).to_pylist() if k not in existing]


def _update_sqlite(conn, tbl: Table, key: str, values: list[str], rows: pa.Table) -> int:
    sets = ", ".join(f'"{c}" = ?' for c in values)
    sql = f'UPDATE "{tbl.name}" SET {sets} WHERE "{key}" = ?'
    cur = conn.connection.driver_connection.cursor()
    cur.execute("PRAGMA cache_size = -262144")  # 256 MiB page cache for the key lookups
    updated = 0
    for batch in rows.select(values + [key]).to_batches(max_chunksize=_CHUNK_ROWS):
        cur.executemany(sql, zip(*_pylist_columns(pa.Table.from_batches([batch]))))
        updated += cur.rowcount
    cur.close()
    return updated


def _update_postgres(conn, tbl: Table, key: str, values: list[str], rows: pa.Table,
                     reset: list[str]) -> int:
    """COPY the rows into a temporary table, then one ``UPDATE ... FROM`` joins on the key.

    ``reset`` columns are cleared by that UPDATE on the rows of the data and by one more
    on the other rows that hold a value, so no row is written twice.
    """
    cols = [key] + values
    collist = ", ".join(f'"{c}"' for c in cols)
    defs = ", ".join(f'"{c}" {tbl.c[c].type.compile(dialect=conn.dialect)}' for c in cols)
    cur = conn.connection.driver_connection.cursor()
    cur.execute(f"CREATE TEMP TABLE {_UPDATE_STAGE} ({defs}) ON COMMIT DROP")
    types = _binary_types(tbl, cols)
    if types is not None:  # all fixed-width numeric: binary COPY, no text formatting
        for buf in _binary_chunks(rows, types):
            cur.copy_expert(f"COPY {_UPDATE_STAGE} ({collist}) FROM STDIN WITH (FORMAT binary)",
                            buf)
    else:
        for buf in _csv_chunks(rows):
            cur.copy_expert(f"COPY {_UPDATE_STAGE} ({collist}) FROM STDIN WITH (FORMAT csv)",
                            buf)
    cur.execute(f"ANALYZE {_UPDATE_STAGE}")  # row count and statistics for the join plan
    if reset:
        cleared = ", ".join(f'"{c}" = NULL' for c in reset)
        held = " OR ".join(f't."{c}" IS NOT NULL' for c in reset)
        cur.execute(f'UPDATE "{tbl.name}" t SET {cleared} WHERE ({held}) AND NOT EXISTS '
                    f'(SELECT 1 FROM {_UPDATE_STAGE} s WHERE s."{key}" = t."{key}")')
    sets = [f'"{c}" = s."{c}"' for c in values] + [f'"{c}" = NULL' for c in reset
                                                    if c not in values]
    cur.execute(f'UPDATE "{tbl.name}" t SET {", ".join(sets)} FROM {_UPDATE_STAGE} s '
                f'WHERE t."{key}" = s."{key}"')
    updated = cur.rowcount
    cur.execute(f"DROP TABLE {_UPDATE_STAGE}")
    cur.close()
    return updated


# ------------------------------------------------------------------------------------------
# queries
# ------------------------------------------------------------------------------------------

_READONLY_MARKERS = ("readonly", "read-only", "read only", "permission denied", "insufficient",
                     "not authorized", "authorization denied")


def run_query(engine: Engine, sql: str, params: Mapping | None = None
              ) -> tuple[list[str], list[tuple]]:
    """Run a query; return (column names, rows).  Nothing it does is ever committed.

    The transaction is rolled back at the end, whatever the statement: a query that writes
    (even one that first switches its transaction to READ WRITE) changes nothing.  On a
    read-only engine the write is refused by the database already and raised as
    :class:`~syconn.errors.ReadOnlyViolation`; any other SQL error is a
    :class:`~syconn.errors.DatabaseError` with the database's one-line message.
    """
    try:
        with engine.connect() as conn:
            result = (conn.execute(text(sql), dict(params)) if params
                      else conn.exec_driver_sql(sql))
            try:
                if not result.returns_rows:
                    return [], []
                return list(result.keys()), [tuple(r) for r in result.fetchall()]
            finally:
                conn.rollback()
    except DBAPIError as exc:
        msg = error_reason(exc)
        if any(m in msg.lower() for m in _READONLY_MARKERS):
            raise ReadOnlyViolation(f"refused: the database is opened read-only ({msg})") from None
        raise DatabaseError(f"SQL error: {msg}") from None


def table_counts(engine: Engine) -> dict[str, int]:
    """Row count of every syconn table present in the database."""
    present = set(inspect(engine).get_table_names())
    out = {}
    with engine.connect() as conn:
        for name in T.ALL_TABLES:
            if name in present:
                out[name] = conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
    return out
