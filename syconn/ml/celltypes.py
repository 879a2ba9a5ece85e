"""The cell type model: per-cell features in, class probabilities out.

A random forest over :data:`syconn.proc.celltypes.FEATURE_NAMES` with the class names in its
card (the generator's neuron types by default, or any list from a user's labels); the class is
the most probable, the certainty 1 - entropy / ln(classes) as the original's.  One ``.npz`` with
a card and the forest's node arrays (:mod:`syconn.ml.cardfile`; no pickle).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from syconn.errors import InputError
from syconn.ml.forest import ForestModel, forest_from_sklearn, read_forest_file
from syconn.proc.celltypes import FEATURE_NAMES, type_certainty

__all__ = ["FORMAT", "FORMAT_VERSION", "CellTypeModel", "fit_celltype_forest",
           "load_celltype_model", "default_celltype_model_path"]

FORMAT = "syconn-celltype-model"
FORMAT_VERSION = 1


class CellTypeModel(ForestModel):
    """A trained cell type forest and its card (``classes``, ``features``, figures);
    :meth:`proba` gives P(class) per cell, ``(n, classes)`` in :attr:`classes` order."""

    FORMAT = FORMAT
    FORMAT_VERSION = FORMAT_VERSION
    WHAT = "cell type"

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.card["classes"])

    @property
    def min_cable_um(self) -> float:
        """Cells with less skeleton cable are not typed (chosen on validation volumes)."""
        return float(self.card.get("min_cable_um", 0.0))

    def _digest_payload(self):
        return [list(self.card["features"]), list(self.classes), self.min_cable_um]

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(class index, probabilities, certainty)`` per cell."""
        p = self.proba(features)
        if not len(p):
            return np.zeros(0, np.int64), p, np.zeros(0)
        return p.argmax(1), p, type_certainty(p)


def fit_celltype_forest(X: np.ndarray, y: np.ndarray, classes: Sequence[str], *, seed: int = 0,
                        n_trees: int = 200, min_samples_leaf: int = 2,
                        card: Mapping | None = None) -> CellTypeModel:
    """Fit the forest on cell features ``X`` and class indices ``y`` (into ``classes``; -1
    rows are left out).  Every class needs at least one cell."""
    from sklearn.ensemble import RandomForestClassifier

    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.int64)
    ok = y >= 0
    classes = [str(c) for c in classes]
    if len(classes) < 2:
        raise InputError(f"cell types: {len(classes)} class(es) {classes}, expected at least 2")
    present = set(np.unique(y[ok]).tolist())
    missing = [classes[k] for k in range(len(classes)) if k not in present]
    if missing:
        raise InputError(f"training cells: no cell of class(es) {missing}")
    rf = RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=min_samples_leaf,
                                max_features="sqrt", class_weight="balanced", n_jobs=1,
                                random_state=seed).fit(X[ok], y[ok])
    out = dict(card or {})
    out.update(features=list(FEATURE_NAMES), classes=classes, seed=int(seed),
               n_train_cells=int(ok.sum()),
               train_class_cells=[int(np.sum(y[ok] == k)) for k in range(len(classes))],
               min_samples_leaf=int(min_samples_leaf))
    return CellTypeModel(forest=forest_from_sklearn(rf, multiclass=True), card=out)


def default_celltype_model_path() -> Path:
    """The cell type model shipped in the package (``syconn/ml/models/celltypes.npz``)."""
    return Path(str(resources.files("syconn.ml") / "models" / "celltypes.npz"))


def _n_classes(card, fail) -> int:
    classes = card.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or \
            not all(isinstance(c, str) and c for c in classes):
        raise fail(f"corrupt model (classes {classes!r}, expected at least two names)")
    return len(classes)


def load_celltype_model(path=None) -> CellTypeModel:
    """Read a cell type model file (default: the shipped one), checking its card first."""
    card, forest = read_forest_file(path or default_celltype_model_path(), FORMAT,
                                    FORMAT_VERSION, "cell type model", FEATURE_NAMES,
                                    _n_classes)
    return CellTypeModel(forest=forest, card=card)
