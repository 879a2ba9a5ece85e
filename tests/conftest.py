"""Shared fixtures: every DB test runs on SQLite and on PostgreSQL.

PostgreSQL is expected on 127.0.0.1:5432 (user postgres, trust auth) or at
``$SYCONN_TEST_PG`` (a server URL without database).  Each test creates and drops its own
database.  If the server is unreachable the PostgreSQL cases are skipped, unless
``SYCONN_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid

import pytest

PG_SERVER = os.environ.get("SYCONN_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
REQUIRE_PG = os.environ.get("SYCONN_REQUIRE_POSTGRES") == "1"


def _admin():
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(PG_SERVER + "/postgres")
    conn = psycopg2.connect(host=u.host, port=u.port or 5432, user=u.username,
                            password=u.password, dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    return conn


def _pg_available() -> str | None:
    try:
        _admin().close()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).strip().splitlines()[0]


_PG_PROBLEM = _pg_available()


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database URL, dropped (with the roles its schemas created) after."""
    if _PG_PROBLEM is not None:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required but unreachable at {PG_SERVER}: {_PG_PROBLEM}")
        pytest.skip(f"PostgreSQL unreachable at {PG_SERVER}: {_PG_PROBLEM}")
    name = f"syconn_test_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        cur = admin.cursor()
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,))
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'wd\\_%%\\_ro' "
                    "OR rolname LIKE 'test\\_%%\\_ro'")
        for (role,) in cur.fetchall():
            try:
                cur.execute(f'DROP ROLE IF EXISTS "{role}"')
            except Exception:  # noqa: BLE001  still used by another live test database
                pass
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request, tmp_path):
    """(backend name, database URL or None for the default SQLite-in-WD)."""
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path / 'test.sqlite'}"
    return "postgresql", request.getfixturevalue("pg_url")
