"""Running the Luigi pipeline from Python and the CLI, with progress and clean errors.

``run_pipeline(wd, workers=N)`` builds ``Pipeline`` with a local scheduler (or a central
``luigid`` when ``scheduler_host`` is given), prints one progress line per finished task, and
turns a failure into a :class:`~syconn.errors.SyconnError` naming the failed task and its reason.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Callable

import luigi

from syconn.config import load_config
from syconn.errors import PipelineError, SyconnError

__all__ = ["run_pipeline", "count_tasks"]


def count_tasks(root: luigi.Task) -> tuple[int, int]:
    """(all tasks in the dependency graph, those already complete)."""
    seen: dict[str, luigi.Task] = {}
    stack = [root]
    while stack:
        t = stack.pop()
        if t.task_id in seen:
            continue
        seen[t.task_id] = t
        stack.extend(luigi.task.flatten(t.requires()))
    done = sum(1 for t in seen.values() if t.complete())
    return len(seen), done


def run_pipeline(wd: Path | str, *, workers: int = 1, scheduler_host: str | None = None,
                 scheduler_port: int = 8082, log: Callable[[str], None] | None = None,
                 task: luigi.Task | None = None) -> dict:
    """Run (or resume) the pipeline of working directory ``wd``; return a small summary."""
    from syconn.tasks import Pipeline
    from syconn.tasks.base import threads_per_worker

    wd = str(Path(wd))
    load_config(wd)  # a bad config.yml fails here, before any task is scheduled
    threads_per_worker(1)
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    root = task or Pipeline(working_dir=wd)
    total, already = count_tasks(root)
    done = mp.Value("i", already)
    failures = mp.Queue()
    stats = mp.Queue()  # (task family, seconds, peak RSS MB of the process that ran it)
    t0 = time.perf_counter()
    log(f"syconn run {wd}: {total} tasks, {already} already complete, {workers} worker(s)")

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
        log(f"[{n:>4}/{total}] {time.perf_counter() - t0:7.1f}s  {task.task_family}"
            f"{_short(task)}  ({took:.1f} s)")

    def _fail(task, exc):
        user = isinstance(exc, SyconnError)
        if not user:  # a bug: keep the traceback
            import traceback
            log("".join(traceback.format_exception(exc)).rstrip())
        failures.put((task.task_id, f"{type(exc).__name__}: {exc}" if not user else str(exc),
                      user))

    luigi_logger = logging.getLogger("luigi-interface")
    old_level = luigi_logger.level
    luigi_logger.setLevel(logging.CRITICAL)  # failures are reported below
    luigi.Task.event_handler(luigi.Event.START)(_start)
    luigi.Task.event_handler(luigi.Event.SUCCESS)(_ok)
    luigi.Task.event_handler(luigi.Event.FAILURE)(_fail)
    try:
        kwargs = {"workers": workers, "detailed_summary": True, "log_level": "WARNING"}
        if scheduler_host:
            kwargs.update(scheduler_host=scheduler_host, scheduler_port=scheduler_port)
        else:
            kwargs["local_scheduler"] = True
        result = luigi.build([root], **kwargs)
    finally:
        luigi_logger.setLevel(old_level)
        callbacks = luigi.Task._event_callbacks.get(luigi.Task, {})
        for event, fn in ((luigi.Event.START, _start), (luigi.Event.SUCCESS, _ok),
                          (luigi.Event.FAILURE, _fail)):
            callbacks.get(event, set()).discard(fn)
    errors = []
    while not failures.empty():
        errors.append(failures.get())
    if not result.scheduling_succeeded or errors or not root.complete():
        if errors:
            task_id, msg, user_error = errors[0]
            first = msg.splitlines()[0] if msg else "unknown error"
            if user_error:
                raise PipelineError(first)
            line = f"{task_id} failed: {first}"
            raise PipelineError(f"{line} (a bug: see the traceback above; rerun "
                                f"'syconn run {wd}' to resume)")
        raise PipelineError(f"pipeline of {wd} did not finish ({result.status.name}); rerun "
                            f"'syconn run {wd}' to resume")
    seconds = time.perf_counter() - t0
    log(f"done in {seconds:.1f} s")
    per_task = []
    while not stats.empty():
        per_task.append(stats.get())
    return {"tasks": total, "ran": done.value - already, "seconds": seconds,
            "per_task": per_task}


def _short(task: luigi.Task) -> str:
    params = {k: v for k, v in task.param_kwargs.items() if k != "working_dir"}
    return "(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")" if params else ""
