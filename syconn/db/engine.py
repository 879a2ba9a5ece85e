"""Engine factory: SQLite (WAL) by default, PostgreSQL with one schema per working directory.

Read-only sessions (``syconn sql``) are enforced by the database, never by looking at the SQL:

- SQLite: the file is opened with ``mode=ro`` and ``PRAGMA query_only``;
- PostgreSQL: the session runs as the working directory's read-only role ``<schema>_ro``
  (created by ``syconn db upgrade`` with SELECT rights only) in read-only transactions.  Where that
  role could not be created (no CREATEROLE right), the read-only transaction alone applies.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import NullPool

from syconn.errors import DatabaseError

__all__ = ["make_engine", "check_connection", "safe_url", "readonly_role", "is_postgres",
           "quote_ident"]

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


def make_engine(url: str, *, schema: str | None = None, read_only: bool = False) -> Engine:
    """Create an engine for ``url``.

    Parameters
    ----------
    url
        ``sqlite:///path`` or ``postgresql://user@host:port/db``.
    schema
        PostgreSQL schema of this working directory (put first on the ``search_path``).
    read_only
        Refuse every write at the database level.
    """
    try:
        u = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"{url}: not a database URL (expected sqlite:///PATH or "
                            f"postgresql://USER@HOST:PORT/DB)") from None
    backend = u.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(u, read_only=read_only)
    if backend == "postgresql":
        return _postgres_engine(u, schema=schema, read_only=read_only)
    raise DatabaseError(f"{safe_url(url)}: unsupported database '{backend}' "
                        f"(use sqlite or postgresql)")


def _sqlite_engine(u, *, read_only: bool) -> Engine:
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
        eng = create_engine("sqlite://", creator=lambda: _sqlite_connect(uri),
                            poolclass=NullPool)
    else:
        eng = create_engine(u, poolclass=NullPool, connect_args={"timeout": 60})

    @event.listens_for(eng, "connect")
    def _pragmas(dbapi_conn, _record):  # noqa: ANN001
        cur = dbapi_conn.cursor()
        if read_only:
            cur.execute("PRAGMA query_only = ON")
        else:
            cur.execute("PRAGMA page_size = 16384")  # only takes effect on a new database
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA busy_timeout = 60000")
        cur.close()

    return eng


def _sqlite_connect(uri: str):
    import sqlite3
    return sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False)


def _postgres_engine(u, *, schema: str | None, read_only: bool) -> Engine:
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
    if read_only and schema:
        role = readonly_role(schema)
        ro = u.set(username=role, password=None)
        eng = create_engine(ro, poolclass=NullPool, connect_args=connect_args)
        try:
            with eng.connect():
                return eng
        except OperationalError:
            eng.dispose()  # no such role (or not allowed to log in): read-only transactions only
    return create_engine(u, poolclass=NullPool, connect_args=connect_args)


def check_connection(engine: Engine) -> None:
    """Connect once; raise :class:`DatabaseError` with a one-line reason if that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        raise DatabaseError(f"{safe_url(str(engine.url))}: cannot connect to the database "
                            f"({first})") from None
