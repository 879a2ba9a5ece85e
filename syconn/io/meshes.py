"""Mesh storage (a sharded, append-friendly container) and mesh file formats (PLY, OBJ).

Container layout (``MeshStore``; :class:`syconn.io.skeletons.SkeletonStore` uses the same code)::

    path/
      store.json                    {"format": "syconn-sharded-store", "kind": "mesh", "version": 1,
                                     "n_shards": N, "fields": [...]}
      shard_0007.idx.npz            index of shard 7: table uint64 (n, 3 + n_counts) with columns
                                    id, byte offset, byte length, counts...; sorted by id; gen
      shard_0007.g0.bin             the records of shard 7, concatenated, little endian
      shard_0007.lock               fcntl lock taken by writers

An object lives in shard ``id % N``.  A record is the concatenation of its fields
(mesh: vertices float32 (n, 3), faces uint32 (m, 3)).  ``put_many`` appends records to the shard's
data file and then atomically replaces its index (temp file + ``os.replace``), under an exclusive
``fcntl.flock`` of the shard's lock file, so concurrent writers from several processes are safe and
a reader always sees a complete index whose records exist.  Replacing an object appends a new
record; :meth:`compact` drops the dead bytes.  Reading one object reads one index and one record.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from syconn.errors import InputError, VolumeFormatError
from syconn.proc.meshes import Mesh

__all__ = ["MeshStore", "write_ply", "read_ply", "write_obj", "read_obj"]

_FORMAT = "syconn-sharded-store"
_VERSION = 1


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, then
    ``os.replace``; on failure the temporary file is removed and ``path`` is left as it was.

    The file is created with mode ``0o666`` less the process umask, as ``open()`` creates files
    (``tempfile.mkstemp`` would make it ``0o600``, unreadable to a web server running as
    another user).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path):
    import fcntl

    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class ShardedStore:
    """Base of :class:`MeshStore` and :class:`~syconn.io.skeletons.SkeletonStore`.

    Subclasses define ``KIND``, ``FIELDS`` = ``[(name, dtype, n_columns, count_index)]`` (records
    are ragged arrays; ``count_index`` says which per-record count gives the number of rows) and
    ``N_COUNTS``, plus ``_encode(obj) -> (arrays, counts)`` and ``_decode(arrays) -> obj``.
    """

    KIND = ""
    FIELDS: list[tuple[str, str, int, int]] = []
    N_COUNTS = 0
    DEFAULT_SHARDS = 64

    def __init__(self, path: str | os.PathLike, *, n_shards: int | None = None) -> None:
        self.path = Path(path)
        meta_path = self.path / "store.json"
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError) as exc:
                raise VolumeFormatError(f"{meta_path}: unreadable store metadata ({exc})") from exc
            if meta.get("format") != _FORMAT or meta.get("kind") != self.KIND:
                raise VolumeFormatError(f"{meta_path}: format {meta.get('format')!r} kind "
                                        f"{meta.get('kind')!r}, expected {_FORMAT!r} kind "
                                        f"{self.KIND!r}")
            if n_shards is not None and int(n_shards) != meta["n_shards"]:
                raise InputError(f"n_shards: got {n_shards}, but {self.path} was created with "
                                 f"{meta['n_shards']} shards; omit n_shards to open it")
            self.n_shards = int(meta["n_shards"])
            # records are read with the fields the store was written with (an older layout
            # may lack a field added since; _decode fills it in)
            self._fields = [tuple(f) for f in meta.get("fields", self.FIELDS)]
        else:
            n = self.DEFAULT_SHARDS if n_shards is None else n_shards
            if int(n) != n or n < 1:
                raise InputError(f"n_shards: got {n_shards!r}, expected an integer >= 1")
            self.n_shards = int(n)
            self._fields = list(self.FIELDS)
        self._meta_path = meta_path
        # shard -> (identity of its index file, table, gen): an index is parsed again only
        # when its file was replaced (every write replaces it; see version())
        self._index_cache: dict[int, tuple[tuple[int, int, int], np.ndarray, int]] = {}

    # ---- layout -------------------------------------------------------------------------
    def _ensure(self) -> None:
        if not self._meta_path.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            meta = {"format": _FORMAT, "kind": self.KIND, "version": _VERSION,
                    "n_shards": self.n_shards,
                    "fields": [[n, d, c, k] for n, d, c, k in self.FIELDS]}
            _atomic_write_bytes(self._meta_path, json.dumps(meta, indent=1).encode())

    def _idx_path(self, k: int) -> Path:
        return self.path / f"shard_{k:04d}.idx.npz"

    def _bin_path(self, k: int, gen: int) -> Path:
        return self.path / f"shard_{k:04d}.g{gen}.bin"

    def version(self, oid: int) -> tuple[int, int, int] | None:
        """A token that changes whenever the record of ``oid`` may have: the identity of its
        shard's index file (inode, size, mtime in ns; every write replaces that file), None
        while the shard has none.  For caches of what was read from the store."""
        try:
            st = self._idx_path(int(oid) % self.n_shards).stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _read_index(self, k: int) -> tuple[np.ndarray, int]:
        p = self._idx_path(k)
        try:
            st = p.stat()
        except FileNotFoundError:
            return np.zeros((0, 3 + self.N_COUNTS), np.uint64), 0
        token = (st.st_ino, st.st_size, st.st_mtime_ns)
        hit = self._index_cache.get(k)
        if hit is not None and hit[0] == token:
            return hit[1], hit[2]
        with np.load(p) as z:
            table, gen = z["table"], int(z["gen"])
        table.setflags(write=False)       # shared by the callers of this store object
        self._index_cache[k] = (token, table, gen)
        return table, gen

    def _write_index(self, k: int, table: np.ndarray, gen: int) -> None:
        import io

        buf = io.BytesIO()
        np.savez(buf, table=np.ascontiguousarray(table, np.uint64), gen=np.int64(gen))
        _atomic_write_bytes(self._idx_path(k), buf.getvalue())

    # ---- encoding -----------------------------------------------------------------------
    def _encode(self, obj: Any) -> tuple[list[np.ndarray], list[int]]:
        raise NotImplementedError

    def _decode(self, arrays: dict[str, np.ndarray]) -> Any:
        raise NotImplementedError

    def _record_bytes(self, obj: Any) -> tuple[bytes, list[int]]:
        arrays, counts = self._encode(obj)
        parts = []
        for (name, dtype, ncol, ci), arr in zip(self.FIELDS, arrays):
            a = np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder("<"))
            if a.size != counts[ci] * ncol:
                raise InputError(f"{self.KIND} field {name}: got {a.size} values, expected "
                                 f"{counts[ci]} x {ncol}")
            parts.append(a.tobytes())
        return b"".join(parts), counts

    def _parse(self, raw: bytes, counts: np.ndarray) -> Any:
        arrays, pos = {}, 0
        for name, dtype, ncol, ci in self._fields:
            dt = np.dtype(dtype).newbyteorder("<")
            n = int(counts[ci]) * ncol
            a = np.frombuffer(raw, dtype=dt, count=n, offset=pos)
            pos += n * dt.itemsize
            arrays[name] = a.astype(dt.newbyteorder("="), copy=True).reshape(-1, ncol) \
                if ncol > 1 else a.astype(dt.newbyteorder("="), copy=True)
        return self._decode(arrays)

    # ---- public API ---------------------------------------------------------------------
    def put_many(self, objects: Mapping[int, Any]) -> None:
        """Store (or replace) objects ``{id: obj}``; one locked append + index swap per shard."""
        if not objects:
            return
        if self._fields != [tuple(f) for f in self.FIELDS]:
            raise VolumeFormatError(
                f"{self.path}: written with fields {[f[0] for f in self._fields]}, this version "
                f"writes {[f[0] for f in self.FIELDS]}; it can be read, not extended (remove it "
                "and rerun the step to rewrite it)")
        self._ensure()
        by_shard: dict[int, list[int]] = {}
        for oid in objects:
            i = int(oid)
            if i < 0 or i >= 2**64:
                raise InputError(f"id: got {oid!r}, expected an unsigned 64-bit integer")
            by_shard.setdefault(i % self.n_shards, []).append(i)
        for k in sorted(by_shard):
            ids = sorted(set(by_shard[k]))
            encoded = [self._record_bytes(objects[i]) for i in ids]
            with _locked(self.path / f"shard_{k:04d}.lock"):
                table, gen = self._read_index(k)
                binp = self._bin_path(k, gen)
                start = binp.stat().st_size if binp.exists() else 0
                rows, pos = [], start
                with open(binp, "ab") as fh:
                    for i, (raw, counts) in zip(ids, encoded):
                        fh.write(raw)
                        rows.append([i, pos, len(raw), *counts])
                        pos += len(raw)
                    fh.flush()
                    os.fsync(fh.fileno())
                new = np.asarray(rows, np.uint64).reshape(-1, 3 + self.N_COUNTS)
                old = table[~np.isin(table[:, 0], new[:, 0])]
                merged = np.concatenate([old, new])
                merged = merged[np.argsort(merged[:, 0], kind="stable")]
                self._write_index(k, merged, gen)

    def put(self, oid: int, obj: Any) -> None:
        self.put_many({oid: obj})

    def get(self, oid: int) -> Any:
        """The object stored under ``oid``; ``KeyError`` if there is none."""
        got = self.get_many([oid])
        if int(oid) not in got:
            raise KeyError(f"{self.KIND} {oid} not in {self.path}")
        return got[int(oid)]

    def get_many(self, ids: Iterable[int]) -> dict[int, Any]:
        """``{id: obj}`` for the ids that are stored (missing ids are left out)."""
        by_shard: dict[int, list[int]] = {}
        for oid in ids:
            by_shard.setdefault(int(oid) % self.n_shards, []).append(int(oid))
        out: dict[int, Any] = {}
        for k in sorted(by_shard):
            table, gen = self._read_index(k)
            if len(table) == 0:
                continue
            want = np.asarray(sorted(set(by_shard[k])), np.uint64)
            pos = np.searchsorted(table[:, 0], want)
            pos = np.minimum(pos, len(table) - 1)
            hit = table[pos, 0] == want
            with open(self._bin_path(k, gen), "rb") as fh:
                for row in table[pos[hit]]:
                    fh.seek(int(row[1]))
                    raw = fh.read(int(row[2]))
                    out[int(row[0])] = self._parse(raw, row[3:])
        return out

    def ids(self) -> np.ndarray:
        """All stored ids, sorted (uint64)."""
        parts = [self._read_index(k)[0][:, 0] for k in range(self.n_shards)]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)

    def counts(self) -> dict[int, tuple[int, ...]]:
        """``{id: per-record counts}`` (e.g. vertices and faces) without reading any record."""
        out = {}
        for k in range(self.n_shards):
            for row in self._read_index(k)[0]:
                out[int(row[0])] = tuple(int(c) for c in row[3:])
        return dict(sorted(out.items()))

    def items(self) -> Iterator[tuple[int, Any]]:
        """Iterate ``(id, obj)`` shard by shard (ids ascending within a shard)."""
        for k in range(self.n_shards):
            table, _ = self._read_index(k)
            if len(table):
                yield from sorted(self.get_many(table[:, 0].tolist()).items())

    def __contains__(self, oid: object) -> bool:
        try:
            i = int(oid)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False
        table, _ = self._read_index(i % self.n_shards)
        return bool(len(table)) and bool(np.isin(np.uint64(i), table[:, 0]))

    def __len__(self) -> int:
        return sum(len(self._read_index(k)[0]) for k in range(self.n_shards))

    def compact(self) -> None:
        """Rewrite every shard without the bytes of replaced records (not concurrent with readers)."""
        for k in range(self.n_shards):
            with _locked(self.path / f"shard_{k:04d}.lock"):
                table, gen = self._read_index(k)
                old = self._bin_path(k, gen)
                if not old.exists():
                    continue
                if int(table[:, 2].sum()) == old.stat().st_size:
                    continue
                new = self._bin_path(k, gen + 1)
                rows, pos = [], 0
                with open(old, "rb") as src, open(new, "wb") as dst:
                    for row in table:
                        src.seek(int(row[1]))
                        dst.write(src.read(int(row[2])))
                        rows.append([row[0], pos, row[2], *row[3:]])
                        pos += int(row[2])
                    dst.flush()
                    os.fsync(dst.fileno())
                self._write_index(k, np.asarray(rows, np.uint64).reshape(table.shape), gen + 1)
                old.unlink()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, n_shards={self.n_shards})"


class MeshStore(ShardedStore):
    """Meshes of many objects in one working-directory folder: ``MeshStore(path).put_many({id: Mesh})``,
    ``.get(id)``, ``.ids()``.  See the module docstring for the layout."""

    KIND = "mesh"
    FIELDS = [("vertices", "float32", 3, 0), ("faces", "uint32", 3, 1)]
    N_COUNTS = 2

    def _encode(self, obj: Mesh) -> tuple[list[np.ndarray], list[int]]:
        if not isinstance(obj, Mesh):
            raise InputError(f"MeshStore: got {type(obj).__name__}, expected syconn.proc.meshes.Mesh")
        return [obj.vertices, obj.faces], [obj.n_vertices, obj.n_faces]

    def _decode(self, arrays: dict[str, np.ndarray]) -> Mesh:
        return Mesh(arrays["vertices"].reshape(-1, 3), arrays["faces"].reshape(-1, 3))


# --------------------------------------------------------------------------------------------
# PLY / OBJ
# --------------------------------------------------------------------------------------------

def write_ply(path: str | os.PathLike, mesh: Mesh, *, comment: str | None = None) -> None:
    """Binary little-endian PLY: ``vertex`` (float x, y, z in nm), ``face`` (uchar count, uint indices)."""
    v = np.ascontiguousarray(mesh.vertices, "<f4")
    f = mesh.faces
    header = ["ply", "format binary_little_endian 1.0"]
    if comment:
        header += [f"comment {line}" for line in str(comment).splitlines()]
    header += [f"element vertex {len(v)}", "property float x", "property float y",
               "property float z", f"element face {len(f)}",
               "property list uchar uint vertex_indices", "end_header"]
    rec = np.zeros(len(f), dtype=[("n", "u1"), ("i", "<u4", (3,))])
    rec["n"] = 3
    rec["i"] = f
    data = ("\n".join(header) + "\n").encode("ascii") + v.tobytes() + rec.tobytes()
    _atomic_write_bytes(Path(path), data)


def read_ply(path: str | os.PathLike) -> Mesh:
    """Read a triangle PLY as written by :func:`write_ply` (binary LE, float xyz, uchar/uint list)."""
    raw = Path(path).read_bytes()
    end = raw.find(b"end_header\n")
    if not raw.startswith(b"ply") or end < 0:
        raise VolumeFormatError(f"{path}: not a PLY file (no 'ply' magic / end_header)")
    header = raw[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in header:
        raise VolumeFormatError(f"{path}: only binary_little_endian PLY is supported")
    nv = nf = 0
    for line in header:
        parts = line.split()
        if parts[:2] == ["element", "vertex"]:
            nv = int(parts[2])
        elif parts[:2] == ["element", "face"]:
            nf = int(parts[2])
    body = raw[end + len(b"end_header\n"):]
    v = np.frombuffer(body, "<f4", count=3 * nv).reshape(nv, 3)
    rec = np.frombuffer(body, dtype=[("n", "u1"), ("i", "<u4", (3,))], count=nf, offset=12 * nv)
    if nf and not (rec["n"] == 3).all():
        raise VolumeFormatError(f"{path}: only triangle faces are supported")
    return Mesh(v.astype(np.float32), rec["i"].astype(np.uint32))


def write_obj(path: str | os.PathLike, mesh: Mesh) -> None:
    """Wavefront OBJ (``v x y z`` in nm, ``f a b c`` 1-based)."""
    lines = ["# syconn mesh, vertices in nm"]
    lines += [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in mesh.vertices.tolist()]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces.tolist()]
    _atomic_write_bytes(Path(path), ("\n".join(lines) + "\n").encode("ascii"))


def read_obj(path: str | os.PathLike) -> Mesh:
    """Read vertices and triangle faces of an OBJ file (``f`` entries may be ``i/j/k``)."""
    verts, faces = [], []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            verts.append([float(x) for x in parts[1:4]])
        elif parts[0] == "f":
            idx = [int(p.split("/")[0]) - 1 for p in parts[1:]]
            faces += [[idx[0], idx[i], idx[i + 1]] for i in range(1, len(idx) - 1)]
    return Mesh(np.asarray(verts, np.float32).reshape(-1, 3), np.asarray(faces, np.uint32).reshape(-1, 3))
