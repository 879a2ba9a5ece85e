"""HDF5 volumes: one dataset, XYZ, as in the original's example inputs (``seg.h5`` key ``seg``)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from syconn.errors import VolumeFormatError, VolumeNotFound
from syconn.io.volume import Volume

__all__ = ["HDF5Volume"]


def _datasets(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


class HDF5Volume(Volume):
    """A 3-D dataset in an HDF5 file."""

    format = "h5"

    def __init__(self, path: Path, key: str | None = None, *, mode: str = "r"):
        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, mode)
        except OSError as exc:
            raise VolumeFormatError(f"{self.path}: not a readable HDF5 file ({exc})") from None
        names = _datasets(self._file)
        if key is None:
            if self.path.stem in names:
                key = self.path.stem
            elif len(names) == 1:
                key = names[0]
            else:
                self._file.close()
                raise VolumeFormatError(
                    f"{self.path}: holds {len(names)} datasets ({', '.join(names) or 'none'}); "
                    f"name one as {self.path}:KEY")
        if key not in names:
            self._file.close()
            raise VolumeNotFound(f"{self.path}:{key}: no such dataset "
                                 f"(datasets: {', '.join(names) or 'none'})")
        self.key = key
        self._ds = self._file[key]
        if self._ds.ndim != 3:
            shape = self._ds.shape  # read before the file is closed
            self._file.close()
            raise VolumeFormatError(f"{self.path}:{key}: expected a 3-D array, got shape "
                                    f"{shape}")
        self.shape = tuple(int(v) for v in self._ds.shape)
        self.dtype = np.dtype(self._ds.dtype)
        vs = self._ds.attrs.get("voxel_size_nm")
        self.voxel_size_nm = tuple(float(v) for v in vs) if vs is not None else None

    @property
    def spec(self) -> str:
        return f"{self.path}:{self.key}"

    @classmethod
    def create(cls, path: Path, key: str | None, shape, dtype, *, chunks=None,
               voxel_size_nm=None, overwrite=False) -> "HDF5Volume":
        path = Path(path)
        key = key or path.stem
        if path.exists() and not overwrite:
            with h5py.File(path, "r") as f:
                if key in f:
                    raise FileExistsError(f"{path}:{key} exists; pass overwrite=True")
        path.parent.mkdir(parents=True, exist_ok=True)
        chunks = tuple(min(int(c), int(s)) for c, s in zip(chunks or (64, 64, 64), shape))
        with h5py.File(path, "a") as f:
            if key in f:
                del f[key]
            ds = f.create_dataset(key, shape=shape, dtype=dtype, chunks=chunks,
                                  compression="gzip", compression_opts=1, fillvalue=0)
            if voxel_size_nm is not None:
                ds.attrs["voxel_size_nm"] = np.asarray(voxel_size_nm, dtype=float)
        return cls(path, key, mode="r+")

    def _read(self, lo, hi) -> np.ndarray:
        return self._ds[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]

    def _write(self, lo, data) -> None:
        self._ds[lo[0]:lo[0] + data.shape[0], lo[1]:lo[1] + data.shape[1],
                 lo[2]:lo[2] + data.shape[2]] = data

    def close(self) -> None:
        if self._file.id.valid:
            self._file.close()
