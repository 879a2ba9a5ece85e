"""Shared fixtures: every DB test runs on SQLite and on PostgreSQL.

PostgreSQL is expected on 127.0.0.1:5432 (user postgres, trust auth) or at
``$SYCONN_TEST_PG`` (a server URL without database).  Each test creates and drops its own
database.  If the server is unreachable the PostgreSQL cases are skipped, unless
``SYCONN_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import types
import uuid

import pytest

from syconn.synth import TEST_SHAPE_XYZ
from syconn.synth.command import generate

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
        _drop_database_and_roles(admin, name)


def _drop_database_and_roles(admin, name: str) -> None:
    """Drop a test database and the roles tests create (read-only roles of working
    directories, test writers); a role another live test database still uses stays."""
    cur = admin.cursor()
    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    cur.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'wd\\_%%\\_ro' "
                "OR rolname LIKE 'test\\_%%\\_ro' OR rolname LIKE 'syconn\\_test\\_%%'")
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


def _pg_fixture_problem(message: str):
    """Fail under SYCONN_REQUIRE_POSTGRES (CI), skip elsewhere."""
    if REQUIRE_PG:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def pg_writer():
    """A writing user as many deployments have it: LOGIN, no CREATEROLE, no CREATEDB, owner of
    a fresh database on the trust server.  Yields (writer URL, superuser URL), both of that
    database; drops the database and the roles the test created."""
    if _PG_PROBLEM is not None:
        _pg_fixture_problem(f"PostgreSQL unreachable at {PG_SERVER}: {_PG_PROBLEM}")
    from sqlalchemy.engine import make_url

    tag = uuid.uuid4().hex[:10]
    user, name = f"syconn_test_w_{tag}", f"syconn_test_{tag}"
    admin = _admin()
    cur = admin.cursor()
    cur.execute(f'CREATE ROLE "{user}" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB')
    cur.execute(f'CREATE DATABASE "{name}" OWNER "{user}"')
    u = make_url(PG_SERVER)
    try:
        yield (u.set(username=user, database=name).render_as_string(False),
               f"{PG_SERVER}/{name}")
    finally:
        _drop_database_and_roles(admin, name)


PG_PASSWORD_ADMIN = "admin-secret-42"


@pytest.fixture(scope="session")
def pg_password_server():
    """A PostgreSQL cluster of the tests' own with scram-sha-256 password authentication on
    loopback (127.0.0.1:5432 trusts everyone, so it cannot show that a role's password is
    right).  Yields the superuser's server URL ``postgresql://postgres:PW@127.0.0.1:PORT``."""
    import glob
    import shutil
    import socket
    import subprocess
    import tempfile
    from pathlib import Path

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        _pg_fixture_problem("no PostgreSQL server binaries (initdb) for a password-auth cluster")
    bindir = Path(bins[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="syconn-pgpw-"))  # pytest's tmp is private to root
    (root / "pw").write_text(PG_PASSWORD_ADMIN + "\n")
    as_postgres = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(root / "pw", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def run(*args):
        return subprocess.run([*as_postgres, *map(str, args)], capture_output=True, text=True,
                              timeout=120)

    r = run(bindir / "initdb", "-D", root / "data", "-U", "postgres", "--auth=scram-sha-256",
            f"--pwfile={root / 'pw'}", "-E", "UTF8", "--no-sync")
    if r.returncode:
        shutil.rmtree(root, ignore_errors=True)
        _pg_fixture_problem(f"initdb failed: {r.stderr.strip()[-300:]}")
    r = run(bindir / "pg_ctl", "-D", root / "data", "-l", root / "log", "-w", "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off", "start")
    if r.returncode:
        log = (root / "log").read_text()[-300:] if (root / "log").exists() else r.stderr
        shutil.rmtree(root, ignore_errors=True)
        _pg_fixture_problem(f"password-auth cluster did not start: {log.strip()}")
    try:
        yield f"postgresql://postgres:{PG_PASSWORD_ADMIN}@127.0.0.1:{port}"
    finally:
        run(bindir / "pg_ctl", "-D", root / "data", "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def write_tiny_inputs(folder, *, seg_dtype="uint64", prob_shape=None, shape=(16, 16, 8)):
    """Inputs of a 16x16x8 working directory in the original's layout (two supervoxels
    joined by the agglomeration graph) in ``folder``; returns the folder."""
    import bz2

    import h5py
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    seg = np.zeros(shape, seg_dtype)
    seg[2:8, 2:8, 1:5] = 1
    seg[9:14, 2:8, 1:5] = 2
    with h5py.File(folder / "seg.h5", "w") as f:
        f["seg"] = seg
    for k in ("mi", "vc", "sj", "sym", "asym", "raw"):
        with h5py.File(folder / f"{k}.h5", "w") as f:
            f[k] = np.zeros(prob_shape if k == "mi" and prob_shape else shape, np.uint8)
    (folder / "neuron_rag.bz2").write_bytes(bz2.compress(b"1 2\n"))
    return folder


@pytest.fixture
def tiny_inputs():
    """:func:`write_tiny_inputs` as a fixture (test modules cannot import each other)."""
    return write_tiny_inputs


def run_cli(*args, env=None, cwd=None):
    """The real console entry point, as a user runs it (exit code, stdout, stderr)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "syconn.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


@pytest.fixture
def cli():
    """:func:`run_cli` as a fixture."""
    return run_cli


def check_one_line_error(r, *needles):
    """``r`` (a :func:`run_cli` result) failed as a user error: exit code 2, exactly one stderr
    line ``syconn: error: ...`` holding every needle.  Returns that line."""
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("syconn: error: "), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def one_line_error():
    """:func:`check_one_line_error` as a fixture."""
    return check_one_line_error


# ---- the task tests' shared dataset and processed working directory (one build per session,
# used by tests/tasks and tests/server)

@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """The small synthetic dataset (TEST_SHAPE_XYZ, seed 0) in the original's layout."""
    out = tmp_path_factory.mktemp("synth") / "data"
    generate(out, shape_xyz=TEST_SHAPE_XYZ, seed=0)
    return out


BLOCK = (96, 96, 64)  # the block shape of ``pipeline_wd``

# every table the pipeline fills, with a deterministic order; task_runs (timestamps) excluded
TABLES = {
    "supervoxels": "id", "rag_edges": "sv_a, sv_b", "cells": "id",
    "organelles": "kind, id", "organelle_overlaps": "kind, organelle_id, sv_id",
    "contact_sites": "id", "synapses": "id", "cell_compartments": "cell_id, compartment",
}


def make_wd(path, data, *, block=BLOCK, db_url=None):
    """A working directory of ``data`` at ``path``.  The test volume is 1.9 µm wide: skeletonize
    cells from a 1.5 µm bounding-box diagonal (the default, 5 µm, would leave every cell
    without a skeleton), and type cells from 1 µm of cable (the shipped model's floor, 10 µm,
    would leave every cell untyped)."""
    from syconn.config import save_config
    from syconn.workdir import init_from_synth

    cfg = init_from_synth(path, data, block_shape=block, db_url=db_url)
    cfg.min_cc_size_ssv = 1500.0
    cfg.celltypes.min_cable_um = 1.0
    save_config(cfg, path)
    return path


def dump(wd) -> dict[str, list[tuple]]:
    """Every row of :data:`TABLES` (floats rounded to 9 digits, NaN as None), in order."""
    import numpy as np

    from syconn.db import run_query
    from syconn.workdir import open_engine

    eng = open_engine(wd, read_only=True)
    out = {}
    for table, order in TABLES.items():
        _, rows = run_query(eng, f"SELECT * FROM {table} ORDER BY {order}")
        out[table] = [tuple(None if isinstance(v, float) and np.isnan(v) else
                            (round(v, 9) if isinstance(v, float) else v) for v in r) for r in rows]
    return out


def row_differences(got: dict, want: dict, wd=None, limit: int = 8) -> list[str]:
    """The first ``limit`` differences between two :func:`dump` results, one line each:
    table, row (its first value, the id), column name (read from ``wd`` if given) and both
    values.  Empty when they are equal."""
    out: list[str] = []
    for table in want:
        a, b = got.get(table, []), want[table]
        if a == b:
            continue
        names = None
        if wd is not None:
            from syconn.db import run_query
            from syconn.workdir import open_engine

            names = list(run_query(open_engine(wd, read_only=True),
                                   f"SELECT * FROM {table} LIMIT 0")[0])
        if len(a) != len(b):
            out.append(f"{table}: {len(a)} rows, reference {len(b)}")
        for ra, rb in zip(a, b):
            for k, (x, y) in enumerate(zip(ra, rb)):
                if x != y:
                    col = names[k] if names else k
                    out.append(f"{table} row {ra[:1]} {col}: {x!r} != reference {y!r}")
            if len(out) >= limit:
                return out
    return out


def assert_same_rows(wd, reference) -> None:
    """``wd``'s :func:`dump` equals ``reference``; else the failure names the first
    differing tables, rows and columns."""
    diff = row_differences(dump(wd), reference, wd)
    assert not diff, "\n".join(diff)


@pytest.fixture(scope="session")
def wd_tools():
    """``make_wd``, ``dump``, ``assert_same_rows``, ``TABLES`` and ``BLOCK`` of this
    conftest."""
    return types.SimpleNamespace(make_wd=make_wd, dump=dump, assert_same_rows=assert_same_rows,
                                 TABLES=TABLES, BLOCK=BLOCK)


@pytest.fixture(scope="session")
def _pipeline_run(data, tmp_path_factory):
    """The whole pipeline run once on ``data`` (blocks of :data:`BLOCK`, one worker, SQLite):
    ``(working directory, its rows dumped right after the run)``."""
    from syconn.runner import run_pipeline

    wd = make_wd(tmp_path_factory.mktemp("ref") / "wd", data)
    run_pipeline(wd, workers=1, log=lambda m: None)
    rows = dump(wd)
    yield wd, rows
    # many tests share this working directory: one that wrote to it and did not put back
    # exactly what was there makes every later comparison with it fail, far from the cause
    diff = row_differences(dump(wd), rows, wd)
    assert not diff, "a test left pipeline_wd changed:\n" + "\n".join(diff)


@pytest.fixture(scope="session")
def pipeline_wd(_pipeline_run):
    """The processed working directory of :func:`_pipeline_run`."""
    return _pipeline_run[0]


@pytest.fixture(scope="session")
def reference(_pipeline_run):
    """The rows of the clean one-worker run :func:`pipeline_wd`, dumped right after it ran:
    what every other run of ``data`` (other workers, backends, faults and resumes) must end
    with, ids included."""
    return _pipeline_run[1]
