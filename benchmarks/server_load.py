"""Load on ``syconn server`` over loopback: mesh and synapse-metadata requests.

    python benchmarks/server_load.py [--wd WD] [--out benchmarks/out/server_load]
                                     [--mesh-requests 200] [--meta-requests 1000]
                                     [--meta-concurrency 10] [--no-postgres]

Makes the example's processed working directory (``syconn example``: the default
576 x 576 x 288 volume, not timed) in ``OUT/sqlite``, or reuses it, or serves ``--wd``; for
PostgreSQL (when ``$SYCONN_TEST_PG`` or 127.0.0.1:5432 answers) a working directory
``OUT/postgresql`` on its own database, holding the SQLite run's rows and a copy of its stores
(the rows are the same as a PostgreSQL run's; ``tests/server/conftest.py`` does the same).

For each backend it starts the real server (``syconn server WD --port P``, uvicorn, in a
subprocess on a free 127.0.0.1 port) and, from one asyncio client:

- ``/ssv_mesh/<id>``: ``--mesh-requests`` requests sent at once, over every cell with a mesh,
  largest first (so the largest mesh is among them): once on the fresh server (as soon as it
  answers: its pre-warm of the largest cells' mesh JSON, ``--prewarm-mb``, runs in the
  background from its start), once more (cached); then the same number for the largest mesh
  alone;
- ``/all_syn_meta/{"synthresh": 0.5, "axodend_only": true}``: ``--meta-requests`` requests,
  ``--meta-concurrency`` in flight at a time;
- and on another fresh server started with ``--prewarm-mb 0``, the first ``/ssv_mesh/<id>``
  requests again: an empty mesh cache (every mesh read and serialised, once however many
  requests ask for it at the same time).

Latency is from sending a request to having read its whole body; an error is any response
other than 200 or a failed request.  The client is plain asyncio over kept-alive connections
(see :func:`fire`).  Prints one markdown table per backend, with the machine's
load average before and after.  Client and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import numpy as np

META_PATH = '/all_syn_meta/{"synthresh": 0.5, "axodend_only": true}'
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432"
PG_DATABASE = "syconn_bench_server_load"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# ------------------------------------------------------------------ working directories

def example_wd(wd: Path, *, workers: int) -> Path:
    """The example's processed working directory at ``wd`` (made once, then reused)."""
    from syconn.read import Results

    if (wd / "config.yml").is_file() and Results(wd).step_done("Synapses"):
        _log(f"reusing {wd}")
        return wd
    from syconn.example import run_example

    _log(f"making the example in {wd} (syconn example; several minutes) ...")
    with contextlib.redirect_stdout(sys.stderr):  # its summary: stdout keeps the tables
        run_example(wd, workers=workers)
    return wd


def pg_reachable(server: str) -> str | None:
    """None if PostgreSQL answers at ``server``, else why not."""
    from syconn.db.engine import check_connection, make_engine
    from syconn.errors import SyconnError

    eng = make_engine(f"{server}/postgres")
    try:
        check_connection(eng)
    except SyconnError as exc:
        return str(exc).splitlines()[0]
    finally:
        eng.dispose()
    return None


