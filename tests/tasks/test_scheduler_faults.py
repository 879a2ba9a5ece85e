"""A central luigid and its faults: each run ends with the rows of a clean one-worker run (ids
included) and no partial block is ever visible.

- two ``syconn workers`` processes share one pipeline through one luigid (PostgreSQL), every
  task running exactly once;
- luigid killed (SIGKILL) and restarted in the middle of a run: the run finishes by itself
  (SQLite and PostgreSQL);
- the disk full at a block write (ENOSPC in ``pyarrow.parquet.write_table``, a partial temporary
  file written): one line saying so and how to resume, no temporary file left; the rerun after
  "freeing space" finishes (in-process and through the CLI);
- a task failing in one ``syconn workers`` process ends the other one too (no endless wait);
- no scheduler at ``--scheduler-host``: one line, exit 2, nothing run.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from helpers import free_ports, wait_until

from syconn.db import run_query
from syconn.errors import StorageError, SyconnError
from syconn.runner import run_pipeline
from syconn.workdir import open_engine

LUIGID = Path(sys.executable).with_name("luigid")
HOST = "127.0.0.1"


def _free_port() -> int:
    return free_ports(1, HOST)[0]


def _until(predicate, timeout: float, what: str):
    """``predicate``'s first true value within ``timeout`` seconds; fail after that."""
    value = wait_until(predicate, timeout)
    if not value:
        pytest.fail(f"{what} within {timeout:.0f} s")
    return value


class Luigid:
    """A luigid on loopback at a free port, started (and restarted there) on demand."""

    def __init__(self, folder: Path):
        self.port = _free_port()
        self.folder = folder
        self.proc: subprocess.Popen | None = None
        folder.mkdir()

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.port}/api/is_paused",
                                        timeout=2) as r:
                return "response" in json.loads(r.read())
        except OSError:
            return False

    def start(self) -> None:
        d = self.folder
        with open(d / "luigid.log", "ab") as log:
            self.proc = subprocess.Popen(
                [str(LUIGID), "--address", HOST, "--port", str(self.port), "--logdir", str(d),
                 "--state-path", str(d / "state.pickle"), "--pidfile", str(d / "pid")],
                stdout=log, stderr=log)
        _until(self.answers, 60, f"luigid did not answer on port {self.port}")

    def tasks(self, status: str) -> dict:
        """luigid's tasks of ``status`` (task id -> its record)."""
        query = urllib.parse.quote(json.dumps({"status": status, "upstream_status": ""}))
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/api/task_list?data={query}",
                                    timeout=5) as r:
            return json.loads(r.read())["response"]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def luigid(tmp_path):
    d = Luigid(tmp_path / "luigid")
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.kill()


@pytest.fixture
def spawn(tmp_path):
    """Start ``syconn ARGS`` (or ``python SCRIPT ARGS``) in the background, stderr to a file;
    killed at teardown."""
    procs = []

    def start(*args, script=None):
        log = tmp_path / f"syconn-{len(procs)}.log"
        cmd = [str(script)] if script else ["-m", "syconn.cli"]
        with open(log, "w") as f:
            p = subprocess.Popen([sys.executable, *cmd, *map(str, args)],
                                 stdout=subprocess.DEVNULL, stderr=f, start_new_session=True)
        p.log = log
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _finish(p, timeout: float = 300) -> tuple[int, str]:
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        pytest.fail(f"still running after {timeout:.0f} s: {p.log.read_text()[-3000:]}")
    return rc, p.log.read_text()


def _workers(spawn, wd, port, n, script=None):
    return spawn("workers", wd, "--scheduler-host", HOST, "--scheduler-port", port,
                 "--workers", n, script=script)


def _db_url(backend):
    name, url = backend
    return url if name == "postgresql" else None  # SQLite: the default, inside WD


def _block_outputs(wd) -> list[Path]:
    steps = Path(wd) / "steps"
    return [p for p in steps.rglob("block_*") if not p.name.startswith(".")] \
        if steps.exists() else []


