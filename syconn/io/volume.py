"""The common volume interface and the spec parser.

A *spec* is a string naming a volume:

- ``path/file.h5`` (dataset = the only one in the file, or the one named like the file stem) or
  ``path/file.h5:key``;
- ``path/array.zarr`` (a Zarr v3 array) or ``path/group.zarr:name``;
- a KNOSSOS dataset: its folder, a ``*.pyk.conf`` / ``knossos.conf`` file, optionally followed by
  ``:raw`` or ``:overlay`` (alias ``:seg``) to pick the channel.

All arrays are indexed ``[x, y, z]``.  Reads may extend beyond the volume; voxels outside read as
zeros, which is what blockwise tasks want for halos at the border.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from syconn.errors import VolumeFormatError, VolumeNotFound

__all__ = ["Volume", "open_volume", "create_volume", "split_spec", "detect_format", "FORMATS"]

FORMATS = ("h5", "zarr", "knossos")
_H5_SUFFIXES = (".h5", ".hdf5", ".hdf")


class Volume:
    """A 3-D array on disk, read and written by boxes.

    Subclasses implement :meth:`_read` (a box inside the volume) and :meth:`_write`.
    """

    path: Path
    shape: tuple[int, int, int]
    dtype: np.dtype
    voxel_size_nm: tuple[float, float, float] | None = None
    format: str = ""

    # ---- the part subclasses implement ----
    def _read(self, lo: tuple[int, int, int], hi: tuple[int, int, int]) -> np.ndarray:
        raise NotImplementedError

    def _write(self, lo: tuple[int, int, int], data: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release file handles (no-op by default)."""

    # ---- public interface ----
    @property
    def spec(self) -> str:
        return str(self.path)

    def read(self, offset_xyz: Sequence[int], shape_xyz: Sequence[int]) -> np.ndarray:
        """Read the box ``[offset, offset + shape)``; voxels outside the volume are 0."""
        offset = tuple(int(v) for v in offset_xyz)
        shape = tuple(int(v) for v in shape_xyz)
        if len(offset) != 3 or len(shape) != 3 or min(shape) < 0:
            raise ValueError(f"bad box offset={offset_xyz} shape={shape_xyz}")
        lo = tuple(max(o, 0) for o in offset)
        hi = tuple(min(o + s, n) for o, s, n in zip(offset, shape, self.shape))
        if lo == offset and hi == tuple(o + s for o, s in zip(offset, shape)):
            return np.asarray(self._read(lo, hi))
        out = np.zeros(shape, dtype=self.dtype)
        if all(h > l for l, h in zip(lo, hi)):
            inner = self._read(lo, hi)
            out[tuple(slice(l - o, h - o) for l, h, o in zip(lo, hi, offset))] = inner
        return out

    def write(self, offset_xyz: Sequence[int], data: np.ndarray) -> None:
        """Write ``data`` at ``offset`` (any alignment); the box must lie inside the volume."""
        offset = tuple(int(v) for v in offset_xyz)
        data = np.asarray(data)
        if data.ndim != 3:
            raise ValueError(f"{self.path}: can only write 3-D arrays, got shape {data.shape}")
        if any(o < 0 or o + s > n for o, s, n in zip(offset, data.shape, self.shape)):
            raise ValueError(f"{self.path}: box at {offset} of shape {data.shape} lies outside "
                             f"the volume of shape {self.shape}")
        if data.dtype != self.dtype:
            if not np.can_cast(data.dtype, self.dtype, casting="same_kind") or (
                    np.issubdtype(data.dtype, np.integer) and data.size and (
                        data.min() < np.iinfo(self.dtype).min or data.max() > np.iinfo(self.dtype).max)):
                raise ValueError(f"{self.path}: cannot store {data.dtype} data in a "
                                 f"{self.dtype} volume")
            data = data.astype(self.dtype)
        if data.size:
            self._write(offset, data)

    def __getitem__(self, key) -> np.ndarray:
        lo, shape, squeeze = _slices_to_box(key, self.shape)
        out = self.read(lo, shape)
        return out[tuple(0 if s else slice(None) for s in squeeze)]

    def __setitem__(self, key, value) -> None:
        lo, shape, _ = _slices_to_box(key, self.shape)
        value = np.broadcast_to(np.asarray(value, dtype=self.dtype), shape)
        self.write(lo, np.ascontiguousarray(value))

    def __enter__(self) -> "Volume":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec} shape={self.shape} dtype={self.dtype}>"


