"""``syconn slurm``: the job scripts (directives worked out by hand), bad input (one line, exit 2,
nothing written), and runs on a real single-node SLURM that this module starts (munged,
slurmctld and slurmd from Debian's packages, a slurm.conf of its own in a temporary folder):

- the pipeline of a 16x16x8 working directory through ``syconn slurm --wait`` (1 node, 2
  workers, one GPU: a GRES on the test node), the scheduler job cancelled by the cleanup job;
- a run whose worker fails: exit 2 with the worker's reason, the scheduler job cancelled too;
- worker jobs cancelled by hand: the cleanup job still cancels the scheduler job, and a second
  submission while the first run is queued is refused;
- what sbatch refuses (no such partition, more GPUs than a node has): one line, nothing written.

Without the SLURM binaries (or not as root: slurmd must be) the cluster tests are skipped,
unless ``SYCONN_REQUIRE_SLURM=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from helpers import free_ports, wait_until

from syconn.errors import InputError, PipelineError
from syconn.slurm import (JobRecord, SlurmJobs, SlurmOptions, check_workers, job_scripts,
                          parse_job_records, submit_commands, validate_options)

REQUIRE_SLURM = os.environ.get("SYCONN_REQUIRE_SLURM") == "1"
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "sinfo")
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
PARTITION = "debug"


def _directives(script: str) -> list[str]:
    return [line for line in script.splitlines() if line.startswith("#SBATCH")]


# ---- the job scripts, by hand

def test_directives_of_every_option():
    s = job_scripts("/data/my wd", SlurmOptions(nodes=3, workers_per_node=4, partition="gpu",
                                                time="2:00:00", mem="16G", gpus=2),
                    python="/venv/bin/python", luigid="/venv/bin/luigid")
    logs = "/data/my wd/slurm/logs"
    assert _directives(s.scheduler) == [
        "#SBATCH --job-name=syconn-scheduler-my_wd", "#SBATCH --nodes=1", "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=1", "#SBATCH --mem=2G", "#SBATCH --partition=gpu",
        "#SBATCH --time=2:00:00", f"#SBATCH --output={logs}/scheduler_%j.out"]
    assert _directives(s.workers) == [
        "#SBATCH --job-name=syconn-workers-my_wd", "#SBATCH --array=0-2", "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=16G",
        "#SBATCH --gres=gpu:2", "#SBATCH --partition=gpu", "#SBATCH --time=2:00:00",
        f"#SBATCH --output={logs}/workers_%A_%a.out"]
    assert _directives(s.cleanup) == [
        "#SBATCH --job-name=syconn-cleanup-my_wd", "#SBATCH --nodes=1", "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=1", "#SBATCH --mem=100M", "#SBATCH --partition=gpu",
        "#SBATCH --time=00:05:00", f"#SBATCH --output={logs}/cleanup_%j.out"]
    assert s.workers.splitlines()[-1] == (
        "exec /venv/bin/python -m syconn.cli workers '/data/my wd' --scheduler-host \"$host\" "
        "--scheduler-port \"$port\" --workers 4")
    assert "/venv/bin/luigid --port \"$port\"" in s.scheduler
    assert "'/data/my wd/slurm/scheduler.json'" in s.scheduler
    assert s.cleanup.count('scancel "$1"') == 1


def test_defaults_leave_partition_time_memory_and_gpus_to_the_cluster():
    s = job_scripts("/wd", SlurmOptions(), python="/p/python", luigid="/p/luigid")
    assert _directives(s.workers) == [
        "#SBATCH --job-name=syconn-workers-wd", "#SBATCH --array=0-0", "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1", "#SBATCH --cpus-per-task=1",
        "#SBATCH --output=/wd/slurm/logs/workers_%A_%a.out"]
    assert "--partition" not in s.scheduler + s.cleanup
    assert "#SBATCH --time=00:05:00" in s.cleanup  # the cleanup job's own limit


def test_luigid_through_the_interpreter_when_none_is_beside_it(tmp_path):
    s = job_scripts("/wd", SlurmOptions(), python=str(tmp_path / "python"))
    assert (f"{tmp_path / 'python'} -c 'import sys; from luigi.cmdline import luigid; "
            "luigid(sys.argv[1:])' --port") in s.scheduler


def test_submission_order_and_dependencies():
    cmds = submit_commands("/wd", SlurmJobs("12", "13", "14"))
    assert cmds == [
        ["sbatch", "--parsable", "/wd/slurm/scheduler.sh"],
        ["sbatch", "--parsable", "--dependency=after:12", "--kill-on-invalid-dep=yes",
         "/wd/slurm/workers.sh", "12"],
        ["sbatch", "--parsable", "--dependency=afterany:13", "--kill-on-invalid-dep=yes",
         "/wd/slurm/cleanup.sh", "12"]]


def test_scontrol_records():
    text = ("JobId=7 JobName=syconn-scheduler-wd UserId=root(0) JobState=CANCELLED "
            "Reason=None Dependency=(null) ExitCode=0:15 RunTime=00:00:17\n"
            "JobId=9 ArrayJobId=8 ArrayTaskId=1 JobState=RUNNING Reason=None ExitCode=0:0\n"
            "JobId=8 ArrayJobId=8 ArrayTaskId=2-3 JobState=PENDING Reason=Dependency "
            "ExitCode=0:0\n\n")
    assert parse_job_records(text) == [
        JobRecord("7", "CANCELLED", "0:15", "None"), JobRecord("8_1", "RUNNING", "0:0", "None"),
        JobRecord("8_2-3", "PENDING", "0:0", "Dependency")]


def test_failed_worker_named_with_its_reason_and_log(tmp_path):
    logs = tmp_path / "slurm" / "logs"
    logs.mkdir(parents=True)
    (logs / "workers_13_1.out").write_text("[   1/39]  0.4s  Prepare\n"
                                           "syconn: error: Synapses: no synapse model\n")
    jobs = SlurmJobs("12", "13", "14")
    ok = [JobRecord("12", "CANCELLED", "0:15"), JobRecord("13_0", "COMPLETED", "0:0")]
    check_workers(tmp_path, jobs, ok)  # no error
    with pytest.raises(PipelineError) as e:
        check_workers(tmp_path, jobs, ok + [JobRecord("13_1", "FAILED", "2:0", "NonZeroExitCode")])
    assert str(e.value) == (f"worker job 13_1 FAILED (exit 2:0, NonZeroExitCode): Synapses: no "
                            f"synapse model; log {logs / 'workers_13_1.out'}")
    with pytest.raises(PipelineError, match=r"worker job 13_0 TIMEOUT \(exit 0:1\); log "):
        check_workers(tmp_path, jobs, [JobRecord("13_0", "TIMEOUT", "0:1", "None")])


@pytest.mark.parametrize("opts, message", [
    (SlurmOptions(nodes=0), "--nodes: got 0, expected at least 1"),
    (SlurmOptions(workers_per_node=-2), "--workers-per-node: got -2, expected at least 1"),
    (SlurmOptions(gpus=-1), "--gpus: got -1, expected 0 (none) or more GPUs per node"),
    (SlurmOptions(time="2h"), "--time: got '2h', expected SLURM's minutes"),
    (SlurmOptions(mem="16GB"), "--mem: got '16GB', expected megabytes"),
    (SlurmOptions(partition="a b"), "--partition: got 'a b', expected a partition name"),
])
def test_bad_options(opts, message):
    with pytest.raises(InputError) as e:
        validate_options(opts)
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("opts", [SlurmOptions(time="90"), SlurmOptions(time="1-12:00:00"),
                                  SlurmOptions(time="30:00", mem="4000", partition="a,b-2")])
def test_good_options(opts):
    validate_options(opts)


def _init_tiny(cli, tiny_inputs, tmp_path, name="wd"):
    wd = tmp_path / name
    r = cli("init", wd, "--from", tiny_inputs(tmp_path / f"{name}_data"), "--voxel-size", 10,
            10, 20)
    assert r.returncode == 0, r.stderr
    return wd


def _env_without_slurm(tmp_path) -> dict:
    """An environment whose PATH holds no SLURM command."""
    empty = tmp_path / "empty_bin"
    empty.mkdir(exist_ok=True)
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SLURM")},
            "PATH": str(empty)}


def test_bad_input_one_line_exit_2_nothing_written(tmp_path, tiny_inputs, cli, one_line_error):
    wd = _init_tiny(cli, tiny_inputs, tmp_path)
    env = _env_without_slurm(tmp_path)
    for args, needles in [
        (["--nodes", "0"], ["--nodes: got 0"]),
        (["--workers-per-node", "0"], ["--workers-per-node: got 0"]),
        (["--time", "soon"], ["--time: got 'soon'"]),
        ([], ["sbatch: not found on PATH", "--dry-run"]),
    ]:
        one_line_error(cli("slurm", wd, *args, env=env), *needles)
        assert not (wd / "slurm").exists(), args
    missing = tmp_path / "not_a_wd"
    missing.mkdir()
    one_line_error(cli("slurm", missing, env=env), f"{missing / 'config.yml'}: no such file",
                   "syconn init")
    assert list(missing.iterdir()) == []


def test_dry_run_prints_the_scripts_writes_and_submits_nothing(tmp_path, tiny_inputs, cli):
    wd = _init_tiny(cli, tiny_inputs, tmp_path)
    r = cli("slurm", wd, "--nodes", 2, "-j", 3, "--gpus", 1, "--dry-run",
            env=_env_without_slurm(tmp_path))  # needs no SLURM
    assert r.returncode == 0, r.stderr
    for kind in ("scheduler", "workers", "cleanup"):
        assert f"# ---- {wd / 'slurm' / kind}.sh" in r.stdout
    assert "#SBATCH --array=0-1\n" in r.stdout and "#SBATCH --gres=gpu:1\n" in r.stdout
    assert f"note: {wd}'s database is SQLite; worker jobs on several nodes need a database " \
           f"server" in r.stdout
    assert (f"sbatch --parsable --dependency=afterany:$WORKERS_JOB --kill-on-invalid-dep=yes "
            f"{wd / 'slurm' / 'cleanup.sh'} $SCHEDULER_JOB") in r.stdout
    assert not (wd / "slurm").exists()


# ---- a real single-node SLURM

def _slurm_problem(message: str):
    """Fail under SYCONN_REQUIRE_SLURM (CI), skip elsewhere."""
    if REQUIRE_SLURM:
        pytest.fail(f"SLURM required: {message}")
    pytest.skip(message)


class SlurmCluster:
    """munged, slurmctld and slurmd of one node, with their files in ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.node = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLURM")},
                    "SLURM_CONF": str(self.conf), "PATH": SBIN}
        self.procs: list[subprocess.Popen] = []

    def run(self, *args, check=True) -> subprocess.CompletedProcess:
        r = subprocess.run([*map(str, args)], capture_output=True, text=True, env=self.env,
                           timeout=60)
        if check and r.returncode:
            raise RuntimeError(f"{' '.join(map(str, args))}: {r.stderr.strip()}")
        return r

    def spawn(self, name: str, *args) -> subprocess.Popen:
        with open(self.root / "log" / f"{name}.out", "ab") as log:
            p = subprocess.Popen([shutil.which(name, path=SBIN), *map(str, args)], stdout=log,
                                 stderr=log, env=self.env, start_new_session=True)
        self.procs.append(p)
        return p

    def logs(self) -> str:
        return "\n".join(f"-- {p.name}: {p.read_text(errors='replace')[-1500:]}"
                         for p in sorted((self.root / "log").glob("*")))

    def state(self, job_id: str) -> dict[str, str]:
        """job (or array task) id -> its state, from scontrol."""
        r = self.run("scontrol", "show", "job", "-o", job_id, check=False)
        return {rec.job_id: rec.state for rec in parse_job_records(r.stdout)}

    def queue(self) -> list[str]:
        return self.run("squeue", "-h", "-o", "%i").stdout.split()

    def stop(self) -> None:
        self.run("scancel", "--user", pwd.getpwuid(os.getuid()).pw_name, check=False)
        wait_until(lambda: not self.run("squeue", "-h", check=False).stdout, 30)
        for p in reversed(self.procs):  # slurmd, slurmctld, then munged
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()


