"""The spine model: per surface voxel of a postsynaptic cell around a synapse, P(neck, head,
shaft, other) from the shape features of :mod:`syconn.proc.spines`.

A random forest stored as node arrays with a card (:mod:`syconn.ml.cardfile`, no pickle),
evaluated with numba.  Trained by ``syconn train spines`` (:func:`syconn.train.train_spines`)
on the generator's compartment volume, which labels every voxel neck, head or shaft.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np

from syconn.errors import InputError
from syconn.ml.forest import ForestModel, forest_from_sklearn, read_forest_file
from syconn.proc.spines import FEATURE_NAMES, SPINE_CLASSES

__all__ = ["FORMAT", "FORMAT_VERSION", "SpineModel", "fit_spine_forest", "load_spine_model",
           "default_spine_model_path"]

FORMAT = "syconn-spine-model"
FORMAT_VERSION = 1


class SpineModel(ForestModel):
    """A trained spine forest and its card (features, classes, figures); :meth:`proba` gives
    P(neck, head, shaft, other) per voxel, ``(n, 4)``."""

    FORMAT = FORMAT
    FORMAT_VERSION = FORMAT_VERSION
    WHAT = "spine"

    def _saved_card(self) -> dict:
        return {"classes": list(SPINE_CLASSES)}


def fit_spine_forest(X: np.ndarray, y: np.ndarray, *, seed: int = 0, n_trees: int = 60,
                     min_samples_leaf: int = 20, max_samples: int | None = 20000,
                     card: Mapping | None = None) -> SpineModel:
    """Fit the forest on voxel features ``X`` and classes ``y`` (0-3; -1 rows left out),
    balanced class weights; each tree sees at most ``max_samples`` voxels (neighbouring surface
    voxels are near copies of each other, so more buys little and costs size)."""
    from sklearn.ensemble import RandomForestClassifier

    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.int64)
    ok = y >= 0
    present = set(np.unique(y[ok]).tolist())
    missing = [SPINE_CLASSES[k] for k in range(len(SPINE_CLASSES)) if k not in present]
    if missing:
        raise InputError(f"training voxels: no voxel of class(es) {missing}")
    ms = None if max_samples is None or max_samples >= ok.sum() else int(max_samples)
    rf = RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=min_samples_leaf,
                                max_features="sqrt", class_weight="balanced", n_jobs=1,
                                max_samples=ms, random_state=seed).fit(X[ok], y[ok])
    out = dict(card or {})
    out.update(features=list(FEATURE_NAMES), seed=int(seed), n_train_voxels=int(ok.sum()),
               train_class_voxels=[int(np.sum(y[ok] == k)) for k in range(len(SPINE_CLASSES))],
               min_samples_leaf=int(min_samples_leaf), max_samples=ms)
    return SpineModel(forest=forest_from_sklearn(rf, multiclass=True), card=out)


def default_spine_model_path() -> Path:
    """The spine model shipped in the package (``syconn/ml/models/spines.npz``)."""
    return Path(str(resources.files("syconn.ml") / "models" / "spines.npz"))


def _n_classes(card, fail) -> int:
    if card.get("classes") != list(SPINE_CLASSES):
        raise fail(f"corrupt model (classes {card.get('classes')!r}, expected "
                   f"{list(SPINE_CLASSES)})")
    return len(SPINE_CLASSES)


def load_spine_model(path=None) -> SpineModel:
    """Read a spine model file (default: the shipped one), checking its card first."""
    card, forest = read_forest_file(path or default_spine_model_path(), FORMAT, FORMAT_VERSION,
                                    "spine model", FEATURE_NAMES, _n_classes)
    return SpineModel(forest=forest, card=card)
