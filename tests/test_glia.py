"""Glia samples: locations to supervoxels on a hand-made volume; labels from a synth truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from syconn.glia import location_supervoxels, supervoxel_proba, synthetic_glia_labels


class ArrayVolume:
    def __init__(self, a):
        self.a, self.shape = a, a.shape

    def read(self, offset, shape):
        sl = tuple(slice(o, o + s) for o, s in zip(offset, shape))
        return self.a[sl]


def test_locations_take_the_supervoxel_most_of_their_vertices_lie_on():
    seg = np.zeros((40, 10, 10), np.uint64)
    seg[2:20, 2:8, 2:8] = 3
    seg[20:38, 2:8, 2:8] = 4
    seg[0, 0, 0] = 9                                       # another cell's supervoxel
    vs = (10.0, 10.0, 20.0)
    # vertices half a voxel outside the box's +y face, at voxel x = 4..35
    x = np.arange(4, 36, dtype=float)
    verts = np.c_[x, np.full_like(x, 8.5), np.full_like(x, 5.0)] * vs
    groups = np.where(x < 19, 0, 1)
    groups[x == 25] = 0                                    # one stray vertex in location 0
    far = np.array([[4.0, 9.5, 9.5]]) * vs + [0, 400, 0]   # nothing within the radius
    verts = np.concatenate([verts, far])
    groups = np.r_[groups, 2]
    for chunk in (128, 8):
        got = location_supervoxels(ArrayVolume(seg), verts, groups, 3, np.array([3, 4]), vs,
                                   radius_nm=60.0, chunk_vx=chunk)
        assert got.tolist() == [3, 4, 0]


def test_supervoxel_labels_and_means(tmp_path):
    gt = tmp_path / "gt"
    gt.mkdir()
    pd.DataFrame({"sv_id": np.array([1, 2, 3], np.uint64),
                  "cell_id": np.array([1, 2, 2], np.uint64)}).to_parquet(gt / "supervoxels.parquet")
    pd.DataFrame({"cell_id": np.array([1, 2], np.uint64),
                  "is_glia": [False, True]}).to_parquet(gt / "cells.parquet")
    assert synthetic_glia_labels(np.array([3, 1, 7, 0], np.uint64), tmp_path).tolist() == \
        [1, 0, -1, -1]
    ids, mean, n = supervoxel_proba(np.array([2, 2, 1]), np.array([1.0, 0.5, 0.0]))
    assert ids.tolist() == [1, 2] and mean.tolist() == [0.0, 0.75] and n.tolist() == [1, 2]
