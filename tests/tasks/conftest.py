"""Fixtures shared by the task tests: one small synthetic dataset per session."""

from __future__ import annotations

import pytest

from syconn.synth import TEST_SHAPE_XYZ
from syconn.synth.command import generate


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """The small synthetic dataset (TEST_SHAPE_XYZ, seed 0) in the original's layout."""
    out = tmp_path_factory.mktemp("synth") / "data"
    generate(out, shape_xyz=TEST_SHAPE_XYZ, seed=0)
    return out


def small_volume_config(cfg, wd):
    """The test volume is 1.9 µm wide: skeletonize cells from a 1.5 µm bounding-box diagonal
    (the default, 5 µm, would leave every cell without a skeleton)."""
    from syconn.config import save_config

    cfg.min_cc_size_ssv = 1500.0
    save_config(cfg, wd)


@pytest.fixture(scope="session")
def pipeline_wd(data, tmp_path_factory):
    """The whole pipeline run once on ``data`` (blocks of 96x96x64, one worker, SQLite)."""
    from syconn.runner import run_pipeline
    from syconn.workdir import init_from_synth

    wd = tmp_path_factory.mktemp("ref") / "wd"
    small_volume_config(init_from_synth(wd, data, block_shape=(96, 96, 64)), wd)
    run_pipeline(wd, workers=1, log=lambda m: None)
    return wd
