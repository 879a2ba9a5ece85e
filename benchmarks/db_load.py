"""Bulk-load throughput: 2,000,000 synapse rows into SQLite and PostgreSQL.

    python benchmarks/db_load.py [--rows N] [--pg postgresql://postgres@127.0.0.1:5432]

Prints a markdown table of rows/s per backend (load into an empty table, and a reload of the
same rows, which replaces them).  Targets: >= 200,000 rows/s into PostgreSQL, >= 100,000 into
SQLite.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa

from syconn.db import bulk_load, make_engine, upgrade
from syconn.db import tables as T


def synapse_rows(n: int, seed: int = 0) -> pa.Table:
    """Every column of the synapses table, realistic value ranges."""
    rng = np.random.default_rng(seed)
    cols: dict[str, pa.Array] = {}
    for c in T.synapses.c:
        name = c.name
        if name == "id":
            cols[name] = pa.array(np.arange(1, n + 1, dtype=np.int64))
        elif name == "sign":
            cols[name] = pa.array(rng.choice(np.array([-1, 1], np.int16), n))
        elif name in ("comp_pre", "comp_post", "spiness_post"):
            cols[name] = pa.array(rng.integers(0, 4, n).astype(np.int16))
        elif isinstance(c.type, (T.BigInteger,)):
            cols[name] = pa.array(rng.integers(0, 10_000_000, n, dtype=np.int64))
        else:
            cols[name] = pa.array(rng.random(n))
    return pa.table(cols)


def bench(url: str, data: pa.Table, schema: str | None) -> tuple[float, float]:
    eng = make_engine(url, schema=schema)
    upgrade(eng, schema=schema)
    t0 = time.perf_counter()
    bulk_load(eng, "synapses", data)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    bulk_load(eng, "synapses", data)  # same rows again: replaced, not duplicated
    second = time.perf_counter() - t0
    with eng.connect() as conn:
        n = conn.exec_driver_sql("SELECT COUNT(*) FROM synapses").scalar()
    assert n == data.num_rows, n
    eng.dispose()
    return data.num_rows / first, data.num_rows / second


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = ap.parse_args()
    data = synapse_rows(args.rows)
    results = []
    with tempfile.TemporaryDirectory() as d:
        results.append(("SQLite (WAL)", *bench(f"sqlite:///{Path(d) / 'b.sqlite'}", data, None)))
    import psycopg2
    name = f"syconn_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(args.pg + "/postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        results.append(("PostgreSQL (COPY)", *bench(f"{args.pg}/{name}", data, "bench")))
    finally:
        admin.cursor().execute(f'DROP DATABASE "{name}"')
        admin.cursor().execute('DROP ROLE IF EXISTS "bench_ro"')
        admin.close()
    print(f"\n{args.rows:,} synapse rows, {data.num_columns} columns\n")
    print("| backend | load into empty table (rows/s) | reload, replacing (rows/s) |")
    print("|---|---:|---:|")
    for name, a, b in results:
        print(f"| {name} | {a:,.0f} | {b:,.0f} |")


if __name__ == "__main__":
    main()
