"""``syconn export WD ply|obj|swc|neuroglancer``: meshes and skeletons for the tools people use.

Reads what the pipeline stored (the mesh and skeleton stores, SQL); recomputes nothing.

- ``ply`` / ``obj``: one file per object, ``<kind>_<id>.ply`` (vertices in nm).
- ``swc``: one file per cell skeleton, ``<id>.swc`` (nm, radius in nm), readable by navis; the
  node type is the compartment (1 soma, 2 axon and boutons, 3 dendrite) where that step ran.

  These exports add to their folder (default ``WD/export/<fmt>``): each file is written
  atomically (a temporary name in the same folder, then ``os.replace``), so a second export
  (other cells, another ``--kind``) keeps the files of the first, a re-export of an object
  replaces just its file, and an interrupted export leaves only complete files.

- ``neuroglancer``: a precomputed segmentation folder with legacy meshes, skeletons (vertex
  attributes ``radius`` and ``compartment``: 0 where the compartment step has not labelled the
  cell, else 1 + the code, 1 dendrite, 2 axon, 3 soma, 4 en-passant, 5 terminal bouton), segment
  properties (cell type where known, size in voxels, mesh volume in µm³, cable length in µm)
  and the synapses above the working directory's threshold as an annotation layer
  ``synapses/`` with ``pre`` / ``post`` relationships; with ``volume`` also the cell label
  volume (raw uint64 chunks, 8 bytes per voxel: meant for small volumes).  Serve the folder
  over HTTP (``python -m http.server`` with CORS, or any static server) and open
  ``precomputed://http://HOST/`` plus ``precomputed://http://HOST/synapses``.

  The folder is one dataset (its ``info``, segment properties and annotation index list what
  is in it), so it is written to a temporary folder next to the destination and replaces the
  destination as a whole: the old folder is renamed aside, the new one renamed in, then the
  old one removed, so a failed export changes nothing and a crash never leaves no export.
  The default destination is ``WD/export/neuroglancer``, or with ``cells``
  ``WD/export/neuroglancer_cells_<ids>`` (ids joined by ``_``; more than 5 ids, or none:
  ``neuroglancer_cells_<n>_<hash>``, the first 8 hex digits of the SHA-1 of the sorted ids
  joined by ``,``), so a subset export never replaces the full one.  An explicit ``out``
  folder is replaced as a whole.

Exported files get the usual mode (``0o666`` less the umask), folders ``0o777`` less the umask.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from syconn.errors import InputError
from syconn.read import Results, export_dir

__all__ = ["EXPORT_FORMATS", "export"]

EXPORT_FORMATS = ("ply", "obj", "swc", "neuroglancer")


def _cell_rows(res: Results, cells: Sequence[int] | None) -> dict[str, list]:
    """The cells table (``CELL_COLUMNS``), restricted to ``cells`` (all of them must exist)."""
    table = res.cell_table()
    ids = np.asarray(table["id"], np.int64)
    if cells is not None:
        want = np.asarray(sorted(set(int(c) for c in cells)), np.int64)
        missing = want[~np.isin(want, ids)]
        if len(missing):
            raise InputError(f"--cells: {len(missing)} id(s) not in the cells table, e.g. "
                             f"{int(missing[0])}")
        keep = np.isin(ids, want)
        table = {c: [v for v, k in zip(vals, keep) if k] for c, vals in table.items()}
    return table


def export(wd: Path | str, fmt: str, out: Path | str | None = None, *,
           cells: Sequence[int] | None = None, kind: str = "cells", volume: bool = False,
           log: Callable[[str], None] = print) -> Path:
    """Export meshes / skeletons of ``wd`` in ``fmt`` to the folder ``out``.

    Parameters
    ----------
    wd : path
        The working directory.
    fmt : {"ply", "obj", "swc", "neuroglancer"}
        The format (see the module docstring).
    out : path, optional
        Destination folder.  Default ``WD/export/<fmt>``; for ``neuroglancer`` with ``cells``
        ``WD/export/neuroglancer_cells_<ids>``.  ply / obj / swc files are added to it (a file
        of the same object is replaced); a neuroglancer folder is replaced as a whole.
    cells : sequence of int, optional
        Restrict to these cell ids (organelle and synapse meshes: those assigned to / touching
        them).
    kind : {"cells", "mi", "vc", "sj", "syn"}
        ply / obj: which meshes to export.
    volume : bool
        neuroglancer: also write the cell label volume.
    log : callable
        Receives one line per progress message.

    Returns
    -------
    Path
        The destination folder.

    Raises
    ------
    InputError
        An unknown format or kind, cell ids not in the cells table, ``out`` an existing file,
        or the meshes / skeletons not computed yet.
    """
    wd = Path(wd)
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"format: got {fmt!r}, expected one of {', '.join(EXPORT_FORMATS)}")
    if kind not in ("cells", "mi", "vc", "sj", "syn"):
        raise InputError(f"--kind: got {kind!r}, expected cells, mi, vc, sj or syn")
    res = Results(wd)
    table = _cell_rows(res, cells)
    out = Path(out) if out is not None else export_dir(wd) / _default_name(fmt, table, cells)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} is a file, expected a folder (or a path not yet there)")
    if fmt in ("ply", "obj"):
        n = _export_meshes(res, out, fmt, kind, table, cells is not None)
        log(f"{n} {kind} meshes")
    elif fmt == "swc":
        n = _export_swc(res, out, table)
        log(f"{n} skeletons")
    else:
        tmp = out.with_name(f".{out.name}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            _export_neuroglancer(res, tmp, table, cells, volume, log)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _replace_folder(tmp, out)
    log(f"written to {out}")
    return out


def _default_name(fmt: str, table: dict, cells: Sequence[int] | None) -> str:
    """``fmt``; a neuroglancer export of some cells: ``neuroglancer_cells_<ids or n_hash>``."""
    if fmt != "neuroglancer" or cells is None:
        return fmt
    ids = [str(int(c)) for c in table["id"]]            # sorted, unique
    if 0 < len(ids) <= 5:
        return "neuroglancer_cells_" + "_".join(ids)
    digest = hashlib.sha1(",".join(ids).encode()).hexdigest()[:8]
    return f"neuroglancer_cells_{len(ids)}_{digest}"


def _replace_folder(new: Path, out: Path) -> None:
    """Rename the complete folder ``new`` to ``out``; an old ``out`` is renamed aside first and
    removed last, so at every moment one complete export exists (``out`` or ``.out.old``)."""
    old = out.with_name(f".{out.name}.old")
    if out.exists():
        shutil.rmtree(old, ignore_errors=True)      # left by a crash after a swap: out is newer
        out.rename(old)
    new.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _object_ids(res: Results, kind: str, table: dict, restricted: bool) -> list[int] | None:
    """Ids of the objects of ``kind`` belonging to the selected cells (None: all)."""
    if not restricted:
        return None
    cells = [int(c) for c in table["id"]]
    if kind == "cells":
        return cells
    if not cells:
        return []
    if kind == "syn":
        return res.synapse_ids(cells).tolist()
    return res.organelle_ids(kind, cells).tolist()


def _export_meshes(res: Results, out: Path, fmt: str, kind: str, table: dict,
                   restricted: bool) -> int:
    from syconn.io.meshes import write_obj, write_ply

    store = res.mesh_store(kind)
    ids = _object_ids(res, kind, table, restricted)
    write = write_ply if fmt == "ply" else write_obj
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    items = store.items() if ids is None else sorted(store.get_many(ids).items())
    for oid, mesh in items:
        write(out / f"{kind}_{oid}.{fmt}", mesh)
        n += 1
    return n


def _export_swc(res: Results, out: Path, table: dict) -> int:
    from syconn.io.swc import write_swc

    from syconn.proc.compartments import SWC_TYPES

    got = res.skeletons(int(c) for c in table["id"])
    comps = res.node_compartments(got)
    out.mkdir(parents=True, exist_ok=True)
    for oid, skel in sorted(got.items()):
        lab = comps.get(oid)
        types = SWC_TYPES[lab] if lab is not None and len(lab) == skel.n_vertices else None
        write_swc(out / f"{oid}.swc", skel, node_types=types,
                  comment=f"syconn cell {oid}; coordinates and radii in nm; node type: "
                          + ("compartment (1 soma, 2 axon and boutons, 3 dendrite)"
                             if types is not None else "0 (no compartments)"))
    return len(got)


def _export_neuroglancer(res: Results, tmp: Path, table: dict, cells: Sequence[int] | None,
                         volume: bool, log: Callable[[str], None]) -> None:
    from syconn.io.neuroglancer import export_neuroglancer
    from syconn.tasks.base import cache_chunks

    vs = res.voxel_size_nm
    ids = [int(c) for c in table["id"]]
    meshes = res.meshes("cells", ids)
    skels = res.skeletons(ids)
    props = {"id": np.asarray(ids, np.uint64),
             "size": np.asarray(table["size_vx"], np.int64).astype(np.uint64),
             "volume_um3": np.asarray([np.nan if v is None else v for v in table["volume_um3"]],
                                      np.float32),
             "cable_length_um": np.asarray([np.nan if v is None else v
                                            for v in table["cable_length_um"]], np.float32)}
    if any(t is not None for t in table["cell_type"]):
        props["cell_type"] = np.asarray([t or "unknown" for t in table["cell_type"]], object)
    syn = res.synapse_frame(("id", "cell_pre", "cell_post", "cell_a", "cell_b", "rep_x",
                             "rep_y", "rep_z", "syn_prob", "sign", "area_um2"),
                            above=res.syn_prob_threshold())
    if cells is not None:
        sel = set(ids)
        syn = syn[syn["cell_a"].isin(sel) | syn["cell_b"].isin(sel)]
    known = syn["cell_pre"].notna()
    # undetermined direction: the partners in id order, direction_known = 0
    syn = syn.assign(
        pre_id=np.where(known, syn["cell_pre"].fillna(0), syn["cell_a"]).astype(np.uint64),
        post_id=np.where(known, syn["cell_post"].fillna(0), syn["cell_b"]).astype(np.uint64),
        x_nm=syn["rep_x"] * vs[0], y_nm=syn["rep_y"] * vs[1], z_nm=syn["rep_z"] * vs[2],
        syn_prob=syn["syn_prob"].astype(np.float32), sign=syn["sign"].astype(np.int32),
        area_um2=syn["area_um2"].astype(np.float32),
        direction_known=known.astype(np.uint32), id=syn["id"].astype(np.uint64))
    comps = {c: lab + 1 for c, lab in res.node_compartments(skels).items()
             if len(lab) == skels[c].n_vertices}
    export_neuroglancer(tmp, voxel_size_nm=vs, volume_shape_xyz=res.seg_shape(), meshes=meshes,
                        skeletons=skels, compartments=comps, cells=props, synapses=syn,
                        synapse_properties=("syn_prob", "sign", "area_um2", "direction_known"),
                        chunk_size_xyz=cache_chunks(res.cfg.dataset.block_shape))
    log(f"{len(meshes)} meshes, {len(skels)} skeletons, {len(syn)} synapses")
    if volume:
        _write_cell_volume(res, tmp, ids if cells is not None else None, log)


def _write_cell_volume(res: Results, root: Path, ids: list[int] | None,
                       log: Callable[[str], None]) -> None:
    """The segmentation mapped to cell ids, block by block, as raw precomputed chunks."""
    from syconn.io.neuroglancer import write_volume_chunk

    n_blocks = res.n_blocks()
    for n, (offset, labels) in enumerate(res.cell_label_blocks(ids)):
        write_volume_chunk(root, labels, offset)
        if (n + 1) % 10 == 0 or n + 1 == n_blocks:
            log(f"label volume: {n + 1}/{n_blocks} blocks")
