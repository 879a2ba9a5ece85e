"""The glia model: per-supervoxel shape and organelle features in, P(glia) out.

A random forest over :data:`syconn.proc.glia.FEATURE_NAMES` (physical units, so one model
serves every voxel size), stored as node arrays with a card (:mod:`syconn.ml.cardfile`, no
pickle) and evaluated with numba.  A supervoxel is glia where P(glia) reaches the card's
``threshold`` (chosen on validation volumes).  Trained by ``syconn train glia``
(:func:`syconn.glia.train_glia`) on ``syconn synth`` volumes, whose cells say which
supervoxels are glia.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np

from syconn.errors import InputError
from syconn.ml.forest import ForestModel, forest_from_sklearn, read_forest_file
from syconn.proc.glia import FEATURE_NAMES

__all__ = ["FORMAT", "FORMAT_VERSION", "GLIA_CLASSES", "GliaModel", "fit_glia_forest",
           "load_glia_model", "default_glia_model_path"]

FORMAT = "syconn-glia-model"
FORMAT_VERSION = 1
GLIA_CLASSES = ("neuron", "glia")


class GliaModel(ForestModel):
    """A trained glia forest and its card (features, threshold, figures)."""

    FORMAT = FORMAT
    FORMAT_VERSION = FORMAT_VERSION
    WHAT = "glia"

    @property
    def threshold(self) -> float:
        return float(self.card.get("threshold", 0.5))

    def _digest_payload(self):
        return [list(self.card["features"]), self.threshold]

    def _saved_card(self) -> dict:
        return {"classes": list(GLIA_CLASSES)}

    def glia_proba(self, features: np.ndarray) -> np.ndarray:
        """P(glia) per supervoxel."""
        return self.proba(features)[:, 1]


def fit_glia_forest(X: np.ndarray, y: np.ndarray, *, seed: int = 0, n_trees: int = 200,
                    min_samples_leaf: int = 2, threshold: float = 0.5,
                    card: Mapping | None = None) -> GliaModel:
    """Fit the forest on supervoxel features ``X`` and labels ``y`` (0 neuron, 1 glia; -1
    rows left out), balanced class weights."""
    from sklearn.ensemble import RandomForestClassifier

    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.int64)
    ok = y >= 0
    present = set(np.unique(y[ok]).tolist())
    if present != {0, 1}:
        raise InputError(f"training supervoxels: {int(np.sum(y[ok] == 1))} glia and "
                         f"{int(np.sum(y[ok] == 0))} neuron; both are needed")
    rf = RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=min_samples_leaf,
                                max_features="sqrt", class_weight="balanced", n_jobs=1,
                                random_state=seed).fit(X[ok], y[ok])
    out = dict(card or {})
    out.update(features=list(FEATURE_NAMES), seed=int(seed), threshold=float(threshold),
               n_train_supervoxels=int(ok.sum()), n_train_glia=int(np.sum(y[ok] == 1)),
               min_samples_leaf=int(min_samples_leaf))
    return GliaModel(forest=forest_from_sklearn(rf, multiclass=True), card=out)


def default_glia_model_path() -> Path:
    """The glia model shipped in the package (``syconn/ml/models/glia.npz``)."""
    return Path(str(resources.files("syconn.ml") / "models" / "glia.npz"))


def _n_classes(card, fail) -> int:
    if card.get("classes") != list(GLIA_CLASSES):
        raise fail(f"corrupt model (classes {card.get('classes')!r}, expected "
                   f"{list(GLIA_CLASSES)})")
    t = card.get("threshold")
    if not isinstance(t, (int, float)) or not 0 <= t <= 1:
        raise fail(f"corrupt model (threshold {t!r}, expected a number in [0, 1])")
    return len(GLIA_CLASSES)


def load_glia_model(path=None) -> GliaModel:
    """Read a glia model file (default: the shipped one), checking its card first."""
    card, forest = read_forest_file(path or default_glia_model_path(), FORMAT, FORMAT_VERSION,
                                    "glia model", FEATURE_NAMES, _n_classes)
    return GliaModel(forest=forest, card=card)
