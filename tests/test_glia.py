"""The glia model's scores and training command: figures on hand-made samples, the seed split,
and a training run on one small volume that repeats byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.errors import InputError
from syconn.glia import cached_samples, score_glia, train_glia
from syconn.ml.glia import GliaModel
from syconn.proc.glia import FEATURE_NAMES


class _Fixed(GliaModel):
    """A model that answers given probabilities (one per row)."""

    def glia_proba(self, features):
        return np.asarray(features)[:, 0]


def test_score_counts_the_split_not_only_the_classifier():
    """Four supervoxels of 3 x 1 x 1 um in a row, the last two truly glia.  Called right, both
    parts are 6.2 um long and split apart.  With supervoxel 1 called glia too, the neuron part
    is supervoxel 0 alone (3.3 um, under the 5 um of min_cc_size_ssv) beside 9.1 um of glia:
    the original makes the whole cell glia, and the score counts what the split stored."""
    lo = np.array([[0, 0, 0], [3000, 0, 0], [6000, 0, 0], [9000, 0, 0]], float)
    s = {"X": np.array([[0.1], [0.2], [0.9], [0.8]]), "y": np.array([0, 0, 1, 1]),
         "n_vx": np.array([100, 100, 100, 300]), "edges": np.array([[0, 1], [1, 2], [2, 3]]),
         "lo": lo, "hi": lo + [3000, 1000, 1000]}
    m = _Fixed(forest=None, card={"threshold": 0.5, "features": ["p"]})
    r = score_glia(m, s)
    assert r["accuracy_classifier"] == 1.0 and r["accuracy"] == 1.0
    assert (r["tp"], r["fp"], r["fn"]) == (2, 0, 0)
    s["X"] = np.array([[0.1], [0.7], [0.9], [0.8]])            # 1 called glia as well
    r = score_glia(m, s)
    assert r["accuracy_classifier"] == 0.75
    # glia part 0.. : supervoxels 1-3 (9.1 um) and the neuron part 0 alone (3.3 um < 5 um):
    # only glia parts are large, so the whole cell is glia
    assert r["accuracy"] == 0.5 and (r["tp"], r["fp"], r["fn"]) == (2, 2, 0)
    assert r["neuron_voxels_to_glia"] == 1.0 and r["glia_voxels_left"] == 0.0


def test_train_needs_a_validation_seed_apart_from_training(tmp_path):
    with pytest.raises(InputError, match="--validation: expected at least one validation seed"):
        train_glia(tmp_path / "m.npz", synthetic=[1], validation=[])
    with pytest.raises(InputError, match=r"seeds \[1\] are also training seeds"):
        train_glia(tmp_path / "m.npz", synthetic=[1], validation=[1])
    assert not (tmp_path / "m.npz").exists()


def test_training_repeats_and_the_features_are_the_pipelines(tmp_path):
    """One 2 um volume to train, another to validate: the same model twice, with a card."""
    kw = dict(synthetic=[3], validation=[4], workdir=tmp_path / "w", size_um=2.0, workers=1,
              log=lambda m: None)
    a = train_glia(tmp_path / "a.npz", **kw)
    b = train_glia(tmp_path / "b.npz", **kw)                    # from the cached samples
    from syconn.ml.glia import load_glia_model

    ma, mb = load_glia_model(a), load_glia_model(b)
    assert ma.digest == mb.digest
    assert ma.card["training_seeds"] == [3] and ma.card["validation_seeds"] == [4]
    assert ma.threshold in (0.3, 0.4, 0.5, 0.6, 0.7)
    z = cached_samples(3, tmp_path / "w" / "glia")        # the cache keeps sums, not features
    assert z["X"].shape == (len(z["y"]), len(FEATURE_NAMES)) and np.isfinite(z["X"]).all()
    assert 0 < z["y"].sum() < len(z["y"])
