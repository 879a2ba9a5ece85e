"""Volumes larger than memory: ``syconn synth --tile X Y Z`` makes the volume tile by tile.

:func:`~syconn.synth.core.synthesize` holds its volume whole (about 30 bytes per voxel at its
peak: 2 GB for 512 x 512 x 256).  :func:`generate_tiled` fills a larger volume with tiles of
independent tissue, one at a time: each tile is synthesised with its own seed (drawn from the
volume's seed and the tile's index), written into the volumes at its place, and dropped; peak
memory is one tile's, whatever the volume's size.  Ids are made unique across tiles
(supervoxels, cells, mitochondria, synapses and skeleton nodes of tile k follow those of tiles
0 .. k-1) and every coordinate of the ground truth is shifted to the tile's place, so the
ground truth covers the whole volume and every evaluation reads it as it reads an untiled one.

What tiling changes: no cell, synapse or mitochondrion crosses a tile face; each tile's cells
end there as they end on the volume's faces (their ground-truth cable is clipped to the tile),
and the cells of two tiles touch across the face with no extracellular gap and no synapses.
With ``--variation`` the tissue's variation (voxel size, gap, maps, noise) is drawn once from the
volume's seed and is the same in every tile.
"""

from __future__ import annotations

import bz2
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from syconn.errors import InputError

__all__ = ["tile_grid", "tile_seed", "offset_tables", "generate_tiled", "MIN_TILE"]

MIN_TILE = 64  #: smallest tile edge in voxels (a tile must hold whole cells' worth of tissue)
CHUNKS = (128, 128, 64)

#: id columns of the ground-truth tables, by the id space they belong to
_SV_COLUMNS = {"cells": ["cell_id"], "supervoxels": ["sv_id", "cell_id"],
               "synapses": ["pre_cell_id", "post_cell_id"], "mitochondria": ["cell_id"],
               "skeletons": ["cell_id"], "agglomeration_errors": ["sv_a", "sv_b"],
               "decoys": ["cell_a", "cell_b"], "candidates": ["pre_cell_id", "post_cell_id"]}
_OWN_ID = {"synapses": "syn_id", "mitochondria": "mito_id"}
_VOXEL_XYZ = {"cells": ("soma_x", "soma_y", "soma_z")}  # else x, y, z where present


def tile_grid(shape_xyz, tile_xyz) -> list[tuple[int, int, int]]:
    """The origins of the tiles, x fastest, then y, then z.

    >>> tile_grid((256, 128, 64), (128, 128, 64))
    [(0, 0, 0), (128, 0, 0)]
    >>> tile_grid((100, 64, 64), (64, 64, 64))
    Traceback (most recent call last):
    ...
    syconn.errors.InputError: --tile: 64 64 64 does not divide --shape 100 64 64
    """
    shape = tuple(int(s) for s in shape_xyz)
    tile = tuple(int(t) for t in tile_xyz)
    if len(tile) != 3 or min(tile) < MIN_TILE:
        raise InputError(f"--tile: got {' '.join(map(str, tile))}, expected three sizes >= "
                         f"{MIN_TILE} voxels")
    if any(s % t for s, t in zip(shape, tile)):
        raise InputError(f"--tile: {' '.join(map(str, tile))} does not divide --shape "
                         f"{' '.join(map(str, shape))}")
    n = [s // t for s, t in zip(shape, tile)]
    return [(i * tile[0], j * tile[1], k * tile[2])
            for k in range(n[2]) for j in range(n[1]) for i in range(n[0])]


def tile_seed(seed: int, index: int) -> int:
    """The seed of tile ``index`` of a volume of seed ``seed`` (the same on every machine).

    >>> tile_seed(0, 1) == tile_seed(0, 1) != tile_seed(0, 2)
    True
    """
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint32)[0])


