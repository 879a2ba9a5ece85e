"""The web viewer: JSON routes under ``/api/`` and the built front end at ``/app``.

:func:`mount` adds both to a FastAPI app, usually the one
:func:`syconn.server.app.create_app` builds.  The routes read SQL only, through a read-only engine of
the working directory and the statements of :mod:`syconn.db.viewer_queries`; meshes and
skeletons come to the browser through the KNOSSOS-plugin routes (``/ssv_mesh/<id>``,
``/ssv_obj_vert|ind/<id>/<type>``, ``/ssv_skeleton/<id>``) of the same app.

Routes (all GET, JSON):

- ``/api/dataset``: name, voxel size, extent, synapse threshold, row counts, and whether cell
  types and compartments exist yet.
- ``/api/cells``: neuron cells, filtered, sorted and paged in SQL (``q`` id prefix,
  ``min_size_um3``, ``min_synapses``, ``min_synapses_in``, ``min_synapses_out``,
  ``min_cable_um``, ``type``, ``sort``, ``desc``, ``limit``, ``offset``); ``total`` counts the
  matches.
- ``/api/cell/{id}``: every ``cells_full`` column, partners out and in (thresholded
  ``connections``: synapse counts, summed area, sign).
- ``/api/synapses?cell={id}``: every synapse of the cell whatever its probability, with
  partner, direction, sign, compartments, size, probability and the position in nm and voxels;
  ``counted`` tells which ones the connectome counts.
- ``/api/dataset`` also names the Neuroglancer to link to and, once ``syconn export WD
  neuroglancer`` has run, the export the server serves at ``/precomputed/``.
- ``/api/type_matrix``: connectivity summed by (presynaptic, postsynaptic) cell type, or
  ``available: false`` and a message while no cell has a type.

An id that is not a cell gives 404 JSON ``{"detail": ...}``.  The front end lives in ``web/``
and is built into ``syconn/server/static`` (``cd web && npm ci && npm run build``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy import Engine

from syconn.db import run_query
from syconn.db import viewer_queries as Q

__all__ = ["mount", "STATIC_DIR", "SIGN_LABELS", "COMPARTMENT_LABELS", "parse_cell_id",
           "synapse_record", "type_matrix", "DEFAULT_THRESHOLD", "NEUROGLANCER_URL"]

STATIC_DIR = Path(__file__).with_name("static")
BUILD_COMMAND = "cd web && npm ci && npm run build"

#: synapses.sign -> what the viewer calls it (NULL and 0: unknown)
SIGN_LABELS = {1: "excitatory", -1: "inhibitory"}

#: SyConn's axoness codes (synapses.comp_pre / comp_post, skeleton ``axoness``)
COMPARTMENT_LABELS = {0: "dendrite", 1: "axon", 2: "soma", 3: "en-passant bouton",
                      4: "terminal bouton"}

#: the Neuroglancer the viewer links to by default (``syconn server --neuroglancer-url``)
NEUROGLANCER_URL = "https://neuroglancer-demo.appspot.com"

#: the threshold the views use where the dataset row records none
DEFAULT_THRESHOLD = 0.5

_INT64_MAX = 2 ** 63 - 1


# ---------------------------------------------------------------- response shapes

class CellSummary(BaseModel):
    """One row of ``/api/cells``; None where the pipeline has not computed a value.

    ``key`` is ``id`` as decimal text, for JavaScript clients: ``JSON.parse`` rounds integers
    above 2**53, and supervoxel-derived ids can be that large."""

    id: int
    key: str
    size_vx: int
    size_um3: float | None
    n_supervoxels: int
    n_synapses_in: int
    n_synapses_out: int
    sum_area_in_um2: float | None
    sum_area_out_um2: float | None
    n_mi: int
    n_vc: int
    n_sj: int
    cable_length_um: float | None
    skeleton_status: str | None
    cell_type: str | None
    cell_type_certainty: float | None
    is_glia: bool | None
    rep_x: int
    rep_y: int
    rep_z: int
    x_nm: float | None
    y_nm: float | None
    z_nm: float | None


class TypeCount(BaseModel):
    cell_type: str | None
    n_cells: int


class CellList(BaseModel):
    total: int
    offset: int
    limit: int
    sort: str
    desc: bool
    cell_types: list[TypeCount]
    cells: list[CellSummary]


class Partner(BaseModel):
    """A partner cell and the thresholded connection to it (``connections``)."""

    partner: int
    partner_key: str  # the id as text (see CellSummary.key)
    partner_type: str | None
    n_synapses: int
    n_symmetric: int
    sum_area_um2: float | None
    sign: int | None
    mean_syn_prob: float | None


class CellDetail(BaseModel):
    id: int
    attributes: dict[str, Any]
    partners_out: list[Partner]
    partners_in: list[Partner]


class Synapse(BaseModel):
    """A synapse seen from one of its cells (``cell`` of :class:`SynapseList`); ``key`` and
    ``partner_key`` are the ids as text (synapse ids are 64-bit hashes, see CellSummary.key)."""

    id: int
    key: str
    partner: int | None
    partner_key: str | None
    partner_type: str | None
    direction: str  # "out" (the cell is presynaptic), "in", or "unknown"
    cell_pre: int | None
    cell_post: int | None
    sign: int | None
    sign_label: str
    comp_pre: int | None
    comp_post: int | None
    comp_pre_label: str | None
    comp_post_label: str | None
    spiness_post: int | None
    size_vx: int
    area_um2: float | None
    syn_prob: float | None
    direction_confidence: float | None
    counted: bool
    rep_x: int
    rep_y: int
    rep_z: int
    x_nm: float | None
    y_nm: float | None
    z_nm: float | None


class SynapseList(BaseModel):
    cell: int
    threshold: float
    synapses: list[Synapse]


class TypeMatrix(BaseModel):
    """``n_synapses[i][j]``: synapses from cells of ``types[i]`` onto cells of ``types[j]``."""

    available: bool
    message: str | None
    types: list[str]
    n_cells: list[int]
    n_synapses: list[list[int]]
    sum_area_um2: list[list[float]]


class PrecomputedInfo(BaseModel):
    """The Neuroglancer export the server serves: ``path`` relative to the server root (the
    cells' segmentation source), ``synapses`` whether it holds the synapse annotations."""

    path: str
    synapses: bool


class DatasetInfo(BaseModel):
    name: str | None
    voxel_size_nm: list[float] | None
    shape_xyz: list[int] | None
    syn_prob_threshold: float
    syconn_version: str | None
    n_cells: int
    n_synapses: int
    n_connections: int
    n_typed_cells: int
    has_cell_types: bool
    has_compartments: bool
    neuroglancer_url: str
    precomputed: PrecomputedInfo | None


# ---------------------------------------------------------------- pure helpers

def parse_cell_id(text: str) -> int | None:
    """The cell id ``text`` spells (a non-negative decimal that fits a BIGINT), else None.

    >>> parse_cell_id("42"), parse_cell_id("-1"), parse_cell_id("4x"), parse_cell_id("9" * 20)
    (42, None, None, None)
    """
    text = text.strip()
    if not text.isdigit() or not text.isascii():
        return None
    value = int(text)
    return value if value <= _INT64_MAX else None


def _clean(value: Any) -> Any:
    """A database value as JSON can hold it: NaN -> None, datetimes as ISO text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _rows(cols: list[str], rows: list[tuple]) -> list[dict[str, Any]]:
    return [{c: _clean(v) for c, v in zip(cols, r)} for r in rows]


def _keyed(records: list[dict[str, Any]], id_field: str, key_field: str) -> list[dict[str, Any]]:
    """``records`` with ``key_field`` set to ``id_field`` as decimal text."""
    for r in records:
        r[key_field] = str(r[id_field])
    return records


def synapse_record(row: dict[str, Any], cell_id: int, threshold: float) -> dict[str, Any]:
    """A ``synapses_full`` row as :class:`Synapse` fields, seen from ``cell_id``.

    The partner is the other of ``cell_a`` / ``cell_b`` (set whatever the direction); a
    synapse is ``counted`` when its direction is known and ``syn_prob > threshold``, as the
    ``connections`` view counts.

    >>> r = dict(id=7, cell_pre=3, cell_post=9, cell_a=3, cell_b=9, sign=-1, comp_pre=1,
    ...          comp_post=None, spiness_post=None, size_vx=10, area_um2=0.1, syn_prob=0.8,
    ...          direction_confidence=1.0, rep_x=1, rep_y=2, rep_z=3, x_nm=10.0, y_nm=20.0,
    ...          z_nm=60.0, cell_type_pre=None, cell_type_post="MSN")
    >>> s = synapse_record(r, 3, 0.5)
    >>> s["partner"], s["direction"], s["sign_label"], s["comp_pre_label"], s["counted"]
    (9, 'out', 'inhibitory', 'axon', True)
    >>> s["partner_type"], s["key"], s["partner_key"]
    ('MSN', '7', '9')
    """
    a, b = row["cell_a"], row["cell_b"]
    if a is None and b is None:
        a, b = row["cell_pre"], row["cell_post"]
    partner = b if a == cell_id else a
    if row["cell_pre"] == cell_id:
        direction = "out"
    elif row["cell_post"] == cell_id:
        direction = "in"
    else:
        direction = "unknown"
    partner_type = {"out": row["cell_type_post"], "in": row["cell_type_pre"]}.get(direction)
    prob = row["syn_prob"]
    out = {k: row[k] for k in ("id", "cell_pre", "cell_post", "sign", "comp_pre", "comp_post",
                               "spiness_post", "size_vx", "area_um2", "syn_prob",
                               "direction_confidence", "rep_x", "rep_y", "rep_z",
                               "x_nm", "y_nm", "z_nm")}
    out.update(
        key=str(row["id"]), partner=partner,
        partner_key=None if partner is None else str(partner),
        partner_type=partner_type, direction=direction,
        sign_label=SIGN_LABELS.get(row["sign"], "unknown"),
        comp_pre_label=COMPARTMENT_LABELS.get(row["comp_pre"]),
        comp_post_label=COMPARTMENT_LABELS.get(row["comp_post"]),
        counted=direction != "unknown" and prob is not None and prob > threshold,
    )
    return out


UNTYPED = "untyped"


def type_matrix(type_counts: list[tuple[str | None, int]],
                pairs: list[tuple[str | None, str | None, int, float | None]]) -> dict[str, Any]:
    """:class:`TypeMatrix` fields from per-type cell counts and per-type-pair sums.

    ``type_counts``: (cell_type, n_cells) of the neuron cells; ``pairs``: (type_pre, type_post,
    n_synapses, sum_area_um2).  Cells without a type are one more category, ``untyped``,
    sorted last.  Without any typed cell the matrix is not available, and the message says
    why.

    >>> m = type_matrix([(None, 4)], [(None, None, 3, 0.5)])
    >>> m["available"], m["types"], m["message"][:30]
    (False, [], 'No cell types yet: none of the')
    >>> m = type_matrix([("EA", 2), ("MSN", 1), (None, 1)],
    ...                 [("EA", "MSN", 5, 1.0), (None, "EA", 1, 0.25)])
    >>> m["types"], m["n_cells"], m["n_synapses"]
    (['EA', 'MSN', 'untyped'], [2, 1, 1], [[0, 5, 0], [0, 0, 0], [1, 0, 0]])
    """
    n_all = sum(n for _, n in type_counts)
    if not any(t is not None for t, _ in type_counts):
        return dict(available=False, types=[], n_cells=[], n_synapses=[], sum_area_um2=[],
                    message=f"No cell types yet: none of the {n_all} neuron cells has a cell "
                            f"type (cells.cell_type is empty until the cell type step has "
                            f"run on this working directory, celltypes.enabled), so there is no "
                            f"type-by-type connectivity to show.")
    named = sorted(t for t, _ in type_counts if t is not None)
    types = named + ([UNTYPED] if any(t is None for t, _ in type_counts) else [])
    index = {t: i for i, t in enumerate(types)}
    counts = {(t if t is not None else UNTYPED): n for t, n in type_counts}
    n = len(types)
    syn = [[0] * n for _ in range(n)]
    area = [[0.0] * n for _ in range(n)]
    for pre, post, n_syn, sum_area in pairs:
        i = index[UNTYPED if pre is None else pre]
        j = index[UNTYPED if post is None else post]
        syn[i][j] += int(n_syn)
        area[i][j] += float(sum_area or 0.0)
    return dict(available=True, message=None, types=types,
                n_cells=[counts[t] for t in types], n_synapses=syn, sum_area_um2=area)


def _threshold(engine: Engine) -> float:
    """``dataset.syn_prob_threshold``, the views' default where there is none."""
    _, rows = run_query(engine, "SELECT syn_prob_threshold FROM dataset WHERE id = 1")
    value = rows[0][0] if rows else None
    return DEFAULT_THRESHOLD if value is None else float(value)


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)


