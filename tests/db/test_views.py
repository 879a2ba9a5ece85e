"""Migration 0007: ``cells_full`` counts the synapses ``connections`` counts (one definition)."""

import pyarrow as pa
import pytest
from sqlalchemy import text

from syconn.db import bulk_load, make_engine, run_query, upgrade

SCHEMA = "test_views"


@pytest.fixture
def engine(backend):
    _, url = backend
    schema = SCHEMA if url.startswith("postgresql") else None
    eng = make_engine(url, schema=schema)
    upgrade(eng, schema=schema)
    return eng


def _load(engine, threshold):
    cells = {"id": [1, 2, 3], "size_vx": [10, 10, 10], "n_supervoxels": [1, 1, 1],
             **{f"bb_{m}_{a}": [0, 0, 0] for m in ("min", "max") for a in "xyz"},
             **{f"rep_{a}": [0, 0, 0] for a in "xyz"}}
    bulk_load(engine, "cells", pa.table(cells))
    # 1 -> 2 with syn_prob 0.3, 0.6, 0.9; 3 -> 2 with 0.5 (not above 0.5); one of unknown
    # direction between 1 and 3
    probs = [0.3, 0.6, 0.9, 0.5, 0.95]
    syn = {"id": [1, 2, 3, 4, 5], "cell_pre": [1, 1, 1, 3, None],
           "cell_post": [2, 2, 2, 2, None], "size_vx": [10] * 5,
           "area_um2": [0.1, 0.2, 0.4, 0.8, 1.6],
           **{f"bb_{m}_{a}": [0] * 5 for m in ("min", "max") for a in "xyz"},
           **{f"rep_{a}": [0] * 5 for a in "xyz"}, "sign": pa.array([1] * 5, pa.int16()),
           "syn_prob": probs, "cell_a": [1, 1, 1, 2, 1], "cell_b": [2, 2, 2, 3, 3]}
    bulk_load(engine, "synapses", pa.table(syn))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO dataset (id, name, voxel_x_nm, voxel_y_nm, voxel_z_nm, "
                          "shape_x, shape_y, shape_z, block_x, block_y, block_z, "
                          "syconn_version, syn_prob_threshold, created_at) VALUES (1, 'd', 10, "
                          "10, 20, 8, 8, 8, 8, 8, 8, 'x', :t, CURRENT_TIMESTAMP)"), {"t": threshold})


def _counts(engine):
    return run_query(engine, "SELECT id, n_synapses_in, n_synapses_out, sum_area_in_um2, "
                             "sum_area_out_um2 FROM cells_full ORDER BY id")[1]


def _from_connections(engine):
    _, out = run_query(engine, "SELECT cell_pre, SUM(n_synapses) FROM connections "
                               "GROUP BY cell_pre ORDER BY cell_pre")
    _, inc = run_query(engine, "SELECT cell_post, SUM(n_synapses) FROM connections "
                               "GROUP BY cell_post ORDER BY cell_post")
    return dict(out), dict(inc)


def test_cells_full_counts_what_connections_counts(engine):
    _load(engine, 0.5)
    got = [(i, n_in, n_out, round(a_in, 6), round(a_out, 6))
           for i, n_in, n_out, a_in, a_out in _counts(engine)]
    assert got == [(1, 0, 2, 0.0, 0.6), (2, 2, 0, 0.6, 0.0), (3, 0, 0, 0.0, 0.0)]
    out, inc = _from_connections(engine)
    for i, n_in, n_out, *_ in got:
        assert n_out == out.get(i, 0) and n_in == inc.get(i, 0)
    # the dataset's threshold is the one both apply
    with engine.begin() as conn:
        conn.execute(text("UPDATE dataset SET syn_prob_threshold = 0.8"))
    assert [r[:3] for r in _counts(engine)] == [(1, 0, 1), (2, 1, 0), (3, 0, 0)]


def test_column_comments_state_the_definition(pg_url):
    """PostgreSQL only: SQLite has no column comments (the README and migration 0007 say it)."""
    engine = make_engine(pg_url, schema=SCHEMA)
    upgrade(engine, schema=SCHEMA)
    _, rows = run_query(engine, "SELECT col_description('cells_full'::regclass, a.attnum) "
                                "FROM pg_attribute a WHERE a.attrelid = 'cells_full'::regclass "
                                "AND a.attname = 'n_synapses_in'")
    assert "syn_prob > dataset.syn_prob_threshold" in rows[0][0]


def test_glia_partners_count_nowhere_in_the_connectome(engine):
    """Migration 0015: a synapse onto a glia cell stays in synapses, but connections,
    all_connections, type_connections and cells_full leave it out; is_glia NULL is neuron."""
    _load(engine, 0.5)
    with engine.begin() as conn:
        conn.execute(text("UPDATE cells SET cell_type = 'spiny'"))
    before = _from_connections(engine)
    assert before == ({1: 2}, {2: 2})
    with engine.begin() as conn:
        conn.execute(text("UPDATE cells SET is_glia = (id = 2)"))
    assert _from_connections(engine) == ({}, {})
    assert run_query(engine, "SELECT COUNT(*) FROM all_connections")[1] == [(0,)]
    assert run_query(engine, "SELECT COUNT(*) FROM type_connections")[1] == [(0,)]
    assert [r[:3] for r in _counts(engine)] == [(1, 0, 0), (2, 0, 0), (3, 0, 0)]
    assert run_query(engine, "SELECT COUNT(*) FROM synapses")[1] == [(5,)]
    with engine.begin() as conn:                      # glia is 3: 1 -> 2 counts again
        conn.execute(text("UPDATE cells SET is_glia = CASE WHEN id = 3 THEN TRUE END"))
    assert _from_connections(engine) == before
    assert [r[:3] for r in _counts(engine)] == [(1, 0, 2), (2, 2, 0), (3, 0, 0)]
