"""A bounded cache of serialised responses, each kept with the version of what it was made
from, so that a stale entry is never served.

The server keeps the JSON of cell meshes here (``/ssv_mesh``, ``/ssv_ind``, ``/ssv_vert``):
reading a record from the mesh store, the SQL check that the cell exists and serialising take
about 1.5 ms per request, a lookup a few microseconds.  The version is the mesh store's token
for the cell (:meth:`syconn.io.meshes.ShardedStore.version`, which changes whenever the shard
holding the cell is rewritten), checked on every request; a pipeline run with other settings
writes another store (another folder, another key).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["ResponseCache", "MESH_CACHE_BYTES"]

#: bytes of mesh JSON the server keeps (the example's 112 cell meshes take about 8 MB)
MESH_CACHE_BYTES = 256 * 2 ** 20


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
