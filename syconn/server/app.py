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
cached (:mod:`syconn.server.cache`) and checked against the mesh store on every request.
"""

from __future__ import annotations

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
from syconn.server.cache import MESH_CACHE_BYTES, ResponseCache

__all__ = ["create_app", "check_servable", "json_response", "POOL_SIZE"]

#: read-only database connections the app keeps open (as many again under load)
POOL_SIZE = 8

#: ``/ssv_ind`` and ``/ssv_vert``: their key for a part of :func:`~syconn.server.knossos.mesh_payload`
_SHORT_KEYS = {"indices": "ind", "vertices": "vert"}


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
               neuroglancer_url: str | None = None) -> FastAPI:
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

    Raises
    ------
    InputError
        ``wd`` has no processed synapses.
    """
    res = Results(wd, pool_size=POOL_SIZE)
    check_servable(res)
    app = FastAPI(title="SyConnGate", docs_url=None, redoc_url=None,
                  description=f"SyConn KNOSSOS-plugin API of {res.wd}")
    app.state.results = res
    app.state.allow_write = allow_write

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

    meshes = ResponseCache(MESH_CACHE_BYTES)
    app.state.mesh_cache = meshes

    def make_mesh_json(cid: int, part: str | None, version) -> bytes:
        """The JSON of cell ``cid``'s mesh, or of one ``part`` of it under the original's
        short key; kept in the cache as made from the store's ``version``."""
        payload = K.mesh_payload(res.cell_mesh(cid))
        if part is not None:
            payload = {_SHORT_KEYS[part]: payload[part]}
        body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
        meshes.put((part, cid), version, body)
        return body

    async def cached_mesh(ssv_id: str, part: str | None = None) -> Response:
        cid = K.parse_id(ssv_id, "cell")
        # the store's token before the record: a write in between leaves a newer record
        # under the older token, made again on the next request (a stat and a small read:
        # on the event loop)
        version = res.mesh_version("cells", cid)
        body = meshes.get((part, cid), version)
        if body is None:  # read, check that the cell exists, serialise: in a thread
            body = await run_in_threadpool(make_mesh_json, cid, part, version)
        return Response(body, media_type="application/json")

    def obj_mesh(ssv_id: str, obj_type: str):
        """All meshes of one object type of a cell, as one mesh."""
        kind = K.object_kind(obj_type)
        cid = K.parse_id(ssv_id, "cell")
        return res.cell_mesh(cid) if kind == "cells" else res.cell_object_mesh(cid, kind)

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

    @app.get("/ssv_obj_ind/{ssv_id}/{obj_type}")
    def ssv_obj_ind(ssv_id: str, obj_type: str):
        """Triangle indices of a cell's objects of one type."""
        return json_response({"ind": K.mesh_payload(obj_mesh(ssv_id, obj_type))["indices"]})

    @app.get("/ssv_obj_vert/{ssv_id}/{obj_type}")
    def ssv_obj_vert(ssv_id: str, obj_type: str):
        """Vertices (nm) of a cell's objects of one type."""
        return json_response({"vert": K.mesh_payload(obj_mesh(ssv_id, obj_type))["vertices"]})

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
        # no cell type model runs yet, cells.cell_type is NULL: the answer is then the
        # original's for a cell without a prediction, {"ct": "", "certainty": ""}
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
