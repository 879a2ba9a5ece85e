"""synapse classifier features: how thick each partner is near the synapse

A bouton's vesicle cloud and a wide sj blob face both its dendrite and the thin axons squeezed
past it; the partner's thickness tells them apart.  ``radius_nm_pre`` / ``radius_nm_post``: the
largest inscribed radius (maximum of the partner's distance transform) within 600 nm of the
synapse's representative voxel (:mod:`syconn.proc.radius`).  The views do not change.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

COLUMNS = {
    "radius_nm_pre": "largest inscribed radius of the presynaptic cell within 600 nm",
    "radius_nm_post": "largest inscribed radius of the postsynaptic cell within 600 nm",
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
