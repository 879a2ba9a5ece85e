"""The pipeline on a small synthetic volume: determinism, workers, block sizes, resume, bad input."""

from __future__ import annotations

import bz2
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from syconn.db import run_query
from syconn.errors import PipelineError
from syconn.runner import run_pipeline
from syconn.synth import TEST_SHAPE_XYZ
from syconn.tasks.morphology import MORPHOLOGY_COLUMNS
from syconn.workdir import init_workdir, open_engine, read_synth_meta


def cell_columns(wd) -> list[str]:
    cols, _ = run_query(open_engine(wd, read_only=True), "SELECT * FROM cells LIMIT 0")
    return list(cols)


def test_reference_run_fills_every_table(reference, data):
    for table in ("supervoxels", "rag_edges", "cells", "organelles", "organelle_overlaps"):
        assert reference[table], table
    import pandas as pd
    gt = pd.read_parquet(data / "gt" / "supervoxels.parquet")
    sv_cell = {r[0]: r[-3] for r in reference["supervoxels"]}  # id ... cell_id
    assert len(sv_cell) == len(gt)


def test_two_workers_same_rows(reference, data, tmp_path, wd_tools):
    wd = wd_tools.make_wd(tmp_path / "wd", data)
    run_pipeline(wd, workers=2, log=lambda m: None)
    wd_tools.assert_same_rows(wd, reference)


def test_other_block_size_same_rows(reference, data, tmp_path, wd_tools):
    wd = wd_tools.make_wd(tmp_path / "wd", data, block=(64, 64, 48))
    run_pipeline(wd, workers=1, log=lambda m: None)
    got = wd_tools.dump(wd)
    for table in wd_tools.TABLES:
        if table != "cells":
            assert got[table] == reference[table], table
    # meshes and skeletons depend on the block faces (seam vertices are not simplified, TEASAR
    # paths end on block faces): everything else about cells is identical, morphology close
    cols = cell_columns(wd)
    # the type certainty reads the morphology (cable, radii, areas per um): close, not equal
    morph = [cols.index(c) for c in (*MORPHOLOGY_COLUMNS, "cell_type_certainty")]
    same = [i for i in range(len(cols)) if i not in morph]
    assert [[r[i] for i in same] for r in got["cells"]] == \
        [[r[i] for i in same] for r in reference["cells"]]
    a = {c: np.array([r[cols.index(c)] for r in reference["cells"]], dtype=object)
         for c in MORPHOLOGY_COLUMNS}
    b = {c: np.array([r[cols.index(c)] for r in got["cells"]], dtype=object)
         for c in MORPHOLOGY_COLUMNS}
    assert (a["skeleton_status"] == b["skeleton_status"]).all()
    k = cols.index("cell_type_certainty")
    cert = [(r[k], g[k]) for r, g in zip(reference["cells"], got["cells"])]
    assert all((x is None) == (y is None) for x, y in cert)
    assert max(abs(x - y) for x, y in cert if x is not None) < 0.05, cert
    # (blocks of 64x64x48 put a seam every 16 downsampled voxels: many unsimplified vertices)
    for c, tol, med in (("mesh_area_um2", 0.08, 0.03), ("volume_um3", 0.10, 0.04),
                        ("cable_length_um", 0.15, 0.05)):
        has = np.array([v is not None for v in a[c]])
        assert (has == np.array([v is not None for v in b[c]])).all(), c
        x, y = a[c][has].astype(float), b[c][has].astype(float)
        rel = np.abs(x - y) / x
        assert np.median(rel) < med and rel.max() < tol, (c, np.median(rel), rel.max())


def test_postgres_same_rows(reference, data, tmp_path, pg_url, wd_tools):
    wd = wd_tools.make_wd(tmp_path / "wd", data, db_url=pg_url)
    run_pipeline(wd, workers=2, log=lambda m: None)
    wd_tools.assert_same_rows(wd, reference)


def test_sigkill_then_resume_same_rows(reference, data, tmp_path, wd_tools):
    wd = wd_tools.make_wd(tmp_path / "wd", data)
    proc = subprocess.Popen([sys.executable, "-m", "syconn.cli", "run", str(wd), "-j", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    steps = wd / "steps"
    deadline = time.time() + 120
    # kill once some block outputs exist but the run is not over
    while time.time() < deadline and proc.poll() is None:
        done = list(steps.glob("organelles_*/relabel/block_*")) if steps.exists() else []
        if len(done) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed: " + proc.stderr.read()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    run_pipeline(wd, workers=2, log=lambda m: None)
    wd_tools.assert_same_rows(wd, reference)


def _corrupt(data, tmp_path, what):
    """A copy of the dataset's inputs with one problem."""
    meta = read_synth_meta(data)
    inputs = dict(meta["inputs"])
    if what == "unknown supervoxels":
        p = tmp_path / "bad_rag.bz2"
        p.write_bytes(bz2.compress(b"1 2\n999999 1000000\n"))
        inputs["agglomeration"] = str(p)
    elif what == "empty segmentation":
        p = tmp_path / "seg.h5"
        with h5py.File(p, "w") as f:
            f["seg"] = np.zeros(TEST_SHAPE_XYZ, np.uint64)
        inputs["seg"] = str(p)
    return inputs, meta["voxel_size_nm"]


@pytest.mark.parametrize("what, message", [
    ("unknown supervoxels", "names 2 supervoxel(s) absent from the segmentation (999999, 1000000)"),
    ("empty segmentation", "the segmentation is empty"),
])
def test_bad_input_fails_before_any_work(data, tmp_path, what, message, wd_tools):
    inputs, vs = _corrupt(data, tmp_path, what)
    wd = tmp_path / "wd"
    init_workdir(wd, inputs=inputs, voxel_size_nm=vs, block_shape=wd_tools.BLOCK)
    with pytest.raises(PipelineError) as ei:
        run_pipeline(wd, workers=1, log=lambda m: None)
    assert message in str(ei.value)
    assert not list((wd / "steps").glob("supervoxels-*/block_*"))  # no block work started
