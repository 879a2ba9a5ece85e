"""The glia step on the test volume: every supervoxel has P(glia), cells hold one kind, the
split follows the model, agreement with the generator (a smoke bound), the step left out
without raw EM or when disabled, and a bad model file is one line that writes nothing."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml


def _rows(wd, sql, params=None):
    from syconn.read import Results

    return Results(wd).query(sql, params)[1]


def _glia_table(wd):
    from syconn.tasks.glia import Glia

    return pq.read_table(Glia(working_dir=str(wd)).output().path).to_pandas()


def test_every_supervoxel_has_p_glia_and_every_cell_one_kind(pipeline_wd):
    rows = _rows(pipeline_wd, "SELECT s.id, s.glia_proba, c.is_glia FROM supervoxels s "
                              "JOIN cells c ON c.id = s.cell_id ORDER BY s.id")
    assert rows and all(p is not None and 0.0 <= p <= 1.0 for _, p, _ in rows)
    assert all(g is not None for *_, g in rows)
    t = _glia_table(pipeline_wd).set_index("sv_id")
    for sv, p, cell_glia in rows:
        assert t.loc[sv, "glia_proba"] == p
        assert bool(t.loc[sv, "is_glia"]) == bool(cell_glia)   # the split's call is the cell's
    # no agglomeration edge joins glia and neuron any more
    edges = _rows(pipeline_wd, "SELECT sv_a, sv_b FROM rag_edges WHERE in_agglomeration")
    assert all(t.loc[a, "is_glia"] == t.loc[b, "is_glia"] for a, b in edges)


def test_glia_agree_with_the_generator(pipeline_wd, data):
    """Seed 0 of the default generator trained and chose nothing of the glia model (400-405,
    500).  A smoke bound: the test volume is 1.9 um wide and holds few glia; the accuracy is
    benchmarks/glia_accuracy.py's."""
    gt_sv = pd.read_parquet(data / "gt" / "supervoxels.parquet")
    gt_cells = pd.read_parquet(data / "gt" / "cells.parquet").set_index("cell_id")
    truth = dict(zip(gt_sv.sv_id.astype(np.int64),
                     gt_cells.loc[gt_sv.cell_id.to_numpy(), "is_glia"].to_numpy()))
    t = _glia_table(pipeline_wd)
    got = np.array([bool(truth[int(s)]) == bool(g) for s, g in zip(t.sv_id, t.is_glia)])
    assert len(got) > 20 and got.mean() >= 0.9, got.mean()


def test_connections_and_the_matrix_leave_glia_out(pipeline_wd):
    glia = {c for (c,) in _rows(pipeline_wd, "SELECT id FROM cells WHERE is_glia")}
    pairs = _rows(pipeline_wd, "SELECT cell_pre, cell_post FROM all_connections")
    assert not any(a in glia or b in glia for a, b in pairs)
    t = pq.read_table(pipeline_wd / "connectivity_matrix" / "conn_mat.parquet").to_pandas()
    assert not (t.ssv1.isin(glia) | t.ssv2.isin(glia)).any()


def _cells_only(tmp_path, data, wd_tools, **glia_or_inputs):
    from syconn.config import load_config, save_config
    from syconn.runner import run_pipeline
    from syconn.tasks import Cells

    wd = wd_tools.make_wd(tmp_path / "wd", data)
    cfg = load_config(wd)
    for k, v in glia_or_inputs.items():
        section, key = k.split("__")
        setattr(getattr(cfg, section), key, v)
    save_config(cfg, wd)
    run_pipeline(wd, workers=1, log=lambda m: None, task=Cells(working_dir=str(wd)))
    return wd


def test_without_raw_or_disabled_the_step_is_left_out(tmp_path, data, wd_tools):
    for i, kw in enumerate(({"inputs__raw": None}, {"glia__enabled": False})):
        wd = _cells_only(tmp_path / str(i), data, wd_tools, **kw)
        assert _rows(wd, "SELECT COUNT(*) FROM cells WHERE is_glia IS NOT NULL") == [(0,)]
        assert _rows(wd, "SELECT COUNT(*) FROM supervoxels WHERE glia_proba IS NOT NULL") == \
            [(0,)]
        assert not list((wd / "steps").glob("glia-*"))


def test_a_broken_model_file_is_one_line_and_nothing_is_written(pipeline_wd, tmp_path, cli,
                                                                one_line_error):
    wd = tmp_path / "wd"
    shutil.copytree(pipeline_wd, wd)
    (wd / "bad.npz").write_bytes(b"not a model")
    cfg = yaml.safe_load((wd / "config.yml").read_text())
    cfg["glia"] = {"model": "bad.npz"}
    (wd / "config.yml").write_text(yaml.safe_dump(cfg))
    sql = "SELECT id, cell_id, glia_proba FROM supervoxels ORDER BY id"
    before = _rows(wd, sql)
    steps = sorted(p.name for p in (wd / "steps").iterdir())
    r = cli("run", str(wd))
    one_line_error(r, "bad.npz", "not a readable model file")
    assert _rows(wd, sql) == before
    assert sorted(p.name for p in (wd / "steps").iterdir()) == steps


def test_training_seeds_are_checked(cli, one_line_error):
    r = cli("train", "glia", "x.npz", "--synthetic", "400-405", "--validation", "405")
    one_line_error(r, "--validation", "also training seeds")
