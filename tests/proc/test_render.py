"""Multi-view rendering: geometry by hand, then real OpenGL (EGL; llvmpipe on CPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from syconn.errors import InputError
from syconn.proc.meshes import Mesh
from syconn.proc.render import (
    BACKGROUND,
    NO_VERTEX,
    Renderer,
    ViewSpec,
    local_frames,
    rendering_locations,
    view_matrices,
    view_rotations,
)


def sphere_mesh(radius: float, centre=(0.0, 0.0, 0.0), step: float = 50.0) -> Mesh:
    """A closed sphere mesh by marching cubes of the distance function (vertices on the sphere
    to well under a pixel)."""
    from skimage.measure import marching_cubes

    n = int(math.ceil(radius / step)) + 3
    g = np.arange(-n, n + 1) * step
    x, y, z = np.meshgrid(g, g, g, indexing="ij")
    v, f, _, _ = marching_cubes(np.sqrt(x * x + y * y + z * z), radius, spacing=(step,) * 3)
    v = v - n * step + np.asarray(centre)
    return Mesh(v.astype(np.float32), f.astype(np.uint32))


def pixel_centres(spec: ViewSpec):
    w, h = spec.size_px
    ex, ey, _ = spec.extent_nm
    xs = -ex / 2 + (np.arange(w) + 0.5) * ex / w
    ys = -ey / 2 + (np.arange(h) + 0.5) * ey / h
    return xs[None, :], ys[:, None], ex / w


@pytest.fixture(scope="module")
def renderer():
    with Renderer() as r:
        yield r


# ---- geometry ------------------------------------------------------------------------------

def test_rendering_locations_are_cube_means():
    v = np.array([[0, 0, 0], [900, 900, 0], [1100, 0, 0], [1200, 0, 0], [0, 0, 2500]], float)
    # window 3000 -> cubes of 1000 nm: (0,0,0) holds two, (1,0,0) two, (0,0,2) one
    loc = rendering_locations(v, 3000.0)
    np.testing.assert_allclose(loc, [[450, 450, 0], [0, 0, 2500], [1150, 0, 0]])
    assert rendering_locations(np.zeros((0, 3)), 3000.0).shape == (0, 3)


def test_local_frame_follows_the_principal_axis():
    t = np.linspace(-2000, 2000, 41)
    d = np.array([1.0, 1.0, 0.0]) / math.sqrt(2)
    wiggle = np.array([0.0, 0.0, 1.0]) * 50 * np.cos(t / 100)[:, None]
    v = t[:, None] * d + wiggle
    fr = local_frames(-v, np.zeros((1, 3)), 8000.0)[0]          # sign independent of order
    np.testing.assert_allclose(fr[0], d, atol=1e-6)
    np.testing.assert_allclose(fr[1], [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(fr[2], np.cross(fr[0], fr[1]), atol=1e-12)
    np.testing.assert_allclose(fr @ fr.T, np.eye(3), atol=1e-12)
    # vertices outside the window are not used; too few inside -> identity
    far = local_frames(v, np.array([[1e6, 0, 0]]), 8000.0)[0]
    np.testing.assert_array_equal(far, np.eye(3))


def test_view_rotations_are_the_originals():
    r2 = view_rotations(2)
    assert np.degrees(math.atan2(r2[0][2, 1], r2[0][1, 1])) == pytest.approx(-25)
    assert np.degrees(math.atan2(r2[1][2, 1], r2[1][1, 1])) == pytest.approx(25)
    r3 = view_rotations(3)
    assert [round(np.degrees(math.atan2(r[2, 1], r[1, 1]))) for r in r3] == [0, 120, -120]
    np.testing.assert_allclose(r3[:, 0], [[1, 0, 0]] * 3)      # about the principal axis


def test_view_matrix_maps_the_box_to_clip_space():
    spec = ViewSpec((256, 128), 1, (8000.0, 4000.0, 6000.0))
    loc = np.array([[100.0, 200.0, 300.0]])
    m = view_matrices(loc, np.eye(3)[None], spec, origin_nm=np.array([100.0, 0, 0]))[0, 0]
    corner = np.array([100 + 4000 - 100, 200 + 2000, 300 + 3000, 1.0])   # x - origin
    np.testing.assert_allclose(m @ corner, [1, 1, -1, 1])     # + third axis is nearest


@pytest.mark.parametrize("bad, msg", [
    (dict(size_px=(0, 10)), "size_px"),
    (dict(n_views=0), "n_views"),
    (dict(extent_nm=(1.0, -1.0, 1.0)), "extent_nm"),
])
def test_view_spec_rejects_bad_values(bad, msg):
    with pytest.raises(InputError, match=msg):
        ViewSpec(**bad)


# ---- OpenGL --------------------------------------------------------------------------------

@pytest.mark.parametrize("frame", ["identity", "turned"])
def test_sphere_silhouette_matches_the_circle(renderer, frame):
    r, c = 1500.0, np.array([5000.0, 6000.0, 7000.0])
    mesh = sphere_mesh(r, c)
    spec = ViewSpec.from_window(8000.0)
    fr = np.eye(3) if frame == "identity" else \
        np.linalg.qr(np.array([[2.0, 1, 0], [0, 1, 3], [1, 0, 1]]))[0].T
    views = renderer.views([mesh, Mesh.empty()], c[None], fr[None], spec)
    assert views.shape == (1, 2, 2, 128, 256) and views.dtype == np.uint8
    assert (views[0, 1] == BACKGROUND).all()                   # an empty channel stays blank
    xs, ys, px = pixel_centres(spec)
    dist = np.sqrt(xs ** 2 + ys ** 2)
    for k in range(2):
        covered = views[0, 0, k] < BACKGROUND
        wrong = covered != (dist <= r)
        assert covered.sum() == pytest.approx(math.pi * (r / px) ** 2, rel=0.02)
        # every disagreement lies within one pixel of the circle
        assert np.all(np.abs(dist[wrong] - r) <= px)
    # depth: the near pole is r in front of the centre; 0 = near end of the 8000 nm box
    expect = math.floor((0.5 - r / 8000.0) * 255)
    assert abs(int(views[0, 0, 0, 64, 128]) - expect) <= 1


def test_depth_increases_away_from_the_camera(renderer):
    near = sphere_mesh(400.0, (-2000.0, 0.0, 1500.0))
    far = sphere_mesh(400.0, (2000.0, 0.0, -1500.0))
    spec = ViewSpec((256, 128), 1, (8000.0, 4000.0, 8000.0))
    v = renderer.views([Mesh(np.concatenate([near.vertices, far.vertices]),
                             np.concatenate([near.faces, far.faces + near.n_vertices]))],
                       np.zeros((1, 3)), np.eye(3)[None], spec)[0, 0, 0]
    assert int(v[64, 64]) < int(v[64, 192]) < BACKGROUND


def test_index_views_map_pixels_to_vertices_of_the_right_object(renderer):
    a = sphere_mesh(900.0, (-1800.0, 0.0, 0.0))
    b = sphere_mesh(700.0, (1800.0, 300.0, 200.0))
    both = Mesh(np.concatenate([a.vertices, b.vertices]),
                np.concatenate([a.faces, b.faces + a.n_vertices]))
    spec = ViewSpec.from_window(8000.0)
    loc = np.zeros((3, 3)) + [[0, 0, 0], [0, 100, 0], [50, 0, -100]]
    fr = np.tile(np.eye(3), (3, 1, 1))
    idx = renderer.index_views(both, loc, fr, spec)
    depth = renderer.views([both], loc, fr, spec)[:, 0]
    assert idx.shape == (3, 2, 128, 256) and idx.dtype == np.int64
    np.testing.assert_array_equal(idx != NO_VERTEX, depth < BACKGROUND)
    only_a = renderer.views([a], loc, fr, spec)[:, 0] < BACKGROUND
    seen = idx != NO_VERTEX
    assert np.array_equal(idx[seen] < a.n_vertices, only_a[seen])
    # the vertex lies on the pixel (within a pixel of its centre, on the side facing the camera)
    xs, ys, px = pixel_centres(spec)
    l, k, iy, ix = np.nonzero(seen)
    rot = np.einsum("vij,ljk->lvik", view_rotations(2), fr)[l, k]
    p = np.einsum("nij,nj->ni", rot, both.vertices[idx[seen]] - loc[l])
    assert np.max(np.hypot(p[:, 0] - xs[0, ix], p[:, 1] - ys[iy, 0])) <= 1.5 * px
    centre = np.where((idx[seen] < a.n_vertices)[:, None], [-1800.0, 0, 0], [1800.0, 300, 200])
    # (a corner of a face on the silhouette may lie a mesh edge behind the equator)
    assert (np.einsum("nij,nj->ni", rot, centre - loc[l])[:, 2] <= p[:, 2] + 100.0).all()


def test_a_locations_views_do_not_depend_on_the_others(renderer):
    mesh = sphere_mesh(1200.0)
    loc = rendering_locations(mesh.vertices, 2400.0)
    fr = local_frames(mesh.vertices, loc, 2400.0)
    spec = ViewSpec.from_window(2400.0, size_px=(64, 32))
    views = renderer.views([mesh, mesh], loc, fr, spec)
    index = renderer.index_views(mesh, loc, fr, spec)
    assert len(loc) > 8 and (views < BACKGROUND).any()
    for i in (0, len(loc) // 2, len(loc) - 1):
        np.testing.assert_array_equal(renderer.views([mesh, mesh], loc[i:i + 1], fr[i:i + 1],
                                                     spec)[0], views[i])
        np.testing.assert_array_equal(renderer.index_views(mesh, loc[i:i + 1], fr[i:i + 1],
                                                           spec)[0], index[i])
    # the same mesh in two channels: same coverage, depth within one level (another tile row)
    np.testing.assert_array_equal(views[:, 0] < BACKGROUND, views[:, 1] < BACKGROUND)
    assert np.abs(views[:, 0].astype(int) - views[:, 1]).max() <= 1


def test_far_faces_are_culled_without_changing_the_views(renderer):
    near = sphere_mesh(600.0)
    far = sphere_mesh(600.0, (9000.0, 0.0, 0.0))       # outside the 4000 x 2000 x 4000 box
    both = Mesh(np.concatenate([near.vertices, far.vertices]),
                np.concatenate([near.faces, far.faces + near.n_vertices]))
    spec = ViewSpec.from_window(4000.0)
    loc, fr = np.zeros((1, 3)), np.eye(3)[None]
    np.testing.assert_array_equal(renderer.views([both], loc, fr, spec),
                                  renderer.views([near], loc, fr, spec))
    np.testing.assert_array_equal(renderer.index_views(both, loc, fr, spec),
                                  renderer.index_views(near, loc, fr, spec))


def test_renderer_rejects_bad_input(renderer):
    spec = ViewSpec()
    with pytest.raises(InputError, match="frames"):
        renderer.views([sphere_mesh(500.0)], np.zeros((2, 3)), np.zeros((1, 3, 3)), spec)
    with pytest.raises(InputError, match=r"meshes\[0\]"):
        renderer.views([np.zeros((3, 3))], np.zeros((1, 3)), np.eye(3)[None], spec)
    empty = renderer.views([sphere_mesh(500.0)], np.zeros((0, 3)), np.zeros((0, 3, 3)), spec)
    assert empty.shape == (0, 1, 2, 128, 256)
