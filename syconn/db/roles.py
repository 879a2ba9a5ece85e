"""PostgreSQL roles of a working directory: the SELECT-only role of read-only sessions.

``syconn sql``, the query commands, the exports and (later) the HTTP server read a PostgreSQL
working directory as a role that can only read it.  Such a role is created

- by ``syconn init`` / ``syconn db upgrade`` when the writing user may create roles
  (``<schema>_ro``, LOGIN with a generated password), or
- by an administrator with ``syconn db grant-readonly WD --role NAME`` for any other set-up
  (the writing user lacks CREATEROLE, password authentication, a role managed elsewhere).

Either way its URL is recorded as ``database.readonly_url`` in ``WD/config.yml`` (credentials in
the URL, or none there and a ``~/.pgpass`` / service-file entry instead), and
:func:`readonly_problem` verifies, at every read-only connection, that the role and every role
it can become hold no write right on the working directory's schema.  Without such a role a
read-only session is refused; it never falls back to the writing user.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from syconn.db.engine import quote_ident, readonly_role
from syconn.errors import DatabaseError

__all__ = ["generate_password", "may_create_roles", "role_exists", "create_login_role",
           "drop_role", "grant_select", "revoke_select", "provision_readonly_role", "readonly_problem", "check_readonly", "role_url"]


def generate_password() -> str:
    """A random password (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def may_create_roles(conn: Connection) -> bool:
    """Whether the connected user may create roles (superuser or CREATEROLE)."""
    return bool(conn.execute(text(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")).scalar())


def role_exists(conn: Connection, role: str) -> bool:
    return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                        {"r": role}).first() is not None


def create_login_role(conn: Connection, role: str, password: str | None) -> bool:
    """Create ``role`` (LOGIN, no other attribute) or set the password of an existing one.

    Returns True if the role was created.  The password is sent as a bound parameter (psycopg2
    interpolates it client-side, so DDL accepts it) and never formatted into an error message.
    """
    q = quote_ident(role)
    if role_exists(conn, role):
        if password is not None:
            conn.execute(text(f"ALTER ROLE {q} WITH LOGIN PASSWORD :pw"), {"pw": password})
        return False
    attrs = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"
    if password is None:
        conn.execute(text(f"CREATE ROLE {q} {attrs}"))
    else:
        conn.execute(text(f"CREATE ROLE {q} {attrs} PASSWORD :pw"), {"pw": password})
    return True


def drop_role(conn: Connection, role: str) -> None:
    """Drop ``role`` (its privileges revoked first with :func:`revoke_select`)."""
    if role_exists(conn, role):
        conn.execute(text(f"DROP ROLE {quote_ident(role)}"))


def grant_select(conn: Connection, schema: str, role: str) -> None:
    """Let ``role`` read every table and view of ``schema``, now and after later migrations.

    Run as the owner of the schema's tables (the writing user): only an owner may grant on
    them, and ``ALTER DEFAULT PRIVILEGES`` covers the tables that owner creates later.
    """
    q_role, q_schema = quote_ident(role), quote_ident(schema)
    conn.execute(text(f"GRANT USAGE ON SCHEMA {q_schema} TO {q_role}"))
    conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA {q_schema} TO {q_role}"))
    conn.execute(text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {q_schema} "
                      f"GRANT SELECT ON TABLES TO {q_role}"))


def revoke_select(conn: Connection, schema: str, role: str) -> None:
    """Undo :func:`grant_select` (as the owner of the schema's tables)."""
    q_role, q_schema = quote_ident(role), quote_ident(schema)
    conn.execute(text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {q_schema} "
                      f"REVOKE SELECT ON TABLES FROM {q_role}"))
    conn.execute(text(f"REVOKE SELECT ON ALL TABLES IN SCHEMA {q_schema} FROM {q_role}"))
    conn.execute(text(f"REVOKE USAGE ON SCHEMA {q_schema} FROM {q_role}"))


def provision_readonly_role(conn: Connection, url: str, schema: str,
                            readonly_url: str | None = None) -> str | None:
    """The read-only URL of a PostgreSQL working directory, within a migration's transaction.

    - ``readonly_url`` set: its role gets SELECT on the tables a migration added (where the
      writing user owns them and the role is known by name), and the URL is kept;
    - else, if the writing user may create roles: ``<schema>_ro`` is created (or its password
      reset) with a generated password and SELECT rights, and its URL returned;
    - else None: an administrator runs ``syconn db grant-readonly``.
    """
    if readonly_url:
        role = make_url(readonly_url).username
        if role and role_exists(conn, role):
            try:
                with conn.begin_nested():  # not the owner: the grants stay as they were
                    grant_select(conn, schema, role)
            except DBAPIError:
                pass
        return readonly_url
    if not may_create_roles(conn):
        return None
    role, password = readonly_role(schema), generate_password()
    create_login_role(conn, role, password)
    grant_select(conn, schema, role)
    return role_url(url, role, password)


# every role the session's user is, or can SET ROLE to, with what it could write in the schema
_WRITE_RIGHTS = """
SELECT m.rolname,
       m.rolsuper,
       has_schema_privilege(m.oid, %(schema)s, 'CREATE') AS can_create,
       (SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND has_table_privilege(m.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
        ORDER BY c.relname LIMIT 1) AS writable
FROM pg_roles m
WHERE pg_has_role(current_user, m.oid, 'MEMBER')
ORDER BY m.rolname <> current_user, m.rolname
"""


def readonly_problem(cursor, schema: str) -> str | None:
    """Why the session of a DBAPI ``cursor`` could write to ``schema``; None if it cannot.

    Looks at the session's role and at every role it is a member of (it could ``SET ROLE`` to
    them): none may be a superuser, create objects in the schema, or insert, update, delete
    or truncate any of its tables or views.
    """
    cursor.execute("SELECT current_user, EXISTS (SELECT 1 FROM pg_namespace "
                   "WHERE nspname = %(schema)s)", {"schema": schema})
    user, has_schema = cursor.fetchone()
    if not has_schema:
        return f"schema {schema} does not exist in this database (run 'syconn db upgrade')"
    cursor.execute(_WRITE_RIGHTS, {"schema": schema})
    for name, is_super, can_create, writable in cursor.fetchall():
        via = "" if name == user else f" (through its membership in {name})"
        what = ("is a superuser" if is_super else
                f"may create objects in schema {schema}" if can_create else
                f"may write table {writable}" if writable else None)
        if what:
            return (f"role {user} {what}{via}; a read-only session needs a SELECT-only role "
                    f"(an administrator creates one with 'syconn db grant-readonly WD "
                    f"--role NAME')")
    return None


def check_readonly(conn: Connection, schema: str) -> None:
    """Raise :class:`DatabaseError` unless the session of ``conn`` cannot write to ``schema``."""
    cur = conn.connection.driver_connection.cursor()
    try:
        problem = readonly_problem(cur, schema)
    finally:
        cur.close()
    if problem:
        raise DatabaseError(f"database.readonly_url: {problem}")


def role_url(url: str, role: str, password: str | None) -> str:
    """``url`` with ``role`` as its user, and ``password`` (None: no password in the URL)."""
    u = make_url(url)
    # (URL.set ignores None, which would keep the writing user's password)
    return URL.create(u.drivername, username=role, password=password, host=u.host, port=u.port,
                      database=u.database, query=u.query).render_as_string(hide_password=False)