def _detected(name: str, text: str) -> int:
    m = re.search(rf"\b{name}=(\d+)", text)
    if m is None:
        raise ValueError(f"slurmd -C: no {name} in {text!r}")
    return int(m.group(1))


def _mem_available_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def _write_conf(c: SlurmCluster, cpus: int, memory_mb: int, *, override: bool) -> str:
    r = c.root
    ctld_port, slurmd_port = free_ports(2)
    text = f"""\
ClusterName=syconntest
SlurmctldHost={c.node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r / 'run' / 'munge.sock'}
StateSaveLocation={r / 'state'}
SlurmdSpoolDir={r / 'spool'}
SlurmctldPidFile={r / 'run' / 'slurmctld.pid'}
SlurmdPidFile={r / 'run' / 'slurmd.pid'}
SlurmctldLogFile={r / 'log' / 'slurmctld.log'}
SlurmdLogFile={r / 'log' / 'slurmd.log'}
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=256
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
InactiveLimit=0
KillWait=5
MinJobAge=300
GresTypes=gpu
{'SlurmdParameters=config_overrides' if override else ''}
NodeName={c.node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName={PARTITION} Nodes={c.node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:2
"""
    c.conf.write_text(text)
    # a GPU the node does not have: enough for SLURM to place --gres=gpu:1 jobs
    (r / "gres.conf").write_text(f"AutoDetect=off\nNodeName={c.node} Name=gpu Count=1 "
                                 f"File=/dev/null\n")
    return text


