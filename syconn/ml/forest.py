"""Decision forests as plain arrays: exported from scikit-learn, evaluated with numba.

A shipped model must load without unpickling code (a pickle runs whatever it holds, and breaks
when scikit-learn's private classes change between versions).  :class:`Forest` holds the trees of a
fitted ``RandomForestClassifier`` as five node arrays; :func:`forest_proba` walks them and gives
the same probabilities as ``predict_proba`` (features are cast to float32 first, as scikit-learn
does, and compared with the float64 thresholds).

Examples
--------
>>> import numpy as np
>>> from sklearn.ensemble import RandomForestClassifier
>>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
>>> f = forest_from_sklearn(RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y))
>>> forest_proba(f, np.array([[0.2], [2.8]])).tolist()
[0.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from numba import njit

from syconn.errors import InputError

__all__ = ["Forest", "ForestModel", "forest_from_sklearn", "forest_proba", "read_forest_file"]


@dataclass(frozen=True)
class Forest:
    """Binary-classification trees, nodes of all trees concatenated.

    ``left`` / ``right``: child node index (global), -1 at a leaf; ``feature`` / ``threshold``:
    the split ``x[feature] <= threshold`` goes left; ``value``: P(class 1) at a leaf (two
    classes), or ``(n_nodes, n_classes)`` class probabilities (more classes); ``roots``: the
    first node of every tree.
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    n_features: int

    @property
    def n_trees(self) -> int:
        return int(len(self.roots))

    @property
    def n_nodes(self) -> int:
        return int(len(self.left))

    def arrays(self) -> dict[str, np.ndarray]:
        """The node arrays by name (for saving)."""
        return {"left": self.left, "right": self.right, "feature": self.feature,
                "threshold": self.threshold, "value": self.value, "roots": self.roots}

    @classmethod
    def from_arrays(cls, arrays, n_features: int) -> "Forest":
        """Rebuild from :meth:`arrays`; checks that every index stays inside the forest."""
        f = cls(left=np.ascontiguousarray(arrays["left"], np.int32),
                right=np.ascontiguousarray(arrays["right"], np.int32),
                feature=np.ascontiguousarray(arrays["feature"], np.int32),
                threshold=np.ascontiguousarray(arrays["threshold"], np.float64),
                value=np.ascontiguousarray(arrays["value"], np.float64),
                roots=np.ascontiguousarray(arrays["roots"], np.int32), n_features=int(n_features))
        n = f.n_nodes
        if not (len(f.right) == len(f.feature) == len(f.threshold) == len(f.value) == n):
            raise InputError("forest: node arrays of different lengths")
        inner = f.left >= 0
        if (n == 0 or f.n_trees == 0 or np.any(f.roots < 0) or np.any(f.roots >= n)
                or np.any(f.left[inner] <= np.flatnonzero(inner))
                or np.any(f.right[inner] <= np.flatnonzero(inner)) or np.any(f.right[inner] >= n)
                or np.any(f.left[inner] >= n) or np.any(f.right[~inner] >= 0)
                or np.any(f.feature[inner] < 0) or np.any(f.feature[inner] >= f.n_features)):
            raise InputError("forest: node arrays do not form trees over the features")
        return f


def forest_from_sklearn(model, *, multiclass: bool = False) -> Forest:
    """The trees of a fitted scikit-learn ``RandomForestClassifier`` (or ``ExtraTrees``) as a
    :class:`Forest`: two classes (P(class 1) per leaf), or with ``multiclass`` any number of
    classes (every class's probability per leaf, in ``model.classes_`` order)."""
    n_cls = len(getattr(model, "classes_", ()))
    if (n_cls != 2 and not multiclass) or n_cls < 2:
        raise InputError("forest_from_sklearn: expected a fitted two-class forest classifier"
                         if not multiclass else
                         "forest_from_sklearn: expected a fitted forest of two or more classes")
    parts = {k: [] for k in ("left", "right", "feature", "threshold", "value")}
    roots = []
    offset = 0
    for est in model.estimators_:
        t = est.tree_
        leaf = t.children_left < 0
        roots.append(offset)
        parts["left"].append(np.where(leaf, -1, t.children_left + offset))
        parts["right"].append(np.where(leaf, -1, t.children_right + offset))
        parts["feature"].append(np.where(leaf, 0, t.feature))
        parts["threshold"].append(np.where(leaf, 0.0, t.threshold))
        v = t.value[:, 0, :]
        v = v / np.maximum(v.sum(axis=1, keepdims=True), 1e-300)
        parts["value"].append(v if multiclass else v[:, 1])
        offset += t.node_count
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    arrays["roots"] = np.asarray(roots)
    return Forest.from_arrays(arrays, int(model.n_features_in_))


@njit(cache=True, nogil=True)
def _leaf(x, node, left, right, feature, threshold):
    """The leaf that row ``x`` reaches from ``node``."""
    while left[node] >= 0:
        if x[feature[node]] <= threshold[node]:
            node = left[node]
        else:
            node = right[node]
    return node


