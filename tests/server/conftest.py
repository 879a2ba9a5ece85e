"""Fixtures of the server tests.

KNOSSOS-plugin routes (test_knossos_routes.py): the processed working directory of the task tests
(``pipeline_wd`` of ``tests/conftest.py``), a copy of it on PostgreSQL, and a TestClient per backend.

The PostgreSQL copy is the SQLite run's rows loaded into a fresh PostgreSQL working directory
of the same data and config, next to a copy of its mesh, skeleton and cell stores (the step
folders have the same names: the database is not part of any step's settings).  Running the
pipeline again on PostgreSQL would take a minute; the rows are the same (``test_pipeline``'s
``test_postgres_same_rows`` checks that).
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import importlib.util
import json
import os
import queue
import shutil
import signal
import socket
import tempfile
import threading
import time
import types
import uuid
from pathlib import Path

import pytest


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_TESTS = Path(__file__).resolve().parents[1]
_root = _load(_TESTS / "conftest.py", "_syconn_tests_root_conftest")


def _copy_results(src: Path, dst: Path) -> None:
    """The stores and every table row of working directory ``src`` into ``dst`` (same data and
    config, another database)."""
    from sqlalchemy import select

    from syconn.config import load_config
    from syconn.db import tables as T
    from syconn.read import MESH_STORE_KINDS, cells_dir, mesh_dir, skeleton_dir
    from syconn.workdir import open_engine

    scfg, dcfg = load_config(src), load_config(dst)
    folders = [(mesh_dir(src, scfg, k), mesh_dir(dst, dcfg, k)) for k in MESH_STORE_KINDS]
    folders += [(skeleton_dir(src, scfg), skeleton_dir(dst, dcfg)),
                (cells_dir(src, scfg), cells_dir(dst, dcfg))]
    for a, b in folders:
        assert a.name == b.name, (a, b)
        shutil.copytree(a, b)
    read, write = open_engine(src, read_only=True), open_engine(dst)
    with read.connect() as rc, write.begin() as wc:
        for table in T.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in rc.execute(select(table))]
            if table.name == "dataset":
                wc.execute(table.delete())
            if rows:
                wc.execute(table.insert(), rows)


@pytest.fixture(scope="session")
def pg_pipeline_wd(pipeline_wd, data, tmp_path_factory):
    """:func:`pipeline_wd`'s results in a PostgreSQL working directory (own database)."""
    if _root._PG_PROBLEM is not None:
        msg = f"PostgreSQL unreachable at {_root.PG_SERVER}: {_root._PG_PROBLEM}"
        pytest.fail(msg) if _root.REQUIRE_PG else pytest.skip(msg)
    name = f"syconn_test_{uuid.uuid4().hex[:12]}"
    admin = _root._admin()
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        wd = _root.make_wd(tmp_path_factory.mktemp("pg") / "wd", data,
                            db_url=f"{_root.PG_SERVER}/{name}")
        _copy_results(pipeline_wd, wd)
        yield wd
    finally:
        _root._drop_database_and_roles(admin, name)


