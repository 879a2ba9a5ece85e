"""Agglomeration graphs: supervoxel edge lists, one edge ``a b`` per line.

Plain text, ``.bz2`` or ``.gz``; ids separated by whitespace, ``,`` or ``;``; further columns
(networkx' ``{}`` edge data, weights) are ignored.  ``#`` starts a comment; a first line whose
two fields hold no digit (``sv_a,sv_b``) is a header.  Ids are non-negative integers below
2**63 (they are stored as signed 64-bit ``BIGINT``).

The graph is parsed with pyarrow's streaming CSV reader (C++, no Python loop over edges).  A
file that reader cannot take as it is (a corrupt or truncated archive, a bad id, comments after
the data started, irregular spacing) is read again by the exact line parser, which either
returns the same edges or raises an :class:`~syconn.errors.InputError` naming the file and line.
"""

from __future__ import annotations

import bz2
import gzip
import re
from array import array
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv

from syconn.errors import InputError, VolumeNotFound

__all__ = ["read_agglomeration"]

_COMPRESSION = {".bz2": "bz2", ".gz": "gzip"}
_PEEK_BYTES = 1 << 16  # the header and the first edge must lie in the first 64 KiB
_SPLIT = re.compile(r"[\s,;]+")
_DIGIT = re.compile(r"[0-9]")
_ID = re.compile(r"[0-9]+")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # surrogateescape'd bytes
_MAX_ID = 2 ** 63 - 1


def read_agglomeration(path: str | Path) -> np.ndarray:
    """Read a supervoxel edge list.

    Parameters
    ----------
    path
        Edge list, plain text or compressed (``.bz2``, ``.gz``); see the module docstring for
        the accepted layout.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` uint64 edges in file order; every id is below 2**63.

    Raises
    ------
    VolumeNotFound
        ``path`` is not a file.
    InputError
        The file does not decompress, is not UTF-8 text, or a line does not hold two
        non-negative 64-bit ids; the message names the file and the line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "rag.csv"
    >>> _ = p.write_text("sv_a,sv_b\\n1,2\\n2,5\\n")
    >>> read_agglomeration(p).tolist()
    [[1, 2], [2, 5]]
    """
    path = Path(path)
    if not path.is_file():
        raise VolumeNotFound(f"{path}: agglomeration graph not found")
    edges = _read_fast(path)
    return edges if edges is not None else _read_exact(path)


def _content(line: str) -> str:
    """A line without its comment and surrounding whitespace."""
    return line.split("#", 1)[0].strip()


def _is_header(a: str, b: str) -> bool:
    return not _DIGIT.search(a) and not _DIGIT.search(b)


def _layout(head: bytes, whole: bool) -> tuple[int, bytes] | None:
    """(bytes before the first edge, delimiter) from the file's first bytes, or None."""
    lines = head.splitlines(keepends=True)
    if not whole:
        lines = lines[:-1]  # may be cut off
    skip, header_allowed = 0, True
    for raw in lines:
        text = _content(raw.decode("utf-8"))
        if text:  # the same header rule as _read_exact's
            parts = _SPLIT.split(text)
            if header_allowed and len(parts) >= 2 and _is_header(parts[0], parts[1]):
                header_allowed = False
            else:
                delimiter = next((d for d in (b",", b"\t", b";") if d in raw), b" ")
                return skip, delimiter
        skip += len(raw)
    return None


def _read_fast(path: Path) -> np.ndarray | None:
    """Edges via pyarrow's CSV reader; None where the file needs the exact parser."""
    try:
        return _read_arrow(path)
    except (pa.ArrowException, OSError, EOFError, ValueError):
        return None  # corrupt, truncated, or not the regular layout


def _read_arrow(path: Path) -> np.ndarray | None:
    compression = _COMPRESSION.get(path.suffix)
    with pa.input_stream(str(path), compression=compression) as stream:
        head = stream.read(_PEEK_BYTES)
    layout = _layout(head, whole=len(head) < _PEEK_BYTES)
    if layout is None:
        return None
    skip, delimiter = layout
    chunks: list[tuple[np.ndarray, np.ndarray]] = []
    with pa.input_stream(str(path), compression=compression) as stream:
        stream.read(skip)
        reader = csv.open_csv(
            stream,
            read_options=csv.ReadOptions(autogenerate_column_names=True),
            parse_options=csv.ParseOptions(delimiter=delimiter.decode(), quote_char=False),
            convert_options=csv.ConvertOptions(
                include_columns=["f0", "f1"], strings_can_be_null=False,
                column_types={"f0": pa.string(), "f1": pa.string()}))
        for batch in reader:  # ~1 MiB of text per batch
            pair = []
            for ids in batch.columns:
                # digits only (pyarrow's integer parser would also take '0x10' and '-1')
                if not _all_digits(ids):
                    ids = pc.ascii_trim_whitespace(ids)  # '1, 2'
                    if not _all_digits(ids):
                        return None
                pair.append(pc.cast(ids, pa.int64()).to_numpy())  # >= 2**63: ArrowInvalid
            chunks.append((pair[0], pair[1]))
    edges = np.empty((sum(a.size for a, _ in chunks), 2), np.int64)
    start = 0
    for a, b in chunks:
        edges[start:start + a.size, 0], edges[start:start + a.size, 1] = a, b
        start += a.size
    return edges.view(np.uint64)  # every id is >= 0


def _all_digits(ids: pa.Array) -> bool:
    return pc.all(pc.ascii_is_decimal(ids), min_count=0).as_py()


def _open_text(path: Path):
    opener = {".bz2": bz2.open, ".gz": gzip.open}.get(path.suffix, open)
    # bytes that are not UTF-8 become lone surrogates, reported with their line number
    return opener(path, "rt", encoding="utf-8", errors="surrogateescape")


def _read_exact(path: Path) -> np.ndarray:
    """The line-by-line parser: the reference semantics and the precise error messages."""
    flat = array("q")
    i, header_allowed = 0, True
    try:
        with _open_text(path) as fh:
            for i, line in enumerate(fh, 1):
                text = _content(line)
                if not text:
                    continue
                parts = _SPLIT.split(text)
                if len(parts) < 2:
                    raise InputError(f"{path}: line {i}: expected two supervoxel ids 'a b', "
                                     f"got {text!r}")
                if header_allowed and _is_header(parts[0], parts[1]):
                    header_allowed = False
                    continue
                header_allowed = False
                flat.append(_parse_id(parts[0], path, i, text))
                flat.append(_parse_id(parts[1], path, i, text))
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: line {i + 1}: cannot read the agglomeration graph ({exc}); "
                         f"the file is corrupt or truncated, write it again") from None
    return np.frombuffer(flat, dtype=np.int64).reshape(-1, 2).astype(np.uint64)


def _parse_id(token: str, path: Path, line: int, text: str) -> int:
    if _ID.fullmatch(token):
        value = int(token)
        if value <= _MAX_ID:
            return value
        raise InputError(f"{path}: line {line}: supervoxel id {token} does not fit a signed "
                         f"64-bit integer (ids must be < 2**63)")
    if token.startswith("-") and _ID.fullmatch(token[1:]):
        raise InputError(f"{path}: line {line}: negative supervoxel id {token}; ids are "
                         f"non-negative integers")
    if _NOT_UTF8.search(text):
        raise InputError(f"{path}: line {line}: not UTF-8 text; the agglomeration graph must be "
                         f"a text edge list")
    raise InputError(f"{path}: line {line}: supervoxel ids must be non-negative integers, got "
                     f"{text!r}")
