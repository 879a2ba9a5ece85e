"""Numba kernels behind :mod:`syconn.proc.objects`, :mod:`syconn.proc.rag` and :mod:`syconn.proc.stitch`.

Private module.  Every kernel takes a C-contiguous 3-d *view* of the caller's array whose last
axis is the fastest in memory (``to_view`` builds it without copying for C- or F-ordered input)
and works on runs of equal labels along that axis, so a 256^3 block costs one streaming read.
Results come back in view-axis order; the thin wrappers permute them back to (x, y, z).

Label -> dense index lookups use an open-addressing hash table (Fibonacci hashing, linear
probing) kept in plain arrays, so ids may be any uint64 value, and a one-entry cache of the last
label, which catches most lookups because labels repeat along runs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FIB = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


def to_view(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(view, perm)``: a C-contiguous view of ``arr`` and, for each view axis, the xyz axis.

    F-ordered input becomes ``arr.T`` (no copy); anything neither C- nor F-contiguous is copied.
    """
    if arr.flags.c_contiguous:
        return arr, np.array([0, 1, 2], dtype=np.int64)
    if arr.flags.f_contiguous:
        return arr.T, np.array([2, 1, 0], dtype=np.int64)
    return np.ascontiguousarray(arr), np.array([0, 1, 2], dtype=np.int64)


