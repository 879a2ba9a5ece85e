"""Views of a processed working directory's cells, rendered from the stored meshes."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.errors import InputError
from syconn.proc.render import BACKGROUND, NO_VERTEX, Renderer
from syconn.read import Results
from syconn.views import montage, render_cell, view_spec, write_png


@pytest.fixture(scope="module")
def largest(pipeline_wd):
    res = Results(pipeline_wd)
    t = res.cell_table(["id", "size_vx"])
    return res, int(t["id"][int(np.argmax(t["size_vx"]))])


def test_views_of_a_cell_show_its_surface_and_objects(largest):
    res, cid = largest
    with Renderer() as r:
        v = render_cell(res, cid, "spines", renderer=r, index=True)
        g = render_cell(res, cid, "glia", renderer=r)
    mesh = res.cell_mesh(cid)
    n = len(v.locations)
    assert n >= 1 and v.channels == ("cell", "mi", "vc", "syn")
    assert v.views.shape == (n, 4, 2, 128, 256) and g.views.shape == (n, 1, 2, 128, 256)
    # the glia set is the cell channel of the same locations (depth within one grey level:
    # the rasteriser's depth interpolation differs a little with the framebuffer's size)
    np.testing.assert_array_equal(g.views[:, 0] < BACKGROUND, v.views[:, 0] < BACKGROUND)
    assert np.abs(g.views[:, 0].astype(int) - v.views[:, 0]).max() <= 1
    assert (v.views[:, 0] < BACKGROUND).mean() > 0.01
    seen = v.index != NO_VERTEX
    np.testing.assert_array_equal(seen, v.views[:, 0] < BACKGROUND)
    assert v.index[seen].max() < mesh.n_vertices
    # an object channel is blank exactly where the cell has no such object
    for c, kind in enumerate(v.channels[1:], start=1):
        has = res.cell_object_mesh(cid, kind).n_faces > 0
        assert has or (v.views[:, c] == BACKGROUND).all()


def test_montage_and_png(largest, tmp_path):
    res, cid = largest
    v = render_cell(res, cid, "glia")
    img = montage(v.views, max_locations=3, gap=4)
    rows = min(3, len(v.locations))
    assert img.shape == (rows * 132 - 4, 2 * 260 - 4)
    out = write_png(tmp_path / "v.png", img, title="t", column_labels=["a", "b"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="view set"):
        view_spec(res.cfg, "axons")
    with pytest.raises(InputError, match="views"):
        montage(np.zeros((2, 3)))


def test_views_command_writes_a_png(largest, pipeline_wd, tmp_path, cli, one_line_error):
    _, cid = largest
    out = tmp_path / "v.png"
    r = cli("views", pipeline_wd, cid, "--set", "glia", "-o", out, "--locations", "2")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:4] == b"\x89PNG" and "channels cell" in r.stdout
    one_line_error(cli("views", pipeline_wd, 987654321), "987654321", "no such cell")
    one_line_error(cli("views", pipeline_wd, cid, "--set", "axons"), "view set", "axons")
