"""Alembic environment: migrations run on the connection syconn hands over.

``syconn db upgrade WD`` (``syconn.db.store.upgrade``) passes its connection in
``config.attributes["connection"]``; the plain ``alembic`` command (repo-root ``alembic.ini``)
connects to ``$SYCONN_DB_URL`` instead.
"""

import os

from alembic import context
from sqlalchemy import create_engine

from syconn.db.tables import metadata

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


conn = config.attributes.get("connection")
if conn is not None:
    _run(conn)
else:
    url = os.environ.get("SYCONN_DB_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set SYCONN_DB_URL (or use 'syconn db upgrade WD')")
    with create_engine(url).begin() as c:
        _run(c)
