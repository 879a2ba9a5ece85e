"""The synapse classifier (SyConn step 6d): candidate features in, calibrated P(synaptic) out.

A model file is one ``.npz`` (no pickled code): ``card`` (JSON: format, version, feature names,
training data, cross-validated figures, library versions), the forest's node arrays
(:class:`~syconn.ml.forest.Forest`) and the isotonic calibration map ``calib_x`` -> ``calib_y``
(raw forest probability -> calibrated probability, fitted on out-of-fold predictions).
:func:`load_model` checks the card before it touches the arrays and fails with one line
(:class:`~syconn.errors.ModelError`) on a missing, corrupt or foreign file.

Features (:data:`FEATURES`) are in physical units, so one model serves every voxel size.  The
original's 14 (size, mesh area, and per partner the mitochondrion and vesicle-cloud object
counts, voxel estimates and minimum distances) are here with the partners ordered
presynaptic first (the original orders them by cell id, which carries no meaning), plus the
synapse's share of its sj object (``sj_share``), the share of the sj object that lies on the
synapse (``sj_overlap``), the sj probability at the synapse (mean and maximum), the sym/asym
voxel fractions, the vesicle-cloud asymmetry between the partners, and where the synapse lies
on its sj object (``sj_centre_dist_nm``, ``sj_extent_nm``: a bystander's contact that a wide sj
blob reaches lies off the object's centre), and its mean sj probability over the best of its
presynaptic cell's candidates on the same object (``sj_prob_rival``: the cleft, at the blob's
core, against the bouton's contacts with the cells squeezed past it), and how thick each partner
is near the synapse (``radius_nm_pre``, ``radius_nm_post``, :mod:`syconn.proc.radius`; stored
for training, :data:`STORED_ONLY`, not in :data:`FEATURES`: see docs/accuracy.md).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Mapping

import numpy as np

from syconn.errors import InputError, ModelError
from syconn.ml.forest import Forest, forest_proba

__all__ = ["FEATURES", "FORMAT", "FORMAT_VERSION", "SynapseModel", "feature_matrix",
           "load_model", "default_model_path", "NO_ORGANELLE_CAP_NM",
           "NO_SJ_CENTRE_NM"]

FORMAT = "syconn-synapse-classifier"
FORMAT_VERSION = 1
#: distances of "no organelle near" (1e12 nm, as the original) are capped here for the model
NO_ORGANELLE_CAP_NM = 10000.0

#: model inputs, in order; ``*_um3`` are the ``n_*_vxs`` voxel estimates times the voxel volume
FEATURES = (
    "area_um2", "size_um3",
    "vc_um3_pre", "vc_um3_post", "n_vc_objs_pre", "n_vc_objs_post",
    "min_dst_vc_nm_pre", "min_dst_vc_nm_post",
    "mi_um3_pre", "mi_um3_post", "n_mi_objs_pre", "n_mi_objs_post",
    "min_dst_mi_nm_pre", "min_dst_mi_nm_post",
    "sj_share", "sj_overlap", "sj_prob_mean", "sj_prob_max",
    "sym_prop", "asym_prop", "direction_confidence",
    "sj_centre_dist_nm", "sj_extent_nm", "sj_prob_rival",
)
#: candidate columns stored for training but not read by the default model: a model trained
#: with them (radius_nm_pre/post, 2026-12-06) did not change one error on the development seeds
STORED_ONLY = ("radius_nm_pre", "radius_nm_post")
#: ``sj_centre_dist_nm`` of a synapse on no sj object (NULL in SQL) is this far for the model
NO_SJ_CENTRE_NM = 2000.0


def feature_matrix(rows, voxel_size_nm, names=FEATURES) -> np.ndarray:
    """The model inputs of candidate rows, float32 ``(n, len(names))``.

    ``rows``: a pyarrow Table, pandas DataFrame or mapping of columns holding the ``synapses``
    columns (``size_vx``, ``area_um2``, ``n_{mi,vc}_{objs,vxs}_{pre,post}``,
    ``min_dst_{mi,vc}_nm_{pre,post}``, ``sj_share``, ``sj_overlap``, ``sj_prob_mean``,
    ``sj_prob_max``, ``sym_prop``, ``asym_prop``, ``direction_confidence``).

    Examples
    --------
    >>> X = feature_matrix({"size_vx": [100], "n_vc_vxs_pre": [500]}, (10, 10, 20),
    ...                    names=("size_um3", "vc_um3_pre"))
    >>> np.round(X.astype(float), 6).tolist()
    [[0.0002, 0.001]]
    """
    vox_um3 = float(np.prod(np.asarray(voxel_size_nm, np.float64))) / 1e9

    def col(name):
        try:
            v = rows[name]
        except KeyError:
            raise InputError(f"synapse features: column {name!r} missing") from None
        return np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, np.float64)

    out = []
    for name in names:
        if name == "size_um3":
            v = col("size_vx") * vox_um3
        elif name.endswith("_um3_pre") or name.endswith("_um3_post"):
            kind, side = name.split("_um3_")
            v = col(f"n_{kind}_vxs_{side}") * vox_um3
        elif name.startswith("min_dst_"):
            v = np.minimum(col(name), NO_ORGANELLE_CAP_NM)
        elif name == "sj_centre_dist_nm":  # NULL: on no sj object
            v = np.minimum(np.nan_to_num(col(name), nan=NO_SJ_CENTRE_NM), NO_SJ_CENTRE_NM)
        elif name == "sj_extent_nm":
            v = np.nan_to_num(col(name), nan=0.0)
        else:
            v = col(name)
        out.append(v)
    X = np.stack(out, axis=1) if out else np.zeros((0, 0))
    if not np.all(np.isfinite(X)):
        bad = [n for n, v in zip(names, out) if not np.all(np.isfinite(v))]
        raise InputError(f"synapse features: NaN or infinite values in {bad}")
    return X.astype(np.float32)


@dataclass(frozen=True)
class SynapseModel:
    """A trained synapse classifier: forest, calibration and card."""

    forest: Forest
    calib_x: np.ndarray
    calib_y: np.ndarray
    card: Mapping = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.card["features"])

    @property
    def digest(self) -> str:
        """12 hex digits of the model's content (forest, calibration, features)."""
        import hashlib

        h = hashlib.sha1()
        for a in (*self.forest.arrays().values(), self.calib_x, self.calib_y):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(json.dumps(list(self.features)).encode())
        return h.hexdigest()[:12]

    def raw_proba(self, X) -> np.ndarray:
        """The forest's uncalibrated P(synaptic) of a feature matrix."""
        return forest_proba(self.forest, X)

    def predict_proba(self, rows, voxel_size_nm) -> np.ndarray:
        """Calibrated P(synaptic) of candidate rows (see :func:`feature_matrix`)."""
        X = feature_matrix(rows, voxel_size_nm, self.features)
        if not len(X):
            return np.zeros(0)
        return np.interp(self.raw_proba(X), self.calib_x, self.calib_y)

    def save(self, path) -> Path:
        """Write the model file (atomically: a temporary file renamed)."""
        import os

        path = Path(path)
        card = dict(self.card)
        card.update(format=FORMAT, format_version=FORMAT_VERSION, n_features=len(self.features),
                    n_trees=self.forest.n_trees, n_nodes=self.forest.n_nodes)
        buf = io.BytesIO()
        np.savez_compressed(buf, card=np.frombuffer(json.dumps(card, indent=1, sort_keys=True)
                                                    .encode(), np.uint8),
                            calib_x=self.calib_x, calib_y=self.calib_y,
                            **self.forest.arrays())
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)
        return path


