"""KNOSSOS datasets, read and written without knossos_utils.

Layout (mag 1 only is read and written here)::

    ROOT/mag1/knossos.conf                       legacy conf
    ROOT/NAME.pyk.conf                            pyknossos conf (preferred when present)
    ROOT/mag1/x0000/y0001/z0002/NAME_mag1_x0000_y0001_z0002.raw          raw cube
    ROOT/mag1/x0000/y0001/z0002/NAME_mag1_x0000_y0001_z0002.seg.sz.zip   overlay cube

A cube holds ``cube_edge**3`` voxels, x fastest, then y, then z (a C-order ``[z][y][x]`` array,
which is a Fortran-order ``[x, y, z]`` array: read without a transpose).  Raw cubes are uint8
(uint16 if the conf says ``16bit``); an overlay cube is a zip archive (DEFLATE) with one member
``NAME_mag1_x..._y..._z....seg.sz``: raw-block snappy-compressed little-endian uint64.
A missing cube reads as zeros; an all-zero cube is not written (and removed if present).
Writing a box merges into existing cubes: voxels of a cube outside the box keep their value.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import zipfile
from contextlib import contextmanager
from pathlib import Path

import cramjam
import numpy as np

from syconn.errors import VolumeFormatError, VolumeNotFound
from syconn.io.volume import Volume

__all__ = ["KnossosVolume", "parse_knossos_conf", "parse_pyk_conf", "cube_path"]

RAW_EXT = ".raw"
SEG_EXT = ".seg.sz.zip"
_CHANNELS = {"raw": "raw", "overlay": "overlay", "seg": "overlay"}


def parse_knossos_conf(path: Path) -> dict:
    """Parse a legacy ``knossos.conf``: name, boundary (extent), scale, magnification, 16bit."""
    text = Path(path).read_text()
    out: dict = {"boundary": [0, 0, 0], "scale": [1.0, 1.0, 1.0], "16bit": False}
    for i, line in enumerate(text.splitlines(), 1):
        line = line.strip().rstrip(";").strip()
        if not line:
            continue
        m = re.match(r'experiment name\s+"(.*)"$', line)
        if m:
            out["name"] = re.sub(r"_mag1$", "", m.group(1))
            continue
        m = re.match(r"(boundary|scale)\s+([xyz])\s+([-+0-9.eE]+)$", line)
        if m:
            j = "xyz".index(m.group(2))
            out[m.group(1)][j] = (int(float(m.group(3))) if m.group(1) == "boundary"
                                  else float(m.group(3)))
            continue
        m = re.match(r"magnification\s+(\d+)$", line)
        if m:
            out["magnification"] = int(m.group(1))
            continue
        if line == "16bit":
            out["16bit"] = True
        # png, jpg, ftp_mode and other lines do not concern raw/overlay mag-1 access
    if "name" not in out:
        raise VolumeFormatError(f"{path}: no 'experiment name' line")
    if min(out["boundary"]) <= 0:
        raise VolumeFormatError(f"{path}: boundary {out['boundary']} must be positive in x, y, z")
    return out


def parse_pyk_conf(path: Path) -> dict:
    """Parse a ``*.pyk.conf``: ``[Dataset]`` sections of ``_Key = value`` lines.

    The pyknossos writer emits several sections that differ only in ``_BaseExt``; all extensions
    are collected in ``exts``.
    """
    sections: list[dict[str, str]] = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            sections.append({})
            continue
        if "=" not in line:
            continue
        k, v = line.split("=", 1)
        if not sections:
            sections.append({})
        sections[-1][k.strip()] = v.strip()
    if not sections:
        raise VolumeFormatError(f"{path}: no [Dataset] section")
    first = sections[0]
    try:
        extent = [int(float(v)) for v in first["_Extent"].split(",")]
        scale = [float(v) for v in first["_DataScale"].split(",")[:3]]
        cube = [int(v) for v in first.get("_CubeSize", "128,128,128").split(",")]
        name = first["_BaseName"]
    except (KeyError, ValueError) as exc:
        raise VolumeFormatError(f"{path}: missing or bad entry {exc}") from None
    if len(extent) != 3 or min(extent) <= 0 or len(cube) != 3 or min(cube) <= 0:
        raise VolumeFormatError(f"{path}: bad _Extent {extent} or _CubeSize {cube}")
    exts = [s.get("_BaseExt", "") for s in sections]
    return {"name": name, "boundary": extent, "scale": scale, "cube": cube, "exts": exts}


def cube_path(root: Path, name: str, idx: tuple[int, int, int], ext: str) -> Path:
    """Path of cube ``idx`` (cube coordinates) at mag 1."""
    x, y, z = idx
    return (Path(root) / "mag1" / f"x{x:04d}" / f"y{y:04d}" / f"z{z:04d}" /
            f"{name}_mag1_x{x:04d}_y{y:04d}_z{z:04d}{ext}")


def _find_conf(path: Path) -> tuple[Path, Path]:
    """(dataset root, conf file) for a folder or conf-file path."""
    if path.is_file():
        root = path.parent.parent if path.name == "knossos.conf" and path.parent.name.startswith(
            "mag") else path.parent
        return root, path
    pyk = sorted(path.glob("*.pyk.conf")) + sorted(path.glob("*.pyknossos.conf"))
    if len(pyk) > 1:
        raise VolumeFormatError(f"{path}: several pyk.conf files ({', '.join(p.name for p in pyk)}); "
                                f"name one")
    if pyk:
        return path, pyk[0]
    legacy = path / "mag1" / "knossos.conf"
    if legacy.is_file():
        return path, legacy
    raise VolumeNotFound(f"{path}: no KNOSSOS conf (*.pyk.conf or mag1/knossos.conf)")


@contextmanager
def _locked(path: Path):
    """An exclusive inter-process lock on ``path`` + '.lock' (read-modify-write of a cube)."""
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _atomic_write(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


class KnossosVolume(Volume):
    """One channel (raw or overlay) of a KNOSSOS dataset at mag 1."""

    format = "knossos"

    def __init__(self, root: Path, name: str, shape, cube_edge: int, channel: str,
                 voxel_size_nm, *, sixteen_bit: bool = False, mode: str = "r"):
        self.path = Path(root)
        self.name = name
        self.shape = tuple(int(v) for v in shape)
        self.cube = (int(cube_edge),) * 3 if np.isscalar(cube_edge) else tuple(cube_edge)
        self.channel = channel
        self.voxel_size_nm = tuple(float(v) for v in voxel_size_nm)
        self.mode = mode
        if channel == "overlay":
            self.dtype, self.ext = np.dtype("<u8"), SEG_EXT
        else:
            self.dtype, self.ext = np.dtype("<u2" if sixteen_bit else "u1"), RAW_EXT

    @property
    def spec(self) -> str:
        return f"{self.path}:{self.channel}"

    # ------------------------------------------------------------------ open / create
    @classmethod
    def open(cls, path: Path, *, channel: str | None = None, mode: str = "r") -> "KnossosVolume":
        root, conf = _find_conf(Path(path))
        if conf.name.endswith("knossos.conf") and not conf.name.endswith("pyk.conf"):
            meta = parse_knossos_conf(conf)
            meta["cube"] = [128, 128, 128]
            meta["exts"] = []
        else:
            meta = parse_pyk_conf(conf)
            meta["16bit"] = False
        if channel is not None and channel not in _CHANNELS:
            raise VolumeFormatError(f"{path}:{channel}: unknown KNOSSOS channel; use :raw or "
                                    f":overlay")
        ch = _CHANNELS[channel] if channel else cls._guess_channel(root, meta)
        return cls(root, meta["name"], meta["boundary"], meta["cube"], ch, meta["scale"],
                   sixteen_bit=meta.get("16bit", False), mode=mode)

    @staticmethod
    def _guess_channel(root: Path, meta: dict) -> str:
        exts = {e for e in meta.get("exts", []) if e}
        has_seg_conf, has_raw_conf = SEG_EXT in exts, bool(exts - {SEG_EXT})
        if has_seg_conf and not has_raw_conf:
            return "overlay"
        if has_raw_conf and not has_seg_conf:
            return "raw"
        mag1 = root / "mag1"
        seg = next(mag1.glob(f"x*/y*/z*/*{SEG_EXT}"), None) if mag1.is_dir() else None
        raw = next(mag1.glob(f"x*/y*/z*/*{RAW_EXT}"), None) if mag1.is_dir() else None
        if seg is not None and raw is not None:
            raise VolumeFormatError(f"{root}: holds raw and overlay cubes; name the channel as "
                                    f"{root}:raw or {root}:overlay")
        return "overlay" if seg is not None else "raw"

    @classmethod
    def create(cls, path: Path, shape, dtype, *, voxel_size_nm=None, channel=None,
               cube_edge: int = 128, overwrite: bool = False) -> "KnossosVolume":
        root = Path(path)
        dtype = np.dtype(dtype)
        if channel is None:
            channel = "raw" if dtype in (np.uint8, np.uint16) else "overlay"
        channel = _CHANNELS.get(channel, channel)
        if channel == "overlay" and not np.issubdtype(dtype, np.integer):
            raise ValueError(f"{root}: KNOSSOS overlays hold integer labels, not {dtype}")
        if channel == "raw" and dtype not in (np.uint8, np.uint16):
            raise ValueError(f"{root}: KNOSSOS raw cubes hold uint8 or uint16, not {dtype}")
        if (root / "mag1").exists():
            if not overwrite:
                raise FileExistsError(f"{root} holds a KNOSSOS dataset; pass overwrite=True")
            shutil.rmtree(root / "mag1")
            for p in root.glob("*.pyk.conf"):
                p.unlink()
        name = root.name or "dataset"
        vs = tuple(voxel_size_nm) if voxel_size_nm is not None else (1.0, 1.0, 1.0)
        (root / "mag1").mkdir(parents=True, exist_ok=True)
        sixteen = channel == "raw" and dtype == np.uint16
        legacy = [f'experiment name "{name}_mag1";']
        legacy += [f"boundary {a} {int(n)};" for a, n in zip("xyz", shape)]
        legacy += [f"scale {a} {float(s):.2f};" for a, s in zip("xyz", vs)]
        legacy += ["magnification 1;"] + (["16bit;"] if sixteen else [])
        _atomic_write(root / "mag1" / "knossos.conf", ("\n".join(legacy) + "\n").encode())
        ext = SEG_EXT if channel == "overlay" else RAW_EXT
        pyk = "\n".join([
            "[Dataset]",
            f"_BaseName = {name}",
            "_ServerFormat = knossos",
            f"_DataScale = {','.join(f'{float(s):g}' for s in vs)}",
            f"_Extent = {','.join(str(int(n)) for n in shape)}",
            "_Description = written by syconn",
            f"_BaseExt = {ext}",
            f"_CubeSize = {cube_edge},{cube_edge},{cube_edge}",
            "",
        ])
        _atomic_write(root / f"{name}.pyk.conf", pyk.encode())
        return cls(root, name, shape, cube_edge, channel, vs, sixteen_bit=sixteen, mode="r+")

    # ------------------------------------------------------------------ cubes
    def _cube_file(self, idx) -> Path:
        return cube_path(self.path, self.name, idx, self.ext)

    def read_cube(self, idx: tuple[int, int, int]) -> np.ndarray | None:
        """The cube at cube index ``idx`` as an ``[x, y, z]`` array, or None if absent."""
        path = self._cube_file(idx)
        try:
            payload = path.read_bytes()
        except FileNotFoundError:
            return None
        n = int(np.prod(self.cube))
        if self.channel == "overlay":
            try:
                with zipfile.ZipFile(io.BytesIO(payload)) as zf:
                    members = zf.namelist()
                    if len(members) != 1:
                        raise VolumeFormatError(f"{path}: expected one member, found {len(members)}")
                    compressed = zf.read(members[0])
                raw = bytes(cramjam.snappy.decompress_raw(compressed))
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError,
                    cramjam.DecompressionError) as exc:
                raise VolumeFormatError(f"{path}: corrupt or truncated overlay cube ({exc})") from None
        else:
            raw = payload
        if len(raw) != n * self.dtype.itemsize:
            raise VolumeFormatError(f"{path}: {len(raw)} bytes, expected {n * self.dtype.itemsize} "
                                    f"for a {self.cube} cube of {self.dtype}")
        return np.frombuffer(raw, dtype=self.dtype).reshape(self.cube, order="F")

    def write_cube(self, idx: tuple[int, int, int], cube: np.ndarray) -> None:
        """Write a whole cube (``[x, y, z]``); an all-zero cube removes the file."""
        path = self._cube_file(idx)
        if not cube.any():
            path.unlink(missing_ok=True)
            return
        raw = np.asarray(cube, dtype=self.dtype).tobytes(order="F")
        if self.channel == "overlay":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(path.name[: -len(".zip")], bytes(cramjam.snappy.compress_raw(raw)))
            raw = buf.getvalue()
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, raw)

    def check(self) -> int:
        """Verify every cube file (zip directory, member and size); return the cube count.

        Cheap: reads only each overlay's zip directory, not the data.  Raises
        :class:`~syconn.errors.VolumeFormatError` naming the first bad cube.
        """
        n = 0
        expected = int(np.prod(self.cube)) * self.dtype.itemsize
        for path in sorted((self.path / "mag1").glob(f"x*/y*/z*/*{self.ext}")):
            n += 1
            if self.channel != "overlay":
                if path.stat().st_size != expected:
                    raise VolumeFormatError(f"{path}: {path.stat().st_size} bytes, expected "
                                            f"{expected}")
                continue
            try:
                with zipfile.ZipFile(path) as zf:
                    infos = zf.infolist()
                    if len(infos) != 1:
                        raise VolumeFormatError(f"{path}: expected one member, found {len(infos)}")
                    if infos[0].header_offset + infos[0].compress_size > path.stat().st_size:
                        raise VolumeFormatError(f"{path}: truncated overlay cube")
            except (zipfile.BadZipFile, OSError) as exc:
                raise VolumeFormatError(f"{path}: corrupt or truncated overlay cube ({exc})") \
                    from None
        return n

    def _cube_range(self, lo, hi):
        return [range(l // c, (h - 1) // c + 1) for l, h, c in zip(lo, hi, self.cube)]

    def _read(self, lo, hi) -> np.ndarray:
        out = np.zeros(tuple(h - l for l, h in zip(lo, hi)), dtype=self.dtype)
        rx, ry, rz = self._cube_range(lo, hi)
        for cx in rx:
            for cy in ry:
                for cz in rz:
                    cube = self.read_cube((cx, cy, cz))
                    if cube is None:
                        continue
                    c0 = (cx * self.cube[0], cy * self.cube[1], cz * self.cube[2])
                    a = [max(l, o) for l, o in zip(lo, c0)]
                    b = [min(h, o + c) for h, o, c in zip(hi, c0, self.cube)]
                    out[a[0] - lo[0]:b[0] - lo[0], a[1] - lo[1]:b[1] - lo[1],
                        a[2] - lo[2]:b[2] - lo[2]] = cube[a[0] - c0[0]:b[0] - c0[0],
                                                          a[1] - c0[1]:b[1] - c0[1],
                                                          a[2] - c0[2]:b[2] - c0[2]]
        return out

    def _write(self, lo, data) -> None:
        if self.mode == "r":
            raise PermissionError(f"{self.spec}: opened read-only")
        hi = tuple(l + s for l, s in zip(lo, data.shape))
        rx, ry, rz = self._cube_range(lo, hi)
        for cx in rx:
            for cy in ry:
                for cz in rz:
                    idx = (cx, cy, cz)
                    c0 = (cx * self.cube[0], cy * self.cube[1], cz * self.cube[2])
                    a = [max(l, o) for l, o in zip(lo, c0)]
                    b = [min(h, o + c) for h, o, c in zip(hi, c0, self.cube)]
                    src = data[a[0] - lo[0]:b[0] - lo[0], a[1] - lo[1]:b[1] - lo[1],
                               a[2] - lo[2]:b[2] - lo[2]]
                    if all(ai == oi and bi == oi + ci for ai, bi, oi, ci in
                           zip(a, b, c0, self.cube)):
                        self.write_cube(idx, src)  # the box covers the whole cube
                        continue
                    path = self._cube_file(idx)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with _locked(path):
                        old = self.read_cube(idx)
                        cube = np.zeros(self.cube, self.dtype, order="F") if old is None \
                            else old.copy(order="F")
                        cube[a[0] - c0[0]:b[0] - c0[0], a[1] - c0[1]:b[1] - c0[1],
                             a[2] - c0[2]:b[2] - c0[2]] = src
                        self.write_cube(idx, cube)