def _cell_id_or_404(engine: Engine, text: str) -> int:
    """The cell id of path/query text ``text``; 404 where it is not one of the cells."""
    cell_id = parse_cell_id(text)
    if cell_id is None:
        raise _not_found(f"cell {text!r}: not a cell id (a non-negative integer)")
    _, rows = run_query(engine, Q.CELL_EXISTS, {"id": cell_id})
    if not rows:
        raise _not_found(f"cell {cell_id}: no such cell")
    return cell_id


# ---------------------------------------------------------------- routes

def _precomputed_info(root: Path) -> dict[str, Any] | None:
    """:class:`PrecomputedInfo` of the export at ``root``, None while there is none."""
    from syconn.server.precomputed import PREFIX, export_available

    if not export_available(root):
        return None
    return dict(path=PREFIX.lstrip("/"), synapses=(root / "synapses" / "info").is_file())


def _api_router(engine: Engine, *, precomputed_root: Path, neuroglancer_url: str
                ) -> APIRouter:
    """The ``/api/`` routes, reading through ``engine`` (read-only)."""
    router = APIRouter(prefix="/api", tags=["viewer"])

    @router.get("/dataset", response_model=DatasetInfo)
    def dataset() -> dict[str, Any]:
        """Dataset metadata and row counts."""
        cols, rows = run_query(engine, Q.DATASET)
        d = _rows(cols, rows)[0] if rows else {}
        ccols, crows = run_query(engine, Q.DATASET_COUNTS)
        counts = _rows(ccols, crows)[0]
        voxel = [d[f"voxel_{a}_nm"] for a in "xyz"] if d else None
        shape = [d[f"shape_{a}"] for a in "xyz"] if d else None
        thr = d.get("syn_prob_threshold")
        return dict(name=d.get("name"), voxel_size_nm=voxel, shape_xyz=shape,
                    syn_prob_threshold=DEFAULT_THRESHOLD if thr is None else thr,
                    syconn_version=d.get("syconn_version"),
                    n_cells=counts["n_cells"], n_synapses=counts["n_synapses"],
                    n_connections=counts["n_connections"],
                    n_typed_cells=counts["n_typed_cells"],
                    has_cell_types=counts["n_typed_cells"] > 0,
                    has_compartments=counts["n_synapses_with_compartment"] > 0,
                    neuroglancer_url=neuroglancer_url,
                    precomputed=_precomputed_info(precomputed_root))

    @router.get("/cells", response_model=CellList)
    def cells(
        q: str | None = Query(None, description="id prefix (digits)"),
        min_size_um3: float | None = Query(None, ge=0),
        min_synapses: int | None = Query(None, ge=0, description="inputs + outputs"),
        min_synapses_in: int | None = Query(None, ge=0),
        min_synapses_out: int | None = Query(None, ge=0),
        min_cable_um: float | None = Query(None, ge=0),
        type: str | None = Query(None, description="cell type, exact"),  # noqa: A002
        sort: str = Query("size", description="one of " + ", ".join(Q.CELL_SORTS)),
        desc: bool = Query(True),
        limit: int = Query(200, ge=1, le=10000),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        """Neuron cells matching the filters, one page of them, and how many match."""
        prefix = (q or "").strip() or None
        if prefix is not None and not (prefix.isdigit() and prefix.isascii()):
            raise HTTPException(400, detail=f"q={q!r}: search by cell id takes digits only")
        if sort not in Q.CELL_SORTS:
            raise HTTPException(400, detail=f"sort={sort!r}: expected one of "
                                            f"{', '.join(Q.CELL_SORTS)}")
        f = Q.CellFilter(id_prefix=prefix, min_size_um3=min_size_um3, min_synapses=min_synapses,
                         min_synapses_in=min_synapses_in, min_synapses_out=min_synapses_out,
                         min_cable_um=min_cable_um, cell_type=type)
        cols, rows = run_query(engine, *Q.cells_query(f, sort=sort, descending=desc,
                                                      limit=limit, offset=offset))
        cells = _keyed(_rows(cols, rows), "id", "key")
        if cells:
            total = cells[0]["n_matching"]
        elif offset:  # past the end: count separately
            total = run_query(engine, *Q.cells_count_query(f))[1][0][0]
        else:
            total = 0
        tcols, trows = run_query(engine, Q.CELL_TYPES)
        return dict(total=total, offset=offset, limit=limit, sort=sort, desc=desc,
                    cell_types=_rows(tcols, trows), cells=cells)

    @router.get("/cell/{cell_id}", response_model=CellDetail)
    def cell(cell_id: str) -> dict[str, Any]:
        """One cell's ``cells_full`` row and its partners out and in."""
        cid = _cell_id_or_404(engine, cell_id)
        cols, rows = run_query(engine, Q.CELL, {"id": cid})
        ocols, orows = run_query(engine, Q.PARTNERS_OUT, {"id": cid})
        icols, irows = run_query(engine, Q.PARTNERS_IN, {"id": cid})
        return dict(id=cid, attributes=_rows(cols, rows)[0],
                    partners_out=_keyed(_rows(ocols, orows), "partner", "partner_key"),
                    partners_in=_keyed(_rows(icols, irows), "partner", "partner_key"))

    @router.get("/synapses", response_model=SynapseList)
    def synapses(cell: str | None = Query(None, description="cell id")) -> dict[str, Any]:
        """Every synapse of ``cell``, most probable first."""
        if cell is None:
            raise HTTPException(400, detail="cell: missing; use /api/synapses?cell=ID")
        cid = _cell_id_or_404(engine, cell)
        thr = _threshold(engine)
        cols, rows = run_query(engine, Q.CELL_SYNAPSES, {"id": cid})
        return dict(cell=cid, threshold=thr,
                    synapses=[synapse_record(r, cid, thr) for r in _rows(cols, rows)])

    @router.get("/type_matrix", response_model=TypeMatrix)
    def type_matrix_route() -> dict[str, Any]:
        """Synapses by (presynaptic type, postsynaptic type), or why there are none."""
        _, counts = run_query(engine, Q.CELL_TYPES)
        _, pairs = run_query(engine, Q.TYPE_MATRIX)
        return type_matrix([(t, n) for t, n in counts],
                           [(a, b, n, s) for a, b, n, s, _ in pairs])

    return router


def _mount_static(app: FastAPI) -> None:
    """``/app``: the built front end; without a build, a 503 that says how to make one."""
    index = STATIC_DIR / "index.html"

    @app.get("/app", include_in_schema=False)
    def app_root() -> RedirectResponse:
        # the page loads its assets relative to /app/
        return RedirectResponse("/app/")

    if index.is_file():
        app.mount("/app", StaticFiles(directory=STATIC_DIR, html=True), name="viewer")
        return

    @app.get("/app/{path:path}", include_in_schema=False)
    def not_built(path: str) -> JSONResponse:
        return JSONResponse(status_code=503, content={
            "detail": f"the web viewer is not built: {index} is missing; run "
                      f"'{BUILD_COMMAND}' in the source tree"})


def mount(app: FastAPI, wd: Path | str, *, neuroglancer_url: str = NEUROGLANCER_URL) -> None:
    """Add the viewer's ``/api/`` routes, the front end at ``/app`` and the Neuroglancer
    export at ``/precomputed/`` (:mod:`syconn.server.precomputed`) to ``app``.

    Parameters
    ----------
    app
        The FastAPI app (usually :func:`syconn.server.app.create_app`'s, which also serves
        the meshes and skeletons the front end draws).
    wd
        The working directory; its database is opened read-only once, here.
    neuroglancer_url
        The Neuroglancer the cell panel's "open in Neuroglancer" link opens (shown while
        the working directory has a Neuroglancer export).
    """
    from syconn.read import neuroglancer_dir
    from syconn.server import precomputed
    from syconn.workdir import open_engine

    engine = open_engine(wd, read_only=True)
    root = neuroglancer_dir(wd)
    app.include_router(_api_router(engine, precomputed_root=root,
                                   neuroglancer_url=neuroglancer_url.rstrip("/")))
    precomputed.mount(app, root)
    _mount_static(app)