def like_view(other: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Return ``other`` (an xyz array) transposed to the view axes ``perm``, C-contiguous."""
    return np.ascontiguousarray(other.transpose(tuple(int(p) for p in perm)))


# --------------------------------------------------------------------------------------------
# hash tables
# --------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _slot1(key, shift):
    return np.int64((np.uint64(key) * _FIB) >> np.uint64(shift))


@njit(cache=True, inline="always")
def _slot2(ka, kb, shift):
    h = (np.uint64(ka) * _FIB) ^ (np.uint64(kb) * _MIX)
    h = h * _FIB
    return np.int64(h >> np.uint64(shift))


@njit(cache=True)
def _rehash1(keys, slots, cap_bits, n):
    """Double a single-key table; ``keys[i]`` of dense entry i is kept in ``dense_keys``."""
    cap_bits += 1
    cap = np.int64(1) << cap_bits
    shift = 64 - cap_bits
    new_slots = np.full(cap, -1, np.int64)
    mask = cap - 1
    for i in range(n):
        s = _slot1(keys[i], shift)
        while new_slots[s] != -1:
            s = (s + 1) & mask
        new_slots[s] = i
    return new_slots, cap_bits


@njit(cache=True)
def _rehash2(keys_a, keys_b, cap_bits, n):
    cap_bits += 1
    cap = np.int64(1) << cap_bits
    shift = 64 - cap_bits
    new_slots = np.full(cap, -1, np.int64)
    mask = cap - 1
    for i in range(n):
        s = _slot2(keys_a[i], keys_b[i], shift)
        while new_slots[s] != -1:
            s = (s + 1) & mask
        new_slots[s] = i
    return new_slots, cap_bits


@njit(cache=True, inline="always")
def _find1(dense_keys, slots, cap_bits, key):
    """Dense index of ``key`` or ``-(slot+1)`` of the empty slot where it would go."""
    shift = 64 - cap_bits
    mask = (np.int64(1) << cap_bits) - 1
    s = _slot1(key, shift)
    while True:
        d = slots[s]
        if d == -1:
            return -(s + 1)
        if dense_keys[d] == key:
            return d
        s = (s + 1) & mask


@njit(cache=True, inline="always")
def _find2(ka_arr, kb_arr, slots, cap_bits, ka, kb):
    shift = 64 - cap_bits
    mask = (np.int64(1) << cap_bits) - 1
    s = _slot2(ka, kb, shift)
    while True:
        d = slots[s]
        if d == -1:
            return -(s + 1)
        if ka_arr[d] == ka and kb_arr[d] == kb:
            return d
        s = (s + 1) & mask


@njit(cache=True)
def _grow_rows(a, n_rows):
    out = np.empty((n_rows, a.shape[1]), a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _grow_vec(a, n):
    out = np.empty(n, a.dtype)
    out[: a.shape[0]] = a
    return out


# --------------------------------------------------------------------------------------------
# object statistics: pass 1 (size, sums, bbox), pass 2 (representative voxel), overlaps
# --------------------------------------------------------------------------------------------

# columns of the int64 stats matrix, in view-axis order
_SIZE, _S0, _S1, _S2, _MIN0, _MIN1, _MIN2, _MAX0, _MAX1, _MAX2 = range(10)


@njit(cache=True)
def _stats_rows(view, keys, st, slots, cap_bits, n, i0, j0):
    """Process rows from (i0, j0) until done or the tables might overflow; returns (n, i, j)."""
    n0, n1, n2 = view.shape
    cap = keys.shape[0]
    last_key = np.uint64(0)
    last_d = -1
    j_start = j0
    for i in range(i0, n0):
        for j in range(j_start, n1):
            if n + n2 > cap or 2 * (n + n2) > slots.shape[0]:
                return n, i, j
            row = view[i, j]
            k = 0
            while k < n2:
                lab = row[k]
                start = k
                k += 1
                while k < n2 and row[k] == lab:
                    k += 1
                if lab == 0:
                    continue
                key = np.uint64(lab)
                if last_d >= 0 and key == last_key:
                    d = last_d
                else:
                    d = _find1(keys, slots, cap_bits, key)
                    if d < 0:
                        slots[-d - 1] = n
                        d = n
                        keys[d] = key
                        s = st[d]
                        s[0] = 0
                        s[1] = 0
                        s[2] = 0
                        s[3] = 0
                        s[4] = i
                        s[5] = j
                        s[6] = start
                        s[7] = i
                        s[8] = j
                        s[9] = k - 1
                        n += 1
                    last_key = key
                    last_d = d
                ln = k - start
                s = st[d]
                s[0] += ln
                s[1] += i * ln
                s[2] += j * ln
                s[3] += (ln * (start + k - 1)) // 2
                # rows are visited with i ascending: min0 is set on insertion, max0 = i
                s[7] = i
                if j < s[5]:
                    s[5] = j
                if j > s[8]:
                    s[8] = j
                if start < s[6]:
                    s[6] = start
                if k - 1 > s[9]:
                    s[9] = k - 1
        j_start = 0
    return n, n0, 0


@njit(cache=True)
def stats_pass1(view):
    """Per label: size, coordinate sums, bbox (inclusive max), in view axes.

    Returns ``(ids uint64[n], stats int64[n, 10], slots, cap_bits)``; columns: size, sum0..2,
    min0..2, max0..2.  Dense order = first encounter in memory order (the wrapper sorts by id).
    """
    n0, n1, n2 = view.shape
    cap_bits = 12
    while (np.int64(1) << (cap_bits - 2)) < 4 * n2:
        cap_bits += 1
    slots = np.full(np.int64(1) << cap_bits, -1, np.int64)
    keys = np.empty(np.int64(1) << (cap_bits - 1), np.uint64)
    st = np.empty((np.int64(1) << (cap_bits - 1), 10), np.int64)
    n = 0
    i = 0
    j = 0
    while True:
        n, i, j = _stats_rows(view, keys, st, slots, cap_bits, n, i, j)
        if i >= n0:
            break
        keys = _grow_vec(keys, 2 * keys.shape[0])
        st = _grow_rows(st, 2 * st.shape[0])
        slots, cap_bits = _rehash1(keys, slots, cap_bits, n)
    return keys[:n], st[:n], slots, cap_bits


@njit(cache=True, inline="always")
def _better(d2, c, best_d2, best):
    """(d2, x, y, z) lexicographically smaller than the current best?"""
    if d2 < best_d2:
        return True
    if d2 > best_d2:
        return False
    for a in range(3):
        if c[a] < best[a]:
            return True
        if c[a] > best[a]:
            return False
    return False


@njit(cache=True)
def stats_pass2(view, perm, keys, slots, cap_bits, centroid):
    """Per dense label: the voxel closest to ``centroid[d]`` (view axes), ties by smallest (x, y, z).

    Returns ``rep int64[n, 3]`` in view axes.
    """
    n0, n1, n2 = view.shape
    n = keys.shape[0]
    rep = np.full((n, 3), -1, np.int64)
    best_d2 = np.full(n, np.inf)
    c = np.empty(3, np.int64)
    b = np.empty(3, np.int64)
    last_key = np.uint64(0)
    last_d = -1
    for i in range(n0):
        for j in range(n1):
            row = view[i, j]
            k = 0
            while k < n2:
                lab = row[k]
                start = k
                k += 1
                while k < n2 and row[k] == lab:
                    k += 1
                if lab == 0:
                    continue
                key = np.uint64(lab)
                if last_d >= 0 and key == last_key:
                    d = last_d
                else:
                    d = _find1(keys, slots, cap_bits, key)
                    last_key = key
                    last_d = d
                # nearest integer in [start, k-1] to the centroid's fast coordinate (half -> down)
                t = np.int64(np.ceil(centroid[d, 2] - 0.5))
                if t < start:
                    t = start
                elif t > k - 1:
                    t = k - 1
                d0 = i - centroid[d, 0]
                d1 = j - centroid[d, 1]
                dd = t - centroid[d, 2]
                d2 = d0 * d0 + d1 * d1 + dd * dd
                if d2 <= best_d2[d]:
                    c[perm[0]] = i
                    c[perm[1]] = j
                    c[perm[2]] = t
                    b[perm[0]] = rep[d, 0]
                    b[perm[1]] = rep[d, 1]
                    b[perm[2]] = rep[d, 2]
                    if rep[d, 0] < 0 or _better(d2, c, best_d2[d], b):
                        best_d2[d] = d2
                        rep[d, 0] = i
                        rep[d, 1] = j
                        rep[d, 2] = t
    return rep


@njit(cache=True, inline="always")
def _add_pair(ka, kb, cnt, slots, cap_bits, n, pa, pb, c):
    """Add ``c`` to the count of pair (pa, pb); returns (dense index, new n).  Capacity checked by caller."""
    d = _find2(ka, kb, slots, cap_bits, pa, pb)
    if d < 0:
        slots[-d - 1] = n
        d = n
        ka[d] = pa
        kb[d] = pb
        cnt[d] = 0
        n += 1
    cnt[d] += c
    return d, n


@njit(cache=True)
def _new_pair_table(min_free):
    cap_bits = 12
    while (np.int64(1) << (cap_bits - 2)) < 2 * min_free:
        cap_bits += 1
    slots = np.full(np.int64(1) << cap_bits, -1, np.int64)
    ka = np.empty(np.int64(1) << (cap_bits - 1), np.uint64)
    kb = np.empty(np.int64(1) << (cap_bits - 1), np.uint64)
    cnt = np.empty(np.int64(1) << (cap_bits - 1), np.int64)
    return ka, kb, cnt, slots, cap_bits


@njit(cache=True)
def _overlap_rows(view_a, view_b, ka, kb, cnt, slots, cap_bits, n, i0, j0):
    n0, n1, n2 = view_a.shape
    cap = ka.shape[0]
    j_start = j0
    for i in range(i0, n0):
        for j in range(j_start, n1):
            if n + n2 > cap or 2 * (n + n2) > slots.shape[0]:
                return n, i, j
            ra = view_a[i, j]
            rb = view_b[i, j]
            k = 0
            while k < n2:
                a = ra[k]
                if a == 0:
                    k += 1
                    continue
                bb = rb[k]
                start = k
                k += 1
                while k < n2 and ra[k] == a and rb[k] == bb:
                    k += 1
                if bb == 0:
                    continue
                d, n = _add_pair(ka, kb, cnt, slots, cap_bits, n, np.uint64(a), np.uint64(bb),
                                 k - start)
        j_start = 0
    return n, n0, 0


@njit(cache=True)
def overlap_kernel(view_a, view_b):
    """Count co-located non-zero label pairs ``(a, b)``; returns ``(a uint64[m], b uint64[m], n int64[m])``."""
    n0, n1, n2 = view_a.shape
    ka, kb, cnt, slots, cap_bits = _new_pair_table(n2)
    n = 0
    i = 0
    j = 0
    while True:
        n, i, j = _overlap_rows(view_a, view_b, ka, kb, cnt, slots, cap_bits, n, i, j)
        if i >= n0:
            break
        ka = _grow_vec(ka, 2 * ka.shape[0])
        kb = _grow_vec(kb, 2 * kb.shape[0])
        cnt = _grow_vec(cnt, 2 * cnt.shape[0])
        slots, cap_bits = _rehash2(ka, kb, cap_bits, n)
    return ka[:n], kb[:n], cnt[:n]


# --------------------------------------------------------------------------------------------
# region adjacency graph
# --------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _scan(view, i, j, k, di, dj, dk, steps, a):
    """First non-zero label at (i,j,k) + s*(di,dj,dk), 1 <= s <= steps, inside the array; ``a`` if none."""
    n0, n1, n2 = view.shape
    for s in range(1, steps + 1):
        ii = i + s * di
        jj = j + s * dj
        kk = k + s * dk
        if ii >= n0 or jj >= n1 or kk >= n2:
            return a
        v = view[ii, jj, kk]
        if v != 0:
            return v
    return a


@njit(cache=True)
def _rag_rows(view, core, gap, ka, kb, cnt, slots, cap_bits, n, i0, j0):
    n0, n1, n2 = view.shape
    c0, c1, c2 = core[0], core[1], core[2]
    cap = ka.shape[0]
    # one "last pair" cache per axis: along a run the neighbour pair rarely changes
    last_a = np.zeros(3, np.uint64)
    last_b = np.zeros(3, np.uint64)
    last_d = np.full(3, -1, np.int64)
    j_start = j0
    for i in range(i0, c0):
        for j in range(j_start, c1):
            if n + 3 * c2 > cap or 2 * (n + 3 * c2) > slots.shape[0]:
                return n, i, j
            row = view[i, j]
            has_j = j + 1 < n1
            has_i = i + 1 < n0
            row_j = view[i, j + 1] if has_j else row
            row_i = view[i + 1, j] if has_i else row
            k = 0
            while k < c2:
                a = row[k]
                start = k
                k += 1
                while k < c2 and row[k] == a:
                    k += 1
                if a == 0:
                    continue
                # voxels start..k-1 carry label a; k-1 is the run's last voxel inside the core
                for m in range(start, k + 1):
                    for ax in range(3):
                        if ax == 2:
                            # along the fast axis only the run's last voxel has a different neighbour
                            if m != k - 1 or m + 1 >= n2:
                                continue
                            other = row[m + 1]
                            if other == 0:
                                other = _scan(view, i, j, m + 1, 0, 0, 1, gap[2], a)
                        elif m == k:
                            continue
                        elif ax == 1:
                            if not has_j:
                                continue
                            other = row_j[m]
                            if other == a:
                                continue
                            if other == 0:
                                other = _scan(view, i, j + 1, m, 0, 1, 0, gap[1], a)
                        else:
                            if not has_i:
                                continue
                            other = row_i[m]
                            if other == a:
                                continue
                            if other == 0:
                                other = _scan(view, i + 1, j, m, 1, 0, 0, gap[0], a)
                        if other == a:
                            continue
                        pa = np.uint64(a)
                        pb = np.uint64(other)
                        if pb < pa:
                            pa, pb = pb, pa
                        if last_d[ax] >= 0 and pa == last_a[ax] and pb == last_b[ax]:
                            cnt[last_d[ax]] += 1
                            continue
                        d, n = _add_pair(ka, kb, cnt, slots, cap_bits, n, pa, pb, 1)
                        last_d[ax] = d
                        last_a[ax] = pa
                        last_b[ax] = pb
        j_start = 0
    return n, c0, 0


@njit(cache=True)
def rag_kernel(view, core, gap):
    """Count voxel pairs ``(v, v + s*e_ax)``, ``1 <= s <= gap[ax] + 1``, labels a != b both non-zero,
    only background strictly between, ``v`` inside ``core`` (view axes).  Pair key is (min, max).
    """
    ka, kb, cnt, slots, cap_bits = _new_pair_table(3 * max(core[2], 1))
    n = 0
    i = 0
    j = 0
    while True:
        n, i, j = _rag_rows(view, core, gap, ka, kb, cnt, slots, cap_bits, n, i, j)
        if i >= core[0]:
            break
        ka = _grow_vec(ka, 2 * ka.shape[0])
        kb = _grow_vec(kb, 2 * kb.shape[0])
        cnt = _grow_vec(cnt, 2 * cnt.shape[0])
        slots, cap_bits = _rehash2(ka, kb, cap_bits, n)
    return ka[:n], kb[:n], cnt[:n]


# --------------------------------------------------------------------------------------------
# stitching: first voxel of every label in raster order
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _first_rows(view, perm, keys, best, slots, cap_bits, n, i0, j0):
    n0, n1, n2 = view.shape
    cap = keys.shape[0]
    c = np.empty(3, np.int64)
    last_key = np.uint64(0)
    last_d = -1
    j_start = j0
    for i in range(i0, n0):
        for j in range(j_start, n1):
            if n + n2 > cap or 2 * (n + n2) > slots.shape[0]:
                return n, i, j
            row = view[i, j]
            k = 0
            while k < n2:
                lab = row[k]
                start = k
                k += 1
                while k < n2 and row[k] == lab:
                    k += 1
                if lab == 0:
                    continue
                key = np.uint64(lab)
                c[perm[0]] = i
                c[perm[1]] = j
                c[perm[2]] = start  # the run start is its smallest voxel in any raster order
                if last_d >= 0 and key == last_key:
                    d = last_d
                else:
                    d = _find1(keys, slots, cap_bits, key)
                    if d < 0:
                        slots[-d - 1] = n
                        d = n
                        keys[d] = key
                        best[d, 0] = c[2]
                        best[d, 1] = c[1]
                        best[d, 2] = c[0]
                        n += 1
                    last_key = key
                    last_d = d
                b = best[d]
                if (c[2] < b[0]) or (c[2] == b[0] and (
                        c[1] < b[1] or (c[1] == b[1] and c[0] < b[2]))):
                    b[0] = c[2]
                    b[1] = c[1]
                    b[2] = c[0]
        j_start = 0
    return n, n0, 0


@njit(cache=True)
def first_voxel_kernel(view, perm):
    """Per label the voxel smallest in raster order (z, then y, then x); returns ids and (z, y, x)."""
    n0, n1, n2 = view.shape
    cap_bits = 12
    while (np.int64(1) << (cap_bits - 2)) < 4 * n2:
        cap_bits += 1
    slots = np.full(np.int64(1) << cap_bits, -1, np.int64)
    keys = np.empty(np.int64(1) << (cap_bits - 1), np.uint64)
    best = np.empty((np.int64(1) << (cap_bits - 1), 3), np.int64)
    n = 0
    i = 0
    j = 0
    while True:
        n, i, j = _first_rows(view, perm, keys, best, slots, cap_bits, n, i, j)
        if i >= n0:
            break
        keys = _grow_vec(keys, 2 * keys.shape[0])
        best = _grow_rows(best, 2 * best.shape[0])
        slots, cap_bits = _rehash1(keys, slots, cap_bits, n)
    return keys[:n], best[:n]