def offset_tables(tables: dict[str, pd.DataFrame], *, sv: int, mito: int, syn: int, node: int,
                  origin, voxel_size_nm) -> dict[str, pd.DataFrame]:
    """One tile's ground-truth tables with ids and coordinates moved to the tile's place.

    ``sv``, ``mito``, ``syn``, ``node``: what the tiles before it hold (added to every id of
    that kind but 0 and -1, which mean none); ``origin``: the tile's first voxel.

    >>> t = offset_tables({"synapses": pd.DataFrame({"syn_id": [1], "pre_cell_id": [3],
    ...                    "post_cell_id": [5], "x": [2], "y": [0], "z": [1]})},
    ...                   sv=10, mito=0, syn=7, node=0, origin=(64, 0, 32),
    ...                   voxel_size_nm=(10, 10, 20))
    >>> t["synapses"].iloc[0].tolist()
    [8, 13, 15, 66, 0, 33]
    """
    o = np.asarray(origin, np.int64)
    o_nm = o * np.asarray(voxel_size_nm, np.float64)
    out = {}
    for name, df in tables.items():
        df = df.copy()
        for col in _SV_COLUMNS.get(name, []):
            v = df[col].to_numpy()
            df[col] = np.where(v > 0, v + np.asarray(sv, v.dtype), v)
        if name in _OWN_ID:
            col = _OWN_ID[name]
            df[col] = df[col] + {"synapses": syn, "mitochondria": mito}[name]
        if name == "skeletons":
            df["node_id"] = df["node_id"] + node
            df["parent_id"] = np.where(df["parent_id"] >= 0, df["parent_id"] + node,
                                       df["parent_id"])
            for a, v in zip("xyz", o_nm):
                df[f"{a}_nm"] = df[f"{a}_nm"] + v
        for a, col in zip(range(3), _VOXEL_XYZ.get(name, ("x", "y", "z"))):
            if col in df.columns:
                df[col] = df[col] + o[a]
        out[name] = df
    return out


def _move_into(tmp: Path, out: Path) -> None:
    """Put what ``tmp`` holds into ``out`` (replacing entries of the same names)."""
    if not out.exists():
        tmp.rename(out)
        return
    for p in tmp.iterdir():
        dest = out / p.name
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        elif dest.exists():
            dest.unlink()
        p.rename(dest)
    tmp.rmdir()


