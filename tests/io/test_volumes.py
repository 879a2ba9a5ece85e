"""Every format round-trips aligned and unaligned boxes; specs and errors."""

import h5py
import numpy as np
import pytest

from syconn.errors import VolumeFormatError, VolumeNotFound
from syconn.io import create_volume, open_volume

FORMATS = [("h5", "v.h5"), ("zarr", "v.zarr"), ("knossos", "kd")]


@pytest.mark.parametrize("fmt, name", FORMATS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint64])
def test_round_trip(tmp_path, fmt, name, dtype):
    shape = (37, 21, 11)
    rng = np.random.default_rng(1)
    data = rng.integers(0, 200, shape).astype(dtype)
    vol = create_volume(tmp_path / name, shape, dtype, fmt=fmt, chunks=(16, 16, 16),
                        voxel_size_nm=(10, 10, 20))
    vol.write((0, 0, 0), data[:16, :16, :])        # aligned
    vol.write((16, 0, 0), data[16:, :16, :])
    vol[:, 16:, :] = data[:, 16:, :]                 # unaligned via slicing
    vol.close()
    back = open_volume(tmp_path / name)
    assert back.shape == shape and back.dtype == dtype
    assert back.voxel_size_nm == (10.0, 10.0, 20.0)
    np.testing.assert_array_equal(back[:, :, :], data)
    np.testing.assert_array_equal(back.read((5, 3, 2), (20, 10, 7)), data[5:25, 3:13, 2:9])


@pytest.mark.parametrize("fmt, name", FORMATS)
def test_reads_beyond_the_border_are_zero(tmp_path, fmt, name):
    vol = create_volume(tmp_path / name, (8, 8, 8), np.uint8, fmt=fmt, chunks=(8, 8, 8))
    vol.write((0, 0, 0), np.full((8, 8, 8), 3, np.uint8))
    a = open_volume(tmp_path / name).read((-2, 6, 0), (4, 4, 8))
    assert a.shape == (4, 4, 8)
    assert a[2:, :2].all() and not a[:2].any() and not a[:, 2:].any()


def test_h5_keys(tmp_path):
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["a"] = np.zeros((2, 2, 2), np.uint8)
        f["b"] = np.ones((2, 3, 4), np.uint8)
    with pytest.raises(VolumeFormatError, match="name one as"):
        open_volume(tmp_path / "two.h5")
    assert open_volume(f"{tmp_path / 'two.h5'}:b").shape == (2, 3, 4)
    with pytest.raises(VolumeNotFound, match="no such dataset"):
        open_volume(f"{tmp_path / 'two.h5'}:c")
    with h5py.File(tmp_path / "seg.h5", "w") as f:  # key = file stem, like the original's inputs
        f["seg"] = np.zeros((4, 4, 4), np.uint64)
        f["other"] = np.zeros((1, 1, 1), np.uint8)
    assert open_volume(tmp_path / "seg.h5").shape == (4, 4, 4)


def test_missing_and_unknown(tmp_path):
    with pytest.raises(VolumeNotFound, match="nope.h5: no such file"):
        open_volume(tmp_path / "nope.h5")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(VolumeFormatError, match="not a volume"):
        open_volume(tmp_path / "x.txt")
    (tmp_path / "bad.h5").write_text("not hdf5")
    with pytest.raises(VolumeFormatError, match="not a readable HDF5"):
        open_volume(tmp_path / "bad.h5")


def test_write_outside_and_bad_dtype(tmp_path):
    vol = create_volume(tmp_path / "v.zarr", (4, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="outside"):
        vol.write((2, 0, 0), np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="cannot store"):
        vol.write((0, 0, 0), np.full((1, 1, 1), 300, np.uint16))
