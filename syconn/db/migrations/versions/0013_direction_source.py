"""synapse direction from compartments: synapses.direction_source

Where the partners' compartments decide (one side axon or bouton, the other dendrite or soma)
the compartment step sets the synapse's direction, the vesicle rule elsewhere;
``direction_source`` says which: 'vesicles', 'compartments' (the vesicle rule undecided or
overruled) or 'both' (they agree); NULL where the direction is unknown.  ``synapses_full`` is
recreated to include it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

COMMENT = ("'vesicles' (the vesicle rule), 'compartments' (the partners' compartments, the "
           "vesicle rule undecided or overruled), 'both' (they agree); NULL: direction unknown")
#: the 0003 synapses columns of ``synapses_full``
_SYNAPSE_EXTRA = ["cell_a", "cell_b", "contact_site_id"]


def _load(name: str):
    """A frozen earlier revision (module names cannot start with a digit)."""
    spec = importlib.util.spec_from_file_location(f"_syconn_mig_{name[:4]}",
                                                  Path(__file__).with_name(name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def upgrade() -> None:
    v2 = _load("0002_views.py")
    op.execute("DROP VIEW IF EXISTS synapses_full")
    with op.batch_alter_table('synapses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('direction_source', sa.Text(), nullable=True,
                                      comment=COMMENT))
    op.execute(v2.synapses_full_sql(v2.SYNAPSE_COLUMNS + _SYNAPSE_EXTRA + ["direction_source"]))
    # rows of an earlier run: their direction is the vesicle rule's
    op.execute("UPDATE synapses SET direction_source = 'vesicles' WHERE cell_pre IS NOT NULL")


def downgrade() -> None:
    # drops the column and recreates the views as revisions 0007-0012 have them
    _load("0008_synapse_classifier_features.py").drop_synapse_columns(["direction_source"])
