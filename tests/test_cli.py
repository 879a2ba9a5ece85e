"""CLI: init, db upgrade, sql; bad input gives one line on stderr, exit 2, nothing written."""

import json

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from syconn.cli import app
from syconn.io import create_volume

runner = CliRunner()


def test_help_lists_commands():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("init", "db", "sql"):
        assert cmd in r.stdout


def test_init_from_example_layout_and_query(tmp_path, backend, tiny_inputs):
    name, url = backend
    src = tiny_inputs(tmp_path / "data")
    wd = tmp_path / "wd"
    args = ["init", wd, "--from", src, "--voxel-size", "10", "10", "20",
            "--block-size", "64", "64", "32"]
    if name == "postgresql":
        args += ["--db", url]
    r = runner.invoke(app, list(map(str, args)))
    assert r.exit_code == 0, r.output
    cfg = (wd / "config.yml").read_text()
    assert "voxel_size_nm: [10.0, 10.0, 20.0]" in cfg and "block_shape: [64, 64, 32]" in cfg
    assert str(src / "seg.h5") in cfg
    r = runner.invoke(app, ["sql", str(wd), "SELECT voxel_z_nm, shape_x, shape_z FROM dataset",
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == [{"voxel_z_nm": 20.0, "shape_x": 16, "shape_z": 8}]
    r = runner.invoke(app, ["sql", str(wd), "SELECT name FROM dataset", "--format", "csv"])
    assert r.stdout.splitlines() == ["name", "syconn_dataset"]
    r = runner.invoke(app, ["db", "upgrade", str(wd)])
    from syconn.db import head_revision
    assert r.exit_code == 0 and f"revision {head_revision()}" in r.stdout


def test_init_with_explicit_specs_and_voxel_size_from_metadata(tmp_path):
    vol = create_volume(tmp_path / "segk", (16, 16, 8), np.uint64, fmt="knossos",
                        voxel_size_nm=(20, 20, 40))
    vol.write((0, 0, 0), np.ones((16, 16, 8), np.uint64))
    probs = {}
    for k in ("mi", "vc", "sj"):
        create_volume(tmp_path / f"{k}.zarr", (16, 16, 8), np.uint8)
        probs[k] = str(tmp_path / f"{k}.zarr")
    r = runner.invoke(app, ["init", str(tmp_path / "wd"), "--seg", str(tmp_path / "segk"),
                            *[a for k, v in probs.items() for a in (f"--{k}", v)]])
    assert r.exit_code == 0, r.output
    assert "voxel_size_nm: [20.0, 20.0, 40.0]" in (tmp_path / "wd" / "config.yml").read_text()


def test_sql_write_refused_exit_2(tmp_path, cli, one_line_error):
    wd = tmp_path / "wd"
    assert runner.invoke(app, ["init", str(wd), "--voxel-size", "10", "10", "20"]).exit_code == 0
    line = one_line_error(cli("sql", wd, "DELETE FROM cells"))
    assert line.startswith("syconn: error: refused: the database is opened read-only")


def _bad_cases(tmp_path, inputs):
    ok = inputs(tmp_path / "ok")
    floaty = tmp_path / "floaty"
    inputs(floaty)
    with h5py.File(floaty / "seg.h5", "w") as f:
        f["seg"] = np.zeros((16, 16, 8), np.float32)
    shapes = inputs(tmp_path / "shapes", prob_shape=(16, 16, 9))
    trunc = tmp_path / "trunc"
    inputs(trunc)
    vol = create_volume(trunc / "segk", (16, 16, 8), np.uint64, fmt="knossos", chunks=(8,))
    vol.write((0, 0, 0), np.arange(16 * 16 * 8, dtype=np.uint64).reshape(16, 16, 8))
    cube = trunc / "segk/mag1/x0001/y0000/z0000/segk_mag1_x0001_y0000_z0000.seg.sz.zip"
    cube.write_bytes(cube.read_bytes()[:-40])
    vs = ["--voxel-size", "10", "10", "20"]
    return [
        ("missing path", ["--from", tmp_path / "nope", *vs], "nope: no such directory"),
        ("missing volume", ["--seg", tmp_path / "nope.h5", "--mi", ok / "mi.h5", "--vc",
                            ok / "vc.h5", "--sj", ok / "sj.h5", *vs], "nope.h5: no such file"),
        ("float seg", ["--from", floaty, *vs], "dtype float32, expected an unsigned integer"),
        ("shape mismatch", ["--from", shapes, *vs],
         "shape (16, 16, 9) differs from the segmentation's (16, 16, 8)"),
        ("truncated cube", ["--seg", trunc / "segk", "--mi", ok / "mi.h5", "--vc", ok / "vc.h5",
                            "--sj", ok / "sj.h5", *vs], "x0001_y0000_z0000.seg.sz.zip"),
        ("zero voxel size", ["--from", ok, "--voxel-size", "0", "10", "20"],
         "dataset.voxel_size_nm = 0.0: must be > 0"),
        ("unreachable db", ["--from", ok, *vs, "--db", "postgresql://postgres@127.0.0.1:1/x"],
         "cannot connect to the database"),
    ]


def test_bad_input_one_line_exit_2_nothing_written(tmp_path, tiny_inputs, cli, one_line_error):
    for label, args, message in _bad_cases(tmp_path, tiny_inputs):
        wd = tmp_path / f"wd_{label.replace(' ', '_')}"
        one_line_error(cli("init", wd, *args), message)
        assert not wd.exists(), label


def test_unknown_config_key_exit_2(tmp_path, cli):
    wd = tmp_path / "wd"
    assert runner.invoke(app, ["init", str(wd), "--voxel-size", "10", "10", "20"]).exit_code == 0
    cfg = wd / "config.yml"
    cfg.write_text(cfg.read_text().replace("cell_objects:", "cell_objects:\n  bogus_key: 3", 1))
    before = (wd / "syconn.sqlite").stat().st_mtime_ns
    r = cli("db", "upgrade", wd)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"syconn: error: {cfg}: unknown key 'cell_objects.bogus_key' "
                                f"(known keys: {r.stderr.split('(known keys: ')[1].strip()}")
    assert (wd / "syconn.sqlite").stat().st_mtime_ns == before


def test_init_refuses_to_clobber(tmp_path, cli):
    wd = tmp_path / "wd"
    assert runner.invoke(app, ["init", str(wd), "--voxel-size", "10", "10", "20"]).exit_code == 0
    r = cli("init", wd, "--voxel-size", "10", "10", "20")
    assert r.returncode == 2 and "already" not in r.stderr and "--overwrite" in r.stderr


def test_run_on_an_older_database_asks_for_the_upgrade(tmp_path, tiny_inputs, cli,
                                                       one_line_error):
    """A working directory whose database an older syconn made (revision 0008) is refused
    before any task runs: one line naming the fix, exit 2; after the upgrade it is accepted."""
    from alembic import command

    from syconn.db.store import _alembic_config
    from syconn.workdir import check_revision, open_engine

    wd = tmp_path / "wd"
    src = tiny_inputs(tmp_path / "data")
    assert runner.invoke(app, ["init", str(wd), "--from", str(src), "--voxel-size", "10", "10",
                               "20"]).exit_code == 0
    with open_engine(wd).begin() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    one_line_error(cli("run", wd), "database at revision 0008", f"syconn db upgrade {wd}")
    assert not (wd / "steps").exists() or not any((wd / "steps").iterdir())
    assert runner.invoke(app, ["db", "upgrade", str(wd)]).exit_code == 0
    check_revision(wd)  # no error


@pytest.mark.parametrize("kind", ["celltypes", "compartments", "glia"])
def test_train_refuses_a_seed_in_training_and_validation(kind, tmp_path, cli, one_line_error):
    out = tmp_path / "m.npz"
    one_line_error(cli("train", kind, out, "--synthetic", "3-5", "--validation", "5",
                       "--workdir", tmp_path / "w"), "--validation", "[5]", "training seeds")
    assert not out.exists() and not (tmp_path / "w").exists()
