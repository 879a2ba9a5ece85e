"""The compartment model: skeleton-node features in, dendrite / axon / soma / bouton out.

A random forest over :data:`syconn.proc.compartments.FEATURE_NAMES` (one model for every voxel
size: the features are in nm and um) gives every node P(dendrite, axon, soma, bouton); the
probabilities are averaged over the nodes within ``smooth_um`` (the card's; chosen on
validation volumes, as the original's 10 um path smoothing), the class is the most probable,
and bouton runs are told apart into en-passant and terminal by the skeleton
(:func:`~syconn.proc.compartments.bouton_kinds`).  The file is one ``.npz`` with a card and the
forest's node arrays (:mod:`syconn.ml.cardfile`; no pickle).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from syconn.errors import InputError
from syconn.ml.forest import ForestModel, forest_from_sklearn, read_forest_file
from syconn.proc.compartments import FEATURE_NAMES, bouton_kinds, smooth_proba

__all__ = ["FORMAT", "FORMAT_VERSION", "MODEL_CLASSES", "CompartmentModel", "fit_forest",
           "load_compartment_model", "default_compartment_model_path", "macro_f1"]

FORMAT = "syconn-compartment-model"
FORMAT_VERSION = 1
MODEL_CLASSES = ("dendrite", "axon", "soma", "bouton")
"""What the forest tells apart; a bouton becomes en-passant (3) or terminal (4) afterwards."""


class CompartmentModel(ForestModel):
    """A trained compartment forest and its card (``features``, ``smooth_um``, figures)."""

    FORMAT = FORMAT
    FORMAT_VERSION = FORMAT_VERSION
    WHAT = "compartment"

    def _digest_payload(self):
        return [list(self.card["features"]), self.smooth_um]

    def _saved_card(self) -> dict:
        return {"classes": list(MODEL_CLASSES)}

    @property
    def smooth_um(self) -> float:
        return float(self.card.get("smooth_um", 0.0))

    def node_proba(self, features: np.ndarray) -> np.ndarray:
        """Unsmoothed P(class) per node, ``(n, 4)`` in :data:`MODEL_CLASSES` order."""
        return self.proba(features)

    def predict(self, vertices_nm: np.ndarray, edges: np.ndarray, features: np.ndarray,
                smooth_um: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, proba)`` of one skeleton's nodes: labels in the five axoness codes
        (0 dendrite, 1 axon, 2 soma, 3 en-passant bouton, 4 terminal bouton), proba the
        smoothed probabilities of dendrite, axon (boutons included) and soma."""
        raw = self.node_proba(features)
        # dendrite / axon / soma are smoothed along the cell (boutons counted as axon); a
        # bouton is local: where the smoothed class is axon, the node's own probabilities tell
        # bouton from the axon between boutons
        grouped = np.stack([raw[:, 0], raw[:, 1] + raw[:, 3], raw[:, 2]], 1) if len(raw) else \
            np.zeros((0, 3))
        p = smooth_proba(vertices_nm, edges, grouped,
                         self.smooth_um if smooth_um is None else smooth_um)
        lab = np.array([0, 1, 2])[p.argmax(axis=1)] if len(p) else np.zeros(0, np.int64)
        lab[(lab == 1) & (raw[:, 3] > raw[:, 1])] = 3
        return bouton_kinds(lab, edges), p


def fit_forest(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, *,
               seed: int = 0, n_trees: int = 100, min_samples_leaf: int = 5,
               card: Mapping | None = None) -> CompartmentModel:
    """Fit the forest on node features ``X`` and model classes ``y`` (0-3; -1 rows are left
    out), sample weights ``weight`` (node cable: the figures are cable-weighted)."""
    from sklearn.ensemble import RandomForestClassifier

    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.int64)
    ok = y >= 0
    present = np.unique(y[ok])
    if len(present) != len(MODEL_CLASSES):
        raise InputError(f"training nodes: classes {[MODEL_CLASSES[c] for c in present]}, "
                         f"expected all of {list(MODEL_CLASSES)}")
    w = None if weight is None else np.asarray(weight, np.float64)[ok]
    rf = RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=min_samples_leaf,
                                max_features="sqrt", class_weight="balanced", n_jobs=1,
                                random_state=seed).fit(X[ok], y[ok], sample_weight=w)
    out = dict(card or {})
    out.update(features=list(FEATURE_NAMES), seed=int(seed), n_train_nodes=int(ok.sum()),
               train_class_cable_um=[round(float(np.sum(w[y[ok] == c])) if w is not None
                                           else float(np.sum(y[ok] == c)), 1)
                                     for c in range(len(MODEL_CLASSES))],
               min_samples_leaf=int(min_samples_leaf))
    return CompartmentModel(forest=forest_from_sklearn(rf, multiclass=True), card=out)


def macro_f1(truth: np.ndarray, pred: np.ndarray, weight: np.ndarray, classes: Sequence[int]
             ) -> tuple[float, dict[int, float]]:
    """Weighted macro-F1 over ``classes`` (rows with truth -1 left out) and the F1 per class.

    >>> macro_f1(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), np.ones(4), [0, 1])[0]
    0.7333333333333334
    """
    t, p = np.asarray(truth), np.asarray(pred)
    w = np.asarray(weight, np.float64)
    ok = t >= 0
    f1 = {}
    for c in classes:
        tp = w[ok & (t == c) & (p == c)].sum()
        fp = w[ok & (t != c) & (p == c)].sum()
        fn = w[ok & (t == c) & (p != c)].sum()
        f1[int(c)] = float(2 * tp / max(2 * tp + fp + fn, 1e-12))
    return float(np.mean(list(f1.values()))), f1


def default_compartment_model_path() -> Path:
    """The compartment model shipped in the package (``syconn/ml/models/compartments.npz``)."""
    return Path(str(resources.files("syconn.ml") / "models" / "compartments.npz"))


def load_compartment_model(path=None) -> CompartmentModel:
    """Read a compartment model file (default: the shipped one), checking its card first."""
    card, forest = read_forest_file(path or default_compartment_model_path(), FORMAT,
                                    FORMAT_VERSION, "compartment model", FEATURE_NAMES,
                                    lambda card, fail: len(MODEL_CLASSES))
    return CompartmentModel(forest=forest, card=card)
