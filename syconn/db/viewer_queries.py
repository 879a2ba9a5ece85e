"""The SQL behind the web viewer's ``/api/`` routes (:mod:`syconn.server.viewer`).

Every statement reads the views of the migrations (``cells_full``, ``synapses_full``,
``connections``) and binds its values as parameters; the only text formatted into SQL is a
column expression picked from :data:`CELL_SORTS` by name.  The builders are pure: they return
``(sql, params)`` and run nothing.

"Neuron" cells are those with ``is_glia`` not true: ``is_glia`` is NULL until the glia step
has run, and such cells are listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CellFilter", "CELL_SORTS", "CELL_LIST_COLUMNS", "cells_query", "cells_count_query",
           "CELL", "CELL_EXISTS", "PARTNERS_OUT", "PARTNERS_IN", "CELL_SYNAPSES",
           "CELL_TYPES", "TYPE_MATRIX", "DATASET", "DATASET_COUNTS"]

NEURON = "is_glia IS NOT TRUE"

#: the columns ``/api/cells`` returns for every cell
CELL_LIST_COLUMNS = (
    "id", "size_vx", "size_um3", "n_supervoxels", "n_synapses_in", "n_synapses_out",
    "sum_area_in_um2", "sum_area_out_um2", "n_mi", "n_vc", "n_sj", "cable_length_um",
    "skeleton_status", "cell_type", "cell_type_certainty", "is_glia",
    "rep_x", "rep_y", "rep_z", "x_nm", "y_nm", "z_nm",
)

#: sort keys of ``/api/cells`` -> the SQL expression they order by
CELL_SORTS = {
    "id": "id",
    "size": "size_vx",
    "synapses": "(n_synapses_in + n_synapses_out)",
    "synapses_in": "n_synapses_in",
    "synapses_out": "n_synapses_out",
    "cable": "cable_length_um",
    "mi": "n_mi",
    "vc": "n_vc",
    "type": "cell_type",
}


@dataclass(frozen=True)
class CellFilter:
    """Filters of ``/api/cells``; ``None`` leaves a filter off.

    ``id_prefix`` matches cells whose decimal id starts with it (digits only, checked by the
    route); ``min_synapses`` counts inputs plus outputs; ``cell_type`` is matched exactly.
    """

    id_prefix: str | None = None
    min_size_um3: float | None = None
    min_synapses: int | None = None
    min_synapses_in: int | None = None
    min_synapses_out: int | None = None
    min_cable_um: float | None = None
    cell_type: str | None = None


def _where(f: CellFilter) -> tuple[str, dict[str, Any]]:
    """The WHERE clause of a cell filter and its parameters."""
    conds, params = [NEURON], {}
    if f.id_prefix:
        conds.append("CAST(id AS TEXT) LIKE :id_pattern")
        params["id_pattern"] = f.id_prefix + "%"
    checks = (("size_um3 >= :min_size_um3", "min_size_um3", f.min_size_um3),
              ("(n_synapses_in + n_synapses_out) >= :min_synapses", "min_synapses",
               f.min_synapses),
              ("n_synapses_in >= :min_synapses_in", "min_synapses_in", f.min_synapses_in),
              ("n_synapses_out >= :min_synapses_out", "min_synapses_out", f.min_synapses_out),
              ("cable_length_um >= :min_cable_um", "min_cable_um", f.min_cable_um),
              ("cell_type = :cell_type", "cell_type", f.cell_type))
    for cond, name, value in checks:
        if value is not None:
            conds.append(cond)
            params[name] = value
    return " WHERE " + " AND ".join(conds), params


def cells_query(f: CellFilter, *, sort: str = "size", descending: bool = True,
                limit: int = 200, offset: int = 0) -> tuple[str, dict[str, Any]]:
    """SQL and parameters for one page of ``/api/cells``.

    Missing values (a cell without cable length or type) sort last in either direction, the
    same on SQLite and PostgreSQL; ties are broken by id.  Every row also carries
    ``n_matching``, the number of cells the filter matches (a window count, so that the view
    is evaluated once per page; a page past the end has no rows, see
    :func:`cells_count_query`).

    >>> sql, params = cells_query(CellFilter(id_prefix="12"), sort="cable", limit=5)
    >>> params
    {'id_pattern': '12%', 'limit': 5, 'offset': 0}
    >>> "ORDER BY CASE WHEN cable_length_um IS NULL THEN 1 ELSE 0 END, cable_length_um DESC" in sql
    True
    """
    if sort not in CELL_SORTS:
        raise ValueError(f"sort {sort!r}: expected one of {', '.join(CELL_SORTS)}")
    where, params = _where(f)
    expr = CELL_SORTS[sort]
    order = (f" ORDER BY CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END, {expr} "
             f"{'DESC' if descending else 'ASC'}, id")
    params.update(limit=int(limit), offset=int(offset))
    sql = ("SELECT " + ", ".join(CELL_LIST_COLUMNS) + ", COUNT(*) OVER () AS n_matching"
           " FROM cells_full" + where + order + " LIMIT :limit OFFSET :offset")
    return sql, params


def cells_count_query(f: CellFilter) -> tuple[str, dict[str, Any]]:
    """SQL and parameters counting the cells ``f`` matches (for paging)."""
    where, params = _where(f)
    return "SELECT COUNT(*) FROM cells_full" + where, params


CELL = "SELECT * FROM cells_full WHERE id = :id"

CELL_EXISTS = "SELECT id FROM cells WHERE id = :id"

#: partners the cell synapses onto (thresholded ``connections``), strongest first
PARTNERS_OUT = """
SELECT c.cell_post AS partner, p.cell_type AS partner_type, c.n_synapses, c.n_symmetric,
       c.sum_area_um2, c.sign, c.mean_syn_prob
