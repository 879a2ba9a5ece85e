"""SQL store: tables, engine factory, migrations, bulk load, queries."""

from syconn.db.engine import check_connection, is_postgres, make_engine, safe_url
from syconn.db.store import (
    bulk_load,
    bulk_load_many,
    bulk_update,
    current_revision,
    head_revision,
    record_task,
    run_query,
    table_counts,
    task_done,
    upgrade,
)

__all__ = [
    "bulk_load",
    "bulk_load_many",
    "bulk_update",
    "check_connection",
    "current_revision",
    "head_revision",
    "is_postgres",
    "make_engine",
    "record_task",
    "run_query",
    "safe_url",
    "table_counts",
    "task_done",
    "upgrade",
]
