"""views: connections, synapses_full, cells_full

The everyday queries as named views, with the same SQL on SQLite and PostgreSQL (standard
joins, GROUP BY and CASE only).  Columns are listed explicitly: ``s.*`` would expand when the view
is created on PostgreSQL but when it is queried on SQLite, so the two backends would drift.

- ``connections``: one row per directed cell pair (``cell_pre``, ``cell_post``) over every
  synapse whose direction is known, whatever its ``syn_prob`` (a view cannot read the config's
  ``thresh_synssv_proba``).  ``min_syn_prob`` / ``max_syn_prob`` tell whether a threshold would
  change a row; for thresholded connectivity group ``synapses`` with ``WHERE syn_prob > :t``.
  ``sign`` is the area-weighted sign: the sign of ``sum_signed_area_um2`` (0 on a tie).
- ``synapses_full``: synapses with coordinates in nm (voxel size from the ``dataset`` row;
  NULL without one) and the partners' cell types.
- ``cells_full``: cells with size in um^3, bounding box and representative voxel in nm, synapse
  counts in/out (direction known), and organelle counts computed from ``organelles``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_FEATURES = [f"{f}_{side}" for side in ("pre", "post")
             for f in ("n_mi_objs", "n_mi_vxs", "min_dst_mi_nm", "n_vc_objs", "n_vc_vxs",
                       "min_dst_vc_nm")]
_BOX = [f"bb_{m}_{a}" for m in ("min", "max") for a in "xyz"]
_REP = [f"rep_{a}" for a in "xyz"]

#: synapses columns at revision 0002 (frozen here: later columns are added by later revisions)
SYNAPSE_COLUMNS = (["id", "cell_pre", "cell_post", "size_vx", "area_um2"] + _BOX + _REP
                   + ["sym_prop", "asym_prop", "sym_ratio", "sign", "direction_confidence"]
                   + _FEATURES + ["syn_prob", "comp_pre", "comp_post", "spiness_post",
                                  "spinehead_vol_post_um3"])


def _nm(alias: str, col: str, axis: str, name: str) -> str:
    return f"{alias}.{col} * d.voxel_{axis}_nm AS {name}"


def synapses_full_sql(columns) -> str:
    cols = [f"s.{c}" for c in columns]
    cols.append("s.area_um2 * s.sign AS signed_area_um2")
    cols += [_nm("s", f"rep_{a}", a, f"{a}_nm") for a in "xyz"]
    cols += [_nm("s", c, c[-1], f"{c}_nm") for c in _BOX]
    cols += ["pre.cell_type AS cell_type_pre", "post.cell_type AS cell_type_post"]
    return ("CREATE VIEW synapses_full AS SELECT " + ", ".join(cols) +
            " FROM synapses s"
            " LEFT JOIN dataset d ON d.id = 1"
            " LEFT JOIN cells pre ON pre.id = s.cell_pre"
            " LEFT JOIN cells post ON post.id = s.cell_post")


CONNECTIONS_SQL = """
CREATE VIEW connections AS
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
WHERE s.cell_pre IS NOT NULL AND s.cell_post IS NOT NULL
GROUP BY s.cell_pre, s.cell_post
"""

#: cells columns at revision 0002 (frozen here, like SYNAPSE_COLUMNS)
CELL_COLUMNS = (["id", "size_vx"] + _BOX + _REP
                + ["n_supervoxels", "is_glia", "cell_type", "cell_type_certainty",
                   "mesh_area_um2", "volume_um3", "cable_length_um", "n_branch_points",
                   "n_tips"])


def cells_full_sql(columns=None, *, synapse_filter: str = "") -> str:
    """``CREATE VIEW cells_full``; ``columns`` are the ``cells`` columns it passes through
    (default: those at revision 0002; later revisions pass theirs); ``synapse_filter``, an SQL
    condition on ``synapses``, restricts the synapse counts (revision 0007: the threshold)."""
    extra = f" AND {synapse_filter}" if synapse_filter else ""
    cols = [f"c.{c}" for c in (CELL_COLUMNS if columns is None else columns)]
    cols.append("c.size_vx * d.voxel_x_nm * d.voxel_y_nm * d.voxel_z_nm / 1000000000.0 "
                "AS size_um3")
    cols += [_nm("c", f"rep_{a}", a, f"{a}_nm") for a in "xyz"]
    cols += [_nm("c", c, c[-1], f"{c}_nm") for c in _BOX]
    cols += ["COALESCE(si.n, 0) AS n_synapses_in", "COALESCE(so.n, 0) AS n_synapses_out",
             "COALESCE(si.area, 0.0) AS sum_area_in_um2",
             "COALESCE(so.area, 0.0) AS sum_area_out_um2",
             "COALESCE(o.n_mi, 0) AS n_mi", "COALESCE(o.n_vc, 0) AS n_vc",
             "COALESCE(o.n_sj, 0) AS n_sj"]
    return ("CREATE VIEW cells_full AS SELECT " + ", ".join(cols) +
            " FROM cells c"
            " LEFT JOIN dataset d ON d.id = 1"
            " LEFT JOIN (SELECT cell_post AS cell_id, COUNT(*) AS n, SUM(area_um2) AS area"
            "   FROM synapses WHERE cell_post IS NOT NULL" + extra + " GROUP BY cell_post) si"
            "   ON si.cell_id = c.id"
            " LEFT JOIN (SELECT cell_pre AS cell_id, COUNT(*) AS n, SUM(area_um2) AS area"
            "   FROM synapses WHERE cell_pre IS NOT NULL" + extra + " GROUP BY cell_pre) so"
            "   ON so.cell_id = c.id"
            " LEFT JOIN (SELECT cell_id,"
            "   SUM(CASE WHEN kind = 'mi' THEN 1 ELSE 0 END) AS n_mi,"
            "   SUM(CASE WHEN kind = 'vc' THEN 1 ELSE 0 END) AS n_vc,"
            "   SUM(CASE WHEN kind = 'sj' THEN 1 ELSE 0 END) AS n_sj"
            "   FROM organelles WHERE cell_id IS NOT NULL GROUP BY cell_id) o"
            "   ON o.cell_id = c.id")


def upgrade() -> None:
    op.execute(CONNECTIONS_SQL)
    op.execute(synapses_full_sql(SYNAPSE_COLUMNS))
    op.execute(cells_full_sql())


def downgrade() -> None:
    for name in ("cells_full", "synapses_full", "connections"):
        op.execute(f"DROP VIEW IF EXISTS {name}")
