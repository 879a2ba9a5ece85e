"""Skeleton storage: the sharded container of :mod:`syconn.io.meshes` with skeleton records.

A record holds vertices float32 (n, 3) in nm, edges uint32 (e, 2), radii float32 (n,) and
bridges uint8 (e,) (1: an edge added only to join the parts of a cell, not cable).  Stores
written before bridges were recorded read back with no bridges.
SWC reading and writing live in :mod:`syconn.io.swc`.
"""

from __future__ import annotations

import numpy as np

from syconn.errors import InputError
from syconn.io.meshes import ShardedStore
from syconn.io.swc import read_swc, write_swc
from syconn.proc.skeletons import Skeleton

__all__ = ["SkeletonStore", "read_swc", "write_swc"]


class SkeletonStore(ShardedStore):
    """Skeletons of many cells in one folder: ``SkeletonStore(path).put_many({id: Skeleton})``,
    ``.get(id)``, ``.ids()``; layout as :class:`syconn.io.meshes.MeshStore`."""

    KIND = "skeleton"
    FIELDS = [("vertices", "float32", 3, 0), ("edges", "uint32", 2, 1), ("radii_nm", "float32", 1, 0),
              ("bridges", "uint8", 1, 1)]
    N_COUNTS = 2

    def _encode(self, obj: Skeleton) -> tuple[list[np.ndarray], list[int]]:
        if not isinstance(obj, Skeleton):
            raise InputError(f"SkeletonStore: got {type(obj).__name__}, expected "
                             "syconn.proc.skeletons.Skeleton")
        return ([obj.vertices, obj.edges, obj.radii_nm, obj.bridges.astype(np.uint8)],
                [obj.n_vertices, obj.n_edges])

    def _decode(self, arrays: dict[str, np.ndarray]) -> Skeleton:
        return Skeleton(arrays["vertices"].reshape(-1, 3), arrays["edges"].reshape(-1, 2),
                        arrays["radii_nm"], arrays.get("bridges"))