def default_model_path() -> Path:
    """The classifier shipped in the package (``syconn/ml/models/synapses.npz``)."""
    return Path(str(resources.files("syconn.ml") / "models" / "synapses.npz"))


def _fail(path, what: str) -> ModelError:
    return ModelError(f"{path}: {what}; train one with 'syconn train synapses' or leave "
                      f"cell_objects.synapse_model empty for the shipped model")


def load_model(path=None) -> SynapseModel:
    """Read a synapse model file (default: the shipped one), checking its card first."""
    path = Path(path) if path else default_model_path()
    if not path.is_file():
        raise _fail(path, "no such model file")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "card" not in z.files:
                raise _fail(path, "not a syconn synapse model (no card)")
            card = json.loads(bytes(z["card"]).decode())
            if not isinstance(card, dict) or card.get("format") != FORMAT:
                raise _fail(path, f"not a syconn synapse model (format "
                                  f"{card.get('format') if isinstance(card, dict) else card!r})")
            if card.get("format_version") != FORMAT_VERSION:
                raise _fail(path, f"model format version {card.get('format_version')!r}, this "
                                  f"syconn reads version {FORMAT_VERSION}")
            unknown = [f for f in card.get("features", []) if f not in FEATURES + STORED_ONLY]
            if not card.get("features") or unknown:
                raise _fail(path, f"features {unknown or card.get('features')!r} unknown to "
                                  f"this syconn")
            arrays = {k: z[k] for k in ("left", "right", "feature", "threshold", "value",
                                        "roots", "calib_x", "calib_y")}
    except ModelError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, EOFError) as exc:
        raise _fail(path, f"not a readable model file ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else 'corrupt'})") from None
    try:
        forest = Forest.from_arrays(arrays, len(card["features"]))
    except InputError as exc:
        raise _fail(path, f"corrupt model ({exc})") from None
    cx = np.asarray(arrays["calib_x"], np.float64)
    cy = np.asarray(arrays["calib_y"], np.float64)
    if (cx.ndim != 1 or cx.shape != cy.shape or len(cx) < 2 or np.any(np.diff(cx) < 0)
            or not np.all(np.isfinite(cy)) or np.any((cy < 0) | (cy > 1))):
        raise _fail(path, "corrupt model (calibration map)")
    return SynapseModel(forest=forest, calib_x=cx, calib_y=cy, card=card)
