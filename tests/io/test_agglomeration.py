"""read_agglomeration: hand-written edge lists, the fast (pyarrow) path and the exact parser agree,
every malformed file is one InputError naming the file and the line."""

import bz2
import gzip

import numpy as np
import pytest

from syconn.errors import InputError, VolumeNotFound
from syconn.io.agglomeration import _read_exact, _read_fast, read_agglomeration
from syconn.tasks.prepare import read_agglomeration as prepare_reexport

COMPRESS = {".txt": lambda b: b, ".bz2": bz2.compress, ".gz": gzip.compress}


def _write(tmp_path, text: str | bytes, suffix=".txt", name="rag"):
    data = text.encode() if isinstance(text, str) else text
    path = tmp_path / f"{name}{suffix}"
    path.write_bytes(COMPRESS.get(suffix, lambda b: b)(data))
    return path


VALID = [
    # (label, text, suffix, expected edges, taken by the fast path)
    ("plain", "1 2\n3 4\n", ".txt", [[1, 2], [3, 4]], True),
    ("bz2", "1 2\n3 4\n5 1\n", ".bz2", [[1, 2], [3, 4], [5, 1]], True),
    ("gz", "7 8\n9 7\n", ".gz", [[7, 8], [9, 7]], True),
    ("csv with header", "sv_a,sv_b\n10,20\n20,30\n", ".csv", [[10, 20], [20, 30]], True),
    ("csv, space after comma", "sv_a, sv_b\n10, 20\n20, 30\n", ".csv", [[10, 20], [20, 30]],
     True),
    ("leading comments and header", "# made by hand\n\n# second\nsource target\n1 2\n", ".txt",
     [[1, 2]], True),
    ("tabs, CRLF, no final newline", "1\t2\r\n3\t4", ".txt", [[1, 2], [3, 4]], True),
    ("semicolons", "1;2\n3;4\n", ".txt", [[1, 2], [3, 4]], True),
    ("networkx edge data", "1 2 {}\n2 3 {}\n", ".bz2", [[1, 2], [2, 3]], True),
    ("largest id", f"0 {2 ** 63 - 1}\n", ".txt", [[0, 2 ** 63 - 1]], True),
    ("comments between and after edges", "1 2\n# gap\n3 4  # merge\n\n", ".txt",
     [[1, 2], [3, 4]], False),
    ("irregular spacing", " 1   2\n3 4\n", ".txt", [[1, 2], [3, 4]], False),
    ("empty", "", ".bz2", [], False),
    ("only comments", "# nothing yet\n", ".txt", [], False),
]


@pytest.mark.parametrize("label, text, suffix, expected, fast", VALID, ids=[v[0] for v in VALID])
def test_valid_files(tmp_path, label, text, suffix, expected, fast):
    path = _write(tmp_path, text, suffix)
    edges = read_agglomeration(path)
    assert edges.dtype == np.uint64 and edges.shape == (len(expected), 2)
    assert edges.tolist() == expected
    assert np.array_equal(_read_exact(path), edges)
    quick = _read_fast(path)
    assert (quick is not None) == fast
    if quick is not None:
        assert quick.dtype == np.uint64 and np.array_equal(quick, edges)


def test_many_batches_and_prepare_reexport(tmp_path):
    # > 1 MiB of text: several pyarrow batches, concatenated in order
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 2 ** 63 - 1, size=(60_000, 2), dtype=np.int64)
    text = "sv_a sv_b\n" + "".join(f"{a} {b}\n" for a, b in ref.tolist())
    path = _write(tmp_path, text, ".bz2")
    assert len(text) > 2 ** 20
    fast = _read_fast(path)
    assert fast is not None and np.array_equal(fast, ref.astype(np.uint64))
    assert prepare_reexport is read_agglomeration
    assert np.array_equal(prepare_reexport(path), fast)


def test_long_comment_block_falls_back(tmp_path):
    text = "# x\n" * 20_000 + "1 2\n"  # the first edge lies beyond the 64 KiB peek
    path = _write(tmp_path, text)
    assert _read_fast(path) is None
    assert read_agglomeration(path).tolist() == [[1, 2]]


_real = bz2.compress(b"1 2\n" * 5000)
BAD = [
    # (label, content, suffix, message after "<path>: ")
    ("random bytes .bz2", bytes(range(7, 207)), "raw.bz2",
     "line 1: cannot read the agglomeration graph (Invalid data stream); the file is corrupt"),
    ("truncated .bz2", _real[: len(_real) // 2], "raw.bz2",
     "cannot read the agglomeration graph (Compressed file ended before the end-of-stream"),
    ("truncated .gz", gzip.compress(b"1 2\n" * 5000)[:-30], "raw.gz",
     "cannot read the agglomeration graph (Compressed file ended before the end-of-stream"),
    ("letter", "1 2\n1 x\n", ".txt",
     "line 2: supervoxel ids must be non-negative integers, got '1 x'"),
    ("letter on line 1 is no header", "1 x\n2 3\n", ".txt",
     "line 1: supervoxel ids must be non-negative integers, got '1 x'"),
    ("float", "1.5 2\n", ".bz2", "line 1: supervoxel ids must be non-negative integers, got "
                                 "'1.5 2'"),
    ("hex", "1 2\n1 0x10\n", ".txt", "line 2: supervoxel ids must be non-negative integers"),
    ("second header", "a,b\n1,2\na,b\n", ".csv",
     "line 3: supervoxel ids must be non-negative integers, got 'a,b'"),
    (">= 2**64", f"1 2\n1 {2 ** 64}\n", ".txt",
     f"line 2: supervoxel id {2 ** 64} does not fit a signed 64-bit integer (ids must be < 2**63)"),
    (">= 2**63", f"1 2\n3 4\n{2 ** 63} 1\n", ".bz2",
     f"line 3: supervoxel id {2 ** 63} does not fit a signed 64-bit integer"),
    ("negative", "1 2\n-1 2\n", ".txt", "line 2: negative supervoxel id -1; ids are non-negative"),
    ("one id", "1 2\n3\n", ".txt", "line 2: expected two supervoxel ids 'a b', got '3'"),
    ("not text", b"1 2\n\xff\xfe 3\n", ".txt", "line 2: not UTF-8 text"),
]


@pytest.mark.parametrize("label, content, suffix, message", BAD, ids=[b[0] for b in BAD])
def test_malformed_files_one_error_naming_file_and_line(tmp_path, label, content, suffix,
                                                         message):
    if suffix.startswith("raw"):  # already compressed (truncated) bytes
        suffix = suffix[3:]
        path = tmp_path / f"rag{suffix}"
        path.write_bytes(content)
    else:
        path = _write(tmp_path, content, suffix)
    with pytest.raises(InputError) as ei:
        read_agglomeration(path)
    text = str(ei.value)
    assert text.startswith(f"{path}: ") and message in text, text
    assert "\n" not in text


def test_missing_file(tmp_path):
    with pytest.raises(VolumeNotFound, match="rag.bz2: agglomeration graph not found"):
        read_agglomeration(tmp_path / "rag.bz2")


@pytest.mark.parametrize("text", ["a#b c\n1 2\n", "1 2\n3 x\n", "x y\n1 2\n1 0x1f\n",
                                  "1,2\n3,\n", "1 2\n3 4 5\n6\n", "\u0661 2\n"])
def test_fast_path_never_accepts_what_the_exact_parser_rejects(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(InputError):
        _read_exact(path)
    assert _read_fast(path) is None
