"""``syconn synth --tile``: a volume made tile by tile is its tiles side by side, ids made unique
and the ground truth moved to each tile's place; bad tiles are one line; a failure leaves
nothing."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from syconn.errors import InputError
from syconn.synth import synthesize
from syconn.synth.tiled import generate_tiled, tile_grid, tile_seed

SHAPE, TILE, SEED = (192, 96, 96), (96, 96, 96), 5


@pytest.fixture(scope="module")
def tiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiled") / "data"
    meta = generate_tiled(out, shape_xyz=SHAPE, tile_xyz=TILE, seed=SEED)
    tiles = [synthesize(shape_xyz=TILE, seed=tile_seed(SEED, k)) for k in range(2)]
    return out, meta, tiles


def _vol(out, name, sub=""):
    with h5py.File(out / sub / f"{name}.h5", "r") as f:
        return f[name][...]


def _gt(out, name):
    return pd.read_parquet(out / "gt" / f"{name}.parquet")


def test_the_volume_is_its_tiles_side_by_side(tiled):
    out, meta, (t0, t1) = tiled
    assert meta["shape_xyz"] == list(SHAPE) and meta["tiles"]["origins"] == [[0, 0, 0],
                                                                             [96, 0, 0]]
    n0 = int(t0.supervoxels.sv_id.max())
    seg = _vol(out, "seg")
    assert seg.shape == SHAPE and seg.dtype == np.uint64
    np.testing.assert_array_equal(seg[:96], t0.seg)
    want = np.where(t1.seg > 0, t1.seg + np.uint64(n0), 0)
    np.testing.assert_array_equal(seg[96:], want)
    for name in ("raw", "mi", "vc", "sj", "sym", "asym"):
        v = _vol(out, name)
        np.testing.assert_array_equal(v[:96], getattr(t0, name))
        np.testing.assert_array_equal(v[96:], getattr(t1, name))
    comp = _vol(out, "compartments", "gt")
    np.testing.assert_array_equal(comp[96:], t1.compartments)
    mito = _vol(out, "mitochondria", "gt")
    m0 = int(t0.mitochondria.mito_id.max()) if len(t0.mitochondria) else 0
    np.testing.assert_array_equal(mito[96:], np.where(t1.mito > 0, t1.mito + m0, 0))


def test_ground_truth_ids_and_coordinates_follow_the_tile(tiled):
    out, meta, (t0, t1) = tiled
    n0 = int(t0.supervoxels.sv_id.max())
    seg = _vol(out, "seg")
    sv = _gt(out, "supervoxels")
    assert sv.sv_id.is_unique and len(sv) == len(t0.supervoxels) + len(t1.supervoxels)
    assert set(np.unique(seg[seg > 0]).tolist()) == set(sv.sv_id.tolist())
    second = sv.iloc[len(t0.supervoxels):]
    np.testing.assert_array_equal(second.sv_id.to_numpy(), t1.supervoxels.sv_id + n0)
    np.testing.assert_array_equal(second.x.to_numpy(), t1.supervoxels.x + 96)
    syn = _gt(out, "synapses")
    assert syn.syn_id.is_unique and len(syn) == len(t0.synapses) + len(t1.synapses)
    s1 = syn.iloc[len(t0.synapses):]
    np.testing.assert_array_equal(s1.pre_cell_id.to_numpy(), t1.synapses.pre_cell_id + n0)
    assert (s1.x >= 96).all() and (syn.iloc[:len(t0.synapses)].x < 96).all()
    cells = _gt(out, "cells")
    assert cells.cell_id.is_unique and set(cells.cell_id) <= set(sv.cell_id)
    sk = _gt(out, "skeletons")
    assert sk.node_id.is_unique
    # every parent is a node of the same cell
    par = sk[sk.parent_id >= 0]
    owner = dict(zip(sk.node_id, sk.cell_id))
    assert all(owner[p] == c for p, c in zip(par.parent_id, par.cell_id))
    k1 = sk.iloc[len(t0.skeletons):]
    np.testing.assert_allclose(k1.x_nm.to_numpy(), t1.skeletons.x_nm + 96 * 10.0)
    edges = [tuple(map(int, line.split())) for line in
             __import__("bz2").open(out / "neuron_rag.bz2", "rt")]
    assert edges and all(a in set(sv.sv_id) and b in set(sv.sv_id) for a, b in edges[:50])
    assert meta["counts"]["synapses"] == len(syn)
    assert json.loads((out / "synth.json").read_text())["tiles"]["seeds"] == \
        [tile_seed(SEED, 0), tile_seed(SEED, 1)]


def test_a_failure_leaves_nothing(tmp_path, monkeypatch):
    import syconn.synth.core as core

    calls = []
    real = core.synthesize

    def failing(**kw):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("tile 2")
        return real(**kw)

    monkeypatch.setattr(core, "synthesize", failing)
    with pytest.raises(MemoryError):
        generate_tiled(tmp_path / "data", shape_xyz=(128, 64, 64), tile_xyz=(64, 64, 64), seed=1)
    assert list(tmp_path.iterdir()) == []


def test_bad_tiles_are_one_line(cli, one_line_error, tmp_path):
    with pytest.raises(InputError, match="does not divide"):
        tile_grid((100, 64, 64), (64, 64, 64))
    with pytest.raises(InputError, match="expected three sizes >= 64"):
        tile_grid((128, 128, 128), (32, 64, 64))
    one_line_error(cli("synth", tmp_path / "d", "--shape", "128", "128", "64", "--tile", "96",
                       "64", "64"), "--tile: 96 64 64 does not divide --shape 128 128 64")
    one_line_error(cli("synth", tmp_path / "d", "--shape", "128", "128", "64", "--tile", "64",
                       "64", "64", "--merge-errors", "3"), "--merge-errors: not with --tile")
    assert not (tmp_path / "d").exists()
