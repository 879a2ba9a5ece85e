"""Multi-view rendering of cell meshes (reference §3.3): real OpenGL, headless, through moderngl.

Geometry (all in nm)
--------------------
* **Rendering locations** (:func:`rendering_locations`): the cell mesh's vertices voxel-
  downsampled at a third of the view window (each occupied cube of edge ``window_nm / 3`` gives
  the mean of its vertices), so about three locations fall in every window, as the original's
  on-the-fly cell views.
* **Local frame** (:func:`local_frames`): per location, a PCA of the vertices inside the cube of
  edge ``window_nm`` around it; ``frame[0]`` is the principal axis (largest variance), ``frame[1]``
  the second, ``frame[2] = frame[0] x frame[1]`` (right-handed).  Each axis' sign is fixed so that
  its largest component is positive, so the frame is a function of the vertices only.  Fewer than
  three vertices or a degenerate spread give the identity.
* **Views** (:func:`view_rotations`): view ``k`` turns the frame about its principal axis, by
  -25 and +25 degrees for two views (the original's angles), by ``k * 360 / n`` degrees otherwise.
  The camera is orthographic: image columns run along the turned ``frame[0]`` over ``extent[0]``
  nm, image rows along the turned ``frame[1]`` over ``extent[1]`` nm (row 0 at the negative end),
  and the visible depth along the turned ``frame[2]`` is ``extent[2]`` nm, centred on the location
  (the original's clipping box [comp_window, comp_window / 2, comp_window]); the camera looks from
  the positive end of ``frame[2]``.

Outputs
-------
* :meth:`Renderer.views`: ``uint8 (L, C, V, H, W)``, one channel per mesh (cell surface,
  mitochondria, vesicle clouds, synapses in the pipeline), each a depth map of that mesh alone as
  the original renders them: ``0`` at the near end of the box to ``254`` at the far end, ``255``
  where the mesh does not cover the pixel.
* :meth:`Renderer.index_views`: ``int64 (L, V, H, W)``, the mesh vertex seen at every pixel, ``-1``
  where none.  The GPU writes the face (``gl_PrimitiveID``) and the depth; the vertex is the
  face's corner nearest the pixel centre in the image plane.  (The original encodes vertex ids as
  colours and lets the triangle's provoking vertex win, which can be the corner farthest from the
  pixel; the nearest corner is what a pixel-to-vertex label transfer wants.)

The context is an EGL standalone context: the GPU's driver where there is one, Mesa's llvmpipe
software rasteriser on CPU (Debian packages ``libegl1 libegl-mesa0 libgl1-mesa-dri``).
Coordinates are sent relative to the meshes' centre in float32; per location only the faces
near it are drawn, and its views are read back together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from syconn.errors import InputError, SyconnError
from syconn.proc.meshes import Mesh

__all__ = [
    "ViewSpec",
    "Renderer",
    "RenderingUnavailable",
    "rendering_locations",
    "local_frames",
    "view_rotations",
    "view_matrices",
    "BACKGROUND",
    "NO_VERTEX",
]

BACKGROUND = 255
"""Depth-map value of a pixel the mesh does not cover."""
NO_VERTEX = -1
"""Index-view value of a pixel no vertex is seen at."""

_MAX_ATLAS_PX = 8192


class RenderingUnavailable(SyconnError, RuntimeError):
    """No OpenGL context could be made (no EGL library or driver)."""


@dataclass(frozen=True)
class ViewSpec:
    """What one set of views looks like: ``size_px`` (width, height), ``n_views``,
    ``extent_nm`` (image width, image height, depth of the clipping box)."""

    size_px: tuple[int, int] = (256, 128)
    n_views: int = 2
    extent_nm: tuple[float, float, float] = (8000.0, 4000.0, 8000.0)

    def __post_init__(self) -> None:
        w, h = (int(s) for s in self.size_px)
        if (w, h) != tuple(self.size_px) or w < 1 or h < 1 or w > _MAX_ATLAS_PX \
                or h > _MAX_ATLAS_PX:
            raise InputError(f"size_px: got {self.size_px!r}, expected two integers in "
                             f"1..{_MAX_ATLAS_PX} (width, height)")
        if int(self.n_views) != self.n_views or self.n_views < 1:
            raise InputError(f"n_views: got {self.n_views!r}, expected an integer >= 1")
        ext = np.asarray(self.extent_nm, np.float64)
        if ext.shape != (3,) or not (np.isfinite(ext).all() and (ext > 0).all()):
            raise InputError(f"extent_nm: got {self.extent_nm!r}, expected three numbers > 0 "
                             "(image width, image height, depth; nm)")

    @classmethod
    def from_window(cls, window_nm: float, *, size_px=(256, 128), n_views: int = 2) -> ViewSpec:
        """The original's box for a view window: [window, window / 2, window] nm."""
        w = float(window_nm)
        return cls(tuple(size_px), n_views, (w, w / 2.0, w))

    @classmethod
    def from_config(cls, view_set) -> ViewSpec:
        """From a :class:`syconn.config.ViewSetConfig` (size_px, n_views, window_nm)."""
        return cls.from_window(view_set.window_nm, size_px=view_set.size_px,
                               n_views=view_set.n_views)

    @property
    def window_nm(self) -> float:
        return float(max(self.extent_nm))


