"""numba kernel for PostgreSQL's binary COPY format (see ``store._binary_copy_payload``)."""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def encode_rows(vb, widths, nulls, has_nulls, out):  # pragma: no cover - compiled
    """Write binary COPY rows into ``out``; return the number of bytes used.

    ``vb`` is ``(k, 8 n)`` uint8: per column the big-endian bytes of each value's 64-bit pattern
    (an int16 value is the last 2 of its 8 bytes).  Per row: int16 field count, then per field an
    int32 length (-1 for NULL) and the low ``widths[j]`` bytes of the value.
    """
    k = widths.shape[0]
    n = vb.shape[1] // 8
    pos = 0
    for i in range(n):
        out[pos] = (k >> 8) & 0xFF
        out[pos + 1] = k & 0xFF
        pos += 2
        for j in range(k):
            w = widths[j]
            if has_nulls[j] and nulls[j, i]:
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
            src = i * 8 + 8 - w
            for b in range(w):
                out[pos + b] = vb[j, src + b]
            pos += w
    return pos


def max_size(n: int, widths: np.ndarray) -> int:
    return n * (2 + int(4 * len(widths) + widths.sum()))
