"""KNOSSOS: byte layout pinned with cubes written by hand, merge-on-write, bad cubes."""

import io
import zipfile

import cramjam
import numpy as np
import pytest

from syconn.errors import VolumeFormatError
from syconn.io import create_volume, open_volume
from syconn.io.knossos import KnossosVolume, cube_path, parse_knossos_conf

EDGE = 4  # tiny cubes keep hand-worked tests readable


def _write_conf(root, shape=(8, 4, 4), edge=EDGE, ext=".raw"):
    root.mkdir(parents=True, exist_ok=True)
    (root / "ds.pyk.conf").write_text(
        "[Dataset]\n_BaseName = ds\n_ServerFormat = knossos\n_DataScale = 10,10,20\n"
        f"_Extent = {','.join(map(str, shape))}\n_Description = hand made\n_BaseExt = {ext}\n"
        f"_CubeSize = {edge},{edge},{edge}\n")


def test_raw_cube_byte_order_is_x_fastest(tmp_path):
    root = tmp_path / "ds"
    _write_conf(root)
    # byte i of the cube file is voxel (x, y, z) with i = x + 4*y + 16*z
    payload = bytes(range(64))
    p = cube_path(root, "ds", (1, 0, 0), ".raw")
    p.parent.mkdir(parents=True)
    p.write_bytes(payload)
    vol = open_volume(root)
    assert vol.channel == "raw" and vol.shape == (8, 4, 4) and vol.dtype == np.uint8
    assert vol.voxel_size_nm == (10.0, 10.0, 20.0)
    a = vol[:, :, :]
    assert a[4 + 1, 0, 0] == 1          # x = 1 inside cube x0001
    assert a[4 + 0, 1, 0] == 4          # y = 1
    assert a[4 + 0, 0, 1] == 16         # z = 1
    assert a[4 + 3, 2, 1] == 3 + 8 + 16
    assert not a[:4].any()              # cube x0000 is missing: zeros


def test_overlay_cube_is_snappy_uint64_in_zip(tmp_path):
    root = tmp_path / "seg"
    _write_conf(root, ext=".seg.sz.zip")
    labels = np.arange(64, dtype="<u8") * 1_000_000_007  # exceeds 32 bit
    p = cube_path(root, "ds", (0, 0, 0), ".seg.sz.zip")
    p.parent.mkdir(parents=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(p.name[:-4], bytes(cramjam.snappy.compress_raw(labels.tobytes())))
    p.write_bytes(buf.getvalue())
    vol = open_volume(root)
    assert vol.channel == "overlay" and vol.dtype == np.uint64
    a = vol[0:4, 0:4, 0:4]
    assert a[1, 2, 3] == (1 + 4 * 2 + 16 * 3) * 1_000_000_007
    # and our writer produces exactly the layout we read by hand
    vol2 = create_volume(tmp_path / "out", (4, 4, 4), np.uint64, fmt="knossos", chunks=(4,))
    vol2.write((0, 0, 0), a)
    (member,) = zipfile.ZipFile(cube_path(tmp_path / "out", "out", (0, 0, 0),
                                          ".seg.sz.zip")).namelist()
    assert member == "out_mag1_x0000_y0000_z0000.seg.sz"
    raw = zipfile.ZipFile(cube_path(tmp_path / "out", "out", (0, 0, 0), ".seg.sz.zip")).read(member)
    assert bytes(cramjam.snappy.decompress_raw(raw)) == labels.tobytes()


def test_write_merges_into_existing_cubes_and_skips_zero_cubes(tmp_path):
    vol = create_volume(tmp_path / "k", (10, 6, 5), np.uint8, fmt="knossos",
                        voxel_size_nm=(10, 10, 20), chunks=(EDGE,))
    vol.write((0, 0, 0), np.full((10, 6, 5), 7, np.uint8))
    vol.write((3, 2, 1), np.full((3, 3, 3), 9, np.uint8))  # unaligned, spans cubes
    a = open_volume(tmp_path / "k")[:, :, :]
    expect = np.full((10, 6, 5), 7, np.uint8)
    expect[3:6, 2:5, 1:4] = 9
    np.testing.assert_array_equal(a, expect)
    vol.write((0, 0, 0), np.zeros((4, 4, 4), np.uint8))  # a whole cube of zeros: removed
    assert not cube_path(tmp_path / "k", "k", (0, 0, 0), ".raw").exists()
    assert not open_volume(tmp_path / "k")[0:4, 0:4, 0:4].any()


def test_confs_written_are_readable(tmp_path):
    create_volume(tmp_path / "k", (300, 200, 100), np.uint64, fmt="knossos",
                  voxel_size_nm=(10, 10, 20))
    legacy = parse_knossos_conf(tmp_path / "k" / "mag1" / "knossos.conf")
    assert legacy["name"] == "k" and legacy["boundary"] == [300, 200, 100]
    assert legacy["scale"] == [10.0, 10.0, 20.0]
    (tmp_path / "k" / "k.pyk.conf").unlink()  # falls back to the legacy conf
    vol = KnossosVolume.open(tmp_path / "k", channel="seg")
    assert vol.shape == (300, 200, 100) and vol.cube == (128, 128, 128)


def test_truncated_overlay_cube_names_the_file(tmp_path):
    vol = create_volume(tmp_path / "k", (8, 8, 8), np.uint64, fmt="knossos", chunks=(EDGE,))
    vol.write((0, 0, 0), np.arange(512, dtype=np.uint64).reshape(8, 8, 8) + 1)
    p = cube_path(tmp_path / "k", "k", (1, 0, 0), ".seg.sz.zip")
    p.write_bytes(p.read_bytes()[:-30])
    v = open_volume(tmp_path / "k")
    with pytest.raises(VolumeFormatError, match=str(p)):
        v.check()
    with pytest.raises(VolumeFormatError, match="corrupt or truncated"):
        v[4:8, 0:4, 0:4]
    v[0:4, 0:4, 0:4]  # intact cubes still read


def test_channel_must_be_named_when_both_exist(tmp_path):
    raw = create_volume(tmp_path / "k", (4, 4, 4), np.uint8, fmt="knossos", chunks=(EDGE,))
    raw.write((0, 0, 0), np.ones((4, 4, 4), np.uint8))
    seg = KnossosVolume(tmp_path / "k", "k", (4, 4, 4), EDGE, "overlay", (1, 1, 1), mode="r+")
    seg.write((0, 0, 0), np.full((4, 4, 4), 5, np.uint64))
    conf = tmp_path / "k" / "k.pyk.conf"  # like pyknossos: one section per extension
    text = conf.read_text()
    conf.write_text(text + "\n" + text.replace("_BaseExt = .raw", "_BaseExt = .seg.sz.zip"))
    with pytest.raises(VolumeFormatError, match=":raw or .*:overlay"):
        open_volume(tmp_path / "k")
    assert open_volume(f"{tmp_path / 'k'}:overlay")[0, 0, 0] == 5
    assert open_volume(f"{tmp_path / 'k'}:raw")[0, 0, 0] == 1
