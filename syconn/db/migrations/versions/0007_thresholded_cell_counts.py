"""cells_full counts the synapses that connections counts: syn_prob above the threshold

``cells_full.n_synapses_in`` / ``n_synapses_out`` and ``sum_area_in_um2`` / ``sum_area_out_um2``
counted every synapse whatever its probability, while ``connections`` (and so ``syconn cell``'s
partner tables) counted those above ``dataset.syn_prob_threshold``: cell 42 of the example had 46
inputs in ``cells_full`` and 38 in its partner table.  One definition now: a synapse of a cell
is one with a known direction and ``syn_prob > dataset.syn_prob_threshold`` (0.5 where the
dataset row has none), as the original's ``syn_ssv`` mapping (``syn_prob > thresh_synssv_proba``).
On PostgreSQL the columns carry that definition as their comment.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
import importlib.util
from pathlib import Path

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

THRESHOLD = ("syn_prob > COALESCE((SELECT d.syn_prob_threshold FROM dataset d WHERE d.id = 1), "
             "0.5)")
COMMENTS = {
    "n_synapses_in": "synapses onto the cell with syn_prob > dataset.syn_prob_threshold "
                     "(as in connections)",
    "n_synapses_out": "synapses from the cell with syn_prob > dataset.syn_prob_threshold "
                      "(as in connections)",
    "sum_area_in_um2": "summed area of the synapses counted in n_synapses_in",
    "sum_area_out_um2": "summed area of the synapses counted in n_synapses_out",
}


def _load(name: str):
    """A frozen earlier revision (module names cannot start with a digit)."""
    spec = importlib.util.spec_from_file_location(f"_syconn_mig_{name[:4]}",
                                                  Path(__file__).with_name(name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _columns():
    return _load("0002_views.py").CELL_COLUMNS + _load("0006_cell_morphology.py")._NEW


def upgrade() -> None:
    v = _load("0002_views.py")
    op.execute("DROP VIEW IF EXISTS cells_full")
    op.execute(v.cells_full_sql(_columns(), synapse_filter=THRESHOLD))
    if op.get_bind().dialect.name == "postgresql":
        for col, text in COMMENTS.items():
            op.execute(f"COMMENT ON COLUMN cells_full.{col} IS '{text}'")


def downgrade() -> None:
    v = _load("0002_views.py")
    op.execute("DROP VIEW IF EXISTS cells_full")
    op.execute(v.cells_full_sql(_columns()))
