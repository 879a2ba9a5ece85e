"""cell morphology: cells.skeleton_status, n_skeleton_nodes

The skeleton step records why a cell has no cable length (``skeleton_status``: too small to be
skeletonised, or no skeleton path found) and how many nodes its skeleton has.  ``cells_full`` is
recreated to include both columns (after ``n_tips``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_NEW = ["skeleton_status", "n_skeleton_nodes"]
#: the 0003 synapses columns of ``synapses_full`` (rebuilt on downgrade)
_SYNAPSE_EXTRA = ["cell_a", "cell_b", "contact_site_id"]


def _v0002():
    """The frozen view SQL of revision 0002 (module names cannot start with a digit)."""
    spec = importlib.util.spec_from_file_location("_syconn_mig_0002",
                                                  Path(__file__).with_name("0002_views.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def upgrade() -> None:
    v = _v0002()
    op.execute("DROP VIEW IF EXISTS cells_full")
    with op.batch_alter_table('cells', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'skeleton_status', sa.Text(), nullable=True,
            comment="'ok', 'too_small' (bounding-box diagonal below min_cc_size_ssv), 'empty' "
                    "(no skeleton path found); NULL before the skeleton step"))
        batch_op.add_column(sa.Column('n_skeleton_nodes', sa.BigInteger(), nullable=True))
    op.execute(v.cells_full_sql(v.CELL_COLUMNS + _NEW))


def downgrade() -> None:
    v = _v0002()
    # SQLite rebuilds the table to drop columns; views naming it must not exist meanwhile
    for name in ("cells_full", "synapses_full"):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    with op.batch_alter_table('cells', schema=None) as batch_op:
        batch_op.drop_column('n_skeleton_nodes')
        batch_op.drop_column('skeleton_status')
    op.execute(v.synapses_full_sql(v.SYNAPSE_COLUMNS + _SYNAPSE_EXTRA))
    op.execute(v.cells_full_sql())
