import numpy as np
import pytest

from syconn.proc.rag import merge_rag_edges, rag_edges, rag_halo_vx


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_two_cubes_one_voxel_gap(dtype, order, axis):
    seg = np.zeros((7, 3, 3), dtype)
    seg[0:3] = 5
    seg[4:7] = 2
    seg = np.asarray(np.moveaxis(seg, 0, axis), order=order)
    assert rag_edges(seg, max_gap_vx=(1, 1, 1)).to_pylist() == [
        {"sv_a": 2, "sv_b": 5, "contact_vx": 9}]
    assert rag_edges(seg, max_gap_vx=(0, 0, 0)).num_rows == 0


def test_direct_contact_and_gap_limits():
    seg = np.zeros((8, 1, 1), np.uint32)
    seg[0, 0, 0], seg[1, 0, 0] = 1, 2          # direct face
    seg[4, 0, 0] = 3                           # 2-voxel gap from 2
    assert rag_edges(seg, max_gap_vx=2).to_pylist() == [
        {"sv_a": 1, "sv_b": 2, "contact_vx": 1}, {"sv_a": 2, "sv_b": 3, "contact_vx": 1}]
    assert rag_edges(seg, max_gap_vx=1).num_rows == 1


@pytest.mark.parametrize("bs", [3, 5, 8])
def test_blockwise_sum_equals_whole(bs):
    rng = np.random.default_rng(3)
    seg = rng.integers(0, 5, (12, 10, 9)).astype(np.uint64)
    seg[rng.random(seg.shape) < 0.4] = 0
    gap = (2, 1, 2)
    whole = rag_edges(seg, max_gap_vx=gap)
    h = rag_halo_vx(gap)
    parts = []
    for x in range(0, 12, bs):
        for y in range(0, 10, bs):
            for z in range(0, 9, bs):
                blk = seg[x:x + bs + h[0], y:y + bs + h[1], z:z + bs + h[2]]
                core = tuple(min(bs, n - o) for n, o in zip(seg.shape, (x, y, z)))
                parts.append(rag_edges(blk, core_shape_vx=core, max_gap_vx=gap))
    assert merge_rag_edges(parts).equals(whole)
    a, b = whole["sv_a"].to_numpy(), whole["sv_b"].to_numpy()
    assert (a < b).all()
    # symmetric: mirroring the volume keeps the edge set and counts
    assert rag_edges(seg[::-1, ::-1, ::-1].copy(), max_gap_vx=gap).equals(whole)
