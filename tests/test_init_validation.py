"""syconn init refuses bad input at once: one line on stderr, exit code 2, no working directory.

Covers what used to crash or pass init: a 2-D map, non-finite or absurd voxel sizes, a voxel
size contradicting the volumes' own metadata, a corrupt or malformed agglomeration graph.
"""

import bz2

import h5py
import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from syconn.cli import app
from syconn.io import create_volume

runner = CliRunner()
SHAPE = (16, 16, 8)
VS = ["--voxel-size", "10", "10", "20"]


def _inputs(folder, *, seg_voxel=None, mi_voxel=None):
    """seg/mi/vc/sj HDF5 files of SHAPE; ``*_voxel``: the voxel size their attrs record."""
    folder.mkdir(parents=True, exist_ok=True)
    seg = np.zeros(SHAPE, np.uint64)
    seg[2:8, 2:8, 1:5] = 1
    seg[9:14, 2:8, 1:5] = 2
    vol = create_volume(folder / "seg.h5", SHAPE, np.uint64, voxel_size_nm=seg_voxel)
    vol.write((0, 0, 0), seg)
    vol.close()
    for k in ("mi", "vc", "sj"):
        create_volume(folder / f"{k}.h5", SHAPE, np.uint8,
                      voxel_size_nm=mi_voxel if k == "mi" else None).close()
    return folder


def _specs(folder, **over):
    specs = {k: folder / f"{k}.h5" for k in ("seg", "mi", "vc", "sj")} | over
    return [a for k, v in specs.items() for a in (f"--{k}", v)]


@pytest.fixture
def refused(cli, one_line_error):
    """``refused(wd, args, *words)``: ``syconn init wd *args`` fails with one line holding the
    words, and leaves no working directory."""
    def check(wd, args, *words):
        line = one_line_error(cli("init", wd, *args), *words)
        assert not wd.exists()
        return line
    return check


# ------------------------------------------------------------------ 2-D maps
def test_2d_hdf5_map(tmp_path, refused):
    data = _inputs(tmp_path / "data")
    with h5py.File(data / "mi.h5", "w") as f:
        f["mi"] = np.zeros(SHAPE[:2], np.uint8)
    refused(tmp_path / "wd", [*_specs(data), *VS],
             f"{data / 'mi.h5'}:mi: expected a 3-D array, got shape (16, 16)")


def test_2d_zarr_map(tmp_path, refused):
    data = _inputs(tmp_path / "data")
    zarr.create_array(store=str(data / "flat.zarr"), shape=(16, 16), dtype=np.uint64)
    refused(tmp_path / "wd", [*_specs(data, seg=data / "flat.zarr"), *VS],
             "flat.zarr: expected a 3-D array, got shape (16, 16)")


# ------------------------------------------------------------------ voxel size values
@pytest.mark.parametrize("value, message", [
    ("nan", "dataset.voxel_size_nm = nan: must be a finite number"),
    ("inf", "dataset.voxel_size_nm = inf: must be a finite number"),
    ("1e9", "dataset.voxel_size_nm = 1000000000.0: must be <= 100000"),
])
def test_voxel_size_must_be_finite_and_sane(tmp_path, value, message, refused):
    data = _inputs(tmp_path / "data")
    refused(tmp_path / "wd", [*_specs(data), "--voxel-size", value, "10", "20"], message)


# ------------------------------------------------------------------ voxel size vs metadata
def test_voxel_size_contradicting_hdf5_attrs(tmp_path, refused):
    data = _inputs(tmp_path / "data", seg_voxel=(20, 20, 40))
    refused(tmp_path / "wd", [*_specs(data), *VS],
             f"--voxel-size 10 10 20 nm contradicts the voxel size 20 20 40 nm recorded in "
             f"{data / 'seg.h5'}:seg; drop --voxel-size or correct the file")


def test_voxel_size_contradicting_zarr_attrs(tmp_path, refused):
    data = _inputs(tmp_path / "data")
    create_volume(data / "vc.zarr", SHAPE, np.uint8, voxel_size_nm=(8, 8, 30))
    refused(tmp_path / "wd", [*_specs(data, vc=data / "vc.zarr"), *VS],
             "--voxel-size 10 10 20 nm contradicts the voxel size 8 8 30 nm recorded in",
             "vc.zarr")


