"""Running the Luigi pipeline from Python and the CLI, with progress and clean errors.

``run_pipeline(wd, workers=N)`` builds ``Pipeline`` with a local scheduler (or a central
``luigid`` when ``scheduler_host`` is given), prints one progress line per finished task, and
turns a failure into a :class:`~syconn.errors.SyconnError` naming the failed task and its reason;
a full disk (``ENOSPC``/``EDQUOT`` anywhere in a task) becomes a
:class:`~syconn.errors.StorageError` that says how to resume.

With a central scheduler the run checks first that luigid answers, retries its RPCs for a
minute (unless luigi's config sets ``[core] rpc_retry_attempts``/``rpc_retry_wait``), and
re-submits the graph when ``luigi.build`` returns with the pipeline incomplete and nothing failed
(luigid was restarted and forgot the pending tasks), as long as each round makes progress.
``keep_alive=True`` (``syconn workers``) keeps the workers of this process alive while tasks of the
graph are pending or running in other processes, so several nodes share one pipeline.
"""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing as mp
import os
import re
import socket
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

import luigi
import luigi.configuration
import luigi.rpc
import luigi.scheduler
import luigi.worker

from syconn.config import load_config
from syconn.errors import PipelineError, StorageError, SyconnError
from syconn.tasks.base import task_key

__all__ = ["run_pipeline", "count_tasks", "check_scheduler"]

# RPC retries for syconn's runs where luigi's config sets none (luigi's own: 3 x 30 s): a
# worker rides out a luigid restart of up to a minute, and notices a dead one within a minute
RPC_RETRY_ATTEMPTS = 30
RPC_RETRY_WAIT_S = 2
SCHEDULER_PROBE_TIMEOUT_S = 5.0
SCHEDULER_WAIT_S = 60.0  # after a round that lost the scheduler: wait this long for it to answer
MAX_ROUNDS = 10  # luigi.build calls of one run; a re-submission needs progress in the round before
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _graph(root: luigi.Task) -> dict[str, luigi.Task]:
    seen: dict[str, luigi.Task] = {}
    stack = [root]
    while stack:
        t = stack.pop()
        if t.task_id in seen:
            continue
        seen[t.task_id] = t
        stack.extend(luigi.task.flatten(t.requires()))
    return seen


def count_tasks(root: luigi.Task) -> tuple[int, int]:
    """(all tasks in the dependency graph, those already complete)."""
    tasks = _graph(root)
    return len(tasks), sum(1 for t in tasks.values() if t.complete())


