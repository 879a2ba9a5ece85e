"""glia out of the connectome: connections, all_connections and cells_full's synapse counts
leave out synapses with a glia partner

Once the glia step has run, ``cells.is_glia`` is true for the astrocytes it split off; a
synapse onto or from one (a false one: glia make none) is kept in ``synapses`` but no longer
counts in ``connections``, ``all_connections``, ``type_connections`` or the synapse counts of
``cells_full`` (which count what ``connections`` counts, revision 0007).  ``is_glia`` NULL
(the step not run) counts as neuron.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""
import importlib.util
from pathlib import Path

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

#: neither partner of the synapse is glia (on ``synapses`` unaliased, as cells_full reads it)
NOT_GLIA = ("cell_pre NOT IN (SELECT g.id FROM cells g WHERE g.is_glia) "
            "AND cell_post NOT IN (SELECT g.id FROM cells g WHERE g.is_glia)")
_NOT_GLIA_S = NOT_GLIA.replace("cell_pre NOT", "s.cell_pre NOT").replace("cell_post NOT",
                                                                         "s.cell_post NOT")


def _load(name: str):
    """A frozen earlier revision (module names cannot start with a digit)."""
    spec = importlib.util.spec_from_file_location(f"_syconn_mig_{name[:4]}",
                                                  Path(__file__).with_name(name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _recreate(glia_out: bool) -> None:
    v2, v4, v7, v14 = (_load(n) for n in ("0002_views.py", "0004_thresholded_connections.py",
                                          "0007_thresholded_cell_counts.py", "0014_cell_types.py"))
    extra = f"AND {_NOT_GLIA_S}" if glia_out else ""
    for name in ("type_connections", "connections", "all_connections", "cells_full"):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.execute("CREATE VIEW connections AS " + v4._BODY.format(extra=v4._THRESHOLD + " " + extra))
    op.execute("CREATE VIEW all_connections AS " + v4._BODY.format(extra=extra))
    op.execute(v14.TYPE_CONNECTIONS_SQL)
    op.execute(v2.cells_full_sql(v7._columns(), synapse_filter=v7.THRESHOLD + (
        f" AND {NOT_GLIA}" if glia_out else "")))
    if op.get_bind().dialect.name == "postgresql":
        for col, text in v7.COMMENTS.items():
            if glia_out and col.startswith("n_synapses"):
                text = text.replace("(as in connections)", "and no glia partner (as in "
                                                           "connections)")
            op.execute(f"COMMENT ON COLUMN cells_full.{col} IS '{text}'")


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
