"""synapse classifier feature: the cleft against its bouton's other contacts on one sj object

A bouton touches its partner and, beside the cleft, the cells squeezed past it; a wide sj blob
lies on all these contacts.  ``sj_prob_rival`` is a synapse's ``sj_prob_mean`` over the largest
among the synapses of the same presynaptic cell on the same main sj object (1 for the best of
them; a synapse on no sj object or of unknown direction is compared with nobody: 1, or 0
where its sj probability is 0).  The views do not change.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

COLUMNS = {
    "sj_prob_rival": "sj_prob_mean over the largest of the presynaptic cell's synapses on the "
                     "same main sj object",
}


def upgrade() -> None:
    with op.batch_alter_table('synapses', schema=None) as batch_op:
        for name, comment in COLUMNS.items():
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True, comment=comment))


def downgrade() -> None:
    spec = importlib.util.spec_from_file_location(
        "_syconn_mig_0008", Path(__file__).with_name("0008_synapse_classifier_features.py"))
    v8 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(v8)
    v8.drop_synapse_columns(COLUMNS)
