"""``syconn export``: exports add to their folder, neuroglancer subsets do not replace the full
export, a failed export leaves complete files only, and files get the umask's mode."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import syconn.io.meshes as mesh_io
from syconn.db import run_query
from syconn.export import _default_name, _replace_folder, export
from syconn.io.meshes import _atomic_write_bytes, read_ply
from syconn.tasks.morphology import mesh_store
from syconn.workdir import open_engine


def _cli(*args):
    """Run the real console entry point (exit codes and stderr as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "syconn.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def _cell_ids(wd) -> list[int]:
    _, rows = run_query(open_engine(wd, read_only=True), "SELECT id FROM cells ORDER BY id")
    return [int(r[0]) for r in rows]


def _tree(root: Path) -> dict[str, bytes]:
    """``{relative path: content}`` of every file under ``root``."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture
def restore_umask():
    """Restore the process umask after a test that sets it (subprocesses inherit it)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_second_export_adds_files(pipeline_wd, tmp_path):
    a, b = _cell_ids(pipeline_wd)[:2]
    out = tmp_path / "ply"
    r = _cli("export", pipeline_wd, "ply", "--cells", f"{a},{b}", "--out", out)
    assert r.returncode == 0, r.stderr
    first = _tree(out)
    assert sorted(first) == [f"cells_{a}.ply", f"cells_{b}.ply"]
    r = _cli("export", pipeline_wd, "ply", "--kind", "mi", "--out", out)
    assert r.returncode == 0, r.stderr
    export(pipeline_wd, "obj", out, cells=[a], log=lambda m: None)
    after = _tree(out)
    n_mi = len(mesh_store(pipeline_wd, "mi"))
    assert n_mi > 0 and len([f for f in after if f.startswith("mi_")]) == n_mi
    assert f"cells_{a}.obj" in after
    assert {f: after[f] for f in first} == first          # byte-identical


def test_reexport_replaces_only_that_file(pipeline_wd, tmp_path):
    a, b = _cell_ids(pipeline_wd)[:2]
    out = tmp_path / "ply"
    export(pipeline_wd, "ply", out, cells=[a, b], log=lambda m: None)
    good = _tree(out)
    for f in good:
        (out / f).write_bytes(b"stale")
    export(pipeline_wd, "ply", out, cells=[a], log=lambda m: None)
    assert (out / f"cells_{a}.ply").read_bytes() == good[f"cells_{a}.ply"]
    assert (out / f"cells_{b}.ply").read_bytes() == b"stale"
    assert sorted(p.name for p in out.iterdir()) == [f"cells_{a}.ply", f"cells_{b}.ply"]


def test_failed_export_keeps_complete_files(pipeline_wd, tmp_path, monkeypatch):
    a, b = _cell_ids(pipeline_wd)[:2]
    out = tmp_path / "ply"
    export(pipeline_wd, "ply", out, kind="mi", log=lambda m: None)
    earlier = _tree(out)
    real_write, calls = mesh_io.write_ply, []

    def write_then_fail(path, mesh, **kw):
        calls.append(path)
        if len(calls) == 2:          # the second file dies between its temp file and the rename
            def boom(*args):
                raise OSError("disk gone")
            monkeypatch.setattr(os, "replace", boom)
        real_write(path, mesh, **kw)

    monkeypatch.setattr(mesh_io, "write_ply", write_then_fail)
    with pytest.raises(OSError, match="disk gone"):
        export(pipeline_wd, "ply", out, cells=[a, b], log=lambda m: None)
    monkeypatch.undo()
    after = _tree(out)
    assert {f: after[f] for f in earlier} == earlier
    assert sorted(set(after) - set(earlier)) == [f"cells_{a}.ply"]
    assert read_ply(out / f"cells_{a}.ply").n_faces == mesh_store(pipeline_wd, "cells").get(a).n_faces
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_neuroglancer_subset_keeps_full_export(pipeline_wd, tmp_path):
    wd = tmp_path / "wd"
    shutil.copytree(pipeline_wd, wd)
    a = _cell_ids(wd)[0]
    r = _cli("export", wd, "neuroglancer")
    assert r.returncode == 0, r.stderr
    full = _tree(wd / "export" / "neuroglancer")
    r = _cli("export", wd, "neuroglancer", "--cells", a)
    assert r.returncode == 0, r.stderr
    assert _tree(wd / "export" / "neuroglancer") == full
    sub = wd / "export" / f"neuroglancer_cells_{a}"
    props = json.loads((sub / "segment_properties" / "info").read_text())["inline"]
    assert props["ids"] == [str(a)]
    # a second full export replaces the first as a whole and leaves nothing aside
    export(wd, "neuroglancer", log=lambda m: None)
    assert _tree(wd / "export" / "neuroglancer") == full
    assert sorted(p.name for p in (wd / "export").iterdir()) == \
        ["neuroglancer", f"neuroglancer_cells_{a}"]


def test_neuroglancer_subset_names():
    assert _default_name("neuroglancer", {"id": [3, 12]}, [12, 3]) == "neuroglancer_cells_3_12"
    ids = list(range(1, 8))
    digest = hashlib.sha1(b"1,2,3,4,5,6,7").hexdigest()[:8]
    assert _default_name("neuroglancer", {"id": ids}, ids) == f"neuroglancer_cells_7_{digest}"
    assert _default_name("neuroglancer", {"id": ids}, None) == "neuroglancer"
    assert _default_name("ply", {"id": ids}, ids) == "ply"


def test_replace_folder_always_leaves_one_export(tmp_path):
    out, new = tmp_path / "ng", tmp_path / ".ng.partial"
    out.mkdir()
    (out / "info").write_text("old")
    new.mkdir()
    (new / "info").write_text("new")
    _replace_folder(new, out)
    assert (out / "info").read_text() == "new" and sorted(os.listdir(tmp_path)) == ["ng"]
    # a crash after the old folder was renamed aside: the next export finishes the swap
    out.rename(tmp_path / ".ng.old")
    new.mkdir()
    (new / "info").write_text("newer")
    _replace_folder(new, out)
    assert (out / "info").read_text() == "newer" and sorted(os.listdir(tmp_path)) == ["ng"]


def test_export_file_modes(pipeline_wd, tmp_path, restore_umask):
    os.umask(0o022)
    a = _cell_ids(pipeline_wd)[0]
    for fmt in ("ply", "swc"):
        export(pipeline_wd, fmt, tmp_path / fmt, log=lambda m: None)
    r = _cli("export", pipeline_wd, "neuroglancer", "--cells", a, "--out", tmp_path / "ng")
    assert r.returncode == 0, r.stderr
    files = dirs = 0
    for root in (tmp_path / "ply", tmp_path / "swc", tmp_path / "ng"):
        for p in [root, *root.rglob("*")]:
            mode = stat.S_IMODE(p.stat().st_mode)
            if p.is_dir():
                dirs += 1
                assert mode == 0o755, (p, oct(mode))
            else:
                files += 1
                assert mode == 0o644, (p, oct(mode))
    assert files > 10 and dirs > 3


def test_atomic_write_bytes_mode_and_cleanup(tmp_path, restore_umask, monkeypatch):
    os.umask(0o002)
    p = tmp_path / "f.bin"
    _atomic_write_bytes(p, b"one")
    assert p.read_bytes() == b"one" and stat.S_IMODE(p.stat().st_mode) == 0o664
    _atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two" and os.listdir(tmp_path) == ["f.bin"]

    def boom(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk gone"):
        _atomic_write_bytes(p, b"three")
    monkeypatch.undo()
    assert p.read_bytes() == b"two" and os.listdir(tmp_path) == ["f.bin"]