@njit(cache=True, nogil=True)
def _forest_proba(X, left, right, feature, threshold, value, roots):
    n = X.shape[0]
    out = np.zeros(n)
    for i in range(n):
        s = 0.0
        for t in range(roots.shape[0]):
            s += value[_leaf(X[i], roots[t], left, right, feature, threshold)]
        out[i] = s / roots.shape[0]
    return out


@njit(cache=True, nogil=True)
def _forest_proba_multi(X, left, right, feature, threshold, value, roots):
    n = X.shape[0]
    out = np.zeros((n, value.shape[1]))
    for i in range(n):
        for t in range(roots.shape[0]):
            out[i] += value[_leaf(X[i], roots[t], left, right, feature, threshold)]
    return out / roots.shape[0]


def forest_proba(forest: Forest, X) -> np.ndarray:
    """P(class 1) per row of ``X`` (n, n_features): the mean of the trees' leaf values; for a
    forest of more classes, ``(n, n_classes)`` class probabilities."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != forest.n_features:
        raise InputError(f"features: shape {X.shape}, expected (n, {forest.n_features})")
    X = np.ascontiguousarray(X, np.float32)
    if not np.all(np.isfinite(X)):
        raise InputError("features: NaN or infinite values")
    if forest.value.ndim == 2:
        return _forest_proba_multi(X, forest.left, forest.right, forest.feature,
                                   forest.threshold, forest.value, forest.roots)
    return _forest_proba(X, forest.left, forest.right, forest.feature, forest.threshold,
                         forest.value, forest.roots)


def read_forest_file(path, fmt: str, version: int, what: str, feature_names, n_classes):
    """``(card, forest)`` of a multiclass forest model file (:mod:`syconn.ml.cardfile`),
    checked: its features are ``feature_names``, its leaves hold ``n_classes(card)``
    probabilities (a function of the card, which may raise the file's error); every problem is
    one :class:`~syconn.errors.ModelError` naming the file."""
    from pathlib import Path

    from syconn.errors import ModelError
    from syconn.ml.cardfile import read_card_file

    path = Path(path)

    def fail(why: str) -> ModelError:
        return ModelError(f"{path}: {why}")

    card, arrays = read_card_file(path, fmt, version, what, fail)
    if list(card.get("features", [])) != list(feature_names):
        raise fail(f"its features are not this syconn's {what.replace(' model', '')} features "
                   f"({len(card.get('features', []))} named, {len(feature_names)} expected)")
    n = n_classes(card, fail)
    try:
        forest = Forest.from_arrays(arrays, len(feature_names))
    except (InputError, KeyError) as exc:
        raise fail(f"corrupt model ({exc})") from None
    if forest.value.ndim != 2 or forest.value.shape[1] != n:
        raise fail(f"corrupt model (leaf values of shape {forest.value.shape}, expected "
                   f"(n, {n}))")
    return card, forest


@dataclass(frozen=True)
class ForestModel:
    """A shipped forest and its card: the part every model of :mod:`syconn.ml` shares (the
    content digest that names what the pipeline derived from it, probabilities with a shape
    check, saving with the file format).  Subclasses set :attr:`FORMAT`, :attr:`FORMAT_VERSION`
    and :attr:`WHAT`, and say what else the digest and the saved card hold."""

    forest: Forest
    card: Mapping = field(default_factory=dict)

    FORMAT: ClassVar[str] = ""
    FORMAT_VERSION: ClassVar[int] = 1
    WHAT: ClassVar[str] = ""            #: what its features are of, for the error message

    def _digest_payload(self):
        """What besides the node arrays the digest covers (JSON)."""
        return list(self.card["features"])

    def _saved_card(self) -> dict:
        """Card entries the subclass adds on saving."""
        return {}

    @property
    def n_classes(self) -> int:
        return int(self.forest.value.shape[1]) if self.forest.value.ndim == 2 else 2

    @property
    def digest(self) -> str:
        """12 hex digits of the model's content (forest, features and what decides)."""
        import hashlib
        import json

        h = hashlib.sha1()
        for a in self.forest.arrays().values():
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(json.dumps(self._digest_payload()).encode())
        return h.hexdigest()[:12]

    def proba(self, features: np.ndarray) -> np.ndarray:
        """P(class) per row, ``(n, classes)``."""
        X = np.asarray(features, np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.card["features"]):
            raise InputError(f"{self.WHAT} features: shape {X.shape}, expected (n, "
                             f"{len(self.card['features'])})")
        return forest_proba(self.forest, X) if len(X) else np.zeros((0, self.n_classes))

    def save(self, path) -> Path:
        from syconn.ml.cardfile import write_card_file

        card = dict(self.card)
        card.update(format=self.FORMAT, format_version=self.FORMAT_VERSION,
                    n_trees=self.forest.n_trees, n_nodes=self.forest.n_nodes,
                    **self._saved_card())
        return write_card_file(path, card, self.forest.arrays())
