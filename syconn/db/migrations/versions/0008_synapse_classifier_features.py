"""synapse classifier features: sj share, sj overlap, sj probability at the synapse

``syn_prob`` now comes from a trained classifier (``syconn.ml.synapses``); four of its inputs
that the earlier columns do not hold are stored with every synapse, so that a user can see why
a candidate scored as it did and train on them (``syconn train synapses``):

- ``sj_share``: the largest share the synapse holds of one sj object's synapse voxels (about 1
  for a cleft's own object, small for the spill-over of a neighbouring cleft's sj band);
- ``sj_overlap``: the largest share of one sj object's voxels that lie on the synapse (small
  for an sj-like blob inside a cell that only touches the contact);
- ``sj_prob_mean`` / ``sj_prob_max``: the sj probability map at the synapse's voxels (0-1).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = {
    "sj_share": "largest share of one sj object's synapse voxels that this synapse holds",
    "sj_overlap": "largest share of one sj object's voxels that lie on this synapse",
    "sj_prob_mean": "mean sj probability (0-1) at the synapse's voxels",
    "sj_prob_max": "largest sj probability (0-1) at the synapse's voxels",
}


def upgrade() -> None:
    with op.batch_alter_table('synapses', schema=None) as batch_op:
        for name, comment in COLUMNS.items():
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True, comment=comment))


def _load(name: str):
    """A frozen earlier revision (module names cannot start with a digit)."""
    spec = importlib.util.spec_from_file_location(f"_syconn_mig_{name[:4]}",
                                                  Path(__file__).with_name(name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def drop_synapse_columns(columns) -> None:
    """Drop ``columns`` of ``synapses`` and recreate the views as revisions 0007-0010 have
    them (SQLite rebuilds the table to drop columns; views naming it must not exist meanwhile).
    """
    v2, v4, v7 = (_load(n) for n in ("0002_views.py", "0004_thresholded_connections.py",
                                    "0007_thresholded_cell_counts.py"))
    for name in ("cells_full", "synapses_full", "connections", "all_connections"):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    with op.batch_alter_table('synapses', schema=None) as batch_op:
        for name in reversed(list(columns)):
            batch_op.drop_column(name)
    op.execute(v2.synapses_full_sql(v2.SYNAPSE_COLUMNS + ["cell_a", "cell_b", "contact_site_id"]))
    op.execute("CREATE VIEW connections AS " + v4._BODY.format(extra=v4._THRESHOLD))
    op.execute("CREATE VIEW all_connections AS " + v4._BODY.format(extra=""))
    op.execute(v2.cells_full_sql(v7._columns(), synapse_filter=v7.THRESHOLD))


def downgrade() -> None:
    drop_synapse_columns(COLUMNS)