@pytest.fixture(scope="session")
def slurm_cluster():
    """A single-node SLURM (munged, slurmctld, slurmd as root; no cgroups, no accounting) in a
    temporary folder; yields a :class:`SlurmCluster` whose ``env`` points SLURM_CONF at it."""
    missing = [b for b in DAEMONS + CLIENTS if shutil.which(b, path=SBIN) is None]
    if missing:
        _slurm_problem(f"SLURM binaries not found: {', '.join(missing)} (Debian: apt-get "
                       f"install slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        _slurm_problem(f"slurmd must run as root to start jobs; these tests run as uid "
                       f"{os.geteuid()}")
    root = Path(tempfile.mkdtemp(prefix="syconn-slurm-"))  # pytest's tmp is private to root
    root.chmod(0o755)  # munged wants its socket's folders searchable by all
    for d, mode in (("munge", 0o700), ("run", 0o755), ("state", 0o755), ("spool", 0o755),
                    ("log", 0o755)):
        (root / d).mkdir(mode=mode)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    c = SlurmCluster(root)
    try:
        c.spawn("munged", "-F", f"--key-file={key}", f"--socket={root / 'run' / 'munge.sock'}",
                f"--log-file={root / 'log' / 'munged.log'}",
                f"--pid-file={root / 'run' / 'munged.pid'}",
                f"--seed-file={root / 'munge' / 'seed'}")
        if not wait_until((root / "run" / "munge.sock").exists, 30):
            _slurm_problem(f"munged did not start: {c.logs()}")
        detected = c.run(shutil.which("slurmd", path=SBIN), "-C").stdout
        cpus = _detected("CPUs", detected)
        memory = min(_detected("RealMemory", detected), _mem_available_mb()) * 9 // 10
        if memory < 4000:
            _slurm_problem(f"{memory} MB for the test node: the jobs need 3.2 GB")
        _write_conf(c, max(cpus, 2), memory, override=cpus < 2)
        c.spawn("slurmctld", "-D", "-i")
        c.spawn("slurmd", "-D")

        def idle():
            r = c.run("sinfo", "-h", "-n", c.node, "-o", "%T", check=False)
            return r.returncode == 0 and r.stdout.strip() == "idle"

        if not wait_until(idle, 60, stop=lambda: any(p.poll() is not None for p in c.procs)):
            _slurm_problem(f"the single-node SLURM did not come up: {c.logs()}")
        yield c
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