def _slices_to_box(key, shape):
    """(offset, shape, squeezed axes) of a key of contiguous slices and integers."""
    if not isinstance(key, tuple):
        key = (key,)
    if key == (Ellipsis,):
        key = ()
    key = key + (slice(None),) * (3 - len(key))
    lo, sh, squeeze = [], [], []
    for k, n in zip(key, shape):
        squeeze.append(isinstance(k, (int, np.integer)))
        if squeeze[-1]:
            k = slice(int(k) + n if k < 0 else int(k), (int(k) + n if k < 0 else int(k)) + 1)
        if not isinstance(k, slice) or k.step not in (None, 1):
            raise IndexError("volumes support only contiguous slices")
        start = 0 if k.start is None else k.start
        stop = n if k.stop is None else k.stop
        lo.append(start)
        sh.append(max(stop - start, 0))
    return tuple(lo), tuple(sh), tuple(squeeze)


def split_spec(spec: str | os.PathLike) -> tuple[Path, str | None]:
    """Split ``path:key`` into ``(path, key)``; a path that exists as given is never split."""
    s = os.fspath(spec)
    if os.path.exists(s) or ":" not in s:
        return Path(s), None
    head, key = s.rsplit(":", 1)
    if not head or "/" in key:
        return Path(s), None
    return Path(head), key


def detect_format(path: Path) -> str | None:
    """``h5``, ``zarr`` or ``knossos`` from a path (existing or to be created), else None."""
    name = path.name.lower()
    if name.endswith(_H5_SUFFIXES):
        return "h5"
    if name.endswith(".zarr") or (path / "zarr.json").is_file():
        return "zarr"
    if name.endswith(".pyk.conf") or name.endswith(".pyknossos.conf") or name == "knossos.conf":
        return "knossos"
    if path.is_dir() and ((path / "mag1" / "knossos.conf").is_file()
                          or any(path.glob("*.pyk.conf")) or any(path.glob("*.pyknossos.conf"))):
        return "knossos"
    return None


def open_volume(spec: str | os.PathLike, mode: str = "r") -> Volume:
    """Open an existing volume (``mode`` "r" or "r+").

    Raises :class:`~syconn.errors.VolumeNotFound` for a missing path or key and
    :class:`~syconn.errors.VolumeFormatError` for a path that is no volume we know.
    """
    if mode not in ("r", "r+"):
        raise ValueError(f"mode must be 'r' or 'r+', got {mode!r}")
    path, key = split_spec(spec)
    if not path.exists():
        raise VolumeNotFound(f"{spec}: no such file or directory")
    fmt = detect_format(path)
    if fmt == "h5":
        from syconn.io.hdf5 import HDF5Volume
        return HDF5Volume(path, key, mode=mode)
    if fmt == "zarr":
        from syconn.io.zarr_volume import ZarrVolume
        return ZarrVolume(path, key, mode=mode)
    if fmt == "knossos":
        from syconn.io.knossos import KnossosVolume
        return KnossosVolume.open(path, channel=key, mode=mode)
    raise VolumeFormatError(f"{spec}: not a volume syconn can read (expected an HDF5 file "
                            f"(.h5), a Zarr array (.zarr) or a KNOSSOS dataset folder)")


def create_volume(spec: str | os.PathLike, shape_xyz: Sequence[int], dtype, *,
                  fmt: str | None = None, voxel_size_nm: Sequence[float] | None = None,
                  chunks: Sequence[int] | None = None, overwrite: bool = False) -> Volume:
    """Create a new, all-zero volume and open it for writing.

    ``fmt`` defaults to what the path says (``.h5``, ``.zarr``); a KNOSSOS dataset needs
    ``fmt="knossos"`` (uint8/uint16 data become the raw channel, other integers the overlay).
    ``chunks`` is the HDF5/Zarr chunk shape (the block grid, typically); for KNOSSOS the cube
    edge (default 128).
    """
    path, key = split_spec(spec)
    fmt = fmt or detect_format(path)
    shape = tuple(int(v) for v in shape_xyz)
    if len(shape) != 3 or min(shape) <= 0:
        raise ValueError(f"{spec}: shape must be three positive integers, got {shape_xyz}")
    dtype = np.dtype(dtype)
    vs = tuple(float(v) for v in voxel_size_nm) if voxel_size_nm is not None else None
    if fmt == "h5":
        from syconn.io.hdf5 import HDF5Volume
        return HDF5Volume.create(path, key, shape, dtype, chunks=chunks, voxel_size_nm=vs,
                                 overwrite=overwrite)
    if fmt == "zarr":
        from syconn.io.zarr_volume import ZarrVolume
        return ZarrVolume.create(path, key, shape, dtype, chunks=chunks, voxel_size_nm=vs,
                                 overwrite=overwrite)
    if fmt == "knossos":
        from syconn.io.knossos import KnossosVolume
        return KnossosVolume.create(path, shape, dtype, voxel_size_nm=vs, channel=key,
                                    cube_edge=(chunks[0] if chunks else 128),
                                    overwrite=overwrite)
    raise ValueError(f"{spec}: cannot tell the format; use a .h5 or .zarr path or "
                     f"fmt= one of {', '.join(FORMATS)}")
