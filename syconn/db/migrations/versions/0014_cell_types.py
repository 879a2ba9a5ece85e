"""cell types: cells.cell_type_status, cell_type_probabilities, the type_connections view

The cell type step fills ``cells.cell_type`` and ``cell_type_certainty`` (columns of revision
0001), says why a cell has no type in ``cell_type_status``, keeps every class probability of the
typed cells in ``cell_type_probabilities`` and sums the thresholded ``connections`` per pair of
types in the view ``type_connections``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

STATUS_COMMENT = ("'ok' (typed), 'too_small' (less skeleton cable than the cell type model "
                  "judges), 'no_skeleton'; NULL before the cell type step")

TYPE_CONNECTIONS_SQL = """
CREATE VIEW type_connections AS
SELECT pre.cell_type AS type_pre,
       post.cell_type AS type_post,
       COUNT(*) AS n_connections,
       COUNT(DISTINCT c.cell_pre) AS n_cells_pre,
       COUNT(DISTINCT c.cell_post) AS n_cells_post,
       SUM(c.n_synapses) AS n_synapses,
       SUM(c.n_symmetric) AS n_symmetric,
       SUM(c.sum_area_um2) AS sum_area_um2,
       SUM(c.sum_signed_area_um2) AS sum_signed_area_um2,
       SUM(c.sum_signed_area_um2) / SUM(c.sum_area_um2) AS mean_sign
FROM connections c
JOIN cells pre ON pre.id = c.cell_pre
JOIN cells post ON post.id = c.cell_post
WHERE pre.cell_type IS NOT NULL AND post.cell_type IS NOT NULL
GROUP BY pre.cell_type, post.cell_type
"""


def upgrade() -> None:
    with op.batch_alter_table('cells', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cell_type_status', sa.Text(), nullable=True,
                                      comment=STATUS_COMMENT))
    op.create_table(
        'cell_type_probabilities',
        sa.Column('cell_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('cell_type', sa.Text(), nullable=False,
                  comment="a class of the cell type model"),
        sa.Column('probability', sa.Float(), nullable=False,
                  comment="the model's probability of the class (the classes of a cell sum "
                          "to 1)"),
        sa.PrimaryKeyConstraint('cell_id', 'cell_type'),
        comment="per typed cell and class of the cell type model: its probability",
    )
    op.execute(TYPE_CONNECTIONS_SQL)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS type_connections")
    op.drop_table('cell_type_probabilities')
    # no view names the column: a plain DROP COLUMN (SQLite >= 3.35) leaves the views alone,
    # where a batch rebuild of the table would need them dropped and made again
    op.execute("ALTER TABLE cells DROP COLUMN cell_type_status")
