"""drop the synapse indexes on cell_a, cell_b and contact_site_id

Queries select synapses by ``cell_pre`` / ``cell_post`` (indexed); the unordered pair and the
contact-site link are rarely filtered on, and every secondary index costs a sort or random
B-tree inserts on each load (three of them took a third of the time of a 2-million-row load).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_DROPPED = {"ix_synapses_cell_a": "cell_a", "ix_synapses_cell_b": "cell_b",
            "ix_synapses_contact_site_id": "contact_site_id"}


def upgrade() -> None:
    with op.batch_alter_table("synapses") as batch:
        for name in _DROPPED:
            batch.drop_index(name)


def downgrade() -> None:
    with op.batch_alter_table("synapses") as batch:
        for name, col in _DROPPED.items():
            batch.create_index(name, [col], unique=False)