def _scheduler_problem(host: str, port: int, timeout: float = SCHEDULER_PROBE_TIMEOUT_S
                       ) -> str | None:
    """Why no luigid answers at ``host:port`` (None: it does)."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:  # refused, timed out, unknown host
        return exc.strerror or str(exc) or type(exc).__name__
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/api/is_paused"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(url, timeout=timeout) as r:
            if "response" not in json.loads(r.read().decode()):
                return f"{url} answers, but not as luigid"
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
        return f"no luigid API at {url}: {exc}"
    return None


def _unreachable(host: str, port: int, problem: str) -> PipelineError:
    return PipelineError(f"scheduler {host}:{port} unreachable ({problem}); start one with "
                         f"'luigid --port {port}' on that host or check --scheduler-host")


def check_scheduler(host: str, port: int = 8082, *,
                    timeout: float = SCHEDULER_PROBE_TIMEOUT_S) -> None:
    """Raise unless a central luigid answers at ``host:port``.

    Parameters
    ----------
    host, port
        Where ``luigid`` listens.
    timeout
        Seconds for the TCP connect and for the HTTP request to luigid's API, each.

    Raises
    ------
    PipelineError
        Nothing listens there, or what answers is not luigid; the message says how to start one.
    """
    problem = _scheduler_problem(host, port, timeout)
    if problem is not None:
        raise _unreachable(host, port, problem)


def _remote_scheduler(url: str) -> luigi.rpc.RemoteScheduler:
    sch = luigi.rpc.RemoteScheduler(url)
    cfg = luigi.configuration.get_config()
    # luigi/rpc.py reads these two once, in __init__; the user's config wins
    if cfg.get("core", "rpc_retry_attempts", None) is None:
        sch._rpc_retry_attempts = RPC_RETRY_ATTEMPTS
    if cfg.get("core", "rpc_retry_wait", None) is None:
        sch._rpc_retry_wait = RPC_RETRY_WAIT_S
    return sch


def _failed_tasks(scheduler, task_ids) -> list[str]:
    """Ids among ``task_ids`` that the central scheduler holds as failed (or disabled)."""
    return [t for status in ("FAILED", "DISABLED")
            for t in scheduler.task_list(status=status, upstream_status="", limit=False)
            if t in task_ids]


def _remote_reason(scheduler, task_id: str) -> str:
    """Last line of the traceback luigid keeps for a task that failed in another worker (the
    message alone for a SyconnError)."""
    err = scheduler.fetch_error(task_id=task_id).get("error") or ""
    try:
        err = json.loads(err)  # luigi stores the explanation JSON-encoded
    except ValueError:
        pass
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return "no reason recorded"
    user = re.match(r"syconn\.errors\.\w+: (.*)", lines[-1])
    return user.group(1) if user else lines[-1]


class _Worker(luigi.worker.Worker):
    """Luigi's worker, whose ``keep_alive`` also waits for tasks of its graph that run in other
    processes, and ends as soon as one of its tasks failed here or elsewhere."""

    def _keep_alive(self, get_work_response):
        if not self._config.keep_alive or not self.run_succeeded:
            return False
        stay = bool(get_work_response.running_tasks) or super()._keep_alive(get_work_response)
        return stay and not _failed_tasks(self._scheduler, self._scheduled_tasks)


class _WorkerFactory:
    """What ``luigi.build`` makes its scheduler and worker with (as luigi.interface's own)."""

    def __init__(self, keep_alive: bool):
        self.keep_alive = keep_alive

    def create_local_scheduler(self):
        return luigi.scheduler.Scheduler(prune_on_get_work=True, record_task_history=False)

    def create_remote_scheduler(self, url):
        return _remote_scheduler(url)

    def create_worker(self, scheduler, worker_processes, assistant=False):
        extra = {"keep_alive": True} if self.keep_alive else {}  # else: the user's config
        return _Worker(scheduler=scheduler, worker_processes=worker_processes,
                       assistant=assistant, **extra)


def _disk_full(exc: BaseException | None) -> OSError | None:
    """The ENOSPC/EDQUOT OSError in ``exc``'s chain of causes, if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _disk_full_message(exc: OSError, task: luigi.Task, rerun: str) -> str:
    what = f"{exc.filename} in {task_key(task)}" if exc.filename else f"the outputs of {task_key(task)}"
    return (f"disk full writing {what} ({os.strerror(exc.errno)}); free space and rerun "
            f"'{rerun}' to resume")


#: what task bodies import lazily: imported once in the process that forks luigi's workers, so
#: that a task's child process inherits them instead of importing them again (0.5-1 s per task)
PRELOAD = ("zarr", "pandas", "pyarrow.parquet", "pyarrow.dataset", "pyarrow.compute",
           "pyarrow.csv", "h5py", "zmesh", "kimimaro", "osteoid", "cc3d", "fastremap", "edt",
           "scipy.sparse.csgraph", "scipy.spatial", "scipy.ndimage", "syconn.io.zarr_volume",
           "syconn.io.meshes", "syconn.io.skeletons", "syconn.proc.objects",
           "syconn.proc.contacts", "syconn.proc.synapses", "syconn.proc.meshes",
           "syconn.proc.skeletons", "syconn.proc.radius", "syconn.proc.morphology",
           "syconn.ml.synapses")


def preload_modules(names=PRELOAD) -> None:
    """Import ``names`` (those that fail to import are left to the task that needs them)."""
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  a task reports its own import error
            pass


def run_pipeline(wd: Path | str, *, workers: int = 1, scheduler_host: str | None = None,
                 scheduler_port: int = 8082, keep_alive: bool = False,
                 log: Callable[[str], None] | None = None,
                 task: luigi.Task | None = None) -> dict:
    """Run (or resume) the pipeline of working directory ``wd``.

    Parameters
    ----------
    wd
        The working directory (``syconn init``).
    workers
        Worker processes of this call.
    scheduler_host, scheduler_port
        A central ``luigid`` to schedule with (default: a local scheduler).  It must answer
        before anything is scheduled; if it restarts during the run, the graph is re-submitted.
    keep_alive
        Central scheduler only (``syconn workers``): keep the workers alive while tasks of the
        graph are pending or running in other processes, so that several processes (on several
        nodes) share the pipeline; return when it is complete.
    log
        Receives the progress lines (default: stderr).
    task
        The root task (default ``Pipeline(working_dir=wd)``).

    Returns
    -------
    dict
        ``tasks`` (in the graph), ``ran`` (by this call), ``seconds`` and ``per_task``
        (task family, seconds, peak RSS MB of the process that ran it).

    Raises
    ------
    StorageError
        A task ran out of disk space (or quota); rerunning resumes once space is freed.
    PipelineError
        The scheduler is unreachable, a task failed, or the run did not finish.
    """
    from syconn.tasks import Pipeline
    from syconn.tasks.base import threads_per_worker

    if keep_alive and not scheduler_host:
        raise ValueError("keep_alive needs a central scheduler (scheduler_host)")
    wd = str(Path(wd))
    cfg = load_config(wd)  # a bad config.yml fails here, before any task is scheduled
    if task is None:  # and so does a missing, corrupt or foreign synapse model
        from syconn.tasks.synapses import synapse_model

        synapse_model(cfg, wd)
    from syconn.workdir import check_revision

    check_revision(wd, cfg)  # a database of an older syconn: one line, before any task
    if scheduler_host:
        check_scheduler(scheduler_host, scheduler_port)
    threads_per_worker(1)
    if workers > 1:  # luigi forks a process per task
        preload_modules()
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    command = "syconn workers" if keep_alive else "syconn run"
    rerun = f"{command} {wd}" + (f" --scheduler-host {scheduler_host} --scheduler-port "
                                 f"{scheduler_port}" if keep_alive else "")
    root = task or Pipeline(working_dir=wd)
    total, already = count_tasks(root)
    done = mp.Value("i", already)
    failures = mp.Queue()  # (task id, one-line message, kind: "user", "storage" or "bug", errno)
    stats = mp.Queue()  # (task family, seconds, peak RSS MB of the process that ran it)
    t0 = time.perf_counter()
    where = f" with scheduler {scheduler_host}:{scheduler_port}" if scheduler_host else ""
    log(f"{command} {wd}: {total} tasks, {already} already complete, {workers} worker(s){where}")

    started: dict[str, float] = {}

    def _start(task):
        threads_per_worker(1)
        started[task.task_id] = time.perf_counter()

    def _ok(task):
        with done.get_lock():
            done.value += 1
            n = done.value
        took = time.perf_counter() - started.pop(task.task_id, time.perf_counter())
        import resource
        stats.put((task.task_family, took,
                   resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
        log(f"[{n:>4}/{total}] {time.perf_counter() - t0:7.1f}s  {task_key(task)}  ({took:.1f} s)")

    def _fail(task, exc):
        full = _disk_full(exc)
        if full is not None:
            failures.put((task.task_id, _disk_full_message(full, task, rerun), "storage",
                          full.errno))
            return
        user = isinstance(exc, SyconnError)
        if not user:  # a bug: keep the traceback
            import traceback
            log("".join(traceback.format_exception(exc)).rstrip())
        failures.put((task.task_id, f"{type(exc).__name__}: {exc}" if not user else str(exc),
                      "user" if user else "bug", None))

    luigi_logger = logging.getLogger("luigi-interface")
    old_level = luigi_logger.level
    luigi_logger.setLevel(logging.CRITICAL)  # failures are reported below
    luigi.Task.event_handler(luigi.Event.START)(_start)
    luigi.Task.event_handler(luigi.Event.SUCCESS)(_ok)
    luigi.Task.event_handler(luigi.Event.FAILURE)(_fail)
    # luigi's own logging (set up by the first luigi.build of a process) stays quiet too
    kwargs = {"workers": workers, "detailed_summary": True, "log_level": "CRITICAL",
              "worker_scheduler_factory": _WorkerFactory(keep_alive)}
    if scheduler_host:
        kwargs.update(scheduler_host=scheduler_host, scheduler_port=scheduler_port)
    else:
        kwargs["local_scheduler"] = True
    try:
        _build_rounds(root, kwargs, failures, log, wd=wd, rerun=rerun, total=total,
                      already=already, host=scheduler_host, port=scheduler_port)
    finally:
        luigi_logger.setLevel(old_level)
        callbacks = luigi.Task._event_callbacks.get(luigi.Task, {})
        for event, fn in ((luigi.Event.START, _start), (luigi.Event.SUCCESS, _ok),
                          (luigi.Event.FAILURE, _fail)):
            callbacks.get(event, set()).discard(fn)
    seconds = time.perf_counter() - t0
    log(f"done in {seconds:.1f} s")
    per_task = []
    while not stats.empty():
        per_task.append(stats.get())
    return {"tasks": total, "ran": done.value - already, "seconds": seconds,
            "per_task": per_task}


def _build_rounds(root, kwargs, failures, log, *, wd, rerun, total, already, host, port
                  ) -> None:
    """``luigi.build`` until ``root`` is complete; raise on a failure, on a round that completed
    no task, or (local scheduler) when one round did not finish."""
    complete_before = already
    for round_no in range(1, MAX_ROUNDS + 1):
        status, lost = None, None
        try:
            status = luigi.build([root], **kwargs).status.name
        except luigi.rpc.RPCError as exc:  # the scheduler stayed away longer than the retries
            lost = exc
        _raise_failure(failures, rerun)
        if root.complete():
            return
        if not host:
            raise PipelineError(f"pipeline of {wd} did not finish ({status}); rerun "
                                f"'{rerun}' to resume")
        _wait_for_scheduler(host, port, log)
        sch = _remote_scheduler(f"http://{host}:{port}/")
        tasks = _graph(root)
        failed = _failed_tasks(sch, tasks)
        if failed:
            raise PipelineError(f"{task_key(tasks[failed[0]])} failed in another worker: "
                                f"{_remote_reason(sch, failed[0])}; rerun '{rerun}' to retry it")
        complete = count_tasks(root)[1]
        if complete <= complete_before:
            raise PipelineError(f"pipeline of {wd} did not finish: round {round_no} completed no "
                                f"task ({complete}/{total} complete); rerun '{rerun}' to resume")
        if round_no < MAX_ROUNDS:
            why = "was unreachable" if lost else "lost track of the pending tasks (restarted?)"
            log(f"scheduler {host}:{port} {why}; {complete}/{total} tasks complete, "
                f"re-submitting the pipeline (round {round_no + 1} of at most {MAX_ROUNDS})")
        complete_before = complete
    raise PipelineError(f"pipeline of {wd} did not finish in {MAX_ROUNDS} rounds (the scheduler "
                        f"kept losing its tasks); rerun '{rerun}' to resume")


def _raise_failure(failures, rerun: str) -> None:
    errors = []
    while not failures.empty():
        errors.append(failures.get())
    if not errors:
        return
    # a full disk makes other tasks fail in odd ways too: report it first
    task_id, msg, kind, code = next((e for e in errors if e[2] == "storage"), errors[0])
    first = msg.splitlines()[0] if msg else "unknown error"
    if kind == "storage":
        err = StorageError(first)
        err.errno = code
        raise err
    if kind == "user":
        raise PipelineError(first)
    raise PipelineError(f"{task_id} failed: {first} (a bug: see the traceback above; rerun "
                        f"'{rerun}' to resume)")


def _wait_for_scheduler(host: str, port: int, log: Callable[[str], None]) -> None:
    problem = _scheduler_problem(host, port)
    if problem is None:
        return
    log(f"scheduler {host}:{port} not answering ({problem}); waiting up to "
        f"{SCHEDULER_WAIT_S:.0f} s for it")
    deadline = time.monotonic() + SCHEDULER_WAIT_S
    while problem is not None and time.monotonic() < deadline:
        time.sleep(1.0)
        problem = _scheduler_problem(host, port)
    if problem is not None:
        raise _unreachable(host, port, problem)
