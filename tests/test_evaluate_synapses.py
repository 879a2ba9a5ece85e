"""syconn.evaluate.score_synapses on a hand-worked case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from syconn.evaluate import score_synapses

VS = (10.0, 10.0, 20.0)


def test_score_by_hand():
    # truth: three synapses; t0 and t1 between cells 1-2, t2 between 3-4
    true = pd.DataFrame({"cell_a": [1, 1, 3], "cell_b": [2, 2, 4], "x": [0, 100, 0],
                         "y": [0, 0, 50], "z": [0, 0, 0], "pre_cell_id": [1, 2, 3],
                         "sign": [1, -1, 1]})
    # candidates, by syn_prob: c0 (0.9) on t0, direction right; c1 (0.8) decoy of pair 5-6;
    # c2 (0.6) on t1, direction wrong, sign right; c3 (0.3) 40 voxels = 400 nm from t2 (found
    # below the threshold); c4 (0.2) 60 voxels = 600 nm from t0: too far to match anything
    pred = pd.DataFrame({"cell_a": [1, 5, 1, 3, 1], "cell_b": [2, 6, 2, 4, 2],
                         "x": [2, 0, 100, 40, 60], "y": [0, 0, 1, 50, 0], "z": [0] * 5,
                         "syn_prob": [0.9, 0.8, 0.6, 0.3, 0.2], "cell_pre": [1, 5, 1, 3, 1],
                         "sign": [1, 1, -1, 1, 1]})
    s, prec, rec = score_synapses(pred, true, VS, threshold=0.5)
    assert (s.n_true, s.n_candidates, s.n_predicted, s.n_matched) == (3, 5, 3, 2)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(2 / 3)
    assert s.direction_accuracy == 0.5 and s.sign_accuracy == 1.0
    assert s.candidate_recall == 1.0  # c3 finds t2, whatever its syn_prob
    # ranked hits: 1, 0, 1, 1, 0 -> precision at the hits 1, 2/3, 3/4; AP = (1 + 2/3 + 3/4) / 3
    assert s.average_precision == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    np.testing.assert_allclose(rec, [1 / 3, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(prec, [1, 1 / 2, 2 / 3, 3 / 4, 3 / 5])
    # no candidate above the threshold: precision and recall 0, AP unchanged
    s0, _, _ = score_synapses(pred, true, VS, threshold=0.95)
    assert (s0.precision, s0.recall, s0.n_predicted) == (0.0, 0.0, 0)
    assert s0.average_precision == s.average_precision
