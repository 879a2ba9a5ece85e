"""numba kernel for PostgreSQL's binary COPY format (see ``store._binary_copy_payload``)."""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def encode_rows(values, widths, nulls, out):  # pragma: no cover - compiled
    """Write rows of ``values`` (n x k int64 bit patterns) into ``out``; return bytes used.

    Per row: int16 field count, then per field an int32 length (-1 for NULL) and the low
    ``widths[j]`` bytes of the value, all big-endian.
    """
    n, k = values.shape
    pos = 0
    for i in range(n):
        out[pos] = (k >> 8) & 0xFF
        out[pos + 1] = k & 0xFF
        pos += 2
        for j in range(k):
            w = widths[j]
            if nulls[i, j]:
                out[pos] = 0xFF
                out[pos + 1] = 0xFF
                out[pos + 2] = 0xFF
                out[pos + 3] = 0xFF
                pos += 4
                continue
            out[pos] = 0
            out[pos + 1] = 0
            out[pos + 2] = 0
            out[pos + 3] = w
            pos += 4
            v = values[i, j]
            for b in range(w):
                out[pos + b] = (v >> (8 * (w - 1 - b))) & 0xFF
            pos += w
    return pos


def max_size(n: int, widths: np.ndarray) -> int:
    return n * (2 + int(4 * len(widths) + widths.sum()))