def _temporaries(wd) -> list[Path]:
    steps = Path(wd) / "steps"
    return list(steps.rglob(".*.tmp")) if steps.exists() else []


def _duplicate_task_runs(wd) -> list[tuple]:
    return run_query(open_engine(wd, read_only=True), "SELECT task_id, COUNT(*) FROM task_runs "
                     "GROUP BY task_id HAVING COUNT(*) > 1")[1]


def _progress_lines(log: str) -> int:
    return sum(1 for line in log.splitlines() if re.match(r"\[\s*\d+/\d+\]", line))


@pytest.mark.postgres
def test_two_worker_processes_share_one_pipeline(reference, data, tmp_path, pg_url, wd_tools,
                                                 luigid, spawn):
    wd = wd_tools.make_wd(tmp_path / "wd", data, db_url=pg_url)
    luigid.start()
    procs = [_workers(spawn, wd, luigid.port, 1) for _ in range(2)]
    results = [_finish(p) for p in procs]
    for rc, log in results:
        assert rc == 0, log[-3000:]
    total = int(re.search(r": (\d+) tasks, 0 already complete", results[0][1]).group(1))
    # luigid gave every task to exactly one of the two processes
    assert sum(_progress_lines(log) for _, log in results) == total
    assert _duplicate_task_runs(wd) == []
    wd_tools.assert_same_rows(wd, reference)


def test_luigid_restarted_mid_run(reference, data, tmp_path, backend, wd_tools, luigid, spawn):
    wd = wd_tools.make_wd(tmp_path / "wd", data, db_url=_db_url(backend))
    luigid.start()
    p = _workers(spawn, wd, luigid.port, 2)
    _until(lambda: len(_block_outputs(wd)) >= 3 or p.poll() is not None, 120,
           "no block output")
    assert p.poll() is None, "the run finished before luigid could be killed: " + \
        p.log.read_text()[-3000:]
    luigid.kill()  # a fresh luigid knows none of the tasks
    luigid.start()
    rc, log = _finish(p)
    assert rc == 0, log[-3000:]
    assert "re-submitting the pipeline" in log
    assert "Traceback" not in log
    assert _duplicate_task_runs(wd) == []
    wd_tools.assert_same_rows(wd, reference)


# the 3rd pyarrow.parquet.write_table call to a file writes half of it, then the disk is full
_FULL_DISK = textwrap.dedent("""
    import errno
    import os
    import pyarrow.parquet as pq

    _write_table = pq.write_table
    CALLS = []

    def write_table(table, where, *args, **kwargs):
        _write_table(table, where, *args, **kwargs)
        if isinstance(where, (str, os.PathLike)):
            CALLS.append(str(where))
            if len(CALLS) == 3:
                with open(where, "r+b") as f:
                    f.truncate(f.seek(0, 2) // 2)
                raise OSError(errno.ENOSPC, "No space left on device")

    pq.write_table = write_table
""")


def _final_output(tmp: str) -> Path:
    """The output a temporary path stands for: its outermost ``.NAME.PID.tmp`` part renamed."""
    parts = Path(tmp).parts
    for i, part in enumerate(parts):
        m = re.fullmatch(r"\.(.+)\.\d+\.tmp", part)
        if m:
            return Path(*parts[:i], m.group(1))
    raise AssertionError(f"{tmp} is not a temporary path")


def test_disk_full_then_resume(reference, data, tmp_path, wd_tools, monkeypatch):
    import pyarrow.parquet as pq

    wd = wd_tools.make_wd(tmp_path / "wd", data)
    monkeypatch.setattr(pq, "write_table", pq.write_table)  # undo() restores it
    patch: dict = {}
    exec(_FULL_DISK, patch)
    lines: list[str] = []
    with pytest.raises(SyconnError) as ei:
        run_pipeline(wd, workers=1, log=lines.append)
    calls = patch["CALLS"]
    assert len(calls) >= 3, calls
    msg = str(ei.value)
    assert isinstance(ei.value, StorageError) and ei.value.errno == errno.ENOSPC
    assert "\n" not in msg
    assert msg.startswith("disk full writing ") and "(No space left on device)" in msg
    assert msg.endswith(f"free space and rerun 'syconn run {wd}' to resume")
    assert not any("Traceback" in line for line in lines)  # not reported as a bug
    final = _final_output(calls[2])  # the block whose write failed
    assert Path(wd, "steps") in final.parents
    assert not final.exists()
    assert _temporaries(wd) == []
    monkeypatch.undo()  # space freed
    run_pipeline(wd, workers=1, log=lambda m: None)
    wd_tools.assert_same_rows(wd, reference)


