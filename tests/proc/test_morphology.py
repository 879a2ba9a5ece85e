import numpy as np
import pytest
from scipy import ndimage

from syconn.errors import InputError
from syconn.proc.morphology import aniso_struct, apply_morph_ops, extract_objects, required_halo_vx


def test_aniso_struct_syconn_kernel():
    s = aniso_struct((10, 10, 20))
    assert s.shape == (5, 5, 3)
    assert s[:, :, 1].astype(int).tolist() == [[0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1],
                                               [0, 1, 1, 1, 0], [0, 0, 1, 0, 0]]
    assert s[:, :, 0].sum() == 1 and s[2, 2, 0] and s[2, 2, 2] and s[:, :, 2].sum() == 1


def test_aniso_struct_isotropic_is_6_cross():
    assert (aniso_struct((10, 10, 10)) == ndimage.generate_binary_structure(3, 1)).all()


def test_required_halo():
    ops = ["binary_opening", "binary_closing"] + ["binary_erosion"] * 4
    assert required_halo_vx(ops, (10, 10, 20)) == (16, 16, 8)
    assert required_halo_vx(["binary_opening"], (10, 10, 20)) == (1, 1, 1)
    assert required_halo_vx(["binary_opening"], (10, 10, 20), exact=True) == (5, 5, 3)


def test_apply_morph_ops_merges_iterations():
    m = np.zeros((9, 9, 5), bool)
    m[2:7, 2:7, 1:4] = True
    st = aniso_struct((10, 10, 10))
    got = apply_morph_ops(m, ["binary_erosion", "binary_erosion"], struct=st)
    assert (got == ndimage.binary_erosion(m, st, iterations=2)).all()


@pytest.mark.parametrize("order", ["C", "F"])
def test_extract_objects_label_only(order):
    p = np.zeros((6, 5, 4), np.uint8, order=order)
    p[0:2, 0:2, 0] = 200
    p[4:6, 3:5, 3] = 200
    p[3, 0, 0] = 100  # below threshold 0.5*255
    lab = extract_objects(p, threshold=0.5)
    assert lab.dtype == np.uint32
    assert lab[0, 0, 0] == 1 and lab[5, 4, 3] == 2 and lab.max() == 2
    assert (lab > 0).sum() == 8


@pytest.mark.parametrize("order", ["C", "F"])
def test_extract_objects_watershed_splits_dumbbell(order):
    p = np.zeros((16, 7, 5), np.uint8)
    p[1:6, 1:6, 1:4] = 255
    p[10:15, 1:6, 1:4] = 255
    p[6:10, 3, 2] = 255  # thin bridge
    p = np.asarray(p, order=order)
    lab = extract_objects(p, threshold=0.5, ops=["binary_erosion"], min_seed_vx=1,
                          voxel_size_nm=(10, 10, 10))
    assert lab.max() == 2
    assert lab[3, 3, 2] != lab[12, 3, 2]
    assert ((lab > 0) == (p > 127)).all()  # the whole mask is flooded


def test_extract_objects_errors():
    with pytest.raises(InputError, match="threshold"):
        extract_objects(np.zeros((2, 2, 2), np.uint8), threshold=2)
    with pytest.raises(InputError, match="binary_foo"):
        extract_objects(np.zeros((2, 2, 2), np.uint8), threshold=0.5, ops=["binary_foo"])


@pytest.mark.parametrize("voxel_size", [(10, 10, 20), (10, 10, 10), (10, 10, 30)])
def test_fast_aniso_ops_equal_scipy(voxel_size):
    """The shifted-slice implementation of SyConn's element equals scipy.ndimage exactly."""
    from scipy import ndimage

    from syconn.proc.morphology import _merge_ops

    rng = np.random.default_rng(1)
    struct = aniso_struct(voxel_size)
    mask = ndimage.binary_dilation(rng.random((23, 17, 13)) < 0.06, iterations=2)
    for ops in (["binary_opening"], ["binary_closing", "binary_closing"], ["binary_erosion"],
                ["binary_dilation"] * 2,
                ["binary_opening", "binary_closing"] + ["binary_erosion"] * 3):
        ref = mask
        for op, n in _merge_ops(ops):
            ref = getattr(ndimage, op)(ref, structure=struct, iterations=n)
        np.testing.assert_array_equal(apply_morph_ops(mask, ops, struct=struct), ref)
