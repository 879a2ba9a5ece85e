import numpy as np
import pyarrow as pa
import pytest

from syconn.errors import InputError
from syconn.proc.cells import assign_organelles, cells_from_agglomeration, check_agglomeration


def test_ring_is_one_cell_and_singletons():
    big = 2**40
    ring = [[big + 1, 7], [7, 9], [9, 30], [30, big + 1]]
    t = cells_from_agglomeration([7, 9, 30, big + 1, 4, 0], ring).to_pylist()
    assert t == [{"sv_id": 4, "cell_id": 4}, {"sv_id": 7, "cell_id": 7}, {"sv_id": 9, "cell_id": 7},
                 {"sv_id": 30, "cell_id": 7}, {"sv_id": big + 1, "cell_id": 7}]


def test_unknown_ids_reported():
    assert check_agglomeration([1, 2], [[1, 5], [2, 0], [6, 1]]).tolist() == [5, 6]
    with pytest.raises(InputError, match="not in the segmentation: 5, 6"):
        cells_from_agglomeration([1, 2], [[1, 5], [6, 1]])


def test_assign_organelles_per_type_thresholds():
    s2c = cells_from_agglomeration([1, 2, 3], [[1, 2]])
    ov = pa.table({"org_id": np.array([10, 10, 11, 11, 12], np.uint64),
                   "sv_id": np.array([1, 2, 3, 1, 3], np.uint64),
                   "n_vx": np.array([30, 30, 50, 50, 5], np.int64)})
    sizes = pa.table({"id": np.array([10, 11, 12, 13], np.uint64), "size_vx": [100, 100, 5, 50]})
    mi = assign_organelles(ov, s2c, sizes, lower_ratio=0.5, upper_ratio=1, min_size_vx=1)
    assert mi.to_pylist() == [{"org_id": 10, "cell_id": 1, "ratio": 0.6},
                              {"org_id": 11, "cell_id": None, "ratio": 0.5},
                              {"org_id": 12, "cell_id": 3, "ratio": 1.0},
                              {"org_id": 13, "cell_id": None, "ratio": 0.0}]
    sj = assign_organelles(ov, s2c, sizes, lower_ratio=0.1, upper_ratio=0.9, min_size_vx=10)
    assert sj.to_pylist() == [{"org_id": 10, "cell_id": 1, "ratio": 0.6},
                              {"org_id": 11, "cell_id": 1, "ratio": 0.5},
                              {"org_id": 11, "cell_id": 3, "ratio": 0.5},
                              {"org_id": 12, "cell_id": None, "ratio": 1.0},
                              {"org_id": 13, "cell_id": None, "ratio": 0.0}]
