"""Engine factory: SQLite (WAL) by default, PostgreSQL with one schema per working directory.

Read-only sessions (``syconn sql``, the query commands, exports) are enforced by the database,
never by looking at the SQL:

- SQLite: the file is opened with ``mode=ro`` and ``PRAGMA query_only``, and an authorizer
  refuses ``ATTACH`` / ``DETACH`` (which would create files: ``ATTACH DATABASE 'x.db'``,
  ``VACUUM INTO``) and every pragma outside a list of read-only ones (so ``query_only`` cannot be
  switched off);
- PostgreSQL: the session connects with the URL of a SELECT-only role (``database.readonly_url``,
  see :mod:`syconn.db.roles`), in read-only transactions.  The writing user is never used for a
  read-only session: a transaction can be switched to READ WRITE by the query itself, a role's
  missing privileges cannot.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import NullPool, QueuePool

from syconn.errors import DatabaseError, ReadOnlyRoleError

__all__ = ["make_engine", "check_connection", "safe_url", "readonly_role", "is_postgres",
           "quote_ident", "create_database_if_missing", "drop_database", "error_reason"]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def is_postgres(url_or_engine) -> bool:
    name = url_or_engine.dialect.name if isinstance(url_or_engine, Engine) else \
        make_url(url_or_engine).get_backend_name()
    return name == "postgresql"


def quote_ident(name: str) -> str:
    """Validate a schema/role identifier we generate (lower-case, <= 63 chars) and quote it."""
    if not _IDENT.match(name):
        raise DatabaseError(f"schema or role name {name!r}: use lower-case letters, digits and "
                            f"underscores, at most 63 characters")
    return f'"{name}"'


def readonly_role(schema: str) -> str:
    return f"{schema[:60]}_ro"


def make_engine(url: str, *, schema: str | None = None, read_only: bool = False,
                pool_size: int | None = None) -> Engine:
    """Create an engine for ``url``.

    Parameters
    ----------
    url
        ``sqlite:///path`` or ``postgresql://user@host:port/db``.
    schema
        PostgreSQL schema of this working directory (put first on the ``search_path``).
    read_only
        Refuse every write at the database level.  On PostgreSQL ``url`` must then name a
        SELECT-only role: every new connection checks that its role can write nothing in
        ``schema`` (:func:`syconn.db.roles.readonly_problem`) and fails with
        :class:`~syconn.errors.ReadOnlyRoleError` otherwise; the session also runs in
        read-only transactions.
    pool_size
        Keep up to this many connections open for reuse (a long-lived reader answering many
        small queries, the server); default none: every ``connect()`` opens a new one, so
        worker processes never share a connection.  The read-only checks run once per
        connection opened, either way.
    """
    try:
        u = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"{url}: not a database URL (expected sqlite:///PATH or "
                            f"postgresql://USER@HOST:PORT/DB)") from None
    backend = u.get_backend_name()
    pool = _pool_args(pool_size)
    if backend == "sqlite":
        return _sqlite_engine(u, read_only=read_only, pool=pool)
    if backend == "postgresql":
        return _postgres_engine(u, schema=schema, read_only=read_only, pool=pool)
    raise DatabaseError(f"{safe_url(url)}: unsupported database '{backend}' "
                        f"(use sqlite or postgresql)")


def _pool_args(pool_size: int | None) -> dict:
    """create_engine's pool arguments: NullPool, or a QueuePool of ``pool_size`` (as many
    again on demand) that checks a connection before handing it out."""
    if pool_size is None:
        return {"poolclass": NullPool}
    if int(pool_size) < 1:
        raise DatabaseError(f"pool_size: got {pool_size}, expected at least 1")
    return {"poolclass": QueuePool, "pool_size": int(pool_size),
            "max_overflow": int(pool_size), "pool_pre_ping": True}


def _sqlite_engine(u, *, read_only: bool, pool: dict) -> Engine:
    path = u.database
    if not path or path == ":memory:":
        raise DatabaseError(f"{u}: syconn needs a file database, not an in-memory one")
    p = Path(path)
    if not p.parent.is_dir():
        raise DatabaseError(f"{u}: folder {p.parent} does not exist")
    if read_only:
        if not p.is_file():
            raise DatabaseError(f"{p}: no database yet; run 'syconn db upgrade' first")
        uri = f"file:{quote(str(p.resolve()))}?mode=ro"
        # pragmas and the authorizer are set in _sqlite_connect
        return create_engine("sqlite://", creator=lambda: _sqlite_connect(uri), **pool)
    # a pooled connection may be used by another thread than the one that opened it
    args = {"timeout": 60} if pool["poolclass"] is NullPool else \
        {"timeout": 60, "check_same_thread": False}
    eng = create_engine(u, connect_args=args, **pool)

    @event.listens_for(eng, "connect")
    def _pragmas(dbapi_conn, _record):  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA page_size = 16384")  # only takes effect on a new database
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA busy_timeout = 60000")
        cur.close()

    return eng


#: pragmas a read-only session may run (they read the schema or settings, never write)
_READ_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "database_list", "collation_list", "function_list", "module_list",
    "pragma_list", "compile_options", "page_count", "page_size", "freelist_count",
    "user_version", "schema_version", "application_id", "encoding", "data_version",
    "read_uncommitted",  # SQLAlchemy reads it to learn the isolation level
})


def _readonly_authorizer(action: int, arg1, arg2, _db, _trigger) -> int:
    """sqlite3 authorizer of read-only sessions: no ATTACH/DETACH, read-only pragmas only."""
    import sqlite3

    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        # a pragma with a value sets something; the listed ones take a table name instead
        if name not in _READ_PRAGMAS or (arg2 is not None and not name.endswith(
                ("_info", "_xinfo", "_list"))):
            return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _sqlite_connect(uri: str):
    import sqlite3

    conn = sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    conn.execute("PRAGMA busy_timeout = 60000")
    conn.set_authorizer(_readonly_authorizer)  # after our own pragmas
    return conn


def _postgres_engine(u, *, schema: str | None, read_only: bool, pool: dict) -> Engine:
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg2")
    options = []
    if schema:
        quote_ident(schema)
        options.append(f"-csearch_path={schema},public")
    if read_only:
        options.append("-cdefault_transaction_read_only=on")
    connect_args = {"connect_timeout": 10}
    if options:
        connect_args["options"] = " ".join(options)
    eng = create_engine(u, connect_args=connect_args, **pool)
    if read_only:
        checked = schema or "public"

        @event.listens_for(eng, "connect")
        def _refuse_writers(dbapi_conn, _record):  # noqa: ANN001
            from syconn.db.roles import readonly_problem

            cur = dbapi_conn.cursor()
            try:
                problem = readonly_problem(cur, checked)
            finally:
                cur.close()
                dbapi_conn.rollback()
            if problem:
                dbapi_conn.close()
                raise ReadOnlyRoleError(f"{safe_url(str(u))}: {problem}")

    return eng


def check_connection(engine: Engine) -> None:
    """Connect once; raise :class:`DatabaseError` with a one-line reason if that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise DatabaseError(f"{safe_url(str(engine.url))}: cannot connect to the database "
                            f"({error_reason(exc)})") from None


