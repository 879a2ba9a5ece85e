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
