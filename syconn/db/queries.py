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
SELECT c.cell_post AS partner, c.n_synapses, c.sum_area_um2, c.sign, c.mean_syn_prob,
       p.cell_type AS partner_type
FROM connections c LEFT JOIN cells p ON p.id = c.cell_post
WHERE c.cell_pre = :id ORDER BY c.sum_area_um2 DESC
"""

CELL_PARTNERS_IN = """
SELECT c.cell_pre AS partner, c.n_synapses, c.sum_area_um2, c.sign, c.mean_syn_prob,
       p.cell_type AS partner_type
FROM connections c LEFT JOIN cells p ON p.id = c.cell_pre
WHERE c.cell_post = :id ORDER BY c.sum_area_um2 DESC
"""

#: a cell's type status and class probabilities (cell type step)
CELL_TYPE = """
SELECT c.cell_type_status, p.cell_type, p.probability
FROM cells c LEFT JOIN cell_type_probabilities p ON p.cell_id = c.id
WHERE c.id = :id ORDER BY p.probability DESC
"""

#: a cell's compartments (compartment step): cable, separate runs, synapses in and out
CELL_COMPARTMENTS = """
SELECT name AS compartment, cable_um, n_objects, n_syn_in, n_syn_out
FROM cell_compartments WHERE cell_id = :id ORDER BY compartment
"""

#: a cell's thresholded synapses summed by the partner's cell type, out and in
CELL_BY_PARTNER_TYPE = """
SELECT 'out' AS direction, p.cell_type AS partner_type, COUNT(*) AS n_partners,
       SUM(c.n_synapses) AS n_synapses, SUM(c.n_symmetric) AS n_symmetric,
       SUM(c.sum_area_um2) AS sum_area_um2
FROM connections c LEFT JOIN cells p ON p.id = c.cell_post
WHERE c.cell_pre = :id GROUP BY p.cell_type
UNION ALL
SELECT 'in' AS direction, p.cell_type AS partner_type, COUNT(*) AS n_partners,
       SUM(c.n_synapses) AS n_synapses, SUM(c.n_symmetric) AS n_symmetric,
       SUM(c.sum_area_um2) AS sum_area_um2
FROM connections c LEFT JOIN cells p ON p.id = c.cell_pre
WHERE c.cell_post = :id GROUP BY p.cell_type
ORDER BY direction DESC, partner_type
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
