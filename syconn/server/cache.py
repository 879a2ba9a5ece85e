"""Serialised cell-mesh responses: a bounded cache, each entry kept with the version of what
it was made from so that a stale entry is never served; one computation shared by concurrent
requests for the same response; and a background pre-warm at server start.

The server keeps the JSON of cell meshes here (``/ssv_mesh``, ``/ssv_ind``, ``/ssv_vert`` and
``/ssv_obj_ind|vert/<id>/sv``, :class:`CellMeshes`).  Made afresh, a response reads the
record from the mesh store and serialises it (a few ms for a large mesh); cached, a request
costs two ``stat`` calls and a lookup.  The version is the mesh store's token for the cell
(:meth:`syconn.io.meshes.ShardedStore.version`, which changes whenever the shard holding the
cell is rewritten), checked on every request, together with the identity of the store's
``store.json`` (a store made again is opened again); a pipeline run with other settings
writes another store (another folder, another key).

A cell whose mesh the store holds exists (the cell mesh store belongs to the same settings as
the cells table), so such a response needs no SQL; only for an id the store does not hold is
the cells table asked (an existing cell without a mesh gets the empty mesh, any other id 404).
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["ResponseCache", "SingleFlight", "CellMeshes", "MESH_CACHE_BYTES",
           "PREWARM_BYTES"]

#: bytes of mesh JSON the server keeps (the example's 112 cell meshes take about 8 MB)
MESH_CACHE_BYTES = 256 * 2 ** 20

#: bytes of ``/ssv_mesh`` JSON made at server start, largest cells first
#: (``syconn server --prewarm-mb``); at most :data:`MESH_CACHE_BYTES`
PREWARM_BYTES = 64 * 2 ** 20


class ResponseCache:
    """``{key: (version, body)}``, least recently used dropped first beyond ``max_bytes``;
    safe to use from several threads.

    >>> c = ResponseCache(10)
    >>> c.put("a", 1, b"12345"); c.put("b", 1, b"1234")
    >>> c.get("a", 1)
    b'12345'
    >>> c.put("c", 1, b"123")  # 12 bytes > 10: the least recently used, "b", goes
    >>> c.get("b", 1), c.get("c", 1)
    (None, b'123')
    >>> c.get("a", 2) is None, len(c)  # made from another version: dropped
    (True, 1)
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, tuple[Hashable, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def n_bytes(self) -> int:
        """Bytes of the bodies held."""
        return self._bytes

    def get(self, key: Hashable, version: Hashable) -> bytes | None:
        """The body cached under ``key`` if it was made from ``version``, else None (and an
        entry of another version is dropped)."""
        with self._lock:
            got = self._items.get(key)
            if got is None:
                return None
            if got[0] != version:
                self._drop(key)
                return None
            self._items.move_to_end(key)
            return got[1]

    def put(self, key: Hashable, version: Hashable, body: bytes) -> None:
        """Keep ``body`` made from ``version`` (not kept if larger than the whole cache)."""
        if version is None or len(body) > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (version, body)
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._items)))

    def _drop(self, key: Hashable) -> None:
        _, body = self._items.pop(key)
        self._bytes -= len(body)


