"""``/precomputed/``: the working directory's Neuroglancer export, read-only, with CORS.

``syconn export WD neuroglancer`` writes a precomputed folder (:func:`syconn.read.neuroglancer_dir`,
layout in :mod:`syconn.io.neuroglancer`); :func:`mount` serves the files under it, so that
Neuroglancer, loaded from another origin, opens ``precomputed://http://HOST/precomputed`` (cells:
meshes, skeletons, properties) and ``precomputed://http://HOST/precomputed/synapses``.

- Only files inside that folder: every path segment must be a plain name (no ``..``, ``.``,
  empty segment, leading dot, backslash or NUL; the folder's own ``.partial`` sibling is not
  in it anyway), and the resolved file (symbolic links followed) must still lie inside the
  resolved folder.  Anything else is 404 JSON, as is a file that does not exist (Neuroglancer
  asks for meshes of segments that have none).
- Every answer carries ``Access-Control-Allow-Origin: *``; a preflight (``OPTIONS``) is answered
  with the methods and ``Access-Control-Allow-Private-Network: true`` (a page on a public
  origin reading a loopback server).
- The folder is looked up per request, so an export made while the server runs is served.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response

__all__ = ["mount", "PREFIX", "CORS_HEADERS", "resolve_file", "export_available"]

PREFIX = "/precomputed"

CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
_PREFLIGHT_HEADERS = {**CORS_HEADERS,
                      "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
                      "Access-Control-Allow-Headers": "*",
                      "Access-Control-Allow-Private-Network": "true",
                      "Access-Control-Max-Age": "600"}


def export_available(root: Path) -> bool:
    """Whether ``root`` holds an export (its top-level ``info``)."""
    return (root / "info").is_file()


def resolve_file(root: Path, path: str) -> Path | None:
    """The file ``path`` (``/``-separated, relative) names inside ``root``, or None where it
    names none: a segment that is not a plain name, a file outside ``root`` once links are
    resolved, or no such file.

    >>> resolve_file(Path("/nonexistent"), "../etc/passwd") is None
    True
    """
    parts = path.split("/")
    if not parts or any(p in ("", ".", "..") or p.startswith(".") or "\\" in p or "\0" in p
                        for p in parts):
        return None
    try:
        base = root.resolve(strict=True)
        target = base.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a loop of links
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


def _json_404(detail: str) -> Response:
    import orjson

    return Response(orjson.dumps({"detail": detail}), status_code=404,
                    media_type="application/json", headers=CORS_HEADERS)


def mount(app: FastAPI, root: Path) -> None:
    """Serve the files of folder ``root`` under :data:`PREFIX` (GET, HEAD; CORS)."""

    @app.options(PREFIX + "/{path:path}", include_in_schema=False)
    def precomputed_preflight(path: str) -> Response:
        return Response(status_code=204, headers=_PREFLIGHT_HEADERS)

    @app.api_route(PREFIX + "/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    def precomputed(path: str) -> Response:
        """One file of the Neuroglancer export."""
        if not export_available(root):
            return _json_404(f"no Neuroglancer export: run 'syconn export WD neuroglancer' "
                             f"(writes {root})")
        target = resolve_file(root, path)
        if target is None:
            return _json_404(f"{path[:200]!r}: no such file in the Neuroglancer export")
        media = "application/json" if target.name == "info" else "application/octet-stream"
        return FileResponse(target, media_type=media, headers=CORS_HEADERS)