# --------------------------------------------------------------------------------------------
# geometry (pure numpy)
# --------------------------------------------------------------------------------------------

def _points(vertices, name: str = "vertices") -> np.ndarray:
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or not np.isfinite(v).all():
        raise InputError(f"{name}: got shape {v.shape}, expected finite (n, 3) coordinates (nm)")
    return v


def _positive(value, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if not (math.isfinite(x) and x > 0):
        raise InputError(f"{name}: got {value!r}, expected a number > 0 (nm)")
    return x


def rendering_locations(vertices: np.ndarray, window_nm: float, *,
                        return_inverse: bool = False):
    """Rendering locations of a mesh: its vertices voxel-downsampled at ``window_nm / 3``.

    Each cube of the grid ``floor(v / (window_nm / 3))`` that holds vertices gives the mean of
    them; the locations come sorted by cube (x, then y, then z).  float64 ``(L, 3)`` nm; with
    ``return_inverse`` also each vertex's location index.

    >>> v = np.array([[0, 0, 0], [10, 0, 0], [3000, 0, 0]], float)
    >>> rendering_locations(v, 3000.0)
    array([[   5.,    0.,    0.],
           [3000.,    0.,    0.]])
    """
    v = _points(vertices)
    step = _positive(window_nm, "window_nm") / 3.0
    if not len(v):
        return (np.zeros((0, 3)), np.zeros(0, np.int64)) if return_inverse else np.zeros((0, 3))
    cells = np.floor(v / step).astype(np.int64)
    keys, inverse = np.unique(cells, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    sums = np.zeros((len(keys), 3))
    np.add.at(sums, inverse, v)
    loc = sums / np.bincount(inverse, minlength=len(keys))[:, None]
    return (loc, inverse) if return_inverse else loc


def _signed_axes(vecs: np.ndarray) -> np.ndarray:
    """Flip each row so its largest-magnitude component is positive."""
    idx = np.argmax(np.abs(vecs), axis=-1)
    sign = np.sign(np.take_along_axis(vecs, idx[..., None], axis=-1))
    sign[sign == 0] = 1.0
    return vecs * sign


def local_frames(vertices: np.ndarray, locations: np.ndarray, window_nm: float, *,
                 max_vertices: int = 100_000) -> np.ndarray:
    """Per location, the PCA frame of the vertices in the cube of edge ``window_nm`` around it.

    float64 ``(L, 3, 3)``: rows are the principal axis, the second axis, and their cross product.
    With more than ``max_vertices`` vertices every 8th is used (as the original).

    >>> v = np.array([[x, 0.1 * (x % 2), 0] for x in range(-5, 6)], float)
    >>> local_frames(v, np.zeros((1, 3)), 100.0)[0].round(3)
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    from scipy.spatial import cKDTree

    v = _points(vertices)
    loc = _points(locations, "locations")
    half = _positive(window_nm, "window_nm") / 2.0
    if len(v) > max_vertices:
        v = v[::8]
    frames = np.tile(np.eye(3), (len(loc), 1, 1))
    if not len(v) or not len(loc):
        return frames
    tree = cKDTree(v)
    for i, members in enumerate(tree.query_ball_point(loc, half * math.sqrt(3.0), p=2.0)):
        if len(members) < 3:
            continue
        pts = v[members]
        pts = pts[np.all(np.abs(pts - loc[i]) <= half, axis=1)]
        if len(pts) < 3:
            continue
        evals, evecs = np.linalg.eigh(np.cov(pts.T))
        if not evals[-1] > 1e-9 * max(1.0, float(np.abs(pts).max())) ** 2:
            continue
        e1, e2 = _signed_axes(evecs[:, ::-1].T[:2])
        frames[i] = np.stack([e1, e2, np.cross(e1, e2)])
    return frames


def view_rotations(n_views: int) -> np.ndarray:
    """Rotations ``(V, 3, 3)`` about the frame's principal axis (x): -25 and +25 degrees for two
    views (the original's), ``k * 360 / n`` degrees otherwise.  Applied as ``R @ frame``."""
    if int(n_views) != n_views or n_views < 1:
        raise InputError(f"n_views: got {n_views!r}, expected an integer >= 1")
    n = int(n_views)
    degrees = [-25.0, 25.0] if n == 2 else [k * 360.0 / n for k in range(n)]
    out = np.zeros((n, 3, 3))
    for k, d in enumerate(degrees):
        c, s = math.cos(math.radians(d)), math.sin(math.radians(d))
        out[k] = [[1, 0, 0], [0, c, -s], [0, s, c]]
    return out


def view_matrices(locations: np.ndarray, frames: np.ndarray, spec: ViewSpec,
                  origin_nm: np.ndarray | None = None) -> np.ndarray:
    """Model-view-projection matrices ``(L, V, 4, 4)`` (row-major, acting on column vectors
    ``(x - origin, 1)``) that map the view box of every location and view onto clip space."""
    loc = _points(locations, "locations")
    fr = np.asarray(frames, np.float64).reshape(len(loc), 3, 3)
    origin = np.zeros(3) if origin_nm is None else np.asarray(origin_nm, np.float64)
    rot = view_rotations(spec.n_views)
    axes = np.einsum("vij,ljk->lvik", rot, fr)                    # turned frames (L, V, 3, 3)
    half = np.asarray(spec.extent_nm, np.float64) / 2.0
    # orthographic: clip = diag(1/hx, 1/hy, -1/hz) @ axes @ (x - loc); GL's depth grows away
    # from the camera, which sits at the positive end of the third axis
    scale = np.array([1 / half[0], 1 / half[1], -1 / half[2]])
    m = np.zeros((len(loc), spec.n_views, 4, 4))
    m[..., :3, :3] = axes * scale[:, None]
    m[..., :3, 3] = -np.einsum("lvij,lj->lvi", m[..., :3, :3], loc - origin)
    m[..., 3, 3] = 1.0
    return m


# --------------------------------------------------------------------------------------------
# OpenGL
# --------------------------------------------------------------------------------------------

_VERTEX_SHADER = """
#version 330
uniform mat4 mvp;
in vec3 in_pos;
void main() { gl_Position = mvp * vec4(in_pos, 1.0); }
"""
# the depth-map grey level itself (0 near .. 254 far), so one byte per pixel is read back
_DEPTH_FRAGMENT = """
#version 330
out float grey;
void main() { grey = min(floor(gl_FragCoord.z * 255.0), 254.0) / 255.0; }
"""
# face id + 1 in RGBA8 (0 = background); exact for up to 2^32 - 1 faces
_FACE_FRAGMENT = """
#version 330
out vec4 color;
void main() {
    uint id = uint(gl_PrimitiveID) + 1u;
    color = vec4(float(id & 255u), float((id >> 8) & 255u), float((id >> 16) & 255u),
                 float((id >> 24) & 255u)) / 255.0;
}
"""


def _create_context(backend: str | None):
    try:
        import moderngl
    except ImportError as exc:  # pragma: no cover - moderngl is a dependency
        raise RenderingUnavailable(f"moderngl is not installed ({exc})") from exc
    tried = [backend] if backend else ["egl", None]
    errors = []
    for b in tried:
        try:
            kw = {"backend": b} if b else {}
            return moderngl.create_standalone_context(require=330, **kw)
        except Exception as exc:  # noqa: BLE001  glcontext raises plain Exceptions
            errors.append(f"{b or 'default'}: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}")
    raise RenderingUnavailable(
        "no OpenGL 3.3 context for rendering (" + "; ".join(errors) + "); install EGL and Mesa "
        "(Debian: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri)")


class _Drawable:
    """One mesh on the GPU: its vertices (relative to the scene origin), a dynamic index
    buffer, and per location the faces that can reach the view box."""

    def __init__(self, ctx, prog, mesh: Mesh, origin: np.ndarray, locations: np.ndarray,
                 reach_nm: float) -> None:
        from scipy.spatial import cKDTree

        v = mesh.vertices.astype(np.float64) - origin
        corners = v[mesh.faces.astype(np.int64)]                       # (F, 3, 3)
        centroid = corners.mean(axis=1)
        spread = float(np.sqrt(((corners - centroid[:, None]) ** 2).sum(-1)).max())
        near = cKDTree(centroid).query_ball_point(locations - origin, reach_nm + spread)
        self.faces = [np.asarray(sorted(f), np.int64) for f in near]
        self.mesh = mesh
        n_max = max((len(f) for f in self.faces), default=0)
        self.vbo = ctx.buffer(np.ascontiguousarray(v, np.float32).tobytes())
        self.ibo = ctx.buffer(reserve=max(1, n_max) * 12, dynamic=True)
        self.vao = ctx.vertex_array(prog, [(self.vbo, "3f", "in_pos")], index_buffer=self.ibo,
                                    index_element_size=4)
        self.prog = prog

    def load(self, li: int) -> int:
        """Put location ``li``'s faces in the index buffer; returns their number."""
        f = self.faces[li]
        if len(f):
            self.ibo.write(np.ascontiguousarray(self.mesh.faces[f], np.uint32).tobytes())
        return len(f)

    def release(self) -> None:
        for x in (self.vao, self.vbo, self.ibo):
            x.release()


class Renderer:
    """A headless OpenGL context that renders views of meshes::

        with Renderer() as r:
            r.views([cell_mesh, mi_mesh], locations, frames, ViewSpec()).shape
            # (L, 2, 2, 128, 256)

    ``backend``: ``"egl"`` (default: tried first, then the platform's default) or any backend
    name glcontext knows.

    Every location is drawn into one framebuffer (its views along x, its meshes along y) and
    read back on its own, so a location's views do not depend on which other locations are
    rendered with it (a tile's place in a larger atlas changes the rasteriser's sub-pixel
    rounding).  Per location only the faces whose centroid lies within the view box's
    half-diagonal (plus the largest face) of it are drawn.
    """

    def __init__(self, *, backend: str | None = None) -> None:
        self.ctx = _create_context(backend)
        self._depth_prog = self.ctx.program(vertex_shader=_VERTEX_SHADER,
                                            fragment_shader=_DEPTH_FRAGMENT)
        self._face_prog = self.ctx.program(vertex_shader=_VERTEX_SHADER,
                                           fragment_shader=_FACE_FRAGMENT)
        self._fbos: dict[tuple, tuple] = {}

    @property
    def device(self) -> str:
        """The OpenGL renderer string (e.g. ``llvmpipe (LLVM 15.0.6, 256 bits)`` on CPU)."""
        return str(self.ctx.info.get("GL_RENDERER", "?"))

    def close(self) -> None:
        for fbo, tex in self._fbos.values():
            fbo.release()
            for t in tex:
                t.release()
        self._fbos.clear()
        self.ctx.release()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- resources --------------------------------------------------------------------------
    def _framebuffer(self, size: tuple[int, int], components: int):
        key = (size, components)
        if key not in self._fbos:
            depth = self.ctx.depth_renderbuffer(size)
            col = self.ctx.texture(size, components, dtype="f1")
            fbo = self.ctx.framebuffer(color_attachments=[col], depth_attachment=depth)
            self._fbos[key] = (fbo, (col, depth))
        return self._fbos[key][0]

    def _render(self, prog, meshes, loc, origin, mats, spec: ViewSpec, *, components: int,
                clear: float):
        """Yield (location, colour uint8 (C, V, H, W, components), drawables)."""
        w, h = spec.size_px
        n_mesh, n_views = len(meshes), spec.n_views
        aw, ah = w * n_views, h * n_mesh
        if aw > _MAX_ATLAS_PX or ah > _MAX_ATLAS_PX:
            raise InputError(f"size_px {spec.size_px}: {n_views} views x {n_mesh} meshes need "
                             f"{aw} x {ah} px, more than {_MAX_ATLAS_PX}")
        reach = 0.5 * float(np.linalg.norm(spec.extent_nm))
        drawn = [_Drawable(self.ctx, prog, m, origin, loc, reach) if m.n_faces else None
                 for m in meshes]
        try:
            fbo = self._framebuffer((aw, ah), components)
            self.ctx.enable(self.ctx.DEPTH_TEST)
            fbo.use()
            for li in range(len(loc)):
                fbo.clear(clear, clear, clear, clear, depth=1.0)
                for mi, d in enumerate(drawn):
                    n = 0 if d is None else d.load(li)
                    if not n:
                        continue
                    for k in range(n_views):
                        fbo.viewport = (k * w, mi * h, w, h)
                        # moderngl takes column-major matrices
                        prog["mvp"].write(mats[li, k].T.astype("f4").tobytes())
                        d.vao.render(vertices=3 * n)
                col = np.frombuffer(fbo.read(components=components, dtype="f1"), np.uint8)
                yield li, col.reshape(n_mesh, h, n_views, w, components).swapaxes(1, 2), drawn
        finally:
            for d in drawn:
                if d is not None:
                    d.release()

    def _prepare(self, meshes, locations, frames, spec):
        if not isinstance(spec, ViewSpec):
            raise InputError(f"spec: got {type(spec).__name__}, expected a ViewSpec")
        for i, m in enumerate(meshes):
            if not isinstance(m, Mesh):
                raise InputError(f"meshes[{i}]: got {type(m).__name__}, expected a Mesh")
        loc = _points(locations, "locations")
        fr = np.asarray(frames, np.float64)
        if fr.shape != (len(loc), 3, 3) or not np.isfinite(fr).all():
            raise InputError(f"frames: got shape {fr.shape}, expected ({len(loc)}, 3, 3)")
        filled = [m.vertices for m in meshes if m.n_vertices]
        origin = np.zeros(3) if not filled else \
            np.round(np.concatenate(filled).astype(np.float64).mean(axis=0))
        return loc, fr, origin, view_matrices(loc, fr, spec, origin)

    # ---- public -----------------------------------------------------------------------------
    def views(self, meshes: Sequence[Mesh], locations: np.ndarray, frames: np.ndarray,
              spec: ViewSpec) -> np.ndarray:
        """Depth-map views ``uint8 (L, C, V, H, W)``, one channel per mesh (module docstring)."""
        meshes = list(meshes)
        loc, fr, origin, mats = self._prepare(meshes, locations, frames, spec)
        w, h = spec.size_px
        out = np.full((len(loc), len(meshes), spec.n_views, h, w), BACKGROUND, np.uint8)
        if not len(loc) or not meshes:
            return out
        for li, grey, _ in self._render(self._depth_prog, meshes, loc, origin, mats, spec,
                                        components=1, clear=1.0):
            out[li] = grey[..., 0]
        return out

    def index_views(self, mesh: Mesh, locations: np.ndarray, frames: np.ndarray,
                    spec: ViewSpec) -> np.ndarray:
        """Index views ``int64 (L, V, H, W)``: the vertex of ``mesh`` seen at each pixel (the
        nearest corner of the visible face), ``NO_VERTEX`` where none."""
        loc, fr, origin, mats = self._prepare([mesh], locations, frames, spec)
        w, h = spec.size_px
        out = np.full((len(loc), spec.n_views, h, w), NO_VERTEX, np.int64)
        if not len(loc) or not mesh.n_faces:
            return out
        vertices = mesh.vertices.astype(np.float64) - origin
        for li, rgba, drawn in self._render(self._face_prog, [mesh], loc, origin, mats, spec,
                                            components=4, clear=0.0):
            code = rgba[0].astype(np.uint32)
            local = (code[..., 0] | code[..., 1] << 8 | code[..., 2] << 16
                     | code[..., 3] << 24).astype(np.int64) - 1            # (V, H, W)
            face = np.full(local.shape, NO_VERTEX, np.int64)
            seen = local >= 0
            face[seen] = drawn[0].faces[li][local[seen]]
            out[li] = _nearest_corner(face, mesh, mats[li], vertices, spec)
        return out


def _nearest_corner(face: np.ndarray, mesh: Mesh, mats: np.ndarray, vertices: np.ndarray,
                    spec: ViewSpec) -> np.ndarray:
    """Per covered pixel of one location's views ``face (V, H, W)``, the corner of its face
    nearest the pixel centre in the image plane (``vertices``: relative to the scene origin)."""
    out = np.full(face.shape, NO_VERTEX, np.int64)
    w, h = spec.size_px
    for k in range(face.shape[0]):
        seen = face[k] >= 0
        if not seen.any():
            continue
        iy, ix = np.nonzero(seen)
        m = mats[k]
        ndc = vertices @ m[:2, :3].T + m[:2, 3]                         # (nv, 2)
        px, py = (ndc[:, 0] + 1.0) * (w / 2.0), (ndc[:, 1] + 1.0) * (h / 2.0)
        corners = mesh.faces[face[k][seen]].astype(np.int64)           # (n, 3)
        d2 = (px[corners] - (ix[:, None] + 0.5)) ** 2 + (py[corners] - (iy[:, None] + 0.5)) ** 2
        out[k][seen] = corners[np.arange(len(corners)), np.argmin(d2, axis=1)]
    return out
