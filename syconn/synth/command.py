"""``syconn synth``: the typer command (registered in :mod:`syconn.cli`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from syconn.errors import InputError
from syconn.synth.core import EXAMPLE_SHAPE_XYZ, synthesize
from syconn.synth.variation import Variation
from syconn.synth.write import FORMATS, write_dataset

__all__ = ["synth_command", "generate"]


def generate(out, *, shape_xyz=EXAMPLE_SHAPE_XYZ, voxel_size_nm=None, seed=0, n_cells=None,
             fmt="h5", preview=None, merge_errors=0, split_errors=0, glia_merges=0, variation=False,
             log=None):
    """Synthesise a volume and write it to ``out``; returns the :class:`SynthResult`.

    ``variation=True`` draws the tissue's :class:`~syconn.synth.variation.Variation` from
    ``seed``, its voxel size included unless ``voxel_size_nm`` is given; without it the voxel
    size defaults to 10 x 10 x 20 nm."""
    if fmt not in FORMATS:
        raise InputError(f"--format: got {fmt!r}, expected one of {', '.join(FORMATS)}")
    var = Variation.draw(seed) if variation else None
    if voxel_size_nm is None:
        voxel_size_nm = var.voxel_size_nm if var is not None else (10.0, 10.0, 20.0)
    t0 = time.perf_counter()
    res = synthesize(shape_xyz=shape_xyz, voxel_size_nm=voxel_size_nm, seed=seed, n_cells=n_cells,
                     merge_errors=merge_errors, split_errors=split_errors, glia_merges=glia_merges,
                     variation=var)
    if log:
        if var is not None:
            log(f"variation of seed {seed}: voxel size {'x'.join(f'{v:g}' for v in voxel_size_nm)} "
                f"nm, gap {var.gap_vx} voxels, sj band {1000 * var.sj_half_width_um:.0f} nm, "
                f"map noise sd {var.noise_sd:.1f}, blur {var.blur_nm:.1f} nm, "
                f"{len(res.decoys)} decoy contacts")
        log(f"synthesised {tuple(res.shape_xyz)} voxels in {time.perf_counter() - t0:.1f} s: "
            f"{res.n_neurons} neurons, {int(res.cells.is_glia.sum())} glia, {len(res.synapses)} synapses, "
            f"{len(res.mitochondria)} mitochondria, {len(res.supervoxels)} supervoxels")
    t1 = time.perf_counter()
    write_dataset(res, out, fmt=fmt, preview=preview)
    if log:
        log(f"wrote {fmt} dataset to {out} in {time.perf_counter() - t1:.1f} s")
    return res


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def synth_command(
    out: Annotated[Path, typer.Argument(help="Output folder (created).")],
    shape: Annotated[tuple[int, int, int], typer.Option(help="Volume size in voxels, X Y Z.")] = EXAMPLE_SHAPE_XYZ,
    voxel_size: Annotated[Optional[tuple[float, float, float]], typer.Option(
        help="Voxel size in nm, X Y Z (default 10 10 20; with --variation drawn from the seed).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 0,
    cells: Annotated[Optional[int], typer.Option(help="Number of cells (default: scales with the volume).")] = None,
    format: Annotated[str, typer.Option("--format", help="h5, knossos or zarr.")] = "h5",
    preview: Annotated[Optional[Path], typer.Option(help="Write a PNG preview here.")] = None,
    merge_errors: Annotated[int, typer.Option(help="False merges injected into the agglomeration graph.")] = 0,
    split_errors: Annotated[int, typer.Option(help="False splits injected into the agglomeration graph.")] = 0,
    glia_merges: Annotated[int, typer.Option(help="False merges of a glia supervoxel with a neuron supervoxel near it.")] = 0,
    variation: Annotated[bool, typer.Option(
        "--variation", help="Draw the tissue from the seed: voxel size, gap between cells, axon, bouton "
        "and cleft sizes, sj band thickness, side and offset, weak/strong maps, decoy sj blobs in "
        "cells and on non-synaptic contacts, noise and blur of every map (syconn.synth.variation).")] = False,
    tile: Annotated[Optional[tuple[int, int, int]], typer.Option(
        help="Make the volume tile by tile (X Y Z voxels, dividing --shape): peak memory is one "
        "tile's, for volumes larger than memory; cells do not cross tile faces "
        "(syconn.synth.tiled).")] = None,
) -> None:
    """Synthesise neural tissue with ground truth (raw EM, supervoxels, maps, synapses)."""
    if any(s < 16 for s in shape):
        raise InputError(f"--shape: got {' '.join(map(str, shape))}, expected three sizes >= 16 voxels")
    if voxel_size is not None and any(v <= 0 for v in voxel_size):
        raise InputError(f"--voxel-size: got {' '.join(map(str, voxel_size))}, expected three sizes > 0 nm")
    if format not in FORMATS:
        raise InputError(f"--format: got {format!r}, expected one of {', '.join(FORMATS)}")
    if cells is not None and cells < 5:
        raise InputError(f"--cells: got {cells}, expected at least 5 (one cell of every type)")
    if tile is not None:
        from syconn.synth.tiled import generate_tiled

        for flag, value in (("--cells", cells), ("--preview", preview),
                            ("--merge-errors", merge_errors or None),
                            ("--split-errors", split_errors or None),
                            ("--glia-merges", glia_merges or None)):
            if value is not None:
                raise InputError(f"{flag}: not with --tile (each tile takes the defaults)")
        t0 = time.perf_counter()
        meta = generate_tiled(out, shape_xyz=shape, tile_xyz=tile, voxel_size_nm=voxel_size,
                              seed=seed, variation=variation, fmt=format, log=_err)
        c = meta["counts"]
        _err(f"wrote {format} dataset of {' x '.join(map(str, shape))} voxels "
             f"({len(meta['tiles']['origins'])} tiles) to {out} in {time.perf_counter() - t0:.0f} "
             f"s: {c['neurons']} neurons, {c['glia']} glia, {c['synapses']} synapses")
        return
    generate(out, shape_xyz=shape, voxel_size_nm=voxel_size, seed=seed, n_cells=cells, fmt=format,
             preview=preview, merge_errors=merge_errors, split_errors=split_errors,
             glia_merges=glia_merges, variation=variation, log=_err)
