"""Read-only sessions on PostgreSQL for every user configuration, and init that leaves nothing.

- a writing user without CREATEROLE (trust server): ``syconn sql`` refuses to run until an
  administrator runs ``syconn db grant-readonly``; it never falls back to the writing user
  (which let ``SET TRANSACTION READ WRITE; DELETE FROM dataset`` delete the row);
- password authentication (a cluster of the tests' own): the generated and the given
  passwords are the ones the role has, a ``~/.pgpass``-style file works without one in the URL;
- a failed ``syconn init --db postgresql://...`` leaves no schema, role or database.
"""

from __future__ import annotations

import os
import uuid

import psycopg2
import pytest
import yaml
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres

ATTACK = "SET TRANSACTION READ WRITE; DELETE FROM dataset"


def _db_of(url):
    u = make_url(url)
    return psycopg2.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                            dbname=u.database)


def _dataset_rows(url, schema):
    with _db_of(url) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT COUNT(*) FROM "{schema}".dataset')
        return cur.fetchone()[0]


def _config(wd):
    return yaml.safe_load((wd / "config.yml").read_text())["database"]


def _init(cli, tiny_inputs, tmp_path, url):
    wd = tmp_path / "wd"
    r = cli("init", wd, "--from", tiny_inputs(tmp_path / "data"), "--voxel-size", "10", "10",
            "20", "--db", url)
    assert r.returncode == 0, r.stderr
    return wd, r