def error_reason(exc: BaseException) -> str:
    """The database's own one-line reason of a DBAPI error (wrapped by SQLAlchemy or raw).

    The first error of the chain is the cause: a connection the server terminated mid-COPY
    raises "terminating connection due to administrator command", and the rollback that
    follows "connection already closed".
    """
    from sqlalchemy.exc import DBAPIError

    chain, e = [], exc
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    dbapi = [getattr(e, "orig", None) or e for e in chain
             if isinstance(e, DBAPIError) or type(e).__module__.startswith(("psycopg2", "sqlite3"))]
    orig = dbapi[-1] if dbapi else exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


def _maintenance_engine(url: str) -> Engine:
    """An autocommit engine on the server's ``postgres`` database, as the URL's user."""
    u = make_url(url).set(database="postgres")
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg2")
    return create_engine(u, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                         connect_args={"connect_timeout": 10})


def create_database_if_missing(url: str) -> bool:
    """Create the PostgreSQL database of ``url`` if it does not exist and the user may.

    Returns True if it was created.  A missing database the user may not create is a
    :class:`DatabaseError` that says how to create it; any other connection problem is the
    one-line reason of :func:`check_connection`.
    """
    eng = make_engine(url)
    try:
        with eng.connect():
            return False
    except OperationalError as exc:
        reason = error_reason(exc)
        if "does not exist" not in reason or "database" not in reason:
            raise DatabaseError(f"{safe_url(url)}: cannot connect to the database "
                                f"({reason})") from None
    u = make_url(url)
    name, user = u.database, u.username or "(default user)"
    how = (f"create it with 'createdb -h {u.host or 'localhost'} -p {u.port or 5432} "
           f"-U ADMIN -O {user} {name}' or ask an administrator")
    try:
        with _maintenance_engine(url).connect() as conn:
            may = conn.execute(text("SELECT rolsuper OR rolcreatedb FROM pg_roles "
                                    "WHERE rolname = current_user")).scalar()
            if not may:
                raise DatabaseError(f"{safe_url(url)}: database {name} does not exist and user "
                                    f"{user} may not create databases; {how}")
            conn.execute(text(f"CREATE DATABASE {conn.dialect.identifier_preparer.quote(name)}"))
    except OperationalError as exc:
        raise DatabaseError(f"{safe_url(url)}: database {name} does not exist "
                            f"({error_reason(exc)}); {how}") from None
    return True


def drop_database(url: str) -> None:
    """Drop the PostgreSQL database of ``url`` (one that :func:`create_database_if_missing`
    created for a failed ``syconn init``)."""
    name = make_url(url).database
    with _maintenance_engine(url).connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS "
                          f"{conn.dialect.identifier_preparer.quote(name)} WITH (FORCE)"))
