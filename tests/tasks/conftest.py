"""Fixtures shared by the task tests: one small synthetic dataset per session, the pipeline run
once on it, and the helpers that make working directories and dump their rows (``wd_tools``:
test modules cannot import each other)."""

from __future__ import annotations

import types

import pytest

from syconn.synth import TEST_SHAPE_XYZ
from syconn.synth.command import generate


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """The small synthetic dataset (TEST_SHAPE_XYZ, seed 0) in the original's layout."""
    out = tmp_path_factory.mktemp("synth") / "data"
    generate(out, shape_xyz=TEST_SHAPE_XYZ, seed=0)
    return out


BLOCK = (96, 96, 64)  # the block shape of ``pipeline_wd``

# every table the pipeline fills, with a deterministic order; task_runs (timestamps) excluded
TABLES = {
    "supervoxels": "id", "rag_edges": "sv_a, sv_b", "cells": "id",
    "organelles": "kind, id", "organelle_overlaps": "kind, organelle_id, sv_id",
    "contact_sites": "id", "synapses": "id",
}


def make_wd(path, data, *, block=BLOCK, db_url=None):
    """A working directory of ``data`` at ``path``.  The test volume is 1.9 µm wide: skeletonize
    cells from a 1.5 µm bounding-box diagonal (the default, 5 µm, would leave every cell
    without a skeleton)."""
    from syconn.config import save_config
    from syconn.workdir import init_from_synth

    cfg = init_from_synth(path, data, block_shape=block, db_url=db_url)
    cfg.min_cc_size_ssv = 1500.0
    save_config(cfg, path)
    return path


def dump(wd) -> dict[str, list[tuple]]:
    """Every row of :data:`TABLES` (floats rounded to 9 digits, NaN as None), in order."""
    import numpy as np

    from syconn.db import run_query
    from syconn.workdir import open_engine

    eng = open_engine(wd, read_only=True)
    out = {}
    for table, order in TABLES.items():
        _, rows = run_query(eng, f"SELECT * FROM {table} ORDER BY {order}")
        out[table] = [tuple(None if isinstance(v, float) and np.isnan(v) else
                            (round(v, 9) if isinstance(v, float) else v) for v in r) for r in rows]
    return out


@pytest.fixture(scope="session")
def wd_tools():
    """``make_wd``, ``dump``, ``TABLES`` and ``BLOCK`` of this conftest."""
    return types.SimpleNamespace(make_wd=make_wd, dump=dump, TABLES=TABLES, BLOCK=BLOCK)


@pytest.fixture(scope="session")
def pipeline_wd(data, tmp_path_factory):
    """The whole pipeline run once on ``data`` (blocks of :data:`BLOCK`, one worker, SQLite)."""
    from syconn.runner import run_pipeline

    wd = make_wd(tmp_path_factory.mktemp("ref") / "wd", data)
    run_pipeline(wd, workers=1, log=lambda m: None)
    return wd


@pytest.fixture(scope="session")
def reference(pipeline_wd):
    """The rows of the clean one-worker run :func:`pipeline_wd`: what every other run of
    ``data`` (other workers, backends, faults and resumes) must end with, ids included."""
    return dump(pipeline_wd)