def generate_tiled(out, *, shape_xyz, tile_xyz, voxel_size_nm=None, seed: int = 0,
                   variation: bool = False, fmt: str = "h5", log=None) -> dict:
    """Write a volume of ``shape_xyz`` voxels made of tiles of ``tile_xyz`` to ``out``, holding
    one tile at a time; returns what ``synth.json`` records.

    The layout is :func:`~syconn.synth.write.write_dataset`'s; ``synth.json`` also names the
    tiles (``tiles``: shape, origins, seeds).  Nothing is left in ``out`` when it fails: the
    dataset is built beside it and moved in at the end.
    """
    from syconn.io import create_volume
    from syconn.synth.core import synthesize
    from syconn.synth.variation import Variation
    from syconn.synth.write import (COMPARTMENT_CODES, FORMATS, GT_TABLES, VOLUMES, _version,
                                     _volume_spec)

    if fmt not in FORMATS:
        raise InputError(f"--format: got {fmt!r}, expected one of {', '.join(FORMATS)}")
    origins = tile_grid(shape_xyz, tile_xyz)
    shape, tile = tuple(int(s) for s in shape_xyz), tuple(int(t) for t in tile_xyz)
    var = Variation.draw(seed) if variation else None
    if voxel_size_nm is None:
        voxel_size_nm = var.voxel_size_nm if var is not None else (10.0, 10.0, 20.0)
    vs = tuple(float(v) for v in voxel_size_nm)
    out = Path(out)
    tmp = out.parent / f".{out.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "gt").mkdir(parents=True)
    try:
        dtypes = {"raw": np.uint8, "seg": np.uint64, "mi": np.uint8, "vc": np.uint8,
                  "sj": np.uint8, "sym": np.uint8, "asym": np.uint8}
        vols, rel = {}, {}
        kw = {"fmt": "knossos"} if fmt == "knossos" else {}
        for name in VOLUMES:
            path, rel[name] = _volume_spec(tmp, name, fmt)
            vols[name] = create_volume(path, shape, dtypes[name], voxel_size_nm=vs,
                                       chunks=CHUNKS, overwrite=True, **kw)
        gt_rel = {}
        for name, dt in (("compartments", np.uint8), ("mitochondria", np.uint32)):
            path, r = _volume_spec(tmp / "gt", name, fmt)
            gt_rel[name] = f"gt/{r}"
            vols[f"gt_{name}"] = create_volume(path, shape, dt, voxel_size_nm=vs,
                                               chunks=CHUNKS, overwrite=True, **kw)
        tables = {n: [] for n in GT_TABLES}
        seeds, edges = [], []
        sv = mito = syn = node = 0
        t0 = time.perf_counter()
        for k, origin in enumerate(origins):
            s_k = tile_seed(seed, k)
            seeds.append(s_k)
            res = synthesize(shape_xyz=tile, voxel_size_nm=vs, seed=s_k, variation=var)
            seg = res.seg
            seg[seg > 0] += np.uint64(sv)
            mvol = res.mito.astype(np.uint32, copy=False)
            mvol[mvol > 0] += np.uint32(mito)
            for name in VOLUMES:
                vols[name].write(origin, getattr(res, name))
            vols["gt_compartments"].write(origin, res.compartments)
            vols["gt_mitochondria"].write(origin, mvol)
            if len(res.edges):
                edges.append(np.asarray(res.edges, np.uint64) + np.uint64(sv))
            moved = offset_tables({n: getattr(res, n) for n in GT_TABLES}, sv=sv, mito=mito,
                                  syn=syn, node=node, origin=origin, voxel_size_nm=vs)
            for n in GT_TABLES:
                tables[n].append(moved[n])
            sv += int(res.supervoxels.sv_id.max()) if len(res.supervoxels) else 0
            mito += int(res.mitochondria.mito_id.max()) if len(res.mitochondria) else 0
            syn += int(res.synapses.syn_id.max()) if len(res.synapses) else 0
            node += int(res.skeletons.node_id.max()) + 1 if len(res.skeletons) else 0
            del res, seg, mvol
            if log:
                el = time.perf_counter() - t0
                log(f"tile {k + 1}/{len(origins)} at {origin}: {sv} supervoxels so far, "
                    f"{el:.0f} s, about {el / (k + 1) * (len(origins) - k - 1):.0f} s to go")
        for v in vols.values():
            v.close()
        rag_name = "neuron_rag.bz2"
        e = np.concatenate(edges) if edges else np.zeros((0, 2), np.uint64)
        with bz2.open(tmp / rag_name, "wt") as f:
            f.write("".join(f"{a} {b}\n" for a, b in e.tolist()))
        gt = {n: pd.concat(tables[n], ignore_index=True) for n in GT_TABLES}
        for n, df in gt.items():
            df.to_parquet(tmp / "gt" / f"{n}.parquet", index=False)
        cells = gt["cells"]
        meta = {
            "voxel_size_nm": list(vs), "shape_xyz": list(shape), "seed": int(seed),
            "format": fmt, "volumes": rel, "agglomeration": rag_name,
            "ground_truth": {
                "tables": {n: f"gt/{n}.parquet" for n in GT_TABLES},
                "volumes": gt_rel,
                "compartment_codes": COMPARTMENT_CODES,
            },
            "counts": {"cells": int(len(cells)), "neurons": int((~cells.is_glia).sum()),
                       "glia": int(cells.is_glia.sum()),
                       "supervoxels": int(len(gt["supervoxels"])),
                       "synapses": int(len(gt["synapses"])),
                       "mitochondria": int(len(gt["mitochondria"]))},
            "variation": None if var is None or var.is_default else var.as_dict(),
            "tiles": {"tile_xyz": list(tile), "origins": [list(o) for o in origins],
                      "seeds": seeds},
            "syconn_version": _version(),
        }
        (tmp / "synth.json").write_text(json.dumps(meta, indent=2) + "\n")
        _move_into(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta
