"""compartments: per cell and compartment, cable, nodes, boutons and synapses in and out

The compartment step labels every skeleton node dendrite, axon, soma, en-passant or terminal
bouton (``syconn.ml.compartments``) and fills ``synapses.comp_pre`` / ``comp_post`` (columns
of revision 0001).  ``cell_compartments`` holds one row per cell and compartment it has.  The
views do not change.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'cell_compartments',
        sa.Column('cell_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('compartment', sa.SmallInteger(), autoincrement=False, nullable=False,
                  comment="0 dendrite, 1 axon, 2 soma, 3 en-passant bouton, 4 terminal bouton"),
        sa.Column('name', sa.Text(), nullable=False, comment="the compartment's name"),
        sa.Column('cable_um', sa.Float(), nullable=False,
                  comment="skeleton cable of the compartment (bridges left out)"),
        sa.Column('n_nodes', sa.BigInteger(), nullable=False, comment="skeleton nodes"),
        sa.Column('n_objects', sa.BigInteger(), nullable=False,
                  comment="separate runs of the compartment along the skeleton (boutons: each "
                          "one)"),
        sa.Column('n_syn_in', sa.BigInteger(), nullable=False,
                  comment="synapses above syn_prob_threshold with the cell postsynaptic here"),
        sa.Column('n_syn_out', sa.BigInteger(), nullable=False,
                  comment="synapses above syn_prob_threshold with the cell presynaptic here"),
        sa.PrimaryKeyConstraint('cell_id', 'compartment'),
        comment="per cell and compartment: cable, nodes, boutons, synapses in and out",
    )


def downgrade() -> None:
    op.drop_table('cell_compartments')