def _jobs(wd) -> SlurmJobs:
    d = json.loads((Path(wd) / "slurm" / "jobs.json").read_text())
    return SlurmJobs(d["scheduler"], d["workers"], d["cleanup"])


def _slurm(cli, cluster, wd, *args):
    return cli("slurm", wd, "--partition", PARTITION, "--time", 10, *args, env=cluster.env)


def test_pipeline_through_slurm(slurm_cluster, tmp_path, tiny_inputs, cli):
    wd = _init_tiny(cli, tiny_inputs, tmp_path)
    t0 = time.monotonic()
    r = _slurm(cli, slurm_cluster, wd, "--nodes", 1, "--workers-per-node", 2, "--mem", "1G",
               "--gpus", 1, "--wait")
    took = time.monotonic() - t0
    assert r.returncode == 0, (r.stdout, r.stderr, slurm_cluster.logs())
    jobs = _jobs(wd)
    assert f"scheduler job {jobs.scheduler}, workers job {jobs.workers}, cleanup job " \
           f"{jobs.cleanup}" in r.stdout
    assert f"pipeline of {wd} complete" in r.stdout
    # every job has ended: the workers completed, and the cleanup job cancelled luigid's
    assert slurm_cluster.queue() == []
    assert slurm_cluster.state(jobs.workers) == {f"{jobs.workers}_0": "COMPLETED"}
    assert slurm_cluster.state(jobs.scheduler) == {jobs.scheduler: "CANCELLED"}
    assert slurm_cluster.state(jobs.cleanup) == {jobs.cleanup: "COMPLETED"}
    assert not (wd / "slurm" / "scheduler.json").exists()
    worker = slurm_cluster.run("scontrol", "show", "job", "-o", jobs.workers).stdout
    assert "TresPerNode=gres:gpu:1" in worker and "NumCPUs=2" in worker, worker
    log = (wd / "slurm" / "logs" / f"workers_{jobs.workers}_0.out").read_text()
    assert re.search(rf"syconn workers {wd}: (\d+) tasks, 0 already complete, 2 worker\(s\) "
                     rf"with scheduler {slurm_cluster.node}:\d+", log), log
    # the pipeline ran to its end: the two supervoxels joined into one cell of 6*6*4 + 5*6*4
    # voxels, and the last step's matrix written
    r = cli("sql", wd, "SELECT id, n_supervoxels, size_vx FROM cells", "--format", "csv")
    assert r.stdout.splitlines() == ["id,n_supervoxels,size_vx", "1,2,264"]
    assert (wd / "connectivity_matrix").is_dir() and any((wd / "connectivity_matrix").iterdir())
    print(f"syconn slurm --wait of the 16x16x8 volume: {took:.1f} s")


