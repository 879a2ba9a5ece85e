"""Pieces files and the cells morphology rows, on tiny hand-made inputs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from syconn.config import config_from_dict
from syconn.errors import ConfigError
from syconn.proc.skeletons import BEND_TOLERANCE
from syconn.read import skeleton_dir
from syconn.tasks.morphology import (
    cell_morphology_rows,
    n_merge_shards,
    read_pieces,
    skeleton_candidates,
    skeleton_merge_args,
    synapse_voxels,
    write_pieces,
)
from syconn.tasks.synapses import merge_membership, n_synapse_shards, pair_shards


def test_pieces_round_trip_by_shard(tmp_path):
    v = lambda n: np.arange(3 * n, dtype=np.float32).reshape(n, 3)  # noqa: E731
    f = lambda n: np.zeros((n, 3), np.uint32)  # noqa: E731
    write_pieces(tmp_path / "b0.npz", {4: (v(2), f(1)), 7: (v(3), f(2)), 9: (v(1), f(0))}, 3)
    write_pieces(tmp_path / "b1.npz", {7: (v(5), f(4))}, 3)
    paths = [tmp_path / "b0.npz", tmp_path / "b1.npz"]
    s0 = read_pieces(paths, 0)                   # 9 % 3 == 0
    s1 = read_pieces(paths, 1)                   # 4 and 7
    assert sorted(s0) == [9] and sorted(s1) == [4, 7]
    assert [p[0].shape[0] for p in s1[7]] == [3, 5] and s1[7][1][1].shape == (4, 3)
    np.testing.assert_array_equal(s1[4][0][0], v(2))
    assert read_pieces(paths, 2) == {}


def test_merge_shards_grow_with_the_grid():
    assert [n_merge_shards(n) for n in (1, 4, 5, 18, 10**6)] == [1, 1, 2, 5, 256]


def test_cell_rows_say_why_there_is_no_skeleton():
    cells = pa.table({"id": [1, 2, 3, 4],
                      "bb_min_x": [0, 0, 0, 0], "bb_min_y": [0, 0, 0, 0], "bb_min_z": [0, 0, 0, 0],
                      "bb_max_x": [400, 100, 400, 400], "bb_max_y": [300, 10, 300, 300],
                      "bb_max_z": [1, 1, 1, 1]})
    ok = skeleton_candidates(cells, (10.0, 10.0, 20.0), 5000.0)   # 5 µm diagonal vs 4x3 µm
    assert ok.tolist() == [True, False, True, True]
    meshes = pa.table({"id": pa.array([1, 2, 3], pa.uint64()), "area_um2": [10.0, 1.0, 5.0],
                       "volume_um3": [2.0, 0.1, 1.0]})
    skels = pa.table({"id": pa.array([1, 3], pa.uint64()), "n_nodes": [12, 0],
                      "cable_length_um": [7.5, 0.0], "n_branch_points": [1, 0],
                      "n_tips": [3, 0]})
    rows = cell_morphology_rows(cells, meshes, skels, ok).to_pydict()
    assert rows["skeleton_status"] == ["ok", "too_small", "empty", "empty"]
    assert rows["cable_length_um"] == [7.5, None, None, None]
    assert rows["n_tips"] == [3, None, None, None]
    assert rows["n_skeleton_nodes"] == [12, None, None, None]
    assert rows["mesh_area_um2"] == [10.0, 1.0, 5.0, None]
    assert rows["volume_um3"] == [2.0, 0.1, 1.0, None]


def test_merge_args_come_from_the_skeleton_section(tmp_path):
    cfg = config_from_dict({})
    args = skeleton_merge_args(cfg, (576, 576, 288))
    assert args["bend_tolerance"] is None             # off by default (docs/accuracy.md)
    assert (args["dust_threshold_nm"], args["tick_threshold_nm"], args["downsample"]) == (
        250, 500, 10)
    assert args["tip_tolerance_nm"] > 0
    off = config_from_dict({"skeleton": {"bend_tolerance": BEND_TOLERANCE,
                                         "retract_tips": False}})
    args = skeleton_merge_args(off, (576, 576, 288))
    assert args["bend_tolerance"] == 0.1 and "tip_tolerance_nm" not in args
    # a change reruns the skeleton step (its folder's settings hash)
    other = config_from_dict({"skeleton": {"bend_tolerance": 0.2}})
    dirs = {skeleton_dir(tmp_path, c) for c in (cfg, off, other)}
    assert len(dirs) == 3
    with pytest.raises(ConfigError, match="bend_tolerance"):
        config_from_dict({"skeleton": {"bend_tolerance": 0}})


def _membership(ids, sizes, x0=0):
    sid = np.repeat(np.asarray(ids, np.uint64), sizes)
    x = np.arange(len(sid), dtype=np.int64) + x0
    return pa.table({"synapse_id": sid, "x": x, "y": x * 2, "z": x * 3})


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 7, 100])
def test_synapse_voxels_one_synapse_at_a_time_across_batches(tmp_path, batch_rows):
    # synapses 9 (3 voxels), 4 (1), 7 (2), 5 (1), in file order; batches split them anywhere
    t = _membership([9, 4, 7, 5], [3, 1, 2, 1])
    pq.write_table(t, tmp_path / "m.parquet", row_group_size=2)
    got = [(i, v.tolist()) for i, v in synapse_voxels(tmp_path / "m.parquet",
                                                       batch_rows=batch_rows)]
    assert got == [(9, [[0, 0, 0], [1, 2, 3], [2, 4, 6]]), (4, [[3, 6, 9]]),
                   (7, [[4, 8, 12], [5, 10, 15]]), (5, [[6, 12, 18]])]
    pq.write_table(_membership([], []), tmp_path / "e.parquet")
    assert list(synapse_voxels(tmp_path / "e.parquet")) == []


def test_synapse_voxels_want_each_synapse_together(tmp_path):
    pq.write_table(_membership([9, 4, 9], [1, 1, 1]), tmp_path / "m.parquet")
    with pytest.raises(RuntimeError, match="rows of synapse 9 are not together"):
        list(synapse_voxels(tmp_path / "m.parquet", batch_rows=2))


@pytest.mark.parametrize("chunk_rows", [1, 3, 50])
def test_merge_membership_interleaves_the_shards(tmp_path, chunk_rows):
    # merged order: 1 (shard 0, 2 voxels), 2 (shard 1, 3), 3 (shard 0, 1), 4 (shard 1, 1)
    pq.write_table(_membership([1, 3], [2, 1]), tmp_path / "s0.parquet")
    pq.write_table(_membership([2, 4], [3, 1], x0=100), tmp_path / "s1.parquet")
    paths = [tmp_path / "s0.parquet", tmp_path / "s1.parquet"]
    merge_membership(paths, np.array([0, 1, 0, 1]), np.array([2, 3, 1, 1]),
                     np.array([1, 2, 3, 4], np.uint64), tmp_path / "m.parquet",
                     chunk_rows=chunk_rows)
    m = pq.read_table(tmp_path / "m.parquet")
    assert m["synapse_id"].to_pylist() == [1, 1, 2, 2, 2, 3, 4]
    assert m["x"].to_pylist() == [0, 1, 100, 101, 102, 2, 103]
    # sizes that do not add up to the shards' rows are a bug, said so
    with pytest.raises(RuntimeError, match="longer than its candidates"):
        merge_membership(paths, np.array([0, 1, 0]), np.array([2, 3, 1]),
                         np.array([1, 2, 3], np.uint64), tmp_path / "m2.parquet")
    with pytest.raises(RuntimeError, match="shorter than its candidates"):
        merge_membership(paths, np.array([0, 1, 0, 1]), np.array([2, 2, 2, 1]),
                         np.array([1, 2, 3, 4], np.uint64), tmp_path / "m3.parquet")
    with pytest.raises(RuntimeError, match="out of step"):  # the right counts, cut wrongly
        merge_membership(paths, np.array([0, 1, 0, 1]), np.array([1, 3, 2, 1]),
                         np.array([1, 2, 3, 4], np.uint64), tmp_path / "m3.parquet")


def test_synapse_shards_from_the_grid_and_the_pair():
    assert [n_synapse_shards(n) for n in (1, 8, 9, 64)] == [1, 1, 2, 8]
    a = np.array([1, 1, 2, 5], np.uint64)
    b = np.array([2, 3, 9, 6], np.uint64)
    k = pair_shards(a, b, 4)
    assert k.dtype == np.int64 and ((k >= 0) & (k < 4)).all()
    assert (pair_shards(a, b, 4) == k).all() and (pair_shards(a, b, 1) == 0).all()
