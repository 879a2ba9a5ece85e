"""Glia split (reference §1.4) and point -> supervoxel lookup, on hand-made graphs and blocks."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.errors import InputError
from syconn.proc.glia import component_labels, nearest_labels, split_glia


def chain_boxes(n: int, start: float = 0.0):
    """n supervoxels of 3 x 1 x 1 um in a row along x (one alone: 3.3 um diagonal)."""
    lo = np.zeros((n, 3))
    lo[:, 0] = start + 3000.0 * np.arange(n)
    return lo, lo + [3000.0, 1000.0, 1000.0]


def test_component_labels_do_not_depend_on_edge_order():
    e = np.array([[4, 2], [2, 0], [5, 6]])
    a = component_labels(7, e)
    b = component_labels(7, e[::-1, ::-1])
    assert a.tolist() == b.tolist() == [0, 1, 0, 3, 0, 5, 5]


def test_tiny_glia_stays_and_small_neuron_rest_leaves():
    # N G N N G G G N: glia {1} is 3.3 um (stays neuron), glia {4,5,6} 9.1 um leaves;
    # afterwards neuron {7} is 3.3 um and goes with the glia
    g = np.array([0, 1, 0, 0, 1, 1, 1, 0], bool)
    e = np.stack([np.arange(7), np.arange(1, 8)], 1)
    lo, hi = chain_boxes(8)
    assert split_glia(e, g, lo, hi).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_cells_are_split_independently_in_one_call():
    # cell A: N N G G (splits); cell B: N G N N (tiny glia: all neuron); cell C: G alone
    lo_a, hi_a = chain_boxes(4)
    lo_b, hi_b = chain_boxes(4, start=1e6)
    lo_c, hi_c = chain_boxes(1, start=2e6)
    lo, hi = np.concatenate([lo_a, lo_b, lo_c]), np.concatenate([hi_a, hi_b, hi_c])
    g = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1], bool)
    e = np.array([[0, 1], [1, 2], [2, 3], [4, 5], [5, 6], [6, 7]])
    out = split_glia(e, g, lo, hi)
    assert out.tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 1]
    # the same as each cell alone
    assert split_glia(e[:3], g[:4], lo[:4], hi[:4]).tolist() == out[:4].tolist()


def test_without_a_large_part_the_largest_part_decides():
    # N G G: glia {1,2} 6.2 um is large, neuron {0} 3.3 um is not: all glia
    lo, hi = chain_boxes(3)
    e = np.array([[0, 1], [1, 2]])
    assert split_glia(e, np.array([0, 1, 1], bool), lo, hi).tolist() == [1, 1, 1]
    # one 3.3 um supervoxel each: the original made a lone neuron piece glia, here it stays
    one = np.zeros((0, 2), int)
    assert split_glia(one, np.array([False]), lo[:1], hi[:1]).tolist() == [False]
    assert split_glia(one, np.array([True]), lo[:1], hi[:1]).tolist() == [True]
    # N G with a 1.7 um neuron piece beside a 3.3 um glia piece: glia wins
    hi2 = hi[:2].copy()
    hi2[0] = lo[0] + [1500, 500, 500]
    assert split_glia(e[:1], np.array([0, 1], bool), lo[:2], hi2).tolist() == [1, 1]


def test_split_rejects_bad_edges():
    with pytest.raises(InputError, match="edges"):
        split_glia(np.array([[0, 3]]), np.zeros(2, bool), np.zeros((2, 3)), np.ones((2, 3)))


def test_nearest_labels_use_physical_distance():
    b = np.zeros((6, 6, 3), np.uint64)
    b[0, 2, 1] = 5            # 3 voxels in x from (3, 2, 1): 30 nm
    b[3, 2, 0] = 8            # 1 voxel in z: 20 nm
    b[3, 4, 1] = 9            # not allowed
    pts = np.array([[3.0, 2.0, 1.0], [0.2, 2.1, 1.3], [50.0, 0, 0]])
    out = nearest_labels(pts, b, np.array([5, 8]), voxel_size_nm=(10, 10, 20), radius_nm=40)
    assert out.tolist() == [8, 5, 0]
    # the block's offset is honoured (global coordinates)
    shifted = nearest_labels(pts + [100, 0, 0], b, np.array([5, 8]), offset_vx=(100, 0, 0),
                             voxel_size_nm=(10, 10, 20), radius_nm=40)
    assert shifted.tolist() == out.tolist()
    # nothing within the radius: 0
    assert nearest_labels(pts[:1], b, np.array([5]), voxel_size_nm=(10, 10, 20),
                          radius_nm=25).tolist() == [0]