def test_voxel_size_contradicting_knossos_conf(tmp_path, refused):
    data = _inputs(tmp_path / "data")
    seg = create_volume(tmp_path / "segk", SHAPE, np.uint64, fmt="knossos",
                        voxel_size_nm=(20, 20, 40))
    seg.write((0, 0, 0), np.ones(SHAPE, np.uint64))
    refused(tmp_path / "wd", [*_specs(data, seg=tmp_path / "segk"), *VS],
             "--voxel-size 10 10 20 nm contradicts the voxel size 20 20 40 nm recorded in",
             "segk")


def test_volumes_recording_different_voxel_sizes(tmp_path, refused):
    data = _inputs(tmp_path / "data", seg_voxel=(10, 10, 20), mi_voxel=(10, 10, 25))
    for args in ([], VS):  # with or without --voxel-size
        refused(tmp_path / "wd", [*_specs(data), *args],
                 f"{data / 'mi.h5'}:mi: records voxel size 10 10 25 nm, but "
                 f"{data / 'seg.h5'}:seg records 10 10 20 nm")


def test_voxel_size_agreeing_with_metadata_is_accepted(tmp_path):
    data = _inputs(tmp_path / "data", seg_voxel=(10, 10, 20), mi_voxel=(10, 10, 20))
    wd = tmp_path / "wd"
    # within the relative tolerance of 1e-6
    r = runner.invoke(app, ["init", str(wd), *map(str, _specs(data)),
                            "--voxel-size", "10.000001", "10", "20"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["init", str(tmp_path / "wd2"), *map(str, _specs(data))])
    assert r.exit_code == 0, r.output
    assert "voxel_size_nm: [10.0, 10.0, 20.0]" in (tmp_path / "wd2" / "config.yml").read_text()


# ------------------------------------------------------------------ agglomeration graph
_real = bz2.compress(b"1 2\n" * 5000)
AGGLOMERATION = [
    # (label, file name, bytes as written, message after the path)
    ("random bytes", "rag.bz2", bytes(range(13, 213)),
     "line 1: cannot read the agglomeration graph (Invalid data stream)"),
    ("truncated bz2", "rag.bz2", _real[: len(_real) // 2],
     # one bz2 block: nothing decompresses, so line 1 is the first that cannot be read
     "line 1: cannot read the agglomeration graph (Compressed file ended before the "
     "end-of-stream marker was reached); the file is corrupt or truncated"),
    ("letter", "rag.txt", b"1 2\n1 x\n",
     "line 2: supervoxel ids must be non-negative integers, got '1 x'"),
    ("letter first line", "rag.txt", b"1 x\n",
     "line 1: supervoxel ids must be non-negative integers, got '1 x'"),
    ("float", "rag.bz2", bz2.compress(b"1.5 2\n"),
     "line 1: supervoxel ids must be non-negative integers, got '1.5 2'"),
    (">= 2**64", "rag.txt", f"1 2\n{2 ** 64} 1\n".encode(),
     f"line 2: supervoxel id {2 ** 64} does not fit a signed 64-bit integer"),
    ("negative", "rag.txt", b"1 2\n2 -1\n", "line 2: negative supervoxel id -1"),
    (">= 2**63", "rag.bz2", bz2.compress(f"1 2\n1 {2 ** 63}\n".encode()),
     f"line 2: supervoxel id {2 ** 63} does not fit a signed 64-bit integer"),
    ("one id", "rag.txt", b"1 2\n1\n", "line 2: expected two supervoxel ids 'a b', got '1'"),
]


@pytest.mark.parametrize("label, name, payload, message", AGGLOMERATION,
                         ids=[a[0] for a in AGGLOMERATION])
def test_bad_agglomeration_refused_at_init(tmp_path, label, name, payload, message, refused):
    data = _inputs(tmp_path / "data")
    (data / name).write_bytes(payload)
    refused(tmp_path / "wd", [*_specs(data), "--agglomeration", data / name, *VS],
             f"syconn: error: {data / name}: {message}")


def test_good_agglomeration_accepted(tmp_path):
    data = _inputs(tmp_path / "data")
    (data / "rag.csv").write_text("# edges\nsv_a,sv_b\n1,2\n")
    r = runner.invoke(app, ["init", str(tmp_path / "wd"), *map(str, _specs(data)),
                            "--agglomeration", str(data / "rag.csv"), *VS])
    assert r.exit_code == 0, r.output
