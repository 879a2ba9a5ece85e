"""Zarr v3 arrays: syconn's own intermediate format, chunked like the block grid."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import zarr

from syconn.errors import VolumeFormatError, VolumeNotFound
from syconn.io.volume import Volume

__all__ = ["ZarrVolume"]


class ZarrVolume(Volume):
    """A 3-D Zarr v3 array (optionally a member of a group: ``group.zarr:name``)."""

    format = "zarr"

    def __init__(self, path: Path, key: str | None = None, *, mode: str = "r"):
        self.path = Path(path)
        self.key = key
        try:
            node = zarr.open(store=str(self.path), mode=mode)
        except (FileNotFoundError, zarr.errors.NodeNotFoundError) as exc:  # type: ignore[attr-defined]
            raise VolumeNotFound(f"{self.path}: no Zarr array here ({exc})") from None
        except Exception as exc:  # malformed metadata
            raise VolumeFormatError(f"{self.path}: not a readable Zarr store ({exc})") from None
        if isinstance(node, zarr.Group):
            if key is None:
                names = sorted(node.array_keys())
                raise VolumeFormatError(f"{self.path}: is a Zarr group; name an array as "
                                        f"{self.path}:NAME (arrays: {', '.join(names) or 'none'})")
            if key not in node:
                raise VolumeNotFound(f"{self.path}:{key}: no such array")
            node = node[key]
        self._arr = node
        if node.ndim != 3:
            raise VolumeFormatError(f"{self.path}: expected a 3-D array, got shape {node.shape}")
        self.shape = tuple(int(v) for v in node.shape)
        self.dtype = np.dtype(node.dtype)
        vs = node.attrs.get("voxel_size_nm")
        self.voxel_size_nm = tuple(float(v) for v in vs) if vs is not None else None

    @property
    def spec(self) -> str:
        return f"{self.path}:{self.key}" if self.key else str(self.path)

    @property
    def chunks(self) -> tuple[int, int, int]:
        return tuple(int(c) for c in self._arr.chunks)

    @classmethod
    def create(cls, path: Path, key: str | None, shape, dtype, *, chunks=None,
               voxel_size_nm=None, overwrite=False) -> "ZarrVolume":
        path = Path(path)
        if key is not None:
            raise ValueError(f"{path}:{key}: creating arrays inside groups is not supported")
        if path.exists():
            if not overwrite:
                raise FileExistsError(f"{path} exists; pass overwrite=True")
            shutil.rmtree(path)
        chunks = tuple(min(int(c), int(s)) for c, s in zip(chunks or (128, 128, 128), shape))
        arr = zarr.create_array(store=str(path), shape=shape, chunks=chunks, dtype=dtype,
                                fill_value=0, zarr_format=3)
        if voxel_size_nm is not None:
            arr.attrs["voxel_size_nm"] = list(voxel_size_nm)
        return cls(path, mode="r+")

    def _read(self, lo, hi) -> np.ndarray:
        return self._arr[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]

    def _write(self, lo, data) -> None:
        self._arr[lo[0]:lo[0] + data.shape[0], lo[1]:lo[1] + data.shape[1],
                  lo[2]:lo[2] + data.shape[2]] = data