FROM connections c LEFT JOIN cells p ON p.id = c.cell_post
WHERE c.cell_pre = :id
ORDER BY c.sum_area_um2 DESC, c.cell_post
"""

#: partners that synapse onto the cell, strongest first
PARTNERS_IN = """
SELECT c.cell_pre AS partner, p.cell_type AS partner_type, c.n_synapses, c.n_symmetric,
       c.sum_area_um2, c.sign, c.mean_syn_prob
FROM connections c LEFT JOIN cells p ON p.id = c.cell_pre
WHERE c.cell_post = :id
ORDER BY c.sum_area_um2 DESC, c.cell_pre
"""

#: every synapse the cell takes part in, whatever its probability or direction
CELL_SYNAPSES = """
SELECT id, cell_pre, cell_post, cell_a, cell_b, sign, comp_pre, comp_post, spiness_post,
       size_vx, area_um2, syn_prob, direction_confidence, rep_x, rep_y, rep_z,
       x_nm, y_nm, z_nm, cell_type_pre, cell_type_post
FROM synapses_full
WHERE cell_a = :id OR cell_b = :id OR cell_pre = :id OR cell_post = :id
ORDER BY syn_prob DESC, id
"""

#: how many neuron cells there are and how many have a cell type
CELL_TYPES = f"""
SELECT cell_type, COUNT(*) AS n_cells FROM cells WHERE {NEURON}
GROUP BY cell_type ORDER BY cell_type
"""

#: thresholded connectivity summed over (presynaptic type, postsynaptic type)
TYPE_MATRIX = f"""
SELECT pre.cell_type AS type_pre, post.cell_type AS type_post,
       SUM(c.n_synapses) AS n_synapses, SUM(c.sum_area_um2) AS sum_area_um2,
       COUNT(*) AS n_connections
FROM connections c
JOIN cells pre ON pre.id = c.cell_pre
JOIN cells post ON post.id = c.cell_post
WHERE pre.{NEURON} AND post.{NEURON}
GROUP BY pre.cell_type, post.cell_type
"""

DATASET = """
SELECT name, voxel_x_nm, voxel_y_nm, voxel_z_nm, shape_x, shape_y, shape_z,
       syn_prob_threshold, syconn_version
FROM dataset WHERE id = 1
"""

DATASET_COUNTS = f"""
SELECT (SELECT COUNT(*) FROM cells WHERE {NEURON}) AS n_cells,
       (SELECT COUNT(*) FROM synapses) AS n_synapses,
       (SELECT COUNT(*) FROM connections) AS n_connections,
       (SELECT COUNT(*) FROM cells WHERE cell_type IS NOT NULL) AS n_typed_cells,
       (SELECT COUNT(*) FROM synapses WHERE comp_pre IS NOT NULL OR comp_post IS NOT NULL)
           AS n_synapses_with_compartment
"""
