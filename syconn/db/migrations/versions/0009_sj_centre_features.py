"""synapse classifier features: where the synapse lies on its sj object

A wide sj blob (a predictor's output does not stop at the membranes) reaches the contacts of a
third cell that passes beside the cleft; such a bystander contact can hold a larger share of
the sj object than the cleft itself, but it lies off the object's centre.  Two columns say
where a synapse lies on its main sj object (the one holding most of its voxels):

- ``sj_centre_dist_nm``: distance from the synapse's centre to the object's bounding-box centre;
- ``sj_extent_nm``: half the diagonal of that box.

Both NULL for a synapse on no sj object.  The views do not change.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

COLUMNS = {
    "sj_centre_dist_nm": "distance from the synapse's centre to its main sj object's box centre",
    "sj_extent_nm": "half the diagonal of the main sj object's box",
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
