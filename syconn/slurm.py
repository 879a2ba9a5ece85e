"""``syconn slurm``: run a working directory's pipeline on a SLURM cluster.

Three batch jobs, written to ``WD/slurm/`` and submitted with ``sbatch --parsable``:

- ``scheduler.sh``: one CPU on one node runs ``luigid`` at a free port and, once it answers,
  writes ``WD/slurm/scheduler.json`` (``host``, ``port``, ``job_id``; atomically);
- ``workers.sh``: a job array ``--array=0-(N-1)``, one node's worth of work per array task;
  each waits until ``scheduler.json`` names this run's scheduler job, then runs
  ``syconn workers WD --scheduler-host HOST --scheduler-port PORT --workers K``.  It starts
  only once the scheduler job runs (``--dependency=after:SCHEDULER``);
- ``cleanup.sh``: ``--dependency=afterany:WORKERS``, so it runs when every array task has
  ended, whether it completed, failed, timed out or was cancelled, and cancels the scheduler
  job with ``scancel`` (``luigid`` would otherwise hold its node until its time limit).

A worker job whose dependency can no longer be met (the scheduler job was cancelled before it
started) is removed by SLURM (``--kill-on-invalid-dep=yes``), and the cleanup job follows.

GPUs: ``gpus=G`` adds ``--gres=gpu:G`` to the worker array.  Luigi's central scheduler cannot
route one task family to some of its workers only, so there is no separate GPU array: with
``gpus`` every task, the rendering and model tasks included, runs on GPU nodes.

Nothing here builds Luigi tasks: the job scripts call the ``syconn`` command line.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from syconn.errors import InputError, PipelineError

__all__ = [
    "SlurmOptions",
    "JobScripts",
    "SlurmJobs",
    "JobRecord",
    "validate_options",
    "job_scripts",
    "submit_commands",
    "write_job_scripts",
    "submit_jobs",
    "parse_job_records",
    "job_records",
    "wait_for_jobs",
    "check_workers",
    "launch",
]

SLURM_DIR = "slurm"  #: inside the working directory: job scripts, logs, scheduler.json
SCHEDULER_INFO = "scheduler.json"
JOBS_FILE = "jobs.json"
SCHEDULER_MEM = "2G"  #: what the luigid job asks for (luigid needs little; the node is shared)
CLEANUP_MEM = "100M"
CLEANUP_TIME = "00:05:00"
SCHEDULER_WAIT_S = 600  #: how long a worker job waits for scheduler.json once it runs
POLL_MAX_S = 5.0  #: ``wait_for_jobs`` polls after 1, 2, 4, then every 5 seconds
ACTIVE_STATES = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED",
                           "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING",
                           "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"})

_TIME = re.compile(r"\d+(:\d{1,2}){0,2}|\d+-\d+(:\d{1,2}){0,2}|UNLIMITED|INFINITE")
_MEM = re.compile(r"\d+[KMGT]?")
_PARTITION = re.compile(r"[\w.-]+(,[\w.-]+)*")


@dataclass(frozen=True)
class SlurmOptions:
    """What ``syconn slurm`` asks SLURM for.

    Attributes
    ----------
    nodes
        Worker array tasks (``--array=0-(nodes-1)``), one node's worth each (SLURM may put
        two on one node that has room for both).
    workers_per_node
        Worker processes of each array task (``--cpus-per-task``, ``syconn workers -j``).
    partition, time, mem
        ``--partition``, ``--time`` (SLURM's formats: minutes, ``HH:MM:SS``, ``D-HH`` ...) and
        ``--mem`` per worker node (``4000`` MB, ``16G``); ``None``: the cluster's default.
        The scheduler job takes the partition and time limit too, and :data:`SCHEDULER_MEM`.
    gpus
        GPUs per worker node (``--gres=gpu:G``); 0: none.
    """

    nodes: int = 1
    workers_per_node: int = 1
    partition: str | None = None
    time: str | None = None
    mem: str | None = None
    gpus: int = 0


@dataclass(frozen=True)
class JobScripts:
    """The text of the three job scripts."""

    scheduler: str
    workers: str
    cleanup: str


@dataclass(frozen=True)
class SlurmJobs:
    """Job ids of one submitted run (SLURM's strings, e.g. ``"12"``)."""

    scheduler: str
    workers: str
    cleanup: str


@dataclass(frozen=True)
class JobRecord:
    """One job (or array task) as ``scontrol show job`` reports it."""

    job_id: str  #: ``"13_0"`` for array task 0 of array job 13
    state: str  #: ``COMPLETED``, ``FAILED``, ``CANCELLED``, ``TIMEOUT``, ``RUNNING`` ...
    exit_code: str  #: ``"0:0"`` (exit status : signal)
    reason: str = "None"


def validate_options(opts: SlurmOptions) -> None:
    """Raise :class:`InputError` naming the first option SLURM would not accept.

    >>> validate_options(SlurmOptions(nodes=0))
    Traceback (most recent call last):
    ...
    syconn.errors.InputError: --nodes: got 0, expected at least 1
    """
    for name, value in (("--nodes", opts.nodes), ("--workers-per-node", opts.workers_per_node)):
        if not isinstance(value, int) or value < 1:
            raise InputError(f"{name}: got {value}, expected at least 1")
    if not isinstance(opts.gpus, int) or opts.gpus < 0:
        raise InputError(f"--gpus: got {opts.gpus}, expected 0 (none) or more GPUs per node")
    if opts.time is not None and not _TIME.fullmatch(opts.time):
        raise InputError(f"--time: got {opts.time!r}, expected SLURM's minutes, MM:SS, "
                         f"HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 2:00:00)")
    if opts.mem is not None and not _MEM.fullmatch(opts.mem):
        raise InputError(f"--mem: got {opts.mem!r}, expected megabytes or a size with K, M, G "
                         f"or T (e.g. 16G)")
    if opts.partition is not None and not _PARTITION.fullmatch(opts.partition):
        raise InputError(f"--partition: got {opts.partition!r}, expected a partition name "
                         f"(letters, digits, '.', '-', '_'; several separated by commas)")


def _directives(pairs) -> str:
    return "".join(f"#SBATCH --{k}={v}\n" for k, v in pairs if v is not None)


def _job_name(wd: Path, kind: str) -> str:
    return f"syconn-{kind}-" + re.sub(r"[^\w.-]", "_", wd.name or "wd")


def job_scripts(wd: Path | str, opts: SlurmOptions, *, python: str | None = None,
                luigid: str | None = None) -> JobScripts:
    """The three job scripts of working directory ``wd`` (absolute paths inside).

    Parameters
    ----------
    wd
        The working directory; made absolute (the jobs run elsewhere).
    opts
        What to ask SLURM for (:class:`SlurmOptions`; validate it first).
    python, luigid
        The interpreter the jobs run ``syconn`` with and the ``luigid`` they start (default:
        this interpreter, and the ``luigid`` next to it or else luigi's own through this
        interpreter); the nodes must reach both, e.g. a virtual environment on the shared
        filesystem.

    Examples
    --------
    >>> s = job_scripts("/data/wd", SlurmOptions(nodes=4, workers_per_node=8, gpus=1),
    ...                 python="/venv/bin/python")
    >>> print("".join(line + "\\n" for line in s.workers.splitlines() if "#SBATCH" in line))
    #SBATCH --job-name=syconn-workers-wd
    #SBATCH --array=0-3
    #SBATCH --nodes=1
    #SBATCH --ntasks=1
    #SBATCH --cpus-per-task=8
    #SBATCH --gres=gpu:1
    #SBATCH --output=/data/wd/slurm/logs/workers_%A_%a.out
    <BLANKLINE>
    """
    wd = Path(wd).absolute()
    python = python or sys.executable
    if luigid is None:
        beside = Path(python).with_name("luigid")
        luigid = str(beside) if beside.is_file() else None
    luigid_cmd = shlex.quote(luigid) if luigid else (
        f"{shlex.quote(python)} -c 'import sys; from luigi.cmdline import luigid; "
        "luigid(sys.argv[1:])'")
    d = wd / SLURM_DIR
    logs = d / "logs"
    q = shlex.quote
    py, info = q(python), q(str(d / SCHEDULER_INFO))
    common = [("partition", opts.partition), ("time", opts.time)]

    scheduler = (
        "#!/bin/bash\n"
        + _directives([("job-name", _job_name(wd, "scheduler")), ("nodes", 1), ("ntasks", 1),
                       ("cpus-per-task", 1), ("mem", SCHEDULER_MEM), *common,
                       ("output", logs / "scheduler_%j.out")])
        + f"# the central luigid of {wd}'s pipeline: serves until the cleanup job cancels it\n"
        "set -euo pipefail\n"
        f"state={q(str(d / 'luigid'))}\n"
        'mkdir -p "$state"\n'
        f"port=$({py} -c 'import socket; s = socket.socket(); s.bind((\"\", 0)); "
        "print(s.getsockname()[1])')\n"
        "host=$(hostname)\n"
        f'{luigid_cmd} --port "$port" --logdir "$state" '
        '--state-path "$state/state_$SLURM_JOB_ID.pickle" &\n'
        "luigid_pid=$!\n"
        "trap 'kill \"$luigid_pid\" 2>/dev/null || true' EXIT\n"
        "trap 'exit 143' TERM\n"
        f"until {py} -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], "
        "timeout=2)' \"http://127.0.0.1:$port/api/is_paused\" 2>/dev/null; do\n"
        '  kill -0 "$luigid_pid" 2>/dev/null || { echo "luigid exited before it answered" >&2;'
        " exit 1; }\n"
        "  sleep 1\n"
        "done\n"
        'printf \'{"host": "%s", "port": %s, "job_id": "%s"}\\n\' "$host" "$port" '
        f'"$SLURM_JOB_ID" > {info}.tmp\n'
        f"mv {info}.tmp {info}\n"
        'echo "luigid serving on $host:$port"\n'
        'wait "$luigid_pid"\n'
    )

    gres = f"gpu:{opts.gpus}" if opts.gpus else None
    workers = (
        "#!/bin/bash\n"
        + _directives([("job-name", _job_name(wd, "workers")), ("array", f"0-{opts.nodes - 1}"),
                       ("nodes", 1), ("ntasks", 1), ("cpus-per-task", opts.workers_per_node),
                       ("mem", opts.mem), ("gres", gres), *common,
                       ("output", logs / "workers_%A_%a.out")])
        + f"# {opts.workers_per_node} worker process(es) of {wd}'s pipeline; argument: the "
        "scheduler job's id\n"
        "set -euo pipefail\n"
        'scheduler_job="$1"\n'
        "waited=0\n"
        "while :; do\n"
        '  state=$(squeue -h -j "$scheduler_job" -o %T 2>/dev/null || true)\n'
        '  case "$state" in\n'
        "    RUNNING) grep -qs \"\\\"job_id\\\": \\\"$scheduler_job\\\"\" "
        f"{info} && break ;;\n"
        "    PENDING|CONFIGURING) ;;\n"
        '    *) echo "scheduler job $scheduler_job is not running (${state:-ended})" >&2; '
        "exit 1 ;;\n"
        "  esac\n"
        f'  if [ "$waited" -ge {SCHEDULER_WAIT_S} ]; then\n'
        f'    echo "no {d / SCHEDULER_INFO} of scheduler job $scheduler_job after '
        f'{SCHEDULER_WAIT_S} s" >&2; exit 1\n'
        "  fi\n"
        "  sleep 1; waited=$((waited + 1))\n"
        "done\n"
        f"read -r host port < <({py} -c 'import json, sys; d = json.load(open(sys.argv[1])); "
        f"print(d[\"host\"], d[\"port\"])' {info})\n"
        f"exec {py} -m syconn.cli workers {q(str(wd))} --scheduler-host \"$host\" "
        f'--scheduler-port "$port" --workers {opts.workers_per_node}\n'
    )

    cleanup = (
        "#!/bin/bash\n"
        + _directives([("job-name", _job_name(wd, "cleanup")), ("nodes", 1), ("ntasks", 1),
                       ("cpus-per-task", 1), ("mem", CLEANUP_MEM), ("partition", opts.partition),
                       ("time", CLEANUP_TIME), ("output", logs / "cleanup_%j.out")])
        + "# runs once every worker job has ended (afterany): stops the scheduler job; "
        "argument: its id\n"
        "set -euo pipefail\n"
        'scancel "$1"\n'
        f'if grep -q "\\"job_id\\": \\"$1\\"" {info} 2>/dev/null; then rm -f {info}; fi\n'
        'echo "cancelled scheduler job $1"\n'
    )
    return JobScripts(scheduler=scheduler, workers=workers, cleanup=cleanup)


def submit_commands(wd: Path | str, jobs: SlurmJobs | None = None) -> list[list[str]]:
    """The three ``sbatch`` command lines, in order (scheduler, workers, cleanup); without
    ``jobs`` the ids not known yet read ``$SCHEDULER_JOB`` and ``$WORKERS_JOB``.

    >>> for c in submit_commands("/wd", SlurmJobs("12", "13", "14")):
    ...     print(" ".join(c))
    sbatch --parsable /wd/slurm/scheduler.sh
    sbatch --parsable --dependency=after:12 --kill-on-invalid-dep=yes /wd/slurm/workers.sh 12
    sbatch --parsable --dependency=afterany:13 --kill-on-invalid-dep=yes /wd/slurm/cleanup.sh 12
    """
    d = Path(wd).absolute() / SLURM_DIR
    s = jobs.scheduler if jobs else "$SCHEDULER_JOB"
    w = jobs.workers if jobs else "$WORKERS_JOB"
    return [["sbatch", "--parsable", str(d / "scheduler.sh")],
            ["sbatch", "--parsable", f"--dependency=after:{s}", "--kill-on-invalid-dep=yes",
             str(d / "workers.sh"), s],
            ["sbatch", "--parsable", f"--dependency=afterany:{w}", "--kill-on-invalid-dep=yes",
             str(d / "cleanup.sh"), s]]


def write_job_scripts(wd: Path | str, scripts: JobScripts) -> dict[str, Path]:
    """Write the scripts to ``WD/slurm/`` (and make ``WD/slurm/logs``); returns their paths."""
    d = Path(wd).absolute() / SLURM_DIR
    (d / "logs").mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, text in asdict(scripts).items():
        p = d / f"{kind}.sh"
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(p)
        paths[kind] = p
    return paths


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise InputError(f"{name}: not found on PATH; run 'syconn slurm' where the SLURM "
                         f"client commands are installed (a login node), or add --dry-run "
                         f"to print the job scripts")
    return path


def _sbatch(args: list[str], *, stdin: str | None = None, what: str) -> str:
    r = subprocess.run([_tool("sbatch"), *args[1:]], input=stdin, capture_output=True,
                       text=True, timeout=120)
    if r.returncode:
        msg = "; ".join(line.strip() for line in (r.stderr or r.stdout).splitlines()
                        if line.strip()) or f"exit code {r.returncode}"
        raise InputError(f"sbatch refused {what}: {msg}")
    return r.stdout.strip().split(";")[0]


def _cancel(*job_ids: str) -> None:
    ids = [j for j in job_ids if j]
    if ids:
        subprocess.run([_tool("scancel"), *ids], capture_output=True, timeout=60)


def submit_jobs(wd: Path | str, scripts: JobScripts,
                log: Callable[[str], None] = lambda m: None) -> SlurmJobs:
    """Check the scripts with ``sbatch --test-only``, write them and submit the three jobs.

    A script SLURM refuses (unknown partition, a time or memory over the limits, no such
    GRES) raises :class:`InputError` with sbatch's words before anything is written or
    submitted; jobs already submitted when a later submission fails are cancelled.
    """
    wd = Path(wd).absolute()
    for kind in ("scheduler", "workers"):  # the cleanup job asks for less than both
        _sbatch(["sbatch", "--test-only"], stdin=getattr(scripts, kind),
                what=f"the {kind} job")
    d = wd / SLURM_DIR
    _refuse_second_run(d)
    (d / SCHEDULER_INFO).unlink(missing_ok=True)  # a stale one of an earlier run
    write_job_scripts(wd, scripts)
    cmds = submit_commands(wd)
    s = _sbatch(cmds[0], what=str(d / "scheduler.sh"))
    w = c = ""
    try:
        w = _sbatch(submit_commands(wd, SlurmJobs(s, "", ""))[1], what=str(d / "workers.sh"))
        c = _sbatch(submit_commands(wd, SlurmJobs(s, w, ""))[2], what=str(d / "cleanup.sh"))
    except BaseException:
        _cancel(s, w)
        raise
    jobs = SlurmJobs(scheduler=s, workers=w, cleanup=c)
    (d / JOBS_FILE).write_text(json.dumps({**asdict(jobs), "submitted": time.time()}) + "\n")
    log(f"submitted {wd}: scheduler job {s}, workers job {w}, cleanup job {c}; "
        f"logs in {d / 'logs'}")
    return jobs


def _refuse_second_run(d: Path) -> None:
    """An earlier run of this working directory whose jobs are still queued: refuse."""
    try:
        earlier = json.loads((d / JOBS_FILE).read_text())
        ids = [str(earlier[k]) for k in ("scheduler", "workers", "cleanup")]
    except (OSError, ValueError, KeyError, TypeError):
        return
    active = sorted({r.job_id.split("_")[0] for r in job_records(ids)
                     if r.state in ACTIVE_STATES})
    if active:
        raise InputError(f"{d.parent}: an earlier 'syconn slurm' run still has jobs "
                         f"{', '.join(active)} queued or running; wait for them or "
                         f"'scancel {' '.join(active)}' first")


def parse_job_records(text: str) -> list[JobRecord]:
    """The records of ``scontrol show job -o`` output (one line per job or array task).

    >>> parse_job_records("JobId=14 ArrayJobId=13 ArrayTaskId=1 JobName=w JobState=FAILED "
    ...                   "Reason=NonZeroExitCode Dependency=(null) ExitCode=2:0")
    [JobRecord(job_id='13_1', state='FAILED', exit_code='2:0', reason='NonZeroExitCode')]
    """
    out = []
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" not in fields or "JobState" not in fields:
            continue
        job_id = fields["JobId"]
        if fields.get("ArrayJobId") and fields.get("ArrayTaskId") not in (None, "", "N/A"):
            job_id = f"{fields['ArrayJobId']}_{fields['ArrayTaskId']}"
        out.append(JobRecord(job_id=job_id, state=fields["JobState"],
                             exit_code=fields.get("ExitCode", "?"),
                             reason=fields.get("Reason", "None")))
    return out


def job_records(job_ids) -> list[JobRecord]:
    """What SLURM knows of ``job_ids`` now (an array job: one record per task; a job SLURM no
    longer knows, e.g. past ``MinJobAge``, has none)."""
    scontrol = _tool("scontrol")
    out = []
    for j in job_ids:
        r = subprocess.run([scontrol, "show", "job", "-o", str(j)], capture_output=True,
                           text=True, timeout=60)
        if r.returncode == 0:
            out.extend(parse_job_records(r.stdout))
    return out


def wait_for_jobs(jobs: SlurmJobs, *, log: Callable[[str], None] = lambda m: None,
                  poll_max_s: float = POLL_MAX_S) -> list[JobRecord]:
    """Poll ``scontrol show job`` until none of the run's jobs is queued or running; return
    the last records.  Ctrl+C cancels the run's jobs (the cleanup job included) and re-raises.
    """
    ids = [jobs.scheduler, jobs.workers, jobs.cleanup]
    delay, last = 1.0, None
    try:
        while True:
            records = job_records(ids)
            workers = [f"{r.job_id} {r.state}" for r in records
                       if r.job_id.split("_")[0] == jobs.workers]
            summary = ", ".join(workers[:8]) + (f" and {len(workers) - 8} more"
                                                if len(workers) > 8 else "")
            if summary != last:
                log(f"workers: {summary or 'unknown to SLURM'}")
                last = summary
            if not any(r.state in ACTIVE_STATES for r in records):
                return records
            time.sleep(delay)
            delay = min(2 * delay, poll_max_s)
    except KeyboardInterrupt:
        _cancel(*ids)
        log(f"cancelled jobs {', '.join(ids)}")
        raise


def _last_error(log_path: Path) -> str | None:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("syconn: error: "):
            return line[len("syconn: error: "):]
    lines = [line.strip() for line in lines if line.strip()]
    return lines[-1] if lines else None


def check_workers(wd: Path | str, jobs: SlurmJobs, records: list[JobRecord]) -> None:
    """Raise :class:`PipelineError` unless every worker array task COMPLETED (exit 0); the
    message names the first other one, its state, its log file and the log's last error."""
    logs = Path(wd).absolute() / SLURM_DIR / "logs"
    workers = [r for r in records if r.job_id.split("_")[0] == jobs.workers]
    if not workers:
        raise PipelineError(f"workers job {jobs.workers}: SLURM no longer knows its state "
                            f"(MinJobAge passed); see {logs}")
    for r in workers:
        if r.state != "COMPLETED" or r.exit_code != "0:0":
            task = r.job_id.split("_")[1] if "_" in r.job_id else "0"
            path = logs / f"workers_{jobs.workers}_{task}.out"
            why = _last_error(path)
            raise PipelineError(f"worker job {r.job_id} {r.state} (exit {r.exit_code}"
                                f"{', ' + r.reason if r.reason not in ('None', '') else ''})"
                                f"{': ' + why if why else ''}; log {path}")


def launch(wd: Path | str, opts: SlurmOptions, *, wait: bool = False, dry_run: bool = False,
           log: Callable[[str], None] = print) -> SlurmJobs | None:
    """``syconn slurm``: validate, then print (``dry_run``) or submit the jobs of ``wd``.

    Parameters
    ----------
    wd
        A working directory (``syconn init``) on the filesystem the nodes share.
    opts
        :class:`SlurmOptions`.
    wait
        Return when every job has ended; raise :class:`PipelineError` unless every worker
        job completed (then the pipeline is complete).  Else return after submission.
    dry_run
        Print the scripts and the ``sbatch`` lines; write and submit nothing (needs no SLURM).
    log
        Receives the lines to show.

    Returns
    -------
    SlurmJobs or None
        The job ids (``None`` for a dry run).

    Raises
    ------
    InputError
        Bad options, no ``sbatch``, a script SLURM refuses, or an earlier run of ``wd``
        still queued; nothing is written or submitted.
    VolumeNotFound, ConfigError
        ``wd`` is not a working directory (no or a bad ``config.yml``).
    PipelineError
        ``wait``: a worker job did not complete.
    """
    from syconn.config import load_config

    validate_options(opts)
    wd = Path(wd).absolute()
    cfg = load_config(wd)
    scripts = job_scripts(wd, opts)
    if opts.nodes > 1 and cfg.db_url(wd).startswith("sqlite"):
        log(f"note: {wd}'s database is SQLite; worker jobs on several nodes need a database "
            f"server (syconn init --db postgresql://...)")
    if dry_run:
        for kind, text in asdict(scripts).items():
            log(f"# ---- {wd / SLURM_DIR / (kind + '.sh')}\n{text}")
        log("# ---- submitted with (the ids sbatch prints)\n"
            + "\n".join(" ".join(c) for c in submit_commands(wd)))
        return None
    for tool in ("sbatch", "scontrol", "scancel"):
        _tool(tool)
    jobs = submit_jobs(wd, scripts, log=log)
    if not wait:
        log(f"follow with 'squeue -j {jobs.scheduler},{jobs.workers},{jobs.cleanup}'")
        return jobs
    t0 = time.monotonic()
    records = wait_for_jobs(jobs, log=log)
    check_workers(wd, jobs, records)
    log(f"pipeline of {wd} complete: workers job {jobs.workers} ({opts.nodes} node(s) x "
        f"{opts.workers_per_node} worker(s)) finished after {time.monotonic() - t0:.0f} s")
    return jobs
