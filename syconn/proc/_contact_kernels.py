"""Numba kernels behind :mod:`syconn.proc.contacts`.

Private: the thin wrappers in ``contacts.py`` validate input, fix dtype and memory order
(Fortran order, so ``x`` is the contiguous axis) and call these.  All kernels are
single-threaded (``parallel=False``): the tasks parallelise over blocks.

Bit-packed morphology: a binary crop of shape ``(nx, ny, nz)`` is stored as ``uint64`` words of
shape ``(ceil(nx / 64), ny, nz)``, bit ``b`` of word ``w`` being voxel ``x = 64 * w + b``.  A
symmetric structuring element is a list of rows ``(dy, dz, dx_max)``: the row covers
``dx in [-dx_max, dx_max]`` at offset ``(dy, dz)``.  Outside the crop is 0 (as scipy's
``border_value=0``).

Performance notes (256^3 core of dense tissue, one core; see ``benchmarks/kernels_contacts.py``):
the partner search reuses window histograms (see :func:`find_partners`) and walks the region in
columns so its stores stay in cache; output arrays are sized by a counting pass instead of
being grown inside the hot loop (a loop that may reassign an array ran ~10x slower here);
per-pair statistics work on runs of equal labels and find sj voxels from the set bits of the
sj words; the sj morphology does the x-extent once per word row.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_U64_ONE = np.uint64(1)
_U64_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


# ---------------------------------------------------------------------------------------------
# partner search
# ---------------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def run_lengths_x(seg):
    """Length of the run of equal labels starting at each voxel and going +x (capped at 255)."""
    nx, ny, nz = seg.shape
    run = np.empty((nz, ny, nx), dtype=np.uint8).T  # Fortran order
    for z in range(nz):
        for y in range(ny):
            s = 0
            while s < nx:
                v = seg[s, y, z]
                e = s + 1
                while e < nx and seg[e, y, z] == v:
                    e += 1
                for x in range(s, e):
                    run[x, y, z] = min(e - x, 255)
                s = e
    return run


@njit(cache=True, nogil=True)
def run_lengths_y(seg):
    """Length of the run of equal labels starting at each voxel and going +y (capped at 255)."""
    nx, ny, nz = seg.shape
    run = np.empty((nz, ny, nx), dtype=np.uint8).T  # Fortran order
    for z in range(nz):
        for x in range(nx):
            run[x, ny - 1, z] = 1
        for y in range(ny - 2, -1, -1):
            for x in range(nx):
                if seg[x, y, z] == seg[x, y + 1, z] and run[x, y + 1, z] < 255:
                    run[x, y, z] = run[x, y + 1, z] + 1
                else:
                    run[x, y, z] = 1
    return run


@njit(cache=True, nogil=True)
def _hist_add(hl, hc, nd, lab, m):
    k = 0
    while k < nd:
        if hl[k] == lab:
            hc[k] += m
            return nd
        k += 1
    hl[nd] = lab
    hc[nd] = m
    return nd + 1


@njit(cache=True, nogil=True)
def _slab(seg, runy, hl, hc, nd, xs, y, z, hy, hz, sign):
    """Add (sign=1) or remove (sign=-1) the yz-slab at ``x = xs`` of the window at (y, z)."""
    ye = y + hy + 1
    for zz in range(z - hz, z + hz + 1):
        yy = y - hy
        while yy < ye:
            lab = seg[xs, yy, zz]
            m = np.int64(runy[xs, yy, zz])
            if yy + m > ye:
                m = ye - yy
            if lab != 0:
                nd = _hist_add(hl, hc, nd, lab, sign * m)
            yy += m
    return nd


@njit(cache=True, nogil=True)
def _xslab(seg, runx, hl, hc, nd, x, ys, z, hx, hz, sign):
    """Add (sign=1) or remove (sign=-1) the xz-slab at ``y = ys`` of the window at (x, z)."""
    xe = x + hx + 1
    for zz in range(z - hz, z + hz + 1):
        xx = x - hx
        while xx < xe:
            lab = seg[xx, ys, zz]
            m = np.int64(runx[xx, ys, zz])
            if xx + m > xe:
                m = xe - xx
            if lab != 0:
                nd = _hist_add(hl, hc, nd, lab, sign * m)
            xx += m
    return nd


@njit(cache=True, nogil=True)
def _zslab(seg, runx, hl, hc, nd, x, y, zs, hx, hy, sign):
    """Add (sign=1) or remove (sign=-1) the xy-slab at ``z = zs`` of the window at (x, y)."""
    xe = x + hx + 1
    for yy in range(y - hy, y + hy + 1):
        xx = x - hx
        while xx < xe:
            lab = seg[xx, yy, zs]
            m = np.int64(runx[xx, yy, zs])
            if xx + m > xe:
                m = xe - xx
            if lab != 0:
                nd = _hist_add(hl, hc, nd, lab, sign * m)
            xx += m
    return nd


@njit(cache=True, nogil=True)
def _rebuild(seg, runx, hl, hc, x, y, z, hx, hy, hz):
    """Histogram of the window at (x, y, z) from x-runs; returns its length."""
    nd = 0
    xe = x + hx + 1
    for zz in range(z - hz, z + hz + 1):
        for yy in range(y - hy, y + hy + 1):
            xx = x - hx
            while xx < xe:
                lab = seg[xx, yy, zz]
                m = np.int64(runx[xx, yy, zz])
                if xx + m > xe:
                    m = xe - xx
                if lab != 0:
                    nd = _hist_add(hl, hc, nd, lab, m)
                xx += m
    return nd


@njit(cache=True, nogil=True)
def _grown(a, n, cap):
    b = np.empty(cap, a.dtype)
    b[:n] = a[:n]
    return b


_STORE_CAP = 8
# find_partners walks the region in columns of this many x, y voxels (stores stay in cache)
_TILE_X = 96
_TILE_Y = 48


@njit(cache=True, nogil=True)
def _partners_tile(seg, runx, runy, hx, hy, hz, tx0, tx1, ty0, ty1, z0, z1, hl, hc, yl, yc, yn,
                   yat, zl, zc, zn, zat, xs, ys, zs, own, par, n):
    """:func:`find_partners` for the column ``[tx0:tx1, ty0:ty1, z0:z1]``; appends at ``n``.

    ``yl, yc, yn, yat`` (per x) and ``zl, zc, zn, zat`` (per x, y) are the stores of the last
    histogram of a column ((label, count) lists, length, and the y / z it was taken at).
    """
    far = -(1 << 30)
    zat[:, :] = far
    # cost of each way to the histogram, in rows of 2h+1 voxels read as runs
    c_x = 2 * (2 * hz + 1)  # per x step: two yz-slabs of 2hz+1 y-columns
    c_y = 2 * (2 * hz + 1)  # per y step: two xz-slabs of 2hz+1 x-rows
    c_z = 2 * (2 * hy + 1)  # per z step: two xy-slabs of 2hy+1 x-rows
    c_new = (2 * hy + 1) * (2 * hz + 1)
    for z in range(z0, z1):
        yat[:] = far
        for y in range(ty0, ty1):
            cur = far
            nd = 0
            cy = y - ty0
            for x in range(tx0, tx1):
                c = seg[x, y, z]
                if c == 0:
                    continue
                if (seg[x - 1, y, z] == c and seg[x + 1, y, z] == c and seg[x, y - 1, z] == c
                        and seg[x, y + 1, z] == c and seg[x, y, z - 1] == c
                        and seg[x, y, z + 1] == c):
                    continue
                cx = x - tx0
                cost_x = (x - cur) * c_x
                cost_y = (y - yat[cx]) * c_y
                cost_z = (z - zat[cx, cy]) * c_z
                if cost_x < cost_y and cost_x <= cost_z and cost_x < c_new:
                    for s in range(cur + 1, x + 1):
                        nd = _slab(seg, runy, hl, hc, nd, s - hx - 1, y, z, hy, hz, -1)
                        nd = _slab(seg, runy, hl, hc, nd, s + hx, y, z, hy, hz, 1)
                elif cost_y <= cost_z and cost_y < c_new:
                    nd = yn[cx]
                    for k in range(nd):
                        hl[k] = yl[cx, k]
                        hc[k] = yc[cx, k]
                    for t in range(yat[cx] + 1, y + 1):
                        nd = _xslab(seg, runx, hl, hc, nd, x, t - hy - 1, z, hx, hz, -1)
                        nd = _xslab(seg, runx, hl, hc, nd, x, t + hy, z, hx, hz, 1)
                elif cost_z < c_new:
                    nd = zn[cx, cy]
                    for k in range(nd):
                        hl[k] = zl[cx, cy, k]
                        hc[k] = zc[cx, cy, k]
                    for t in range(zat[cx, cy] + 1, z + 1):
                        nd = _zslab(seg, runx, hl, hc, nd, x, y, t - hz - 1, hx, hy, -1)
                        nd = _zslab(seg, runx, hl, hc, nd, x, y, t + hz, hx, hy, 1)
                else:
                    nd = _rebuild(seg, runx, hl, hc, x, y, z, hx, hy, hz)
                cur = x
                # compact (moves leave zero counts behind), then store for later rows / planes
                k2 = 0
                best = -1
                for k in range(nd):
                    if hc[k] > 0:
                        hl[k2] = hl[k]
                        hc[k2] = hc[k]
                        if hl[k2] != c and (best < 0 or hc[k2] > hc[best]
                                            or (hc[k2] == hc[best] and hl[k2] < hl[best])):
                            best = k2
                        k2 += 1
                nd = k2
                if nd <= _STORE_CAP:
                    for k in range(nd):
                        yl[cx, k] = hl[k]
                        yc[cx, k] = hc[k]
                        zl[cx, cy, k] = hl[k]
                        zc[cx, cy, k] = hc[k]
                    yn[cx] = nd
                    yat[cx] = y
                    zn[cx, cy] = nd
                    zat[cx, cy] = z
                else:
                    yat[cx] = far
                    zat[cx, cy] = far
                if best < 0:
                    continue
                xs[n] = x
                ys[n] = y
                zs[n] = z
                own[n] = c
                par[n] = hl[best]
                n += 1
    return n


@njit(cache=True, nogil=True)
def find_partners(seg, runx, runy, hx, hy, hz, x0, x1, y0, y1, z0, z1):
    """Boundary voxels in ``[x0:x1, y0:y1, z0:z1]`` and their most frequent other label.

    A boundary voxel is non-zero and has a 6-neighbour with another label (0 included).  Its
    partner is the most frequent label other than 0 and its own within the window
    ``[x-hx, x+hx] x [y-hy, y+hy] x [z-hz, z+hz]``; ties go to the smaller label.  The region must
    lie at least ``max(h, 1)`` voxels inside the array on every side.

    Window histograms (all non-zero labels, as short (label, count) lists) are rarely built from
    scratch: the histogram of the previous boundary voxel of the row is slid along x (per step
    one yz-slab out and one in, read as y-runs), or the last histogram of the same x column in
    an earlier row of this z-plane is moved along y, or that of the same (x, y) column in an
    earlier plane along z (slabs read as x-runs) -- whichever reads the fewest rows; only when
    none is cheaper than a rebuild is the histogram built from x-runs.  Counts are exact either
    way.  The region is walked in columns of ``_TILE_X x _TILE_Y`` voxels (all z, then y, then
    x inside each) so that the stored histograms of a column stay in cache.

    Returns ``(xs, ys, zs, own, partner)`` for boundary voxels with a partner, ordered by tile
    column, then z, y, x (callers treat them as a set).
    """
    # outputs grow between tiles only (by at most a tile's voxels each), never in the hot loop
    tile_vx = _TILE_X * _TILE_Y * max(z1 - z0, 0)
    cap = 2 * tile_vx
    xs = np.empty(cap, np.int32)
    ys = np.empty(cap, np.int32)
    zs = np.empty(cap, np.int32)
    own = np.empty(cap, seg.dtype)
    par = np.empty(cap, seg.dtype)
    n = 0
    wn = (2 * hx + 1) * (2 * hy + 1) * (2 * hz + 1) + 1
    hl = np.empty(wn, seg.dtype)
    hc = np.empty(wn, np.int64)
    # the last histogram of each x column in this z-plane (y-store) and of each (x, y)
    # column in earlier planes (z-store)
    ncx = min(x1 - x0, _TILE_X)
    ncy = min(y1 - y0, _TILE_Y)
    yl = np.empty((ncx, _STORE_CAP), seg.dtype)
    yc = np.empty((ncx, _STORE_CAP), np.int64)
    yn = np.zeros(ncx, np.int64)
    yat = np.empty(ncx, np.int64)
    zl = np.empty((ncx, ncy, _STORE_CAP), seg.dtype)
    zc = np.empty((ncx, ncy, _STORE_CAP), np.int32)
    zn = np.zeros((ncx, ncy), np.int64)
    zat = np.empty((ncx, ncy), np.int64)
    for tx0 in range(x0, x1, _TILE_X):
        for ty0 in range(y0, y1, _TILE_Y):
            if cap - n < tile_vx:
                cap = 2 * cap
                xs = _grown(xs, n, cap)
                ys = _grown(ys, n, cap)
                zs = _grown(zs, n, cap)
                own = _grown(own, n, cap)
                par = _grown(par, n, cap)
            n = _partners_tile(seg, runx, runy, hx, hy, hz, tx0, min(tx0 + _TILE_X, x1), ty0,
                               min(ty0 + _TILE_Y, y1), z0, z1, hl, hc, yl, yc, yn, yat, zl, zc,
                               zn, zat, xs, ys, zs, own, par, n)
    return xs[:n], ys[:n], zs[:n], own[:n], par[:n]


# ---------------------------------------------------------------------------------------------
# pairs
# ---------------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def _mix(a, b):
    h = np.uint64(a) * np.uint64(0x9E3779B97F4A7C15)
    h ^= np.uint64(b) + np.uint64(0x632BE59BD9B4E019) + (h << np.uint64(6)) + (h >> np.uint64(2))
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    return h


@njit(cache=True, nogil=True)
def index_pairs(own, par):
    """Unordered pair of each voxel -> dense index in order of first occurrence.

    Returns ``(idx int32[n], key_a, key_b)`` with ``key_a < key_b``.
    """
    n = own.shape[0]
    size = 64
    while size < 4 * 1024 or size < n // 4:
        size *= 2
    # grow on demand: the number of pairs is far smaller than n
    tab = np.full(size, -1, np.int64)
    ka = np.empty(1024, own.dtype)
    kb = np.empty(1024, own.dtype)
    npairs = 0
    idx = np.empty(n, np.int32)
    mask = np.uint64(size - 1)
    for i in range(n):
        a = own[i]
        b = par[i]
        if b < a:
            a, b = b, a
        h = _mix(a, b) & mask
        while True:
            j = tab[h]
            if j < 0:
                if npairs == ka.shape[0]:
                    ka2 = np.empty(2 * npairs, own.dtype)
                    ka2[:npairs] = ka
                    ka = ka2
                    kb2 = np.empty(2 * npairs, own.dtype)
                    kb2[:npairs] = kb
                    kb = kb2
                ka[npairs] = a
                kb[npairs] = b
                tab[h] = npairs
                idx[i] = npairs
                npairs += 1
                if 2 * npairs > size:  # rehash
                    size *= 2
                    mask = np.uint64(size - 1)
                    tab = np.full(size, -1, np.int64)
                    for p in range(npairs):
                        hh = _mix(ka[p], kb[p]) & mask
                        while tab[hh] >= 0:
                            hh = (hh + _U64_ONE) & mask
                        tab[hh] = p
                break
            if ka[j] == a and kb[j] == b:
                idx[i] = j
                break
            h = (h + _U64_ONE) & mask
    return idx, ka[:npairs], kb[:npairs]


@njit(cache=True, nogil=True)
def group_by_pair(idx, npairs):
    """Counting sort: ``(order, starts)`` so that ``order[starts[p]:starts[p+1]]`` is pair p."""
    counts = np.zeros(npairs + 1, np.int64)
    for i in range(idx.shape[0]):
        counts[idx[i] + 1] += 1
    for p in range(npairs):
        counts[p + 1] += counts[p]
    starts = counts.copy()
    pos = counts[:-1].copy()
    order = np.empty(idx.shape[0], np.int64)
    for i in range(idx.shape[0]):
        p = idx[i]
        order[pos[p]] = i
        pos[p] += 1
    return order, starts


# ---------------------------------------------------------------------------------------------
# bit-packed morphology
# ---------------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def morph_step(src, dst, rows, erode, last_mask):
    """One dilation (``erode=False``) or erosion of ``src`` into ``dst`` by a symmetric struct.

    The x-extents are done once per source row (``xd[k]`` = ``src`` dilated / eroded by
    ``[-k, k]`` along x), then every struct row reads one word of ``xd[dx_max]``.
    """
    nw, ny, nz = src.shape
    nr = rows.shape[0]
    kmax = 0
    for r in range(nr):
        kmax = max(kmax, rows[r, 2])
    if kmax > 63:
        raise ValueError("morph_step: struct rows reach more than 63 voxels along x")
    xd = np.empty((kmax + 1, nw, ny, nz), np.uint64)
    zero = np.uint64(0)
    for w in range(nw):
        for y in range(ny):
            for z in range(nz):  # the contiguous axis of the C-ordered words
                v = src[w, y, z]
                lo = src[w - 1, y, z] if w > 0 else zero  # the words holding x - 64, x + 64
                hi = src[w + 1, y, z] if w + 1 < nw else zero
                acc = v
                xd[0, w, y, z] = acc
                for k in range(1, kmax + 1):
                    a = (v >> np.uint64(k)) | (hi << np.uint64(64 - k))  # bit x: x + k
                    b = (v << np.uint64(k)) | (lo >> np.uint64(64 - k))  # bit x: x - k
                    if erode:
                        acc &= a & b
                    else:
                        acc |= a | b
                    xd[k, w, y, z] = acc
    for w in range(nw):
        for y in range(ny):
            for z in range(nz):
                if erode:
                    acc = _U64_ALL
                else:
                    acc = np.uint64(0)
                for r in range(nr):
                    yy = y + rows[r, 0]
                    zz = z + rows[r, 1]
                    if yy < 0 or yy >= ny or zz < 0 or zz >= nz:
                        if erode:
                            acc = np.uint64(0)
                            break
                        continue
                    if erode:
                        acc &= xd[rows[r, 2], w, yy, zz]
                    else:
                        acc |= xd[rows[r, 2], w, yy, zz]
                if w == nw - 1:
                    acc &= last_mask
                dst[w, y, z] = acc


@njit(cache=True, nogil=True)
def morph_sequence(buf, rows, steps, last_mask):
    """Apply a sequence of steps (``True`` = erosion) to ``buf``; returns the result array."""
    other = np.empty_like(buf)
    a = buf
    b = other
    for i in range(steps.shape[0]):
        morph_step(a, b, rows, steps[i], last_mask)
        a, b = b, a
    return a


@njit(cache=True, nogil=True)
def _last_mask(nx):
    rem = nx % 64
    if rem == 0:
        return _U64_ALL
    return (_U64_ONE << np.uint64(rem)) - _U64_ONE


@njit(cache=True, nogil=True)
def threshold_pack(prob, thr, x0, x1, y0, y1, z0, z1):
    """Bit-pack ``prob[x0:x1, y0:y1, z0:z1] > thr``; indices outside the array read as 0."""
    nx = x1 - x0
    ny = y1 - y0
    nz = z1 - z0
    nw = (nx + 63) // 64
    out = np.zeros((nw, ny, nz), np.uint64)
    sx, sy, sz = prob.shape
    for z in range(nz):
        gz = z + z0
        if gz < 0 or gz >= sz:
            continue
        for y in range(ny):
            gy = y + y0
            if gy < 0 or gy >= sy:
                continue
            for x in range(nx):
                gx = x + x0
                if gx < 0 or gx >= sx:
                    continue
                if prob[gx, gy, gz] > thr:
                    out[x >> 6, y, z] |= _U64_ONE << np.uint64(x & 63)
    return out


@njit(cache=True, nogil=True)
def cross_step(a, b, erode):
    """One dilation/erosion by the 6-connected cross of padded words ``a`` into ``b``.

    ``a`` and ``b`` have one zero word/row/plane of padding on each side, which stays zero.
    """
    nw2, ny2, nz2 = a.shape
    s1 = np.uint64(1)
    s63 = np.uint64(63)
    if erode:
        for w in range(1, nw2 - 1):
            for y in range(1, ny2 - 1):
                for z in range(1, nz2 - 1):
                    v = a[w, y, z]
                    if v == 0:
                        b[w, y, z] = 0
                        continue
                    v &= (v << s1) | (a[w - 1, y, z] >> s63)
                    v &= (a[w, y, z] >> s1) | (a[w + 1, y, z] << s63)
                    v &= a[w, y - 1, z] & a[w, y + 1, z] & a[w, y, z - 1] & a[w, y, z + 1]
                    b[w, y, z] = v
    else:
        for w in range(1, nw2 - 1):
            for y in range(1, ny2 - 1):
                for z in range(1, nz2 - 1):
                    v = a[w, y, z]
                    b[w, y, z] = (v | (v << s1) | (a[w - 1, y, z] >> s63) | (v >> s1)
                                  | (a[w + 1, y, z] << s63) | a[w, y - 1, z] | a[w, y + 1, z]
                                  | a[w, y, z - 1] | a[w, y, z + 1])


@njit(cache=True, nogil=True)
def close_dilate_pairs(xs, ys, zs, order, starts, n_close, n_dil, cx0, cx1, cy0, cy1,
                       cz0, cz1):
    """Per pair: closing (``n_close`` cross steps each way) then dilation (``n_dil``).

    Pairs are processed in index order; a voxel keeps its original pair, otherwise it takes the
    first (smallest) pair whose closed+dilated mask covers it.  Only the core
    ``[cx0:cx1, cy0:cy1, cz0:cz1]`` (array coordinates) is written.

    Returns ``lab`` of the core shape (Fortran order), 0 = no contact, ``p + 1`` = pair ``p``.
    """
    lab = np.zeros((cz1 - cz0, cy1 - cy0, cx1 - cx0), np.int32).T
    npairs = starts.shape[0] - 1
    for p in range(npairs):
        for j in range(starts[p], starts[p + 1]):
            i = order[j]
            x = xs[i]
            y = ys[i]
            z = zs[i]
            if cx0 <= x < cx1 and cy0 <= y < cy1 and cz0 <= z < cz1:
                lab[x - cx0, y - cy0, z - cz0] = p + 1
    m = n_close + n_dil
    for p in range(npairs):
        s0 = starts[p]
        s1 = starts[p + 1]
        bx0 = 1 << 30
        by0 = 1 << 30
        bz0 = 1 << 30
        bx1 = -(1 << 30)
        by1 = -(1 << 30)
        bz1 = -(1 << 30)
        for j in range(s0, s1):
            i = order[j]
            bx0 = min(bx0, xs[i])
            by0 = min(by0, ys[i])
            bz0 = min(bz0, zs[i])
            bx1 = max(bx1, xs[i] + 1)
            by1 = max(by1, ys[i] + 1)
            bz1 = max(bz1, zs[i] + 1)
        # the result lies within bbox +- n_dil: skip pairs that cannot reach the core
        if (bx1 + n_dil <= cx0 or bx0 - n_dil >= cx1 or by1 + n_dil <= cy0
                or by0 - n_dil >= cy1 or bz1 + n_dil <= cz0 or bz0 - n_dil >= cz1):
            continue
        ox = bx0 - m
        oy = by0 - m
        oz = bz0 - m
        nx = bx1 - bx0 + 2 * m
        ny = by1 - by0 + 2 * m
        nz = bz1 - bz0 + 2 * m
        nw = (nx + 63) // 64
        # one zero word / row / plane of padding on every side: no bounds checks in the steps
        a = np.zeros((nw + 2, ny + 2, nz + 2), np.uint64)
        b = np.zeros((nw + 2, ny + 2, nz + 2), np.uint64)
        for j in range(s0, s1):
            i = order[j]
            x = xs[i] - ox
            a[(x >> 6) + 1, ys[i] - oy + 1, zs[i] - oz + 1] |= _U64_ONE << np.uint64(x & 63)
        for _ in range(n_close):
            cross_step(a, b, False)
            a, b = b, a
        for _ in range(n_close):
            cross_step(a, b, True)
            a, b = b, a
        for _ in range(n_dil):
            cross_step(a, b, False)
            a, b = b, a
        for z in range(nz):
            gz = z + oz
            if gz < cz0 or gz >= cz1:
                continue
            for y in range(ny):
                gy = y + oy
                if gy < cy0 or gy >= cy1:
                    continue
                for w in range(nw):
                    word = a[w + 1, y + 1, z + 1]
                    if word == 0:
                        continue
                    for bit in range(64):
                        if (word >> np.uint64(bit)) & _U64_ONE:
                            gx = ox + 64 * w + bit
                            if cx0 <= gx < cx1:
                                if lab[gx - cx0, gy - cy0, gz - cz0] == 0:
                                    lab[gx - cx0, gy - cy0, gz - cz0] = p + 1
    return lab


# ---------------------------------------------------------------------------------------------
# per-pair statistics and synapse-fragment voxels
# ---------------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def contact_stats(lab, npairs, sjbits, sjoff, sym, asym, symthr, has_sym, has_asym, cx0, cy0,
                  cz0):
    """Statistics of the core label array and its synapse-fragment voxels.

    ``sjbits`` is the bit-packed sj mask whose voxel (0, 0, 0) is core voxel ``-sjoff``;
    ``sym``/``asym`` are indexed in array coordinates (core voxel + ``(cx0, cy0, cz0)``).
    Coordinates returned are core coordinates; synapse-fragment voxels in raster order.
    """
    nx, ny, nz = lab.shape
    nvx = np.zeros(npairs, np.int64)
    nsj = np.zeros(npairs, np.int64)
    sums = np.zeros((npairs, 3), np.int64)
    bmin = np.full((npairs, 3), 1 << 40, np.int64)
    bmax = np.full((npairs, 3), -(1 << 40), np.int64)
    ox, oy, oz = sjoff
    # pass 1: runs of equal labels along x, per-pair sums and bboxes once per run
    for z in range(nz):
        for y in range(ny):
            x = 0
            while x < nx:
                v = lab[x, y, z]
                if v == 0:
                    x += 1
                    continue
                xe = x + 1
                while xe < nx and lab[xe, y, z] == v:
                    xe += 1
                p = np.int64(v) - 1
                ln = xe - x
                nvx[p] += ln
                sums[p, 0] += (x + xe - 1) * ln // 2
                sums[p, 1] += y * ln
                sums[p, 2] += z * ln
                if x < bmin[p, 0]:
                    bmin[p, 0] = x
                if y < bmin[p, 1]:
                    bmin[p, 1] = y
                if z < bmin[p, 2]:
                    bmin[p, 2] = z
                if xe > bmax[p, 0]:
                    bmax[p, 0] = xe
                if y + 1 > bmax[p, 1]:
                    bmax[p, 1] = y + 1
                if z + 1 > bmax[p, 2]:
                    bmax[p, 2] = z + 1
                x = xe
    # pass 2: contact voxels in the sj mask, found from the set bits of the sj words
    ns = 0
    for z in range(nz):
        for y in range(ny):
            for w in range(ox >> 6, ((nx - 1 + ox) >> 6) + 1):
                if sjbits[w, y + oy, z + oz] != 0:
                    for bit in range(64):
                        xx = 64 * w + bit - ox
                        if 0 <= xx < nx and lab[xx, y, z] != 0 and (
                                sjbits[w, y + oy, z + oz] >> np.uint64(bit)) & _U64_ONE:
                            ns += 1
    sx = np.empty(ns, np.int32)
    sy = np.empty(ns, np.int32)
    sz = np.empty(ns, np.int32)
    sp = np.empty(ns, np.int32)
    sflag = np.empty(ns, np.uint8)
    i = 0
    for z in range(nz):
        for y in range(ny):
            for w in range(ox >> 6, ((nx - 1 + ox) >> 6) + 1):
                word = sjbits[w, y + oy, z + oz]
                if word == 0:
                    continue
                for bit in range(64):
                    xx = 64 * w + bit - ox
                    if xx < 0 or xx >= nx or not (word >> np.uint64(bit)) & _U64_ONE:
                        continue
                    v = lab[xx, y, z]
                    if v == 0:
                        continue
                    p = np.int64(v) - 1
                    nsj[p] += 1
                    flag = 0
                    if has_sym and sym[xx + cx0, y + cy0, z + cz0] >= symthr:
                        flag |= 1
                    if has_asym and asym[xx + cx0, y + cy0, z + cz0] >= symthr:
                        flag |= 2
                    sx[i] = xx
                    sy[i] = y
                    sz[i] = z
                    sp[i] = p
                    sflag[i] = flag
                    i += 1
    return nvx, nsj, sums, bmin, bmax, sx, sy, sz, sp, sflag