def test_writer_without_createrole_sql_refused_until_granted(pg_writer, tmp_path, cli,
                                                             tiny_inputs, one_line_error):
    writer_url, admin_url = pg_writer
    wd, r = _init(cli, tiny_inputs, tmp_path, writer_url)
    assert "grant-readonly" in r.stderr  # init says what is missing
    db = _config(wd)
    assert db["readonly_url"] is None
    # no read-only role: refused, never run as the writing user
    for query in (ATTACK, "SELECT name FROM dataset"):
        one_line_error(cli("sql", wd, query), "no read-only database role", "grant-readonly")
    one_line_error(cli("cells", wd), "no read-only database role")
    assert _dataset_rows(writer_url, db["schema"]) == 1
    # the writer may not create roles: one line, nothing changed
    one_line_error(cli("db", "grant-readonly", wd, "--role", "syconn_test_reader"),
                    "may not create roles", "--admin-url")
    assert _config(wd)["readonly_url"] is None
    with _db_of(admin_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = 'syconn_test_reader'")
        assert cur.fetchone() is None
    # an administrator creates it
    r = cli("db", "grant-readonly", wd, "--role", "syconn_test_reader", "--admin-url", admin_url)
    assert r.returncode == 0, r.stderr
    assert "syconn_test_reader" in r.stdout and "***" in r.stdout  # password not printed
    assert make_url(_config(wd)["readonly_url"]).username == "syconn_test_reader"
    r = cli("sql", wd, "SELECT name, current_user AS who FROM dataset", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["name,who", "syconn_dataset,syconn_test_reader"]
    one_line_error(cli("sql", wd, ATTACK), "refused", "read-only")
    one_line_error(cli("sql", wd, "DROP TABLE cells"), "refused")
    assert _dataset_rows(writer_url, db["schema"]) == 1
    assert cli("cells", wd).returncode == 0
    # a later migration run by the writer keeps the role's rights (default privileges)
    assert cli("db", "upgrade", wd).returncode == 0
    assert cli("sql", wd, "SELECT COUNT(*) FROM task_runs").returncode == 0


def test_password_authentication(pg_password_server, tmp_path, cli, tiny_inputs, one_line_error):
    """Roles with passwords on a server that checks them (scram-sha-256)."""
    tag = uuid.uuid4().hex[:8]
    name, writer = f"syconn_pw_{tag}", f"syconn_test_w_{tag}"
    admin = psycopg2.connect(pg_password_server + "/postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE ROLE {writer} LOGIN PASSWORD 'w-secret' NOCREATEROLE")
    admin.cursor().execute(f"CREATE DATABASE {name} OWNER {writer}")
    server = make_url(pg_password_server)
    writer_url = server.set(username=writer, password="w-secret", database=name) \
        .render_as_string(False)
    admin_url = f"{pg_password_server}/{name}"
    try:
        wd, _ = _init(cli, tiny_inputs, tmp_path, writer_url)
        one_line_error(cli("sql", wd, "SELECT 1"), "no read-only database role")
        r = cli("db", "grant-readonly", wd, "--role", "reader", "--admin-url", admin_url)
        assert r.returncode == 0, r.stderr
        ro = make_url(_config(wd)["readonly_url"])
        assert ro.username == "reader" and len(ro.password) >= 20  # generated
        r = cli("sql", wd, "SELECT current_user", "--format", "csv")
        assert r.returncode == 0 and r.stdout.split() == ["current_user", "reader"], r.stderr
        one_line_error(cli("sql", wd, ATTACK), "refused")
        # the password matters: a wrong one is one line, exit 2
        cfg_path = wd / "config.yml"
        good = cfg_path.read_text()
        cfg_path.write_text(good.replace(ro.password, "wrong"))
        one_line_error(cli("sql", wd, "SELECT 1"), "password authentication failed")
        cfg_path.write_text(good)
        # credentials outside config.yml: a URL without password and a pgpass file
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"127.0.0.1:{server.port}:{name}:reader2:r2-secret\n")
        pgpass.chmod(0o600)
        env = {**os.environ, "PGPASSFILE": str(pgpass)}
        bare = f"postgresql://reader2@127.0.0.1:{server.port}/{name}"
        r = cli("db", "grant-readonly", wd, "--role", "reader2", "--password", "r2-secret",
                "--admin-url", admin_url, "--readonly-url", bare, env=env)
        assert r.returncode == 0, r.stderr
        assert _config(wd)["readonly_url"] == bare
        r = cli("sql", wd, "SELECT current_user", "--format", "csv", env=env)
        assert r.returncode == 0 and r.stdout.split()[-1] == "reader2", r.stderr
        # the superuser as writer: init creates <schema>_ro with a generated password
        wd2 = tmp_path / "wd2"
        r = cli("init", wd2, "--from", tmp_path / "data", "--voxel-size", "10", "10", "20",
                "--db", admin_url)
        assert r.returncode == 0 and "grant-readonly" not in r.stderr, r.stderr
        ro2 = make_url(_config(wd2)["readonly_url"])
        assert ro2.username.endswith("_ro") and ro2.password
        r = cli("sql", wd2, "SELECT current_user", "--format", "csv")
        assert r.returncode == 0 and r.stdout.split()[-1] == ro2.username, r.stderr
    finally:
        cur = admin.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute("SELECT rolname FROM pg_roles WHERE rolname <> 'postgres' "
                    "AND rolname NOT LIKE 'pg\\_%'")
        for (role,) in cur.fetchall():
            cur.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def test_grant_readonly_bad_input(pg_writer, tmp_path, cli, tiny_inputs, one_line_error):
    writer_url, admin_url = pg_writer
    # a working directory on SQLite
    sqlite_wd = tmp_path / "sqlite_wd"
    assert cli("init", sqlite_wd, "--voxel-size", "10", "10", "20").returncode == 0
    one_line_error(cli("db", "grant-readonly", sqlite_wd, "--role", "x"), "SQLite",
                    "PostgreSQL")
    wd, _ = _init(cli, tiny_inputs, tmp_path, writer_url)
    before = (wd / "config.yml").read_text()
    one_line_error(cli("db", "grant-readonly", wd, "--role", "Bad-Name", "--admin-url",
                        admin_url), "Bad-Name", "lower-case")
    # a read-only URL of an unknown role: the role is created, the URL fails, all undone
    unknown = make_url(writer_url).set(username="syconn_test_nobody").render_as_string(False)
    one_line_error(cli("db", "grant-readonly", wd, "--role", "syconn_test_r", "--admin-url",
                        admin_url, "--readonly-url", unknown), "syconn_test_nobody")
    # the writer itself, or a superuser, as the read-only role
    one_line_error(cli("db", "grant-readonly", wd, "--role", make_url(writer_url).username),
                    "writing user")
    one_line_error(cli("db", "grant-readonly", wd, "--role", "postgres", "--admin-url",
                        admin_url), "superuser")
    assert (wd / "config.yml").read_text() == before
    with _db_of(admin_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT rolname FROM pg_roles WHERE rolname = 'syconn_test_r'")
        assert cur.fetchone() is None


def _schemas_and_roles(url):
    with _db_of(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'wd\\_%'")
        schemas = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'wd\\_%\\_ro'")
        return schemas, [r[0] for r in cur.fetchall()]


def test_failed_init_leaves_no_schema_role_or_database(pg_url, tmp_path, tiny_inputs,
                                                       monkeypatch):
    import syconn.workdir as W
    from syconn.config import default_schema_name

    data = tiny_inputs(tmp_path / "data")
    inputs = W.read_synth_meta(data)["inputs"]

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(W, "save_config", disk_full)
    wd = tmp_path / "wd"
    schema = default_schema_name(wd)
    with pytest.raises(OSError, match="No space left"):
        W.init_workdir(wd, inputs=inputs, voxel_size_nm=(10, 10, 20), db_url=pg_url)
    schemas, roles = _schemas_and_roles(pg_url)
    assert schema not in schemas and f"{schema[:60]}_ro" not in roles
    assert not wd.exists()
    # a database init created for it is dropped again
    new_db = f"{pg_url.rsplit('/', 1)[0]}/syconn_test_new_{uuid.uuid4().hex[:8]}"
    with pytest.raises(OSError):
        W.init_workdir(tmp_path / "wd2", inputs=inputs, voxel_size_nm=(10, 10, 20),
                       db_url=new_db)
    with _db_of(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (make_url(new_db).database,))
        assert cur.fetchone() is None
    # and a good init creates it
    monkeypatch.undo()
    try:
        W.init_workdir(tmp_path / "wd3", inputs=inputs, voxel_size_nm=(10, 10, 20),
                       db_url=new_db)
        assert _dataset_rows(new_db, W.load_config(tmp_path / "wd3").database.schema) == 1
    finally:
        from syconn.db.engine import drop_database
        drop_database(new_db)


def test_missing_database_the_user_may_not_create(pg_writer, tmp_path, cli, tiny_inputs, one_line_error):
    writer_url, _ = pg_writer
    missing = make_url(writer_url).set(database="syconn_test_absent").render_as_string(False)
    r = cli("init", tmp_path / "wd", "--from", tiny_inputs(tmp_path / "data"), "--voxel-size",
            "10", "10", "20", "--db", missing)
    one_line_error(r, "database syconn_test_absent does not exist", "may not create databases",
                    "createdb")
    assert not (tmp_path / "wd").exists()
