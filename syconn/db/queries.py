"""The SQL behind the CLI's query commands (the README shows the same statements).

Every query reads the views of migration 0002/0004 (``cells_full``, ``synapses_full``,
``connections``); parameters are bound, never formatted into the SQL.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CELLS", "CELL", "CELL_PARTNERS_OUT", "CELL_PARTNERS_IN", "synapses_query", "STATUS"]

CELLS = """
SELECT id, cell_type, size_um3, n_supervoxels, n_synapses_in, n_synapses_out,
       n_mi, n_vc, cable_length_um, skeleton_status, x_nm, y_nm, z_nm
FROM cells_full
ORDER BY size_vx DESC, id
LIMIT :limit
"""

CELL = "SELECT * FROM cells_full WHERE id = :id"

CELL_PARTNERS_OUT = """
SELECT cell_post AS partner, n_synapses, sum_area_um2, sign, mean_syn_prob
FROM connections WHERE cell_pre = :id ORDER BY sum_area_um2 DESC
"""

CELL_PARTNERS_IN = """
SELECT cell_pre AS partner, n_synapses, sum_area_um2, sign, mean_syn_prob
FROM connections WHERE cell_post = :id ORDER BY sum_area_um2 DESC
"""

STATUS = """
SELECT task_family, COUNT(*) AS n_done, SUM(n_rows) AS n_rows, MAX(finished_at) AS last
FROM task_runs GROUP BY task_family ORDER BY MAX(finished_at)
"""


def synapses_query(*, pre: int | None = None, post: int | None = None,
                   min_prob: float | None = None, sign: int | None = None,
                   limit: int = 100) -> tuple[str, dict[str, Any]]:
    """SQL and parameters for ``syconn synapses`` filters."""
    where, params = [], {"limit": limit}
    if pre is not None:
        where.append("cell_pre = :pre")
        params["pre"] = pre
    if post is not None:
        where.append("cell_post = :post")
        params["post"] = post
    if min_prob is not None:
        where.append("syn_prob >= :min_prob")
        params["min_prob"] = min_prob
    if sign is not None:
        where.append("sign = :sign")
        params["sign"] = sign
    sql = ("SELECT id, cell_pre, cell_post, syn_prob, sign, area_um2, size_vx, "
           "rep_x, rep_y, rep_z, x_nm, y_nm, z_nm, direction_confidence FROM synapses_full"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY syn_prob DESC, id LIMIT :limit")
    return sql, params
