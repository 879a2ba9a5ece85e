"""The original's KNOSSOS-plugin API (SyConnGate): parameter parsing and one serialiser per
route, as pure functions the routes of :mod:`syconn.server.app` call.

Payloads follow the original (``syconn/analysis/server.py``) key for key, so the SyConn
KNOSSOS plugin parses them unchanged:

- meshes: ``vertices`` / ``vert`` flat, nm (x, y, z per vertex), float32 precision;
  ``indices`` / ``ind`` flat triangle indices; ``normals`` / ``norm`` always ``[]`` (the
  original switched normals off);
- skeletons: ``nodes`` flat mag-1 voxel coordinates (the original's skeleton nodes are
  voxels: KNOSSOS places them as such), ``edges`` flat node index pairs, ``diameters`` per node
  in voxels of x (``2 * radius_nm / voxel_x``, as the original stores them).  The original adds
  ``axoness``, ``axoness_avg10000``, ``axoness_avg10000_comp_maj``, ``spiness``, ``myelin`` and
  ``myelin_avg10000`` where the skeleton has them; no compartment model has run here, so no
  skeleton has them and they are left out, as the original leaves out a missing key;
- ``all_syn_meta``: parallel lists, see :func:`syn_meta`.

Values the pipeline has not computed yet are what the original gives for a missing value:
``""`` for a cell type (and its certainty) and for an attribute ``pull_so_attr`` cannot find;
``-1`` for a partner's compartment, cell type or spiness (the original's fill value for
``partner_celltypes``, and the matrix export's here).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from syconn.errors import InputError, ObjectNotFound

__all__ = ["OBJECT_TYPES", "SO_TYPES", "WRITABLE", "Writable", "parse_id", "object_kind",
           "parse_syn_meta_params", "mesh_payload", "skeleton_payload", "cell_type_payload",
           "syn_meta", "SYN_META_COLUMNS", "SYN_META_KEYS", "fold_boutons", "cell_type_codes",
           "pull_columns", "pull_value", "writable", "parse_value"]

#: ``ssv_obj_*`` object types -> mesh kind of :meth:`syconn.read.Results.cell_object_mesh`
#: (``sv`` is the cell itself; ``sj`` is served as the cell's synapses, ``syn_ssv``, as the
#: original does for a cell that has them, which every cell of a processed directory has)
OBJECT_TYPES = {"sv": "cells", "mi": "mi", "vc": "vc", "sj": "syn", "syn_ssv": "syn"}

#: ``pull_so_attr`` / ``push_so_attr`` object types -> (table, organelle kind or None);
#: ``ssv`` (cells) is this server's addition, the original's types are segmentation datasets
SO_TYPES = {"sv": ("supervoxels", None), "mi": ("organelles", "mi"),
            "vc": ("organelles", "vc"), "sj": ("organelles", "sj"),
            "syn_ssv": ("synapses", None), "ssv": ("cells", None)}

#: the original's attribute names that map onto columns here (several: a list)
_ALIASES = {"size": ("size_vx",), "rep_coord": ("rep_x", "rep_y", "rep_z")}
_SYN_ALIASES = {"syn_sign": ("sign",), "syn_prob": ("syn_prob",),
                "neuron_partners": ("cell_a", "cell_b")}

#: the synapse columns :func:`syn_meta` reads
SYN_META_COLUMNS = ("id", "cell_pre", "cell_post", "cell_a", "cell_b", "rep_x", "rep_y", "rep_z",
                    "area_um2", "syn_prob", "sign", "comp_pre", "comp_post", "spiness_post")
#: the keys of ``all_syn_meta``, in the original's order
SYN_META_KEYS = ("ids", "syn_size", "synaptivity_proba", "syn_sign", "coord_x", "coord_y",
                 "coord_z", "ssv_partner_0", "ssv_partner_1", "neuron_partner_ax_0",
                 "neuron_partner_ax_1", "neuron_partner_ct_0", "neuron_partner_ct_1",
                 "neuron_partner_sp_0", "neuron_partner_sp_1")

_INT64_MAX = 2 ** 63 - 1
_ID_RE = re.compile(r"[0-9]{1,19}")


def parse_id(text: str, what: str = "id") -> int:
    """The non-negative 64-bit id ``text`` spells, else :class:`ObjectNotFound` (a 404).

    >>> parse_id("42")
    42
    >>> parse_id("..%2F1")
    Traceback (most recent call last):
    ...
    syconn.errors.ObjectNotFound: id '..%2F1': not an id (a decimal integer below 2**63)
    """
    if not isinstance(text, str) or not _ID_RE.fullmatch(text) or int(text) > _INT64_MAX:
        raise ObjectNotFound(f"{what} {text!r}: not an id (a decimal integer below 2**63)")
    return int(text)


def object_kind(obj_type: str) -> str:
    """Mesh kind of an ``ssv_obj_*`` object type, else :class:`ObjectNotFound`."""
    if obj_type not in OBJECT_TYPES:
        raise ObjectNotFound(f"object type {obj_type!r}: expected one of "
                             f"{', '.join(OBJECT_TYPES)}")
    return OBJECT_TYPES[obj_type]


def parse_syn_meta_params(text: str) -> tuple[float, bool]:
    """``(synthresh, axodend_only)`` of ``all_syn_meta``'s JSON parameter, else
    :class:`InputError` (a 400): a JSON object with exactly these two keys, ``synthresh`` a
    number in [0, 1] and ``axodend_only`` a boolean.

    >>> parse_syn_meta_params('{"synthresh": 0.5, "axodend_only": true}')
    (0.5, True)
    """
    try:
        params = json.loads(text)
    except (ValueError, RecursionError):
        raise InputError(f"all_syn_meta: {text[:80]!r} is not JSON; expected "
                         f'{{"synthresh": 0.5, "axodend_only": true}}') from None
    if not isinstance(params, dict):
        raise InputError(f"all_syn_meta: expected a JSON object with synthresh and "
                         f"axodend_only, got {type(params).__name__}")
    keys = {"synthresh", "axodend_only"}
    if set(params) != keys:
        missing, extra = sorted(keys - set(params)), sorted(set(params) - keys)
        what = "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                       extra and f"unknown {', '.join(map(str, extra))}"]))
        raise InputError(f"all_syn_meta: {what} (expected synthresh and axodend_only)")
    thresh, axodend = params["synthresh"], params["axodend_only"]
    if isinstance(thresh, bool) or not isinstance(thresh, (int, float)) \
            or not math.isfinite(thresh) or not 0 <= thresh <= 1:
        raise InputError(f"all_syn_meta: synthresh {thresh!r}, expected a number in [0, 1]")
    if not isinstance(axodend, bool):
        raise InputError(f"all_syn_meta: axodend_only {axodend!r}, expected true or false")
    return float(thresh), axodend


def mesh_payload(mesh) -> dict[str, np.ndarray | list]:
    """``{"vertices", "indices", "normals"}`` of a :class:`~syconn.proc.meshes.Mesh`: flat
    float32 nm, flat uint32, ``[]``."""
    return {"vertices": np.ascontiguousarray(mesh.vertices, np.float32).ravel(),
            "indices": np.ascontiguousarray(mesh.faces, np.uint32).ravel(),
            "normals": []}


def skeleton_payload(skeleton, voxel_size_nm) -> dict[str, np.ndarray]:
    """``{"nodes", "edges", "diameters"}`` of a :class:`~syconn.proc.skeletons.Skeleton`, or
    ``{}`` for None (no skeleton), as the original: nodes in voxels, diameters in voxels of x.
    """
    if skeleton is None:
        return {}
    vs = np.asarray(voxel_size_nm, np.float64)
    return {"nodes": skeleton.vertices_vx(vs).ravel(),
            "edges": np.ascontiguousarray(skeleton.edges, np.uint32).ravel(),
            "diameters": (2.0 * skeleton.radii_nm.astype(np.float64) / vs[0]).astype(np.float32)}


def cell_type_payload(cell_type: str | None, certainty: float | None) -> dict[str, Any]:
    """``{"ct", "certainty"}`` of a cell.

    A cell without a type (``cells.cell_type`` NULL: too small to type, or the cell type step
    has not run) gets the original's answer for a cell without a cell type prediction,
    ``{"ct": "", "certainty": ""}``; a type without a certainty has certainty ``""`` too.  (The plugin formats the certainty
    with ``'{:.3f}'``, which fails on ``""``, against the original as here.)

    >>> cell_type_payload(None, None)
    {'ct': '', 'certainty': ''}
    """
    if cell_type is None:
        return {"ct": "", "certainty": ""}
    ok = certainty is not None and math.isfinite(certainty)
    return {"ct": cell_type, "certainty": float(certainty) if ok else ""}


def fold_boutons(comp: np.ndarray) -> np.ndarray:
    """SyConn compartment codes with boutons (3 en-passant, 4 terminal) folded to axon (1), as
    the original's ``neuron_partner_ax``; -1 (unknown) stays.

    >>> fold_boutons(np.array([0, 1, 2, 3, 4, -1])).tolist()
    [0, 1, 2, 1, 1, -1]
    """
    comp = np.asarray(comp, np.int64)
    return np.where((comp == 3) | (comp == 4), 1, comp)


def cell_type_codes(cell_ids, cell_types) -> dict[int, int]:
    """``{cell id: code}`` for the cells with a type: the index of the type in the sorted list
    of types present, as ``conn_mat.csv`` codes them.

    >>> cell_type_codes([1, 2, 3], ["MSN", None, "GP"])
    {1: 1, 3: 0}
    """
    legend = sorted({t for t in cell_types if t is not None})
    code = {t: i for i, t in enumerate(legend)}
    return {int(c): code[t] for c, t in zip(cell_ids, cell_types) if t is not None}


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _ints(values, fill: int = -1) -> np.ndarray:
    """A column with SQL NULLs as int64, NULL -> ``fill`` (no float detour: 64-bit ids).

    >>> _ints([3, None, 2 ** 62 + 1]).tolist(), _ints([None, None], 0).tolist()
    ([3, -1, 4611686018427387905], [0, 0])
    >>> _ints([1.0, float("nan")]).tolist()
    [1, -1]
    """
    values = list(values)
    n_null = values.count(None)  # the scans run in C: the common columns take no loop
    if n_null == len(values):
        return np.full(len(values), fill, np.int64)
    if n_null == 0:
        try:  # what int() does to each value, in C; NaN (or an id out of range) fails
            return np.asarray(values, np.int64)
        except (TypeError, ValueError, OverflowError):
            pass
    return np.asarray([fill if _missing(v) else int(v) for v in values], np.int64)


def _floats(values, fill: float = math.nan) -> np.ndarray:
    values = list(values)
    if None not in values:
        return np.asarray(values, np.float64)
    return np.asarray([fill if v is None else float(v) for v in values], np.float64)


def syn_meta(syn: Mapping[str, Any], cell_types: Mapping[int, int], *, axodend_only: bool
             ) -> dict[str, np.ndarray]:
    """The original's ``all_syn_meta`` of synapse rows (``{column: values}`` of
    :data:`SYN_META_COLUMNS`, already restricted to ``syn_prob >= synthresh``).

    - ``ids``; ``syn_size`` = ``area_um2`` (half the cleft's mesh area, the original's
      ``mesh_area / 2``, µm²); ``synaptivity_proba`` = ``syn_prob``; ``syn_sign`` = ``sign``
      (+1 asymmetric, -1 symmetric; 0 where unknown); ``coord_x/y/z`` = representative voxel;
    - ``ssv_partner_0`` / ``_1``: presynaptic / postsynaptic cell where the direction is known,
      else the partners in id order (the original: its stored partner order);
    - ``neuron_partner_ax_0`` / ``_1``: compartment of partner 0 / 1 (``comp_pre`` /
      ``comp_post``, boutons folded to axon: :func:`fold_boutons`), -1 where unknown;
    - ``neuron_partner_ct_0`` / ``_1``: cell type code (:func:`cell_type_codes`), -1 where
      the cell has no type;
    - ``neuron_partner_sp_0`` / ``_1``: spiness (only the postsynaptic side is stored, so
      ``_0`` is -1), -1 where unknown.

    ``axodend_only`` keeps the original's axo-dendritic synapses, ``ax_0 + ax_1 == 1``, among
    the synapses whose two compartments are known; a synapse with an unknown compartment
    (every synapse until a compartment model runs) is kept, since the filter cannot tell, so
    that the plugin's default (``axodend_only`` on) still lists the synapses.

    >>> row = [7, 2, 1, 1, 2, 5, 6, 7, 0.3, 0.9, 1, None, None, None]
    >>> m = syn_meta({c: [v] for c, v in zip(SYN_META_COLUMNS, row)}, {}, axodend_only=True)
    >>> m["ssv_partner_0"].tolist(), m["neuron_partner_ax_0"].tolist()
    ([2], [-1])
    """
    known = np.asarray([not _missing(v) for v in syn["cell_pre"]], bool)
    p0 = np.where(known, _ints(syn["cell_pre"], 0), _ints(syn["cell_a"], 0))
    p1 = np.where(known, _ints(syn["cell_post"], 0), _ints(syn["cell_b"], 0))
    ax0 = fold_boutons(_ints(syn["comp_pre"]))
    ax1 = fold_boutons(_ints(syn["comp_post"]))
    out = {
        "ids": _ints(syn["id"]),
        "syn_size": _floats(syn["area_um2"]),
        "synaptivity_proba": _floats(syn["syn_prob"]),
        "syn_sign": _ints(syn["sign"], 0),
        "coord_x": _ints(syn["rep_x"]), "coord_y": _ints(syn["rep_y"]),
        "coord_z": _ints(syn["rep_z"]),
        "ssv_partner_0": p0, "ssv_partner_1": p1,
        "neuron_partner_ax_0": ax0, "neuron_partner_ax_1": ax1,
        "neuron_partner_ct_0": np.asarray([cell_types.get(int(c), -1) for c in p0], np.int64),
        "neuron_partner_ct_1": np.asarray([cell_types.get(int(c), -1) for c in p1], np.int64),
        "neuron_partner_sp_0": np.full(len(p0), -1, np.int64),
        "neuron_partner_sp_1": _ints(syn["spiness_post"]),
    }
    if axodend_only:
        decided = (ax0 >= 0) & (ax1 >= 0)
        keep = ~decided | (ax0 + ax1 == 1)
        out = {k: v[keep] for k, v in out.items()}
    return out


# ---------------------------------------------------------------- pull / push

def pull_columns(so_type: str, key: str, table_columns) -> tuple[str, ...] | None:
    """The columns ``pull_so_attr`` reads for the original's attribute ``key`` of ``so_type``:
    a column of the object's table, or an alias (``size``, ``rep_coord``; synapses also
    ``syn_sign``, ``syn_prob``, ``neuron_partners``); None if it has no such attribute.

    >>> pull_columns("syn_ssv", "rep_coord", ["rep_x", "rep_y", "rep_z"])
    ('rep_x', 'rep_y', 'rep_z')
    >>> pull_columns("sv", "../../etc/passwd", ["id"]) is None
    True
    """
    aliases = dict(_ALIASES, **(_SYN_ALIASES if so_type == "syn_ssv" else {}))
    if key in aliases:
        return aliases[key]
    return (key,) if key in set(table_columns) else None


def pull_value(values: tuple) -> Any:
    """The JSON value of the columns read for one attribute: one value or a list; ``""``
    where the value is missing (SQL NULL, or NaN), as the original answers for a key the
    object does not have."""
    def one(v):
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return None
        return v.isoformat() if hasattr(v, "isoformat") else v

    got = [one(v) for v in values]
    if any(v is None for v in got):
        return ""
    return got[0] if len(got) == 1 else got


@dataclass(frozen=True)
class Writable:
    """An attribute ``push_so_attr`` may write: the column it sets and how a value is read."""

    table: str
    column: str
    parse: Callable[[str], Any]
    allowed: str  # what values are allowed, for the error message


def _sign(text: str) -> int:
    if text.strip() not in ("1", "-1", "+1"):
        raise ValueError
    return int(text)


def _unit_float(text: str) -> float:
    v = float(text)
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise ValueError
    return v


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t not in ("0", "1", "true", "false"):
        raise ValueError
    return t in ("1", "true")


_TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]{0,63}")


def _type_name(text: str) -> str:
    if not _TYPE_NAME.fullmatch(text):
        raise ValueError
    return text


#: (so_type, key) -> what ``push_so_attr`` writes: existing columns only
WRITABLE: dict[tuple[str, str], Writable] = {
    ("syn_ssv", "syn_sign"): Writable("synapses", "sign", _sign, "1 or -1"),
    ("ssv", "cell_type"): Writable("cells", "cell_type", _type_name,
                                   "a name of letters, digits and _ . + - (at most 64, "
                                   "starting with a letter)"),
    ("ssv", "cell_type_certainty"): Writable("cells", "cell_type_certainty", _unit_float,
                                             "a number in [0, 1]"),
    ("ssv", "is_glia"): Writable("cells", "is_glia", _bool, "true, false, 1 or 0"),
}


def writable(so_type: str, key: str) -> Writable:
    """The :class:`Writable` of ``(so_type, key)``, else :class:`InputError` listing them."""
    spec = WRITABLE.get((so_type, key))
    if spec is None:
        names = ", ".join(f"{t}/{k}" for t, k in WRITABLE)
        raise InputError(f"push_so_attr: {so_type}/{key} is not writable (writable: {names})")
    return spec


def parse_value(spec: Writable, text: str) -> Any:
    """``text`` read by ``spec``, else :class:`InputError` saying what is allowed.

    >>> parse_value(WRITABLE[("syn_ssv", "syn_sign")], "-1")
    -1
    """
    try:
        return spec.parse(text)
    except (ValueError, TypeError):
        raise InputError(f"push_so_attr: {spec.column} {text[:64]!r}, expected "
                         f"{spec.allowed}") from None