def pg_copy(src: Path, dst: Path, server: str) -> Path:
    """A PostgreSQL working directory at ``dst`` (database :data:`PG_DATABASE`) with the rows
    and stores of ``src``; reused where it already holds them."""
    from sqlalchemy import select

    from syconn.config import config_to_dict, load_config
    from syconn.db import tables as T
    from syconn.db.engine import drop_database
    from syconn.read import MESH_STORE_KINDS, Results, cells_dir, mesh_dir, skeleton_dir
    from syconn.workdir import init_workdir, open_engine

    if (dst / "config.yml").is_file():
        try:
            if Results(dst).step_done("Synapses"):
                _log(f"reusing {dst}")
                return dst
        except Exception:  # noqa: BLE001 - a broken copy is made again
            pass
        shutil.rmtree(dst)
    drop_database(f"{server}/{PG_DATABASE}")  # a half-made copy of an earlier run
    scfg = load_config(src)
    settings = config_to_dict(scfg)  # the same settings (so the same step folders) ...
    settings.pop("database")  # ... on another database
    init_workdir(dst, voxel_size_nm=scfg.dataset.voxel_size_nm, overrides=settings,
                 db_url=f"{server}/{PG_DATABASE}")
    dcfg = load_config(dst)
    folders = [(mesh_dir(src, scfg, k), mesh_dir(dst, dcfg, k)) for k in MESH_STORE_KINDS]
    folders += [(skeleton_dir(src, scfg), skeleton_dir(dst, dcfg)),
                (cells_dir(src, scfg), cells_dir(dst, dcfg))]
    for a, b in folders:
        if a.name != b.name:
            raise SystemExit(f"{a} and {b}: the configs differ; cannot copy the stores")
        if a.is_dir():
            shutil.copytree(a, b)
    read, write = open_engine(src, read_only=True), open_engine(dst)
    with read.connect() as rc, write.begin() as wc:
        for table in T.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in rc.execute(select(table))]
            if table.name == "dataset":
                wc.execute(table.delete())
            if rows:
                wc.execute(table.insert(), rows)
    _log(f"copied {src}'s rows and stores into {dst} ({server}/{PG_DATABASE})")
    return dst


# ------------------------------------------------------------------ server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``syconn server WD`` in a subprocess on a free loopback port."""

    def __init__(self, wd: Path, *options: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syconn.cli", "server", str(wd), "--port", str(self.port),
             *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    def __enter__(self):
        import httpx

        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"syconn server exited: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("syconn server did not answer within 60 s")
            time.sleep(0.1)

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------ load

async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: bytes
               ) -> tuple[int, bytes]:
    """One HTTP/1.1 GET on a kept-alive connection: (status, body)."""
    writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    length = {k.strip().lower(): v.strip() for k, v in headers.items()}.get("content-length")
    if length is None:
        raise ValueError(f"{target!r}: no Content-Length in the response")
    return status, await reader.readexactly(int(length))


async def fire(port: int, paths: list[str], concurrency: int) -> dict:
    """GET every path over ``concurrency`` kept-alive loopback connections (all opened before
    the clock starts), each sending its next request when the last one is read: latencies
    (s), response sizes, errors, wall time.

    A plain asyncio client: httpx, measured here first, spent about 6 ms of CPU per 500 kB
    response, 6 times what the server spent, so it measured itself rather than the server."""
    lat: list[float] = []
    sizes: list[int] = []
    errors: list[str] = []
    targets = [urllib.parse.quote(p, safe="/:").encode() for p in paths]
    conns = [await asyncio.open_connection("127.0.0.1", port)
             for _ in range(min(concurrency, len(paths)))]
    todo = iter(targets)

    async def worker(reader, writer) -> None:
        for target in todo:
            t0 = time.perf_counter()
            try:
                status, body = await _get(reader, writer, target)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(f"{status}: {body[:120]!r}")
            else:
                sizes.append(len(body))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in conns))
    wall = time.perf_counter() - t0
    for _, w in conns:
        w.close()
    return {"lat": np.asarray(lat), "sizes": np.asarray(sizes), "errors": errors, "wall": wall}


def _kb(n: float) -> str:
    return f"{n / 1e3:,.0f} kB" if n >= 1e4 else f"{n / 1e3:,.1f} kB"


def row(route: str, n: int, concurrency: int, got: dict) -> str:
    lat_ms = got["lat"] * 1e3
    p50, p99, mx = (np.percentile(lat_ms, 50), np.percentile(lat_ms, 99), lat_ms.max())
    sizes = got["sizes"]
    if len(sizes) and sizes.min() != sizes.max():
        size = f"{_kb(np.median(sizes))} median, {_kb(sizes.max())} max"
    else:
        size = _kb(sizes[0]) if len(sizes) else "-"
    return (f"| {route} | {n:,} | {concurrency} | {len(got['errors'])} | {p50:.1f} | "
            f"{p99:.1f} | {mx:.1f} | {n / got['wall']:,.0f} | {size} |")


