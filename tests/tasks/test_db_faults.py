"""Faults during database loads: each run ends with the rows of a clean run, ids included, and
no partial load is ever visible.

- a worker killed with SIGKILL in the middle of a load (rows of the load already sent, the
  transaction open), SQLite and PostgreSQL;
- a worker killed right after a load committed (the old code then wrote ``cells.n_<kind>`` in a
  second transaction, and a kill between the two left them NULL for good);
- the database connection terminated in the middle of a COPY (``pg_terminate_backend``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from syconn.db import run_query
from syconn.errors import PipelineError
from syconn.runner import run_pipeline
from syconn.workdir import open_engine

# a child process runs the pipeline with one database function patched to kill its worker
_CHILD = textwrap.dedent("""
    import os, signal, sys
    import syconn.db as D
    import syconn.db.store as S

    mode, target, wd, mark = sys.argv[1:5]

    def kill(what):
        open(mark, "a").write(what + "\\n")
        os.kill(os.getpid(), signal.SIGKILL)

    if mode == "mid-load":  # half of the target table's rows sent, then the worker dies
        for name in ("_load_sqlite", "_load_postgres"):
            def wrapped(conn, tbl, cols, parts, *a, _orig=getattr(S, name), **k):
                if tbl.name == target:
                    _orig(conn, tbl, cols, [p.slice(0, p.num_rows // 2) for p in parts], *a, **k)
                    kill(tbl.name)
                return _orig(conn, tbl, cols, parts, *a, **k)
            setattr(S, name, wrapped)
    else:  # "after-commit": the load of the target task family committed, then the worker dies
        orig = D.bulk_load_many
        def after(*a, task=None, **k):
            out = orig(*a, task=task, **k)
            if task and task["task_id"].startswith(target):
                kill(task["task_id"])
            return out
        D.bulk_load_many = after

    from syconn.runner import run_pipeline
    run_pipeline(wd, workers=2, log=lambda m: None)
""")


def _run_child(tmp_path, mode, target, wd):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    mark = tmp_path / "killed"
    r = subprocess.run([sys.executable, str(script), mode, target, str(wd), str(mark)],
                       capture_output=True, text=True, timeout=600)
    assert mark.is_file(), f"the kill point was never reached: {r.stderr[-2000:]}"
    assert r.returncode != 0  # the run noticed its dead worker and did not finish
    return mark.read_text().split()


def _counts(wd, *tables):
    eng = open_engine(wd, read_only=True)
    return {t: run_query(eng, f"SELECT COUNT(*) FROM {t}")[1][0][0] for t in tables}


def _done(wd, family):
    eng = open_engine(wd, read_only=True)
    return run_query(eng, "SELECT COUNT(*) FROM task_runs WHERE task_family = :f",
                     {"f": family})[1][0][0]


def test_sigkill_mid_load_then_resume(reference, data, tmp_path, backend, wd_tools):
    _, url = backend
    wd = wd_tools.make_wd(tmp_path / "wd", data, db_url=url if url.startswith("postgres")
                          else None)
    assert _run_child(tmp_path, "mid-load", "synapses", wd) == ["synapses"]
    # the whole Synapses load (contact sites first, then half of the synapses) is gone
    assert _counts(wd, "contact_sites", "synapses") == {"contact_sites": 0, "synapses": 0}
    assert _done(wd, "Synapses") == 0
    assert _counts(wd, "cells")["cells"] > 0  # earlier loads are in
    run_pipeline(wd, workers=2, log=lambda m: None)
    wd_tools.assert_same_rows(wd, reference)


def test_sigkill_right_after_a_commit_then_resume(reference, data, tmp_path, wd_tools):
    wd = wd_tools.make_wd(tmp_path / "wd", data)
    killed = _run_child(tmp_path, "after-commit", "Organelles(kind=mi)", wd)
    assert killed[0].startswith("Organelles(kind=mi)@")
    eng = open_engine(wd, read_only=True)
    # everything of the step is in (the per-cell counts with the rows), or nothing
    nulls = run_query(eng, "SELECT COUNT(*) FROM cells WHERE n_mi IS NULL")[1][0][0]
    assert nulls == 0
    run_pipeline(wd, workers=2, log=lambda m: None)
    wd_tools.assert_same_rows(wd, reference)


def test_connection_terminated_mid_copy(reference, data, tmp_path, pg_url, wd_tools,
                                        monkeypatch):
    """pg_terminate_backend while a COPY is streaming: one-line error, nothing loaded."""
    import io

    import psycopg2

    import syconn.db.store as S

    wd = wd_tools.make_wd(tmp_path / "wd", data, db_url=pg_url)
    terminated = []

    class Cut(io.RawIOBase):
        """A COPY payload that has the server end the session after its first half."""

        def __init__(self, buf, pid):
            self.buf, self.pid, self.calls = buf, pid, 0

        def readable(self):
            return True

        def read(self, n=-1):
            self.calls += 1
            if self.calls == 2 and not terminated:
                admin = psycopg2.connect(pg_url)
                admin.autocommit = True
                cur = admin.cursor()
                cur.execute("SELECT pg_terminate_backend(%s)", (self.pid,))
                terminated.append(cur.fetchone()[0])
                admin.close()
            data = self.buf.read(max(1, len(self.buf.getbuffer()) // 2) if self.calls == 1
                                 else n)
            return data

    orig_load, current = S._load_postgres, {}

    def load(conn, tbl, cols, parts, *a, **k):
        current["pid"] = (conn.connection.driver_connection.get_backend_pid()
                          if tbl.name == "synapses" and not terminated else None)
        return orig_load(conn, tbl, cols, parts, *a, **k)

    def cut(chunks):
        def wrapped(*a, **k):
            for buf in chunks(*a, **k):
                yield Cut(buf, current["pid"]) if current.get("pid") else buf
        return wrapped

    monkeypatch.setattr(S, "_load_postgres", load)
    monkeypatch.setattr(S, "_csv_chunks", cut(S._csv_chunks))
    monkeypatch.setattr(S, "_binary_chunks", cut(S._binary_chunks))
    with pytest.raises(PipelineError) as ei:
        run_pipeline(wd, workers=1, log=lambda m: None)
    assert terminated == [True]
    msg = str(ei.value)
    assert "\n" not in msg and "load into contact_sites, synapses failed" in msg
    # (psycopg2 reports the server's "terminating connection" as the closed connection)
    assert ("terminat" in msg or "server closed the connection" in msg) and \
        "nothing of it was written" in msg
    assert _counts(wd, "contact_sites", "synapses") == {"contact_sites": 0, "synapses": 0}
    assert _done(wd, "Synapses") == 0
    monkeypatch.undo()
    run_pipeline(wd, workers=1, log=lambda m: None)
    wd_tools.assert_same_rows(wd, reference)