class SingleFlight:
    """Concurrent :meth:`run` calls with the same key share one call of the function, made
    in a worker thread; for one event loop (the dictionary of running calls is only touched
    there).

    A caller that goes away (a client disconnecting) does not cancel the shared call; an
    exception reaches every caller.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future] = {}

    def __len__(self) -> int:
        return len(self._running)

    async def run(self, key: Hashable, fn: Callable[..., Any], *args: Any) -> Any:
        fut = self._running.get(key)
        if fut is None:
            from starlette.concurrency import run_in_threadpool

            fut = asyncio.ensure_future(run_in_threadpool(fn, *args))
            self._running[key] = fut
            fut.add_done_callback(functools.partial(self._done, key))
        return await asyncio.shield(fut)

    def _done(self, key: Hashable, fut: asyncio.Future) -> None:
        if self._running.get(key) is fut:
            del self._running[key]
        if not fut.cancelled():
            fut.exception()  # retrieved, even when every caller has gone


class CellMeshes:
    """The JSON bodies of the cell-mesh routes of one working directory.

    ``part`` None is ``/ssv_mesh``'s ``{"vertices", "indices", "normals"}``; ``"indices"`` /
    ``"vertices"`` the original's ``{"ind"}`` / ``{"vert"}``.

    Parameters
    ----------
    results
        The working directory's :class:`~syconn.read.Results`.
    cache
        Where the bodies are kept (:class:`ResponseCache`).
    """

    #: cells read together by :meth:`prewarm`
    PREWARM_BATCH = 32

    #: the original's key of a ``part``
    SHORT_KEYS = {"indices": "ind", "vertices": "vert"}

    def __init__(self, results, cache: ResponseCache):
        # what reading a mesh imports (most of a second): here, before the server listens,
        # not in the first request or the pre-warm
        import orjson  # noqa: F401
        import syconn.io.meshes  # noqa: F401
        import syconn.proc.meshes  # noqa: F401
        from syconn.read import mesh_dir

        self.res = results
        self.cache = cache
        self.flight = SingleFlight()
        self._meta = mesh_dir(results.wd, results.cfg, "cells") / "store" / "store.json"
        self._store = None
        self._store_key: tuple | None = None
        self._store_lock = threading.Lock()
        #: pre-warm: bytes made, cells done, and set once it has finished (or stopped)
        self.prewarmed_bytes = 0
        self.prewarmed_cells = 0
        self.prewarm_done = threading.Event()
        self._stop = threading.Event()

    # ---- the store ----------------------------------------------------------------------
    def store(self):
        """The cell :class:`~syconn.io.meshes.MeshStore`, opened again only when its
        ``store.json`` is another file (a ``stat``, not a read, per call); ObjectNotFound
        while there is none."""
        try:
            st = os.stat(self._meta)
        except FileNotFoundError:
            return self.res.mesh_store("cells")  # raises ObjectNotFound, or opens a new one
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        store = self._store
        if store is None or key != self._store_key:
            with self._store_lock:
                store = self._store = self.res.mesh_store("cells")
                self._store_key = key
        return store

    # ---- bodies -------------------------------------------------------------------------
    def make(self, store, cid: int, part: str | None, version) -> bytes:
        """The body of ``(part, cid)`` from the store, kept in the cache under ``version``
        (the token taken before reading: a write in between leaves a newer record under the
        older token, made again on the next request).  A cell the store does not hold is
        looked up in SQL: the empty mesh if it is a cell, else ObjectNotFound."""
        return self._serialise(cid, store.get_many([cid]).get(cid), part, version)

    def _serialise(self, cid: int, mesh, part: str | None, version) -> bytes:
        """:meth:`make` of a mesh read (None: not in the store)."""
        import orjson

        from syconn.proc.meshes import Mesh
        from syconn.server.knossos import mesh_payload

        if mesh is None:
            self.res.require_cell(cid)
            mesh = Mesh.empty()
        payload = mesh_payload(mesh)
        if part is not None:
            payload = {self.SHORT_KEYS[part]: payload[part]}
        body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
        self.cache.put((part, cid), version, body)
        return body

    def cached(self, cid: int, part: str | None = None):
        """``(body, (store, version))``: the cached body of ``(part, cid)`` if it is
        current, else None, and the store and the version to make it from; on the event loop
        (two ``stat`` calls)."""
        store = self.store()
        version = store.version(cid)
        return self.cache.get((part, cid), version), (store, version)

    async def body(self, cid: int, part: str | None = None) -> bytes:
        """The current body of ``(part, cid)``: cached, or made in a worker thread, once for
        every concurrent request of the same body and store version."""
        body, (store, version) = self.cached(cid, part)
        if body is None:
            body = await self.flight.run((part, cid, version), self.make, store, cid, part,
                                         version)
        return body

    # ---- pre-warm -----------------------------------------------------------------------
    def prewarm(self, max_bytes: int) -> None:
        """Make the ``/ssv_mesh`` bodies of the largest cells (by stored vertices and faces)
        until ``max_bytes`` of them are held (at most the cache's size); stops early on
        :meth:`stop`.  Requests meanwhile are served as usual."""
        try:
            budget = min(int(max_bytes), self.cache.max_bytes)
            if budget <= 0:
                return
            store = self.store()
            counts = store.counts()
            # (n_vertices, n_faces): JSON of about 3 x 12 bytes a vertex, 3 x 6 a face
            order = sorted(counts, key=lambda i: -(2 * counts[i][0] + counts[i][1]))
            for start in range(0, len(order), self.PREWARM_BATCH):
                # the versions before the records (as make); one index read per shard
                versions = {cid: store.version(cid)
                            for cid in order[start:start + self.PREWARM_BATCH]}
                todo = [c for c, v in versions.items() if self.cache.get((None, c), v) is None]
                got = store.get_many(todo)
                for cid, version in versions.items():
                    if self._stop.is_set() or self.prewarmed_bytes >= budget:
                        return
                    body = self.cache.get((None, cid), version)
                    if body is None and cid in got:
                        body = self._serialise(cid, got[cid], None, version)
                    elif body is None:  # dropped from the cache meanwhile: read it again
                        body = self.make(store, cid, None, version)
                    self.prewarmed_bytes += len(body)
                    self.prewarmed_cells += 1
        except Exception:  # noqa: BLE001 - a store that cannot be read: requests will say so
            pass
        finally:
            self.prewarm_done.set()

    def start_prewarm(self, max_bytes: int) -> threading.Thread | None:
        """:meth:`prewarm` in a daemon thread (None, and done, if ``max_bytes`` is 0)."""
        self._stop.clear()
        self.prewarm_done.clear()
        if max_bytes <= 0:
            self.prewarm_done.set()
            return None
        t = threading.Thread(target=self.prewarm, args=(max_bytes,), daemon=True,
                             name="syconn-mesh-prewarm")
        t.start()
        return t

    def stop(self) -> None:
        """Stop a running pre-warm after the cell it is making."""
        self._stop.set()
