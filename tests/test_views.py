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
    # the glia set is the cell channel of the same locations
    np.testing.assert_array_equal(g.views[:, 0], v.views[:, 0])
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
