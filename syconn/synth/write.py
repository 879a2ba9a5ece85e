"""Write a :class:`~syconn.synth.core.SynthResult` in the layout of SyConn's example data.

``OUT/raw.h5 seg.h5 mi.h5 vc.h5 sj.h5 sym.h5 asym.h5`` (XYZ, dataset key = file stem),
``OUT/neuron_rag.bz2`` (one ``sv_a sv_b`` edge per line), ``OUT/synth.json`` and ground truth
under ``OUT/gt/`` (Parquet tables plus ``compartments`` and ``mitochondria`` label volumes).
With ``fmt="zarr"`` the volumes are ``OUT/<name>.zarr``; with ``fmt="knossos"`` they are
KNOSSOS datasets ``OUT/knossos/<name>`` (both written through :mod:`syconn.io`).
"""

from __future__ import annotations

import bz2
import json
from pathlib import Path

import numpy as np

from syconn.errors import InputError

__all__ = ["write_dataset", "VOLUMES", "FORMATS"]

VOLUMES = ("raw", "seg", "mi", "vc", "sj", "sym", "asym")
GT_TABLES = ("cells", "supervoxels", "synapses", "mitochondria", "skeletons", "agglomeration_errors",
             "decoys", "candidates")
FORMATS = ("h5", "knossos", "zarr")
#: ``synth.json``'s ``ground_truth.compartment_codes`` (:class:`~syconn.synth.types.Compartment`)
COMPARTMENT_CODES = {"background": 0, "dendrite": 1, "axon": 2, "soma": 3, "spine_neck": 4,
                     "spine_head": 5, "bouton": 6, "glia": 7}


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("syconn")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


def _write_h5(path: Path, key: str, arr: np.ndarray) -> None:
    import h5py

    chunks = tuple(min(s, c) for s, c in zip(arr.shape, (128, 128, 64)))
    with h5py.File(path, "w") as f:
        f.create_dataset(key, data=arr, chunks=chunks, compression="lzf")


def _write_io(spec: str, arr: np.ndarray, vs, fmt: str) -> None:
    from syconn.io import create_volume

    kw = {"fmt": "knossos"} if fmt == "knossos" else {}
    vol = create_volume(spec, arr.shape, arr.dtype, voxel_size_nm=tuple(vs), overwrite=True, **kw)
    vol.write((0, 0, 0), arr)


def _volume_spec(out: Path, name: str, fmt: str) -> tuple[str, str]:
    """(path written, path relative to OUT recorded in synth.json)."""
    rel = {"h5": f"{name}.h5", "zarr": f"{name}.zarr", "knossos": f"knossos/{name}"}[fmt]
    return str(out / rel), rel


def write_volume(out: Path, name: str, arr: np.ndarray, vs, fmt: str) -> str:
    path, rel = _volume_spec(out, name, fmt)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if fmt == "h5":
        _write_h5(Path(path), name, arr)
    else:
        _write_io(path, arr, vs, fmt)
    return rel


def write_dataset(result, out_dir, *, fmt: str = "h5", preview=None, rag_name: str = "neuron_rag.bz2") -> Path:
    """Write volumes, agglomeration graph, ground truth and ``synth.json`` to ``out_dir``.

    Parameters
    ----------
    result : SynthResult
    out_dir : path
        Created if missing; existing files of the same names are replaced.
    fmt : {"h5", "knossos", "zarr"}
    preview : path, optional
        Also write a PNG preview (see :func:`syconn.synth.preview.write_preview`).

    Returns
    -------
    Path of ``synth.json``.
    """
    if fmt not in FORMATS:
        raise InputError(f"format: got {fmt!r}, expected one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vs = result.voxel_size_nm
    vols = {}
    for name in VOLUMES:
        vols[name] = write_volume(out, name, getattr(result, name), vs, fmt)
    with bz2.open(out / rag_name, "wt") as f:
        f.write("".join(f"{a} {b}\n" for a, b in result.edges.tolist()))
    gt = out / "gt"
    gt.mkdir(exist_ok=True)
    for name in GT_TABLES:
        getattr(result, name).to_parquet(gt / f"{name}.parquet", index=False)
    gt_vols = {
        "compartments": write_volume(gt, "compartments", result.compartments, vs, fmt),
        "mitochondria": write_volume(gt, "mitochondria", result.mito, vs, fmt),
    }
    meta = {
        "voxel_size_nm": [float(v) for v in vs],
        "shape_xyz": [int(s) for s in result.shape_xyz],
        "seed": int(result.seed),
        "format": fmt,
        "volumes": vols,
        "agglomeration": rag_name,
        "ground_truth": {
            "tables": {n: f"gt/{n}.parquet" for n in GT_TABLES},
            "volumes": {k: f"gt/{v}" for k, v in gt_vols.items()},
            "compartment_codes": COMPARTMENT_CODES,
        },
        "counts": {
            "cells": int(len(result.cells)), "neurons": result.n_neurons,
            "glia": int(result.cells.is_glia.sum()), "supervoxels": int(len(result.supervoxels)),
            "synapses": int(len(result.synapses)), "mitochondria": int(len(result.mitochondria)),
        },
        "variation": None if result.variation.is_default else result.variation.as_dict(),
        "syconn_version": _version(),
    }
    path = out / "synth.json"
    path.write_text(json.dumps(meta, indent=2) + "\n")
    if preview is not None:
        from syconn.synth.preview import write_preview

        write_preview(result, preview)
    return path