def test_failed_worker_ends_the_run(slurm_cluster, tmp_path, tiny_inputs, cli, one_line_error):
    wd = _init_tiny(cli, tiny_inputs, tmp_path)
    (tmp_path / "wd_data" / "seg.h5").unlink()  # the first task cannot read the segmentation
    r = _slurm(cli, slurm_cluster, wd, "--workers-per-node", 2, "--wait")
    jobs = _jobs(wd)
    one_line_error(r, f"worker job {jobs.workers}_0 FAILED (exit 2:0",
                   f"{tmp_path / 'wd_data' / 'seg.h5'}: no such file",
                   f"log {wd / 'slurm' / 'logs' / f'workers_{jobs.workers}_0.out'}")
    assert slurm_cluster.queue() == []
    assert slurm_cluster.state(jobs.scheduler) == {jobs.scheduler: "CANCELLED"}


def test_cancelled_workers_still_stop_the_scheduler(slurm_cluster, tmp_path, tiny_inputs, cli,
                                                    one_line_error):
    wd = _init_tiny(cli, tiny_inputs, tmp_path)
    r = _slurm(cli, slurm_cluster, wd, "--no-wait")
    assert r.returncode == 0, r.stderr
    jobs = _jobs(wd)
    assert f"squeue -j {jobs.scheduler},{jobs.workers},{jobs.cleanup}" in r.stdout
    # a second run of the same working directory while this one is queued: refused
    scripts = {p: p.read_text() for p in (wd / "slurm").glob("*.sh")}
    one_line_error(_slurm(cli, slurm_cluster, wd), "an earlier 'syconn slurm' run still has jobs",
                   f"scancel {' '.join(sorted({jobs.scheduler, jobs.workers, jobs.cleanup}))}")
    assert {p: p.read_text() for p in (wd / "slurm").glob("*.sh")} == scripts
    slurm_cluster.run("scancel", jobs.workers)
    assert wait_until(lambda: slurm_cluster.queue() == [], 60), slurm_cluster.queue()
    assert slurm_cluster.state(jobs.scheduler) == {jobs.scheduler: "CANCELLED"}
    assert slurm_cluster.state(jobs.cleanup) == {jobs.cleanup: "COMPLETED"}


@pytest.mark.parametrize("args, needles", [
    (["--partition", "nosuch"], ["sbatch refused the scheduler job", "invalid partition"]),
    (["--gpus", "2"], ["sbatch refused the workers job"]),
])
def test_what_sbatch_refuses_writes_nothing(slurm_cluster, tmp_path, tiny_inputs, cli,
                                            one_line_error, args, needles):
    wd = _init_tiny(cli, tiny_inputs, tmp_path)
    one_line_error(cli("slurm", wd, *args, env=slurm_cluster.env), *needles)
    assert not (wd / "slurm").exists()
    assert slurm_cluster.queue() == []
