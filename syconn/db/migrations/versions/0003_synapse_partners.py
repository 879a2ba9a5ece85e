"""synapse partners: synapses.cell_a, cell_b, contact_site_id

``cell_pre``/``cell_post`` are NULL where the direction is undetermined; ``cell_a < cell_b``
keep the partners of every synapse, and ``contact_site_id`` links it to its contact site.
``synapses_full`` is recreated to include the new columns.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _v0002():
    """The frozen view SQL of revision 0002 (module names cannot start with a digit)."""
    spec = importlib.util.spec_from_file_location("_syconn_mig_0002",
                                                  Path(__file__).with_name("0002_views.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def upgrade() -> None:
    v = _v0002()
    op.execute("DROP VIEW IF EXISTS synapses_full")
    with op.batch_alter_table('synapses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cell_a', sa.BigInteger(), nullable=True,
                                      comment='partner cells, cell_a < cell_b'))
        batch_op.add_column(sa.Column('cell_b', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('contact_site_id', sa.BigInteger(), nullable=True,
                                      comment='contact_sites.id of the pair'))
        batch_op.create_index(batch_op.f('ix_synapses_cell_a'), ['cell_a'], unique=False)
        batch_op.create_index(batch_op.f('ix_synapses_cell_b'), ['cell_b'], unique=False)
        batch_op.create_index(batch_op.f('ix_synapses_contact_site_id'), ['contact_site_id'],
                              unique=False)
    op.execute(v.synapses_full_sql(v.SYNAPSE_COLUMNS + ["cell_a", "cell_b", "contact_site_id"]))


def downgrade() -> None:
    v = _v0002()
    # SQLite rebuilds the table to drop columns; views naming it must not exist meanwhile
    for name in ("cells_full", "synapses_full", "connections"):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    with op.batch_alter_table('synapses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_synapses_contact_site_id'))
        batch_op.drop_index(batch_op.f('ix_synapses_cell_b'))
        batch_op.drop_index(batch_op.f('ix_synapses_cell_a'))
        batch_op.drop_column('contact_site_id')
        batch_op.drop_column('cell_b')
        batch_op.drop_column('cell_a')
    v.upgrade()
