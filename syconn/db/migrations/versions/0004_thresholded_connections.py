"""dataset.syn_prob_threshold; the connections view counts synapses above it

The ``connections`` view of 0002 counted every synapse whatever its probability, because a view
cannot read config.yml.  The threshold (``cell_objects.thresh_synssv_proba``) now lives in the
``dataset`` row, written by ``syconn init`` and by the Synapses step, so the connectome that
``SELECT * FROM connections`` returns is the thresholded one.  ``all_connections`` keeps the
unthresholded rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_BODY = """
SELECT s.cell_pre AS cell_pre,
       s.cell_post AS cell_post,
       COUNT(*) AS n_synapses,
       SUM(CASE WHEN s.sign < 0 THEN 1 ELSE 0 END) AS n_symmetric,
       SUM(s.area_um2) AS sum_area_um2,
       SUM(s.area_um2 * s.sign) AS sum_signed_area_um2,
       CASE WHEN SUM(s.area_um2 * s.sign) > 0 THEN 1
            WHEN SUM(s.area_um2 * s.sign) < 0 THEN -1
            ELSE 0 END AS sign,
       AVG(s.syn_prob) AS mean_syn_prob,
       MIN(s.syn_prob) AS min_syn_prob,
       MAX(s.syn_prob) AS max_syn_prob
FROM synapses s
WHERE s.cell_pre IS NOT NULL AND s.cell_post IS NOT NULL {extra}
GROUP BY s.cell_pre, s.cell_post
"""
_THRESHOLD = ("AND s.syn_prob > COALESCE((SELECT d.syn_prob_threshold FROM dataset d "
              "WHERE d.id = 1), 0.5)")


def upgrade() -> None:
    with op.batch_alter_table("dataset") as batch:
        batch.add_column(sa.Column("syn_prob_threshold", sa.Float(), nullable=True,
                                   comment="synapses above this count in connections"))
    op.execute("DROP VIEW IF EXISTS connections")
    op.execute("CREATE VIEW connections AS " + _BODY.format(extra=_THRESHOLD))
    op.execute("CREATE VIEW all_connections AS " + _BODY.format(extra=""))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS all_connections")
    op.execute("DROP VIEW IF EXISTS connections")
    op.execute("CREATE VIEW connections AS " + _BODY.format(extra=""))
    with op.batch_alter_table("dataset") as batch:
        batch.drop_column("syn_prob_threshold")
