"""Synthetic neural tissue with ground truth (the example data and the test data)."""

from syconn.synth.core import EXAMPLE_SHAPE_XYZ, TEST_SHAPE_XYZ, THRESHOLDS, SynthResult, synthesize
from syconn.synth.types import CELL_TYPES, CONNECTION_PROB, TYPE_NAMES, CellType, Compartment

__all__ = [
    "synthesize",
    "SynthResult",
    "EXAMPLE_SHAPE_XYZ",
    "TEST_SHAPE_XYZ",
    "THRESHOLDS",
    "Compartment",
    "CellType",
    "CELL_TYPES",
    "TYPE_NAMES",
    "CONNECTION_PROB",
]
