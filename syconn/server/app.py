"""``syconn server``: the original's KNOSSOS-plugin HTTP API (SyConnGate) over one working
directory, as a FastAPI app.

Routes (all GET, JSON; the original's paths and keys, see :mod:`syconn.server.knossos` for
the payloads and their units):

==========================================  ===============================================
``/``                                       ``{"Welcome to": "SyConnGate"}``
``/ssv_list``                               ``{"ssvs": [cell ids]}``
``/ssv_mesh/<id>``                          ``{"vertices", "indices", "normals"}`` of the cell
``/ssv_ind|vert|norm/<id>``                 ``{"ind"}`` / ``{"vert"}`` / ``{"norm": []}``
``/ssv_obj_ind|vert|norm/<id>/<type>``      the same for the cell's ``sv`` (the cell), ``mi``,
                                            ``vc``, ``sj`` or ``syn_ssv`` (its synapses)
``/ssv_skeleton/<id>``                      ``{"nodes", "edges", "diameters"}``, ``{}`` if none
``/svs_of_ssv/<id>``                        ``{"svs": [supervoxel ids]}``
``/ssv_of_sv/<sv>``                         ``{"ssv": cell id}``, 0 if in no cell
``/ct_of_ssv/<id>``                         ``{"ct", "certainty"}``, ``""`` while unpredicted
``/all_syn_meta/<json>``                    parallel lists per synapse (:func:`syn_meta`)
``/pull_so_attr/<id>/<type>/<key>``         the attribute's value, ``""`` if it has none
``/push_so_attr/<id>/<type>/<key>/<val>``   ``""`` on success (``allow_write`` only)
==========================================  ===============================================

The viewer's routes (``/app``, ``/api/...``) and the Neuroglancer export (``/precomputed/...``)
are added by :func:`syconn.server.viewer.mount`.

An id that is not a decimal below 2**63, or names no object, gives 404 JSON
``{"detail": "..."}`` (one line); a malformed parameter (``all_syn_meta``'s JSON, a pushed
value) 400; a push while writes are off 403.  Ids and types never become file names: meshes
and skeletons come from the stores :mod:`syconn.read` finds from the config, so no request
reaches a file outside the working directory.  SQL is read through the read-only engine,
every value bound; ``push_so_attr`` writes through the working directory's own engine, only
the columns of :data:`~syconn.server.knossos.WRITABLE`.  The app reads rows and files per
request, so a rerun of the pipeline is seen without a restart; the JSON of cell meshes is
cached (:mod:`syconn.server.cache`: made once for concurrent requests of the same mesh, the
largest cells' made at start in a background thread) and checked against the mesh store on
every request.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from syconn.db import tables as T
from syconn.errors import (
    DatabaseError,
    InputError,
    ObjectNotFound,
    ReadOnlyViolation,
    SyconnError,
)
from syconn.read import Results
from syconn.server import knossos as K
from syconn.server.cache import MESH_CACHE_BYTES, PREWARM_BYTES, CellMeshes, ResponseCache

__all__ = ["create_app", "check_servable", "json_response", "POOL_SIZE"]

#: read-only database connections the app keeps open (as many again under load)
POOL_SIZE = 8

#: ``/ssv_ind`` and ``/ssv_vert``: their key for a part of :func:`~syconn.server.knossos.mesh_payload`
_SHORT_KEYS = CellMeshes.SHORT_KEYS


def json_response(content: Any, status_code: int = 200) -> Response:
    """JSON of ``content`` (numpy arrays included: serialised by orjson without lists)."""
    return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
                    status_code=status_code, media_type="application/json")


def check_servable(res: Results) -> None:
    """Refuse a working directory whose synapses are not processed (the original refuses one
    without ``syn_ssv``): :class:`InputError`, one line."""
    if not res.step_done("Synapses"):
        raise InputError(f"{res.wd}: no processed synapses (the Synapses step has not run); "
                         f"run 'syconn run {res.wd}' first")


def _error_status(exc: SyconnError) -> int:
    if isinstance(exc, ObjectNotFound):
        return 404
    if isinstance(exc, ReadOnlyViolation):
        return 403
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, DatabaseError):
        return 503
    return 500


#: the cell-mesh routes :class:`_CachedMeshes` answers from the cache (route, id), and the
#: part of the mesh each route serves
_MESH_PATH = re.compile(r"/ssv_(mesh|ind|vert)/([0-9]{1,19})"
                        r"|/ssv_obj_(ind|vert)/([0-9]{1,19})/sv")
_PART = {"mesh": None, "ind": "indices", "vert": "vertices"}
_JSON = (b"content-type", b"application/json")
_INT64_MAX = 2 ** 63 - 1


class _CachedMeshes:
    """ASGI middleware: a GET of a cell-mesh route (``/ssv_mesh|ind|vert/<id>``,
    ``/ssv_obj_ind|vert/<id>/sv``) whose current JSON is cached is answered here, without
    FastAPI's routing and parameter handling (about a tenth of the time); anything else,
    a cache miss included, goes on to the app."""

    def __init__(self, app, meshes: CellMeshes):
        self.app = app
        self.meshes = meshes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET" \
                and not scope.get("root_path"):
            m = _MESH_PATH.fullmatch(scope["path"])
            if m is not None:
                route, text, obj_route, obj_text = m.groups()
                cid, part = int(text or obj_text), _PART[route or obj_route]
                body = None
                if cid <= _INT64_MAX:
                    try:
                        body, _ = self.meshes.cached(cid, part)
                    except SyconnError:  # no store: the route says so
                        pass
                if body is not None:
                    await send({"type": "http.response.start", "status": 200,
                                "headers": [(b"content-length", str(len(body)).encode()),
                                            _JSON]})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


def _write_attribute(res: Results, spec: K.Writable, obj_id: int, value: Any, *,
                     kind: str | None) -> None:
    """Set one whitelisted column of one row (bound parameters, one transaction)."""
    from syconn.db.engine import error_reason

    tbl = getattr(T, spec.table)
    stmt = update(tbl).where(tbl.c.id == obj_id).values({spec.column: value})
    if kind is not None:
        stmt = stmt.where(tbl.c.kind == kind)
    try:
        with res.writer().begin() as conn:
            n = conn.execute(stmt).rowcount
    except DBAPIError as exc:
        raise DatabaseError(f"{res.wd}: push_so_attr failed: {error_reason(exc)}") from None
    if n != 1:
        raise ObjectNotFound(f"{spec.table} {obj_id}: no such object in {res.wd}")


def create_app(wd: Path | str, *, allow_write: bool = False,
               neuroglancer_url: str | None = None,
               prewarm_bytes: int = PREWARM_BYTES) -> FastAPI:
    """The SyConnGate app of working directory ``wd``.

    Parameters
    ----------
    wd
        A processed working directory (:func:`check_servable`).
    allow_write
        Let ``push_so_attr`` write the whitelisted attributes; off, it answers 403.
    neuroglancer_url
        The Neuroglancer the viewer links cells to (default
        :data:`~syconn.server.viewer.NEUROGLANCER_URL`).
    prewarm_bytes
        At start (the app's lifespan: uvicorn, ``with TestClient(app)``), make the
        ``/ssv_mesh`` JSON of the largest cells, up to this many bytes, in a background
        thread (:meth:`~syconn.server.cache.CellMeshes.prewarm`); 0: none.

    Raises
    ------
    InputError
        ``wd`` has no processed synapses.
    """
    res = Results(wd, pool_size=POOL_SIZE)
    check_servable(res)
    cache = ResponseCache(MESH_CACHE_BYTES)
    meshes = CellMeshes(res, cache)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        meshes.start_prewarm(prewarm_bytes)
        try:
            yield
        finally:
            meshes.stop()

    app = FastAPI(title="SyConnGate", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description=f"SyConn KNOSSOS-plugin API of {res.wd}")
    app.state.results = res
    app.state.allow_write = allow_write
    app.state.mesh_cache = cache
    app.state.meshes = meshes
    app.state.prewarm_bytes = prewarm_bytes
    app.add_middleware(_CachedMeshes, meshes=meshes)

    @app.exception_handler(SyconnError)
    async def _syconn_error(_request: Request, exc: SyconnError) -> Response:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return json_response({"detail": msg}, _error_status(exc))

    @app.get("/")
    def hello():
        """The original's greeting."""
        return json_response({"Welcome to": "SyConnGate"})

    @app.get("/ssv_list")
    def ssv_list():
        """Every cell id."""
        return json_response({"ssvs": res.cell_ids()})

    async def cached_mesh(ssv_id: str, part: str | None = None) -> Response:
        """The cell mesh JSON (:class:`~syconn.server.cache.CellMeshes`: cached, else made
        in a worker thread once for all concurrent requests of it)."""
        body = await meshes.body(K.parse_id(ssv_id, "cell"), part)
        return Response(body, media_type="application/json")

    def obj_mesh(ssv_id: str, kind: str, part: str) -> Response:
        """One part of all meshes of one object kind of a cell (not the cell's own:
        :func:`cached_mesh`) as one mesh, under the original's short key."""
        mesh = res.cell_object_mesh(K.parse_id(ssv_id, "cell"), kind)
        return json_response({_SHORT_KEYS[part]: K.mesh_payload(mesh)[part]})

    @app.get("/ssv_mesh/{ssv_id}")
    async def ssv_mesh(ssv_id: str):
        """The cell's mesh: vertices (nm), indices, normals (none)."""
        return await cached_mesh(ssv_id)

    @app.get("/ssv_ind/{ssv_id}")
    async def ssv_ind(ssv_id: str):
        """The cell mesh's triangle indices."""
        return await cached_mesh(ssv_id, "indices")

    @app.get("/ssv_vert/{ssv_id}")
    async def ssv_vert(ssv_id: str):
        """The cell mesh's vertices (nm)."""
        return await cached_mesh(ssv_id, "vertices")

    @app.get("/ssv_norm/{ssv_id}")
    def ssv_norm(ssv_id: str):
        """No normals, as the original."""
        res.require_cell(K.parse_id(ssv_id, "cell"))
        return json_response({"norm": []})

    # the plugin asks for the cell's own mesh as object type sv: the cached /ssv_ind and
    # /ssv_vert bodies; the other types are read per request
    @app.get("/ssv_obj_ind/{ssv_id}/{obj_type}")
    async def ssv_obj_ind(ssv_id: str, obj_type: str):
        """Triangle indices of a cell's objects of one type."""
        kind = K.object_kind(obj_type)
        if kind == "cells":
            return await cached_mesh(ssv_id, "indices")
        return await run_in_threadpool(obj_mesh, ssv_id, kind, "indices")

    @app.get("/ssv_obj_vert/{ssv_id}/{obj_type}")
    async def ssv_obj_vert(ssv_id: str, obj_type: str):
        """Vertices (nm) of a cell's objects of one type."""
        kind = K.object_kind(obj_type)
        if kind == "cells":
            return await cached_mesh(ssv_id, "vertices")
        return await run_in_threadpool(obj_mesh, ssv_id, kind, "vertices")

    @app.get("/ssv_obj_norm/{ssv_id}/{obj_type}")
    def ssv_obj_norm(ssv_id: str, obj_type: str):
        """No normals, as the original."""
        K.object_kind(obj_type)
        res.require_cell(K.parse_id(ssv_id, "cell"))
        return json_response({"norm": []})

    @app.get("/ssv_skeleton/{ssv_id}")
    def ssv_skeleton(ssv_id: str):
        """The cell's skeleton (voxels), ``{}`` if it has none."""
        skel = res.skeleton(K.parse_id(ssv_id, "cell"))
        return json_response(K.skeleton_payload(skel, res.voxel_size_nm))

    @app.get("/svs_of_ssv/{ssv_id}")
    def svs_of_ssv(ssv_id: str):
        """The cell's supervoxels."""
        return json_response({"svs": res.supervoxels_of(K.parse_id(ssv_id, "cell"))})

    @app.get("/ssv_of_sv/{sv_id}")
    def ssv_of_sv(sv_id: str):
        """The supervoxel's cell, 0 if none."""
        return json_response({"ssv": res.cell_of(K.parse_id(sv_id, "supervoxel"))})

    @app.get("/ct_of_ssv/{ssv_id}")
    def ct_of_ssv(ssv_id: str):
        """The cell's type and its certainty (``""`` while not predicted)."""
        # a cell without a type (too small, or the step has not run) gets the original's
        # answer for a cell without a prediction, {"ct": "", "certainty": ""}
        row = res.cell(K.parse_id(ssv_id, "cell"))
        return json_response(K.cell_type_payload(row["cell_type"], row["cell_type_certainty"]))

    # the JSON may hold "/" (inside a string): take the rest of the path, so that such a
    # parameter is a 400 of the parser, not a 404 of the router
    @app.get("/all_syn_meta/{params:path}")
    def all_syn_meta(params: str):
        """Every synapse above ``synthresh``, as parallel lists."""
        thresh, axodend_only = K.parse_syn_meta_params(params)
        syn = res.synapse_columns(K.SYN_META_COLUMNS, at_least=thresh)
        codes = K.cell_type_codes(*res.cell_types())
        return json_response(K.syn_meta(syn, codes, axodend_only=axodend_only))

    def so_row(so_id: str, so_type: str):
        """(table, organelle kind, id) of a pull/push object (404: unknown type or id)."""
        if so_type not in K.SO_TYPES:
            raise ObjectNotFound(f"object type {so_type!r}: expected one of "
                                 f"{', '.join(K.SO_TYPES)}")
        table, kind = K.SO_TYPES[so_type]
        return table, kind, K.parse_id(so_id, so_type)

    @app.get("/pull_so_attr/{so_id}/{so_type}/{attr_key}")
    def pull_so_attr(so_id: str, so_type: str, attr_key: str):
        """One attribute of one object, ``""`` if it has no value."""
        table, kind, oid = so_row(so_id, so_type)
        cols = K.pull_columns(so_type, attr_key, res.object_columns(table))
        values = res.object_values(table, oid, cols or ("id",), kind=kind)
        return json_response(K.pull_value(values) if cols else "")

    @app.get("/push_so_attr/{so_id}/{so_type}/{attr_key}/{attr_value}")
    def push_so_attr(so_id: str, so_type: str, attr_key: str, attr_value: str):
        """Set a whitelisted attribute (``allow_write`` only); ``""`` on success."""
        if not app.state.allow_write:
            return json_response({"detail": "push_so_attr: writes are off; start the server "
                                            "with --allow-write"}, 403)
        table, kind, oid = so_row(so_id, so_type)
        spec = K.writable(so_type, attr_key)
        value = K.parse_value(spec, attr_value)
        _write_attribute(res, spec, oid, value, kind=kind)
        return json_response("")

    from syconn.server.viewer import NEUROGLANCER_URL, mount  # /app, /api/..., /precomputed/

    mount(app, wd, neuroglancer_url=neuroglancer_url or NEUROGLANCER_URL)

    return app
