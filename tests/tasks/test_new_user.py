"""What a new user hit on the default example, each a test that failed before its fix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from syconn.db import run_query
from syconn.db.queries import CELL_PARTNERS_IN, CELL_PARTNERS_OUT
from syconn.runner import run_pipeline
from syconn.tasks import Cells, Organelles, Pipeline, Prepare
from syconn.workdir import open_engine


def _task_runs(wd):
    return run_query(open_engine(wd, read_only=True),
                     "SELECT task_id, finished_at FROM task_runs ORDER BY task_id")[1]


def test_working_dir_spelling_is_one_task(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spellings = ["wd", "wd/", "./wd", str(tmp_path / "wd"), str(tmp_path / "wd") + "/",
                 str(tmp_path / "x" / ".." / "wd")]
    for cls in (Pipeline, Cells):
        assert len({cls(working_dir=s).task_id for s in spellings}) == 1
    assert {Organelles(working_dir=s, kind="mi").working_dir for s in spellings} == \
        {os.path.realpath(tmp_path / "wd")}


def test_luigi_line_with_another_path_reruns_nothing(pipeline_wd, tmp_path):
    """The README's luigi line with an absolute path, a trailing slash, or from another folder
    re-ran Cells, Organelles, CellMorphology and Pipeline and added duplicate task_runs rows;
    a moved working directory (here: a copy) did the same."""
    wd = tmp_path / "moved" / "wd"
    shutil.copytree(pipeline_wd, wd)
    before = _task_runs(wd)
    assert before
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    luigi = Path(sys.executable).with_name("luigi")
    for where, spelling in ((wd.parent, "wd/"), (elsewhere, f"{wd}/"), (elsewhere, "../moved/wd")):
        r = subprocess.run([str(luigi), "--module", "syconn.tasks", "Pipeline", "--working-dir",
                            spelling, "--local-scheduler"], cwd=where, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "was not granted run permission" not in r.stderr
        assert _task_runs(wd) == before, spelling  # no step ran again, no row added
    r = subprocess.run([sys.executable, "-m", "syconn.cli", "status", str(wd), "--format",
                        "csv"], capture_output=True, text=True, timeout=120)
    counts = {line.split(",")[0]: int(line.split(",")[1]) for line in r.stdout.splitlines()[1:]
              if line.count(",") >= 3}
    assert counts["Cells"] == 1 and counts["Synapses"] == 1 and counts["Organelles"] == 3


def test_inputs_stored_absolute_and_run_from_anywhere(data, tmp_path, monkeypatch, cli):
    """Input paths were stored relative to where 'syconn init' ran."""
    work = tmp_path / "project"
    shutil.copytree(data, work / "data")
    r = cli("init", "wd", "--from", "data", "--block-size", "96", "96", "64", cwd=work)
    assert r.returncode == 0, r.stderr
    inputs = yaml.safe_load((work / "wd" / "config.yml").read_text())["inputs"]
    assert all(Path(v.split(":")[0]).is_absolute() for v in inputs.values() if v), inputs
    assert inputs["seg"].startswith(str(work / "data"))
    monkeypatch.chdir(tmp_path)  # another folder
    run_pipeline(work / "wd", task=Prepare(working_dir=str(work / "wd")), log=lambda m: None)


def test_cell_counts_agree_with_partner_tables(pipeline_wd):
    """cells_full.n_synapses_in/out counted every synapse, 'syconn cell' and connections only
    those above the threshold (cell 42 of the example: 46 inputs against 38)."""
    eng = open_engine(pipeline_wd, read_only=True)
    _, cells = run_query(eng, "SELECT id, n_synapses_in, n_synapses_out FROM cells_full")
    _, below = run_query(eng, "SELECT COUNT(*) FROM synapses s JOIN dataset d ON d.id = 1 "
                              "WHERE s.syn_prob <= d.syn_prob_threshold AND s.cell_pre IS NOT NULL")
    assert below[0][0] > 0  # the test volume has synapses below the threshold
    for cid, n_in, n_out in cells:
        got_in = sum(r[1] for r in run_query(eng, CELL_PARTNERS_IN, {"id": cid})[1])
        got_out = sum(r[1] for r in run_query(eng, CELL_PARTNERS_OUT, {"id": cid})[1])
        assert (n_in, n_out) == (got_in, got_out), cid
