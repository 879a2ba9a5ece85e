"""Training the synapse classifier: a random forest, cross-validated, isotonic-calibrated.

Pure: a feature matrix, labels and group ids (the volume each candidate comes from) in, a
:class:`~syconn.ml.synapses.SynapseModel` and a report out.  Cross-validation folds hold out
whole volumes when there are at least three (candidates of one volume are not independent), else
stratified folds of candidates.  The calibration map is isotonic regression of the labels on the
out-of-fold forest probabilities; the reported calibrated figures are cross-fitted (each fold
calibrated by a map fitted on the other folds), so they are not measured on what they were fitted
to.  The original trains a 2000-tree forest (``max_features='sqrt'``, ``random_state=0``) and
reports 10-fold CV; the defaults here are smaller (the model ships in the package) and measured
against it in ``benchmarks/synapse_classifier.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from syconn.errors import InputError
from syconn.ml.forest import forest_from_sklearn, forest_proba
from syconn.ml.synapses import FEATURES, SynapseModel

__all__ = ["TrainReport", "train_synapse_model", "fit_forest", "pr_figures", "DEFAULT_TREES",
           "DEFAULT_MIN_LEAF"]

DEFAULT_TREES = 300
DEFAULT_MIN_LEAF = 2
MIN_PER_CLASS = 5
CALIB_EPS = 0.001


@dataclass
class TrainReport:
    """Cross-validated figures of a training run (out-of-fold, threshold 0.5)."""

    n_candidates: int
    n_synaptic: int
    n_groups: int
    folds: str
    precision: float
    recall: float
    average_precision: float
    precision_raw: float
    recall_raw: float

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)

    def lines(self) -> list[str]:
        return [f"{self.n_candidates} candidates ({self.n_synaptic} synaptic) from "
                f"{self.n_groups} source(s); cross-validation: {self.folds}",
                f"out-of-fold at syn_prob >= 0.5: precision {self.precision:.3f}, recall "
                f"{self.recall:.3f}; average precision {self.average_precision:.3f} "
                f"(uncalibrated forest: precision {self.precision_raw:.3f}, recall "
                f"{self.recall_raw:.3f})"]


def fit_forest(X, y, *, seed: int, n_trees: int = DEFAULT_TREES,
               min_samples_leaf: int = DEFAULT_MIN_LEAF, max_features="sqrt", n_jobs: int = 1):
    """A fitted scikit-learn ``RandomForestClassifier`` (deterministic for a seed)."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=min_samples_leaf,
                                  max_features=max_features, random_state=seed,
                                  n_jobs=n_jobs).fit(X, y)


def _isotonic(p, y):
    from sklearn.isotonic import IsotonicRegression

    # a finite sample never shows a probability of exactly 0 or 1: the map stays inside
    # [0.001, 0.999] (and matrix exports that keep syn_prob > 0 keep every candidate)
    iso = IsotonicRegression(y_min=CALIB_EPS, y_max=1.0 - CALIB_EPS,
                             out_of_bounds="clip").fit(p, y)
    x, v = np.asarray(iso.X_thresholds_, np.float64), np.asarray(iso.y_thresholds_, np.float64)
    if len(x) < 2:  # a constant map: two points so that np.interp works
        x, v = np.array([0.0, 1.0]), np.full(2, float(v[0]) if len(v) else 0.5)
    return x, v


def pr_figures(y, p, threshold: float = 0.5) -> tuple[float, float]:
    """Precision and recall of ``p >= threshold`` against labels ``y`` (0 where undefined)."""
    y = np.asarray(y, bool)
    pos = np.asarray(p) >= threshold
    tp = int((pos & y).sum())
    return (tp / int(pos.sum()) if pos.any() else 0.0, tp / int(y.sum()) if y.any() else 0.0)


def _folds(y, groups, n_folds, seed):
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    ug = np.unique(groups)
    if len(ug) >= 3:
        k = min(n_folds, len(ug))
        return list(GroupKFold(n_splits=k).split(np.zeros(len(y)), y, groups)), \
            f"{k} folds by volume"
    k = int(min(n_folds, np.bincount(y).min()))
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
                .split(np.zeros(len(y)), y)), f"{k} stratified folds of candidates"


