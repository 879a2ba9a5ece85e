"""``syconn train synapses``: labels from synthetic ground truth and from a user's annotation
CSV, the model a working directory names, and the one-line errors of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from syconn.ml.synapses import load_model
from syconn.tasks.synapses import candidates_path


@pytest.fixture(scope="module")
def wd(pipeline_wd, tmp_path_factory):
    """A copy of the session's processed working directory (these tests change its config)."""
    import shutil

    dst = tmp_path_factory.mktemp("train") / "wd"
    shutil.copytree(pipeline_wd, dst)
    return dst


@pytest.fixture(scope="module")
def candidates(wd):
    return pd.read_parquet(candidates_path(wd))


def _annotations(candidates, path, n_pos=5, n_neg=5, offset=(0, 0, 0)):
    """Rows at candidates' representative voxels: the first ``n_pos`` synaptic, the next
    ``n_neg`` non-synaptic."""
    c = candidates.sort_values("id").head(n_pos + n_neg)
    df = pd.DataFrame({"x": c["rep_x"] + offset[0], "y": c["rep_y"] + offset[1],
                       "z": c["rep_z"] + offset[2],
                       "label": ["synaptic"] * n_pos + ["non-synaptic"] * n_neg})
    df.to_csv(path, index=False)
    return path


def test_enough_candidates_for_the_tests(candidates):
    assert len(candidates) >= 10  # the small test volume has 10


def test_train_from_annotations_and_name_the_model_in_config(wd, candidates, cli, tmp_path):
    # at the representative voxels (an offset can bring one nearer to a neighbouring fragment)
    csv = _annotations(candidates, tmp_path / "ann.csv")
    out = tmp_path / "mine.npz"
    r = cli("train", "synapses", out, wd, "--annotations", csv, "--trees", "15")
    assert r.returncode == 0, r.stderr
    assert "10 labelled candidates, 5 synaptic" in r.stdout
    assert "precision" in r.stdout and "average precision" in r.stdout
    model = load_model(out)
    assert model.card["training"]["n_candidates"] == 10 and model.forest.n_trees == 15
    assert model.card["command"].startswith("syconn train synapses mine.npz")
    # the working directory names its own model: the Synapses step reruns with it
    from syconn.config import load_config, save_config
    from syconn.db import run_query
    from syconn.runner import run_pipeline
    from syconn.workdir import open_engine

    cfg = load_config(wd)
    before = run_query(open_engine(wd, read_only=True),
                       "SELECT id, syn_prob FROM synapses ORDER BY id")[1]
    cfg.cell_objects.synapse_model = str(out)
    save_config(cfg, wd)
    try:
        summary = run_pipeline(wd, log=lambda m: None)
        assert "Synapses" in {f for f, *_ in summary["per_task"]}
        after = run_query(open_engine(wd, read_only=True),
                          "SELECT id, syn_prob FROM synapses ORDER BY id")[1]
        assert [a for a, _ in after] == [b for b, _ in before]
        probs = np.array([p for _, p in after])
        np.testing.assert_allclose(probs, model.predict_proba(
            candidates.sort_values("id"), cfg.dataset.voxel_size_nm))
    finally:
        cfg.cell_objects.synapse_model = ""
        save_config(cfg, wd)
        run_pipeline(wd, log=lambda m: None)


def test_train_from_synthetic_ground_truth(wd, cli, tmp_path):
    r = cli("train", "synapses", tmp_path / "gt.npz", wd, "--trees", "10")
    # the test volume has few synapses; either it trains or says there are too few labels
    if r.returncode == 0:
        assert load_model(tmp_path / "gt.npz").card["training"]["sources"] == ["wd"]
    else:
        assert r.returncode == 2 and "expected at least 5 of each" in r.stderr
        assert not (tmp_path / "gt.npz").exists()


@pytest.mark.parametrize("content, needle", [
    ("x,y,z\n1,2,3\n", "missing ['label']"),
    ("x,y,z,label\n", "no annotations"),
    ("x,y,z,label\n1,2,3,maybe\n", "line 2: label 'maybe'"),
    ("x,y,z,label\n1,two,3,synaptic\n", "line 2: y = 'two'"),
    (None, "no such annotation file"),
])
def test_bad_annotation_files(wd, cli, one_line_error, tmp_path, content, needle):
    csv = tmp_path / "ann.csv"
    if content is not None:
        csv.write_text(content)
    out = tmp_path / "m.npz"
    r = cli("train", "synapses", out, wd, "--annotations", csv)
    one_line_error(r, needle)
    assert not out.exists()


def test_annotation_problems(wd, candidates, cli, one_line_error, tmp_path):
    # far from every candidate
    far = tmp_path / "far.csv"
    pd.DataFrame({"x": [10**6], "y": [0], "z": [0], "label": ["synaptic"]}).to_csv(far)
    one_line_error(cli("train", "synapses", tmp_path / "m.npz", wd,
                       "--annotations", far), "none of 1 annotations lies within 20 voxels")
    # one candidate labelled both ways
    c = candidates.iloc[0]
    both = tmp_path / "both.csv"
    pd.DataFrame({"x": [c.rep_x, c.rep_x], "y": [c.rep_y] * 2, "z": [c.rep_z] * 2,
                  "label": ["synaptic", "non-synaptic"]}).to_csv(both, index=False)
    one_line_error(cli("train", "synapses", tmp_path / "m.npz", wd,
                       "--annotations", both), "lines [2, 3] label one candidate")
    # too few of one class
    few = _annotations(candidates, tmp_path / "few.csv", n_pos=2, n_neg=6)
    one_line_error(cli("train", "synapses", tmp_path / "m.npz", wd,
                       "--annotations", few), "2 synaptic and 6 non-synaptic")
    one_line_error(cli("train", "synapses", tmp_path / "m.npz"), "nothing to train on")
    one_line_error(cli("train", "synapses", tmp_path / "m.pkl", wd), "ends in .npz")
    one_line_error(cli("train", "synapses", tmp_path / "m.npz", "--synthetic", "9-3"),
                   "--synthetic: '9-3'")
    assert not (tmp_path / "m.npz").exists()


def test_a_bad_model_in_config_stops_the_run_before_anything(wd, cli, one_line_error,
                                                             tmp_path):
    from syconn.config import load_config, save_config

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    cfg = load_config(wd)
    cfg.cell_objects.synapse_model = str(bad)
    save_config(cfg, wd)
    try:
        one_line_error(cli("run", wd), str(bad), "not a readable model file")
    finally:
        cfg.cell_objects.synapse_model = ""
        save_config(cfg, wd)


def test_model_command_prints_the_card(cli, one_line_error, tmp_path):
    import json

    r = cli("model")
    assert r.returncode == 0, r.stderr
    card = json.loads(r.stdout)
    assert card["format"] == "syconn-synapse-classifier" and len(card["digest"]) == 12
    assert card["training"]["synthetic_seeds"] and "cross_validation" in card
    (tmp_path / "x.npz").write_bytes(b"junk")
    one_line_error(cli("model", tmp_path / "x.npz"), "not a readable model file")
