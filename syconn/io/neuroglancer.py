"""Export to a Neuroglancer *precomputed* folder (unsharded), from plain data.

Layout written by :func:`export_neuroglancer`::

    root/
      info                          segmentation volume info ("mesh", "skeletons", "segment_properties")
      mag1/x0-x1_y0-y1_z0-z1        optional raw uint64 label chunks (write_volume_chunk)
      mesh/info                     {"@type": "neuroglancer_legacy_mesh"}
      mesh/{id}:0                   manifest {"fragments": ["{id}"]}
      mesh/{id}                     uint32le n_vertices, float32le xyz (nm) * n, uint32le triangles
      skeletons/info                neuroglancer_skeletons: identity transform (nm), attributes
                                    radius float32 and compartment uint8
      skeletons/{id}                uint32le n_vertices, uint32le n_edges, float32le xyz * n,
                                    uint32le edges * 2, then each attribute (radius, compartment)
      segment_properties/info       neuroglancer_segment_properties, inline ids + properties
      synapses/info                 neuroglancer_annotations_v1, POINT, relationships pre/post
      synapses/by_id/{syn_id}       one annotation: xyz float32, properties, per relationship
                                    uint32 count + uint64 ids
      synapses/pre/{cell_id}        annotations whose pre cell is cell_id: uint64 count, records,
      synapses/post/{cell_id}       uint64 annotation ids (records without relationships)
      synapses/spatial0/0_0_0       all annotations, same encoding (one spatial level)

Every file is written atomically.  Annotation properties are 4-byte types only (float32,
uint32, int32), so records need no alignment padding.  Open in Neuroglancer as
``precomputed://http://host/root`` (segmentation with meshes, skeletons and properties) and
``precomputed://http://host/root/synapses`` (annotation layer; filter by segment via pre/post).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from syconn.errors import InputError
from syconn.io.meshes import _atomic_write_bytes
from syconn.proc.meshes import Mesh, _vec3
from syconn.proc.skeletons import Skeleton

__all__ = [
    "write_segmentation_info",
    "write_volume_chunk",
    "write_legacy_meshes",
    "write_skeletons",
    "write_segment_properties",
    "write_synapse_annotations",
    "export_neuroglancer",
    "read_legacy_mesh",
    "read_skeleton",
]

_ANN_TYPES = {"float32": "<f4", "uint32": "<u4", "int32": "<i4"}


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())


def _table_columns(table: Any) -> dict[str, np.ndarray]:
    """Columns of a pandas DataFrame, pyarrow Table or mapping of arrays as numpy arrays."""
    if hasattr(table, "column_names") and hasattr(table, "column"):        # pyarrow
        return {n: np.asarray(table.column(n).to_numpy(zero_copy_only=False))
                for n in table.column_names}
    if hasattr(table, "columns") and hasattr(table, "to_numpy"):            # pandas
        return {str(c): np.asarray(table[c].to_numpy()) for c in table.columns}
    if isinstance(table, Mapping):
        return {str(k): np.asarray(v) for k, v in table.items()}
    raise InputError(f"table: got {type(table).__name__}, expected a pandas DataFrame, a pyarrow "
                     "Table or a mapping of column name to array")


# --------------------------------------------------------------------------------------------
# volume
# --------------------------------------------------------------------------------------------

def write_segmentation_info(
    root: str | os.PathLike,
    *,
    size_xyz: Sequence[int],
    voxel_size_nm: Sequence[float],
    chunk_size_xyz: Sequence[int] = (64, 64, 64),
    voxel_offset_xyz: Sequence[int] = (0, 0, 0),
    scale_key: str = "mag1",
    mesh: str | None = "mesh",
    skeletons: str | None = "skeletons",
    segment_properties: str | None = "segment_properties",
) -> dict:
    """Write ``root/info`` of a uint64 segmentation with one raw-encoded scale; returns it."""
    size = _vec3(size_xyz, "size_xyz", kind="int", positive=True)
    vs = _vec3(voxel_size_nm, "voxel_size_nm", positive=True)
    chunk = _vec3(chunk_size_xyz, "chunk_size_xyz", kind="int", positive=True)
    off = _vec3(voxel_offset_xyz, "voxel_offset_xyz", kind="int")
    info: dict[str, Any] = {
        "@type": "neuroglancer_multiscale_volume",
        "type": "segmentation",
        "data_type": "uint64",
        "num_channels": 1,
        "scales": [{
            "key": scale_key,
            "size": size.tolist(),
            "resolution": vs.tolist(),
            "voxel_offset": off.tolist(),
            "chunk_sizes": [chunk.tolist()],
            "encoding": "raw",
        }],
    }
    if mesh:
        info["mesh"] = mesh
    if skeletons:
        info["skeletons"] = skeletons
    if segment_properties:
        info["segment_properties"] = segment_properties
    _write_json(Path(root) / "info", info)
    return info


def write_volume_chunk(root: str | os.PathLike, labels: np.ndarray, offset_xyz: Sequence[int]) -> list[str]:
    """Write a label block (``[x, y, z]``) as raw chunks of the scale in ``root/info``.

    ``offset_xyz`` (relative to the scale's voxel_offset) must lie on the chunk grid; the block
    is cut into chunks (clipped at the volume end).  Returns the chunk file names written.
    """
    info = json.loads((Path(root) / "info").read_text())
    scale = info["scales"][0]
    chunk = np.asarray(scale["chunk_sizes"][0], np.int64)
    size = np.asarray(scale["size"], np.int64)
    off = _vec3(offset_xyz, "offset_xyz", kind="int", nonneg=True)
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise InputError(f"labels: got shape {labels.shape}, expected a 3-d [x, y, z] block")
    if (off % chunk).any():
        raise InputError(f"offset_xyz: got {tuple(off.tolist())}, expected a multiple of the chunk "
                         f"size {tuple(chunk.tolist())}")
    end = np.minimum(off + labels.shape, size)
    out_dir = Path(root) / scale["key"]
    out_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for x0 in range(off[0], end[0], chunk[0]):
        for y0 in range(off[1], end[1], chunk[1]):
            for z0 in range(off[2], end[2], chunk[2]):
                lo = np.array([x0, y0, z0])
                hi = np.minimum(lo + chunk, size)
                if ((np.minimum(hi, off + labels.shape)) < hi).any():
                    raise InputError(f"labels: block at {tuple(off.tolist())} of shape "
                                     f"{labels.shape} does not cover chunk {lo.tolist()}-{hi.tolist()}")
                a = labels[lo[0] - off[0]: hi[0] - off[0], lo[1] - off[1]: hi[1] - off[1],
                           lo[2] - off[2]: hi[2] - off[2]]
                data = np.asarray(a, "<u8").tobytes(order="F")             # x fastest
                name = f"{lo[0]}-{hi[0]}_{lo[1]}-{hi[1]}_{lo[2]}-{hi[2]}"
                _atomic_write_bytes(out_dir / name, data)
                names.append(name)
    return names


# --------------------------------------------------------------------------------------------
# meshes and skeletons
# --------------------------------------------------------------------------------------------

def write_legacy_meshes(mesh_dir: str | os.PathLike, meshes: Mapping[int, Mesh]) -> None:
    """Legacy single-resolution meshes: ``{id}:0`` manifests and ``{id}`` fragments (nm)."""
    d = Path(mesh_dir)
    _write_json(d / "info", {"@type": "neuroglancer_legacy_mesh"})
    for oid in sorted(int(i) for i in meshes):
        m = meshes[oid]
        data = (np.uint32(m.n_vertices).astype("<u4").tobytes()
                + np.ascontiguousarray(m.vertices, "<f4").tobytes()
                + np.ascontiguousarray(m.faces, "<u4").tobytes())
        _atomic_write_bytes(d / str(oid), data)
        _write_json(d / f"{oid}:0", {"fragments": [str(oid)]})


def read_legacy_mesh(path: str | os.PathLike) -> Mesh:
    """Decode one legacy mesh fragment file."""
    raw = Path(path).read_bytes()
    n = int(np.frombuffer(raw, "<u4", count=1)[0])
    v = np.frombuffer(raw, "<f4", count=3 * n, offset=4).reshape(n, 3)
    f = np.frombuffer(raw, "<u4", offset=4 + 12 * n).reshape(-1, 3)
    return Mesh(v, f)


SKELETON_ATTRIBUTES = [
    {"id": "radius", "data_type": "float32", "num_components": 1},
    {"id": "compartment", "data_type": "uint8", "num_components": 1},
]


def write_skeletons(skeleton_dir: str | os.PathLike, skeletons: Mapping[int, Skeleton], *,
                    compartments: Mapping[int, np.ndarray] | None = None,
                    segment_properties: str | None = "../segment_properties") -> None:
    """Precomputed skeletons in nm with vertex attributes ``radius`` (float32, nm) and
    ``compartment`` (uint8 per node as given; 0 where ``compartments`` has no labels for a
    cell: :mod:`syconn.export` writes 1 + the compartment code, so 0 stays "unknown")."""
    d = Path(skeleton_dir)
    info: dict[str, Any] = {
        "@type": "neuroglancer_skeletons",
        "transform": [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        "vertex_attributes": SKELETON_ATTRIBUTES,
    }
    if segment_properties:
        info["segment_properties"] = segment_properties
    _write_json(d / "info", info)
    for oid in sorted(int(i) for i in skeletons):
        s = skeletons[oid]
        comp = np.zeros(s.n_vertices, np.uint8)
        if compartments is not None and oid in compartments:
            c = np.asarray(compartments[oid]).reshape(-1)
            if c.shape != (s.n_vertices,):
                raise InputError(f"compartments[{oid}]: got {c.shape[0]} labels for "
                                 f"{s.n_vertices} skeleton nodes")
            comp = c.astype(np.uint8)
        data = b"".join([
            np.asarray([s.n_vertices, s.n_edges], "<u4").tobytes(),
            np.ascontiguousarray(s.vertices, "<f4").tobytes(),
            np.ascontiguousarray(s.edges, "<u4").tobytes(),
            np.ascontiguousarray(s.radii_nm, "<f4").tobytes(),
            comp.tobytes(),
        ])
        _atomic_write_bytes(d / str(oid), data)


def read_skeleton(path: str | os.PathLike) -> tuple[Skeleton, np.ndarray]:
    """Decode a skeleton file written by :func:`write_skeletons`: ``(Skeleton, compartment)``."""
    raw = Path(path).read_bytes()
    nv, ne = (int(x) for x in np.frombuffer(raw, "<u4", count=2))
    pos = 8
    v = np.frombuffer(raw, "<f4", count=3 * nv, offset=pos).reshape(nv, 3)
    pos += 12 * nv
    e = np.frombuffer(raw, "<u4", count=2 * ne, offset=pos).reshape(ne, 2)
    pos += 8 * ne
    r = np.frombuffer(raw, "<f4", count=nv, offset=pos)
    pos += 4 * nv
    comp = np.frombuffer(raw, "u1", count=nv, offset=pos)
    return Skeleton(v, e, r), comp.copy()


# --------------------------------------------------------------------------------------------
# segment properties
# --------------------------------------------------------------------------------------------

def _number_type(values: np.ndarray) -> str:
    if values.dtype.kind in "ui" and values.size:
        lo, hi = int(values.min()), int(values.max())
        if lo >= 0 and hi < 2**32:
            return "uint32"
        if lo >= -(2**31) and hi < 2**31:
            return "int32"
    return "float32"


def write_segment_properties(
    prop_dir: str | os.PathLike,
    ids: Sequence[int],
    *,
    label: Sequence[str] | None = None,
    strings: Mapping[str, Sequence[str]] | None = None,
    numbers: Mapping[str, Sequence[float]] | None = None,
) -> dict:
    """Inline segment properties: a ``label``, string properties (e.g. cell type) and number
    properties (e.g. size in voxels).  Returns the info written."""
    ids = np.asarray(ids, np.uint64).reshape(-1)
    order = np.argsort(ids, kind="stable")
    n = len(ids)
    props = []

    def check(name: str, vals: Any) -> np.ndarray:
        a = np.asarray(vals).reshape(-1)
        if a.shape != (n,):
            raise InputError(f"segment property {name!r}: got {a.shape[0]} values for {n} ids")
        return a[order]

    if label is not None:
        props.append({"id": "label", "type": "label",
                      "values": [str(x) for x in check("label", label)]})
    for name, vals in (strings or {}).items():
        props.append({"id": name, "type": "string",
                      "values": ["" if x is None else str(x) for x in check(name, vals)]})
    for name, vals in (numbers or {}).items():
        a = check(name, vals)
        if a.dtype.kind not in "uif":
            raise InputError(f"segment property {name!r}: dtype {a.dtype}, expected numbers")
        dt = _number_type(a)
        values = a.astype(dt).tolist()
        if dt == "float32":
            values = [None if not np.isfinite(x) else float(x) for x in values]
        props.append({"id": name, "type": "number", "data_type": dt, "values": values})
    info = {"@type": "neuroglancer_segment_properties",
            "inline": {"ids": [str(int(i)) for i in ids[order]], "properties": props}}
    _write_json(Path(prop_dir) / "info", info)
    return info


# --------------------------------------------------------------------------------------------
# synapse annotations
# --------------------------------------------------------------------------------------------

def write_synapse_annotations(
    ann_dir: str | os.PathLike,
    synapses: Any,
    *,
    properties: Sequence[str] = (),
    bounds_nm: tuple[Sequence[float], Sequence[float]] | None = None,
    id_column: str = "id",
    pre_column: str = "pre_id",
    post_column: str = "post_id",
    position_columns: Sequence[str] = ("x_nm", "y_nm", "z_nm"),
) -> dict:
    """Synapses as a precomputed POINT annotation collection with relationships ``pre``/``post``.

    ``synapses`` is a pandas DataFrame, pyarrow Table or mapping with columns ``id`` (uint64),
    ``pre_id``, ``post_id`` (cell ids), ``x_nm, y_nm, z_nm`` and the numeric ``properties``
    (written as float32, or uint32/int32 when the column has that dtype).  ``bounds_nm``:
    ``(lower, upper)``; default: the points' bounding box (+1 nm).  Returns the info written.
    """
    cols = _table_columns(synapses)
    need = [id_column, pre_column, post_column, *position_columns, *properties]
    missing = [c for c in need if c not in cols]
    if missing:
        raise InputError(f"synapses: missing column(s) {missing}; got {sorted(cols)}")
    for p in properties:
        if not p or not (p[0].isalpha() and p[0].islower()) or not p.replace("_", "a").isalnum():
            raise InputError(f"properties: {p!r} is not a valid Neuroglancer property id "
                             "(^[a-z][a-zA-Z0-9_]*$)")
    ids = cols[id_column].astype(np.uint64)
    if len(np.unique(ids)) != len(ids):
        raise InputError(f"synapses: column {id_column!r} holds duplicate ids")
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    pre = cols[pre_column].astype(np.uint64)[order]
    post = cols[post_column].astype(np.uint64)[order]
    pos = np.stack([cols[c].astype(np.float64) for c in position_columns], axis=1)[order]
    n = len(ids)
    prop_types = []
    for p in properties:
        a = cols[p]
        t = {"u": "uint32", "i": "int32"}.get(a.dtype.kind, "float32")
        prop_types.append((p, t))
    rec_dtype = np.dtype([("xyz", "<f4", (3,))] + [(p, _ANN_TYPES[t]) for p, t in prop_types])
    rec = np.zeros(n, rec_dtype)
    rec["xyz"] = pos
    for p, t in prop_types:
        rec[p] = cols[p][order].astype(_ANN_TYPES[t])
    if bounds_nm is None:
        lo = np.floor(pos.min(axis=0)) if n else np.zeros(3)
        hi = np.floor(pos.max(axis=0)) + 1 if n else np.ones(3)
    else:
        lo = _vec3(bounds_nm[0], "bounds_nm[0]")
        hi = _vec3(bounds_nm[1], "bounds_nm[1]")
    d = Path(ann_dir)
    info = {
        "@type": "neuroglancer_annotations_v1",
        "dimensions": {"x": [1e-9, "m"], "y": [1e-9, "m"], "z": [1e-9, "m"]},
        "lower_bound": [float(x) for x in lo],
        "upper_bound": [float(x) for x in hi],
        "annotation_type": "POINT",
        "properties": [{"id": p, "type": t} for p, t in prop_types],
        "relationships": [{"id": "pre", "key": "pre"}, {"id": "post", "key": "post"}],
        "by_id": {"key": "by_id"},
        "spatial": [{"key": "spatial0", "grid_shape": [1, 1, 1],
                     "chunk_size": [float(h - lo_) for lo_, h in zip(lo, hi)],
                     "limit": max(1, n)}],
    }
    _write_json(d / "info", info)

    def multiple(sel: np.ndarray) -> bytes:
        return (np.uint64(len(sel)).astype("<u8").tobytes() + rec[sel].tobytes()
                + ids[sel].astype("<u8").tobytes())

    (d / "by_id").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rel = (np.asarray([1], "<u4").tobytes() + np.asarray([pre[i]], "<u8").tobytes()
               + np.asarray([1], "<u4").tobytes() + np.asarray([post[i]], "<u8").tobytes())
        _atomic_write_bytes(d / "by_id" / str(int(ids[i])), rec[i: i + 1].tobytes() + rel)
    for key, rel_ids in (("pre", pre), ("post", post)):
        (d / key).mkdir(parents=True, exist_ok=True)
        srt = np.argsort(rel_ids, kind="stable")
        uniq, start = np.unique(rel_ids[srt], return_index=True)
        bounds = list(start) + [n]
        for j, obj in enumerate(uniq):
            _atomic_write_bytes(d / key / str(int(obj)), multiple(np.sort(srt[bounds[j]: bounds[j + 1]])))
    (d / "spatial0").mkdir(parents=True, exist_ok=True)
    _atomic_write_bytes(d / "spatial0" / "0_0_0", multiple(np.arange(n)))
    return info


# --------------------------------------------------------------------------------------------
# everything
# --------------------------------------------------------------------------------------------

def export_neuroglancer(
    root: str | os.PathLike,
    *,
    voxel_size_nm: Sequence[float],
    volume_shape_xyz: Sequence[int],
    meshes: Mapping[int, Mesh] | None = None,
    skeletons: Mapping[int, Skeleton] | None = None,
    compartments: Mapping[int, np.ndarray] | None = None,
    cells: Any = None,
    synapses: Any = None,
    synapse_properties: Sequence[str] = (),
    chunk_size_xyz: Sequence[int] = (64, 64, 64),
) -> Path:
    """Write a complete precomputed folder (see module docstring); returns ``root``.

    ``cells``: table with columns ``id``, optionally ``cell_type`` (string) and any numeric
    columns (``size`` in voxels, ...) -> segment properties.  ``synapses``: see :func:`write_synapse_annotations`.
    Label chunks are not written here; stream them with :func:`write_volume_chunk` (on the grid
    of ``chunk_size_xyz``).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    write_segmentation_info(root, size_xyz=volume_shape_xyz, voxel_size_nm=voxel_size_nm,
                            chunk_size_xyz=chunk_size_xyz, mesh="mesh" if meshes is not None else None,
                            skeletons="skeletons" if skeletons is not None else None,
                            segment_properties="segment_properties" if cells is not None else None)
    if meshes is not None:
        write_legacy_meshes(root / "mesh", meshes)
    if skeletons is not None:
        write_skeletons(root / "skeletons", skeletons, compartments=compartments,
                        segment_properties="../segment_properties" if cells is not None else None)
    if cells is not None:
        c = _table_columns(cells)
        if "id" not in c:
            raise InputError(f"cells: missing column 'id'; got {sorted(c)}")
        strings = {k: c[k] for k in ("cell_type",) if k in c}
        numbers = {k: v for k, v in c.items() if k not in ("id", "cell_type")}
        label = [f"{int(i)} {t}" for i, t in zip(c["id"], c["cell_type"])] if "cell_type" in c \
            else None
        write_segment_properties(root / "segment_properties", c["id"], label=label,
                                 strings=strings, numbers=numbers)
    if synapses is not None:
        vs = _vec3(voxel_size_nm, "voxel_size_nm", positive=True)
        upper = _vec3(volume_shape_xyz, "volume_shape_xyz", kind="int", positive=True) * vs
        write_synapse_annotations(root / "synapses", synapses, properties=synapse_properties,
                                  bounds_nm=(np.zeros(3), upper))
    return root