@pytest.fixture(scope="session",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served_wd(request):
    """The processed working directory, on SQLite and on PostgreSQL."""
    return request.getfixturevalue("pipeline_wd" if request.param == "sqlite"
                                   else "pg_pipeline_wd")


@pytest.fixture(scope="session")
def client(served_wd):
    """A TestClient of the read-only app of :func:`served_wd`."""
    from fastapi.testclient import TestClient

    from syconn.server import create_app

    with TestClient(create_app(served_wd)) as c:
        yield c


@pytest.fixture(scope="session")
def results(served_wd):
    """:class:`syconn.read.Results` of :func:`served_wd`, what the routes are checked
    against."""
    from syconn.read import Results

    return Results(served_wd)


# ================================================================== web viewer (test_viewer.py)
#
# Working directories holding known rows on every SQL backend, a live HTTP server, and a
# headless Chromium.  Chromium (the Debian ``chromium`` package) is driven over the DevTools
# protocol on a pipe (``--remote-debugging-pipe``), so the browser test needs nothing but the
# browser binary.  Where it is missing the browser test is skipped, unless
# ``SYCONN_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a failure.


REQUIRE_BROWSER = os.environ.get("SYCONN_REQUIRE_BROWSER") == "1"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

VOXEL_NM = (10.0, 10.0, 20.0)
BIG_SYNAPSE_ID = 2 ** 62 + 5  # above 2**53: JSON.parse would round it


def _box(x, y, z, **extra):
    """bbox and rep columns of an object at voxel (x, y, z)."""
    return dict(bb_min_x=x, bb_min_y=y, bb_min_z=z, bb_max_x=x + 4, bb_max_y=y + 4,
                bb_max_z=z + 2, rep_x=x, rep_y=y, rep_z=z, **extra)


#: cells 10, 20, 123 (neurons) and 30 (glia); size_um3 = size_vx * 10 * 10 * 20 / 1e9
KNOWN_CELLS = [
    dict(id=10, size_vx=1000, n_supervoxels=2, cable_length_um=12.5, skeleton_status="ok",
         **_box(5, 5, 5)),
    dict(id=20, size_vx=5000, n_supervoxels=3, cable_length_um=None,
         skeleton_status="too_small", **_box(20, 5, 5)),
    dict(id=30, size_vx=9000, n_supervoxels=1, is_glia=True, **_box(40, 5, 5)),
    dict(id=123, size_vx=200, n_supervoxels=1, **_box(60, 5, 5)),
]

#: syn_prob threshold 0.5: s1, s2 (10 -> 20) and s5 (123 -> 10) count; s3 is below it; s4 has
#: no direction
KNOWN_SYNAPSES = [
    dict(id=BIG_SYNAPSE_ID, cell_pre=10, cell_post=20, cell_a=10, cell_b=20, syn_prob=0.9,
         sign=1, area_um2=0.2, size_vx=40, comp_pre=1, comp_post=0, **_box(10, 6, 5)),
    dict(id=2, cell_pre=10, cell_post=20, cell_a=10, cell_b=20, syn_prob=0.8, sign=-1,
         area_um2=0.1, size_vx=20, **_box(11, 7, 5)),
    dict(id=3, cell_pre=20, cell_post=10, cell_a=10, cell_b=20, syn_prob=0.3, sign=1,
         area_um2=0.05, size_vx=10, **_box(12, 7, 6)),
    dict(id=4, cell_pre=None, cell_post=None, cell_a=10, cell_b=123, syn_prob=0.95, sign=1,
         area_um2=0.3, size_vx=60, **_box(30, 8, 5)),
    dict(id=5, cell_pre=123, cell_post=10, cell_a=10, cell_b=123, syn_prob=0.7, sign=None,
         area_um2=0.4, size_vx=80, **_box(31, 9, 7)),
]

KNOWN_ORGANELLES = [
    dict(kind="mi", id=1, size_vx=50, cell_id=10, **_box(6, 6, 5)),
    dict(kind="mi", id=2, size_vx=60, cell_id=10, **_box(7, 6, 5)),
    dict(kind="vc", id=1, size_vx=30, cell_id=10, **_box(9, 6, 5)),
    dict(kind="sj", id=1, size_vx=20, cell_id=20, **_box(10, 6, 5)),
]


def make_known_wd(path: Path, db_url: str, *, cell_types: dict[int, str] | None = None) -> Path:
    """A working directory at ``path`` on ``db_url`` holding :data:`KNOWN_CELLS`,
    :data:`KNOWN_SYNAPSES` and :data:`KNOWN_ORGANELLES` (and ``cell_types`` by cell id)."""
    from syconn import __version__
    from syconn.db import tables as T
    from syconn.workdir import init_workdir, open_engine

    init_workdir(path, db_url=db_url, voxel_size_nm=VOXEL_NM, name="known_rows")
    cells = [dict(c, cell_type=(cell_types or {}).get(c["id"])) for c in KNOWN_CELLS]
    with open_engine(path).begin() as conn:
        conn.execute(T.dataset.insert().values(
            id=1, name="known_rows", voxel_x_nm=VOXEL_NM[0], voxel_y_nm=VOXEL_NM[1],
            voxel_z_nm=VOXEL_NM[2], shape_x=64, shape_y=64, shape_z=32, block_x=64,
            block_y=64, block_z=32, syconn_version=__version__, syn_prob_threshold=0.5,
            created_at=dt.datetime.now(dt.timezone.utc)))
        for table, rows in ((T.cells, cells), (T.synapses, KNOWN_SYNAPSES),
                            (T.organelles, KNOWN_ORGANELLES)):
            keys = sorted({k for r in rows for k in r})
            conn.execute(table.insert(), [{k: r.get(k) for k in keys} for r in rows])
    return path


@pytest.fixture
def known_wd(backend, tmp_path):
    """``known_wd(cell_types=None)``: :func:`make_known_wd` on each backend (SQLite,
    PostgreSQL); pass ``cell_types`` for a working directory whose cells have types."""
    name, url = backend
    count = iter(range(1000))

    def make(cell_types=None):
        db = url
        if name == "sqlite":
            db = f"sqlite:///{tmp_path / f'known{next(count)}.sqlite'}"
        return make_known_wd(tmp_path / f"wd{next(count)}", db, cell_types=cell_types)

    return make


@pytest.fixture(scope="session")
def viewer_tools():
    """The known rows and :func:`make_known_wd` (test modules cannot import each other)."""
    return types.SimpleNamespace(VOXEL_NM=VOXEL_NM, BIG_SYNAPSE_ID=BIG_SYNAPSE_ID,
                                 KNOWN_CELLS=KNOWN_CELLS, KNOWN_SYNAPSES=KNOWN_SYNAPSES,
                                 make_known_wd=make_known_wd)


class LiveServer:
    """``app`` served by uvicorn on a free loopback port in a thread; ``url`` is its root."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def live_server():
    """``with live_server(app) as srv``: ``app`` served at ``srv.url`` (:class:`LiveServer`)."""
    return LiveServer


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium page driven over the DevTools protocol on a pipe.

    Messages are JSON objects separated by NUL bytes (the browser's fd 3: commands in, fd 4:
    replies and events out).  ``errors`` collects console errors, uncaught exceptions and
    failed loads.
    """

    def __init__(self, exe: str, *, width: int = 1400, height: int = 850, timeout: float = 30):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="syconn-chromium-")
        # pipe ends above fd 4, so that placing them on fds 3 and 4 cannot clobber each other
        to_child_r, to_child_w = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in os.pipe())
        from_child_r, from_child_w = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
                                      for fd in os.pipe())
        args = [exe, "--headless", "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                "--disable-background-networking", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root
        # posix_spawn, not fork + preexec_fn: the tests run threads (the live server)
        self.pid = os.posix_spawn(exe, args, os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, to_child_r, 3),
            (os.POSIX_SPAWN_DUP2, from_child_w, 4),
        ])
        os.close(to_child_r)
        os.close(from_child_w)
        self._to_child, self._from_child = to_child_w, from_child_r
        self._next_id = 0
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.errors: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                self._dispatch(json.loads(raw))

    def _dispatch(self, msg: dict) -> None:
        if "id" in msg:
            with self._lock:
                q = self._replies.get(msg["id"])
            if q is not None:
                q.put(msg)
            return
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.errors.append("exception: " + d.get("exception", {}).get(
                "description", d.get("text", "")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            e = params["entry"]
            self.errors.append(f"log: {e.get('text')} {e.get('url', '')}".strip())

    def send(self, method: str, *, session: str | None = None, **params):
        """Send one command; return its result (raise on a protocol error or timeout)."""
        with self._lock:
            self._next_id += 1
            mid = self._next_id
            self._replies[mid] = q = queue.Queue()
        msg = {"id": mid, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        try:
            reply = q.get(timeout=self.timeout)
        except queue.Empty:
            raise TimeoutError(f"Chromium did not answer {method} in {self.timeout} s") from None
        finally:
            with self._lock:
                self._replies.pop(mid, None)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def call(self, method: str, **params):
        """A command to the page."""
        return self.send(method, session=self.session, **params)

    def js(self, expression: str):
        """Evaluate ``expression`` in the page (promises awaited); its JSON value."""
        r = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                      returnByValue=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError(f"{expression}: {d.get('exception', {}).get('description')}")
        return r["result"].get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout: float = 20.0):
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"not true within {timeout} s: {expression}")
            time.sleep(0.05)

    def screenshot(self) -> bytes:
        """The page as PNG bytes."""
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, TimeoutError, RuntimeError):
            pass
        deadline = time.monotonic() + 10
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            time.sleep(0.05)
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser():
    """A headless :class:`Browser` (Debian's ``chromium``); skipped where there is none,
    failed instead under ``SYCONN_REQUIRE_BROWSER=1``."""
    exe = find_chromium()
    if exe is None:
        message = (f"no headless browser found (looked for {', '.join(CHROMIUM_NAMES)}); "
                   f"install the Debian package 'chromium'")
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    b = Browser(exe)
    try:
        yield b
    finally:
        b.close()