def mesh_cells(wd: Path) -> list[tuple[int, int]]:
    """(cell id, vertices) of every cell with a mesh, most vertices first."""
    from syconn.read import Results

    res = Results(wd)
    ids = res.cell_ids().tolist()
    meshes = res.meshes("cells", ids)
    return sorted(((i, m.n_vertices) for i, m in meshes.items() if m.n_vertices),
                  key=lambda t: -t[1])


def run_backend(name: str, wd: Path, args) -> list[str]:
    cells = mesh_cells(wd)
    if not cells:
        raise SystemExit(f"{wd}: no cell has a mesh")
    largest, largest_nv = cells[0]
    n_mesh = args.mesh_requests
    spread = [f"/ssv_mesh/{cells[i % len(cells)][0]}" for i in range(n_mesh)]
    lines = []
    load0 = _load()
    # warm-up: each kind of request once (imports, first connections of the pool), on a
    # cell outside the spread where there is one (else an id that is no cell, a 404)
    warm_up = [f"/ssv_mesh/{cells[-1][0]}" if len(cells) > n_mesh else "/ssv_mesh/0",
               META_PATH]
    label = f"`/ssv_mesh/<id>` ({len(cells)} cells, {cells[-1][1]:,}-{largest_nv:,} vertices)"
    runs = [((), [
        (f"{label}, first requests on a fresh server", spread, n_mesh),
        (f"{label}, again", spread, n_mesh),
        (f"`/ssv_mesh/{largest}` (largest, {largest_nv:,} vertices)",
         [f"/ssv_mesh/{largest}"] * n_mesh, n_mesh),
        ("`/all_syn_meta/{\"synthresh\": 0.5, \"axodend_only\": true}`",
         [META_PATH] * args.meta_requests, args.meta_concurrency)]),
        (("--prewarm-mb", "0"), [
            (f"{label}, first requests on a fresh server, `--prewarm-mb 0` (cold cache)",
             spread, n_mesh)])]
    for options, bursts in runs:
        with Server(wd, *options) as srv:
            asyncio.run(fire(srv.port, warm_up, 2))
            for what, paths, conc in bursts:
                got = asyncio.run(fire(srv.port, paths, conc))
                for e in sorted(set(got["errors"]))[:5]:
                    _log(f"  {name} {what}: error {e}")
                lines.append(row(what, len(paths), conc, got))
    head = (f"**{name}** ({wd}; load average before {load0}, after {_load()}; "
            f"{os.cpu_count()} cores)\n\n"
            "| route | requests | concurrency | errors | p50 (ms) | p99 (ms) | max (ms) | "
            "responses/s | response size |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---|")
    return [head, *lines]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wd", type=Path, help="a processed working directory to serve "
                    "(default: the example, made in OUT/sqlite)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/server_load"))
    ap.add_argument("--workers", type=int, default=2, help="pipeline workers for the example")
    ap.add_argument("--mesh-requests", type=int, default=200)
    ap.add_argument("--meta-requests", type=int, default=1000)
    ap.add_argument("--meta-concurrency", type=int, default=10)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()

    sqlite_wd = args.wd or example_wd(args.out / "sqlite", workers=args.workers)
    backends = [("SQLite", sqlite_wd)]
    server = os.environ.get("SYCONN_TEST_PG", PG_DEFAULT)
    if not args.no_postgres:
        from syconn.config import load_config
        from syconn.db.engine import is_postgres

        problem = pg_reachable(server)
        if problem is not None:
            _log(f"PostgreSQL not measured: {server}: {problem}")
        elif is_postgres(load_config(sqlite_wd).db_url(sqlite_wd)):  # --wd on PostgreSQL
            backends = [("PostgreSQL", sqlite_wd)]
        else:
            backends.append(("PostgreSQL", pg_copy(sqlite_wd, args.out / "postgresql", server)))
    out = [f"`syconn server` load over loopback, {time.strftime('%Y-%m-%d %H:%M')}; "
           f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}"]
    for name, wd in backends:
        _log(f"measuring {name} ...")
        out += ["", *run_backend(name, wd, args)]
    print("\n".join(out))


if __name__ == "__main__":
    main()