def train_synapse_model(X, y, groups=None, *, feature_names=FEATURES, seed: int = 0,
                        n_trees: int = DEFAULT_TREES, min_samples_leaf: int = DEFAULT_MIN_LEAF,
                        n_folds: int = 5, card: dict | None = None,
                        progress=None) -> tuple[SynapseModel, TrainReport]:
    """Train, cross-validate and calibrate a synapse classifier.

    Parameters
    ----------
    X : (n, len(feature_names)) array
        :func:`~syconn.ml.synapses.feature_matrix` of the candidates.
    y : (n,) array of 0/1
        1 = synaptic.
    groups : (n,) array, optional
        Source (volume) of each candidate; folds keep a source together.
    seed : int
        Seeds the forests and the folds: the same input gives the same model, bit for bit.
    card : dict, optional
        Extra entries for the model card (training data, command).
    progress : callable, optional
        Called with a line per fold.

    Returns
    -------
    SynapseModel, TrainReport
    """
    from sklearn.metrics import average_precision_score

    X = np.asarray(X, np.float32)
    y = np.asarray(y).astype(np.int64)
    if X.ndim != 2 or X.shape[1] != len(feature_names) or len(y) != len(X):
        raise InputError(f"training data: features {X.shape}, labels {y.shape}, expected "
                         f"(n, {len(feature_names)}) and (n,)")
    if not set(np.unique(y)) <= {0, 1}:
        raise InputError("training labels: expected 0 (non-synaptic) and 1 (synaptic)")
    counts = np.bincount(y, minlength=2)
    if counts.min() < MIN_PER_CLASS:
        raise InputError(f"training data: {counts[1]} synaptic and {counts[0]} non-synaptic "
                         f"candidates, expected at least {MIN_PER_CLASS} of each")
    groups = np.zeros(len(y), np.int64) if groups is None else np.asarray(groups)
    folds, how = _folds(y, groups, n_folds, seed)
    oof = np.zeros(len(y))
    for k, (tr, te) in enumerate(folds):
        rf = fit_forest(X[tr], y[tr], seed=seed + k, n_trees=n_trees,
                        min_samples_leaf=min_samples_leaf)
        oof[te] = forest_proba(forest_from_sklearn(rf), X[te])
        if progress:
            progress(f"fold {k + 1}/{len(folds)}: {len(te)} candidates held out")
    # cross-fitted calibration for the report: fold k mapped by a map of the other folds
    cal = np.zeros(len(y))
    for tr, te in folds:
        cx, cy = _isotonic(oof[tr], y[tr])
        cal[te] = np.interp(oof[te], cx, cy)
    p, r = pr_figures(y, cal)
    p_raw, r_raw = pr_figures(y, oof)
    report = TrainReport(n_candidates=len(y), n_synaptic=int(counts[1]),
                         n_groups=len(np.unique(groups)), folds=how, precision=p, recall=r,
                         average_precision=float(average_precision_score(y, oof)),
                         precision_raw=p_raw, recall_raw=r_raw)
    rf = fit_forest(X, y, seed=seed, n_trees=n_trees, min_samples_leaf=min_samples_leaf)
    cx, cy = _isotonic(oof, y)
    import sklearn

    from syconn import __version__

    meta = {"features": list(feature_names), "classes": ["non-synaptic", "synaptic"],
            "kind": "RandomForestClassifier", "n_estimators": n_trees,
            "min_samples_leaf": min_samples_leaf, "max_features": "sqrt", "seed": seed,
            "calibration": "isotonic regression on out-of-fold forest probabilities",
            "cross_validation": report.as_dict(),
            "versions": {"syconn": __version__, "scikit-learn": sklearn.__version__,
                         "numpy": np.__version__}}
    meta.update(card or {})
    return SynapseModel(forest=forest_from_sklearn(rf), calib_x=cx, calib_y=cy,
                        card=meta), report