def test_disk_full_through_the_cli(data, tmp_path, wd_tools):
    wd = wd_tools.make_wd(tmp_path / "wd", data)
    script = tmp_path / "full_disk.py"
    script.write_text(_FULL_DISK + "\nfrom syconn.cli import main\nmain()\n")
    r = subprocess.run([sys.executable, str(script), "run", str(wd)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 2, r.stderr[-3000:]
    errors = [line for line in r.stderr.splitlines() if line.startswith("syconn: error:")]
    assert len(errors) == 1 and errors[0] == r.stderr.rstrip().splitlines()[-1], r.stderr
    assert errors[0].startswith("syconn: error: disk full writing ")
    assert errors[0].endswith(f"(No space left on device); free space and rerun "
                              f"'syconn run {wd}' to resume")
    assert "Traceback" not in r.stderr
    assert _temporaries(wd) == []


# Prepare (the first task) fails once the test creates the file named by the first argument
_FAILING_PREPARE = textwrap.dedent("""
    import pathlib, sys, time
    from syconn.errors import InputError
    from syconn.tasks.prepare import Prepare

    go = pathlib.Path(sys.argv.pop(1))

    def run(self):
        while not go.exists():
            time.sleep(0.05)
        raise InputError("injected: the inputs are bad")

    Prepare.run = run
    from syconn.cli import main
    main()
""")


def test_failure_in_one_worker_process_ends_the_others(data, tmp_path, wd_tools, luigid,
                                                       spawn):
    wd = wd_tools.make_wd(tmp_path / "wd", data)
    script, go = tmp_path / "failing_prepare.py", tmp_path / "go"
    script.write_text(_FAILING_PREPARE)
    luigid.start()
    procs = [spawn(go, "workers", wd, "--scheduler-host", HOST, "--scheduler-port",
                   luigid.port, script=script) for _ in range(2)]
    # Prepare running in one process, both processes waiting for it: then it fails
    _until(lambda: any(t["name"] == "Prepare" and len(t["workers"]) == 2
                       for t in luigid.tasks("RUNNING").values()), 60,
           "Prepare not running with both processes scheduled")
    go.touch()
    logs = []
    for p in procs:
        rc, log = _finish(p, timeout=120)  # the plain luigi keep-alive waits for ever here
        assert rc == 2, log[-3000:]
        last = log.rstrip().splitlines()[-1]
        assert last.startswith("syconn: error: ") and "injected: the inputs are bad" in last
        logs.append(last)
    assert sum("Prepare failed in another worker: injected" in line for line in logs) == 1, logs
    assert _block_outputs(wd) == []


@pytest.mark.parametrize("command", ["workers", "run"])
def test_unreachable_scheduler_runs_nothing(data, tmp_path, wd_tools, cli, one_line_error,
                                            command):
    wd = wd_tools.make_wd(tmp_path / "wd", data)
    port = _free_port()  # nothing listens there
    r = cli(command, wd, "--scheduler-host", HOST, "--scheduler-port", port)
    assert one_line_error(r) == (
        f"syconn: error: scheduler {HOST}:{port} unreachable (Connection refused); start one "
        f"with 'luigid --port {port}' on that host or check --scheduler-host")
    assert _block_outputs(wd) == []
    assert run_query(open_engine(wd, read_only=True), "SELECT COUNT(*) FROM task_runs")[1] \
        == [(0,)]
