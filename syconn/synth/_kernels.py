"""Numba kernels of the tissue generator.

Thin wrappers in the other modules validate dtypes and memory order; these kernels assume
C-ordered ``[x, y, z]`` arrays, float64 geometry in micrometres and voxel centres at
``(i + 0.5) * voxel_size_um``.  Every kernel that runs in parallel splits the volume into
x-slabs, so each voxel is written by exactly one thread and the result does not depend on the
number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

SOMA = 3  # compartment code of somata (see syconn.synth.types.Compartment)


@njit(cache=True, inline="always")
def _seg_dist(px, py, pz, ax, ay, az, dx, dy, dz, l2):
    """Distance of p to segment a + t d and the clamped t."""
    t = 0.0
    if l2 > 0.0:
        t = ((px - ax) * dx + (py - ay) * dy + (pz - az) * dz) / l2
        if t < 0.0:
            t = 0.0
        elif t > 1.0:
            t = 1.0
    qx = px - (ax + t * dx)
    qy = py - (ay + t * dy)
    qz = pz - (az + t * dz)
    return math.sqrt(qx * qx + qy * qy + qz * qz), t


@njit(cache=True, inline="always")
def _bbox(p0, p1, k, rmax, vs, n, axis, lo_clip, hi_clip):
    lo = min(p0[k, axis], p1[k, axis]) - rmax
    hi = max(p0[k, axis], p1[k, axis]) + rmax
    i0 = int(math.floor(lo / vs[axis] - 0.5))
    i1 = int(math.ceil(hi / vs[axis] - 0.5)) + 1
    if i0 < lo_clip:
        i0 = lo_clip
    if i1 > hi_clip:
        i1 = hi_clip
    return i0, i1


@njit(parallel=True, cache=True)
def rasterize(lab, comp, best, p0, p1, r0, r1, margin, piece, pcomp, vs, xchunk):
    """Paint tapered capsules: each voxel goes to the primitive it lies deepest in.

    ``score = distance - radius``; a voxel is claimed when ``score < margin`` (so primitives
    grow into free space by up to ``margin`` micrometres) and the score beats the best so far.
    Soma primitives split their voxels into 8 pieces by octant around the centre.
    """
    nx, ny, nz = lab.shape
    n = p0.shape[0]
    nchunks = (nx + xchunk - 1) // xchunk
    for c in prange(nchunks):
        xs = c * xchunk
        xe = min(nx, xs + xchunk)
        for k in range(n):
            rmax = max(r0[k], r1[k]) + margin[k]
            i0, i1 = _bbox(p0, p1, k, rmax, vs, nx, 0, xs, xe)
            if i0 >= i1:
                continue
            j0, j1 = _bbox(p0, p1, k, rmax, vs, ny, 1, 0, ny)
            if j0 >= j1:
                continue
            l0, l1 = _bbox(p0, p1, k, rmax, vs, nz, 2, 0, nz)
            if l0 >= l1:
                continue
            ax, ay, az = p0[k, 0], p0[k, 1], p0[k, 2]
            dx, dy, dz = p1[k, 0] - ax, p1[k, 1] - ay, p1[k, 2] - az
            l2 = dx * dx + dy * dy + dz * dz
            rk0 = r0[k]
            rdk = r1[k] - r0[k]
            mk = margin[k]
            is_soma = pcomp[k] == SOMA
            pk = piece[k]
            ck = pcomp[k]
            for i in range(i0, i1):
                px = (i + 0.5) * vs[0]
                for j in range(j0, j1):
                    py = (j + 0.5) * vs[1]
                    for l in range(l0, l1):
                        pz = (l + 0.5) * vs[2]
                        d, t = _seg_dist(px, py, pz, ax, ay, az, dx, dy, dz, l2)
                        s = d - (rk0 + t * rdk)
                        if s < mk and s < best[i, j, l]:
                            best[i, j, l] = s
                            if is_soma:
                                off = 0
                                if px > ax:
                                    off += 1
                                if py > ay:
                                    off += 2
                                if pz > az:
                                    off += 4
                                lab[i, j, l] = pk + off
                            else:
                                lab[i, j, l] = pk
                            comp[i, j, l] = ck


@njit(parallel=True, cache=True)
def paint_soft(out, p0, p1, r0, r1, value, soft, pcell, cellvol, vs, xchunk):
    """Max-combine ``value * ramp`` into a uint8 map; ramp goes 1 -> 0 across the surface.

    Where ``pcell[k] > 0`` only voxels of that cell (``cellvol``) are painted.
    """
    nx, ny, nz = out.shape
    n = p0.shape[0]
    nchunks = (nx + xchunk - 1) // xchunk
    for c in prange(nchunks):
        xs = c * xchunk
        xe = min(nx, xs + xchunk)
        for k in range(n):
            rmax = max(r0[k], r1[k]) + soft[k]
            i0, i1 = _bbox(p0, p1, k, rmax, vs, nx, 0, xs, xe)
            if i0 >= i1:
                continue
            j0, j1 = _bbox(p0, p1, k, rmax, vs, ny, 1, 0, ny)
            l0, l1 = _bbox(p0, p1, k, rmax, vs, nz, 2, 0, nz)
            if j0 >= j1 or l0 >= l1:
                continue
            ax, ay, az = p0[k, 0], p0[k, 1], p0[k, 2]
            dx, dy, dz = p1[k, 0] - ax, p1[k, 1] - ay, p1[k, 2] - az
            l2 = dx * dx + dy * dy + dz * dz
            ck = pcell[k]
            sk = soft[k]
            vk = value[k]
            for i in range(i0, i1):
                px = (i + 0.5) * vs[0]
                for j in range(j0, j1):
                    py = (j + 0.5) * vs[1]
                    for l in range(l0, l1):
                        if ck > 0 and cellvol[i, j, l] != ck:
                            continue
                        pz = (l + 0.5) * vs[2]
                        d, t = _seg_dist(px, py, pz, ax, ay, az, dx, dy, dz, l2)
                        rr = r0[k] + t * (r1[k] - r0[k])
                        f = 0.5 + (rr - d) / sk
                        if f <= 0.0:
                            continue
                        if f > 1.0:
                            f = 1.0
                        v = vk * f
                        if v > out[i, j, l]:
                            out[i, j, l] = np.uint8(v)


@njit(parallel=True, cache=True)
def paint_label(out, p0, p1, r0, r1, ids, pcell, cellvol, vs, xchunk):
    """Write ``ids[k]`` into voxels inside primitive k that belong to cell ``pcell[k]``."""
    nx, ny, nz = out.shape
    n = p0.shape[0]
    nchunks = (nx + xchunk - 1) // xchunk
    for c in prange(nchunks):
        xs = c * xchunk
        xe = min(nx, xs + xchunk)
        for k in range(n):
            rmax = max(r0[k], r1[k])
            i0, i1 = _bbox(p0, p1, k, rmax, vs, nx, 0, xs, xe)
            if i0 >= i1:
                continue
            j0, j1 = _bbox(p0, p1, k, rmax, vs, ny, 1, 0, ny)
            l0, l1 = _bbox(p0, p1, k, rmax, vs, nz, 2, 0, nz)
            if j0 >= j1 or l0 >= l1:
                continue
            ax, ay, az = p0[k, 0], p0[k, 1], p0[k, 2]
            dx, dy, dz = p1[k, 0] - ax, p1[k, 1] - ay, p1[k, 2] - az
            l2 = dx * dx + dy * dy + dz * dz
            ck = pcell[k]
            for i in range(i0, i1):
                px = (i + 0.5) * vs[0]
                for j in range(j0, j1):
                    py = (j + 0.5) * vs[1]
                    for l in range(l0, l1):
                        if cellvol[i, j, l] != ck:
                            continue
                        pz = (l + 0.5) * vs[2]
                        d, t = _seg_dist(px, py, pz, ax, ay, az, dx, dy, dz, l2)
                        if d < r0[k] + t * (r1[k] - r0[k]):
                            out[i, j, l] = ids[k]


@njit(parallel=True, cache=True)
def gap_mask(lab, piece2cell, mask, larger=True, radius=1):
    """Mark voxels with a voxel of another cell with a smaller cell index (``larger=False``:
    a larger one) within Chebyshev distance ``radius`` (1: the 26-neighbourhood)."""
    nx, ny, nz = lab.shape
    for i in prange(nx):
        for j in range(ny):
            for l in range(nz):
                a = lab[i, j, l]
                if a == 0:
                    continue
                ca = piece2cell[a]
                hit = False
                for di in range(-radius, radius + 1):
                    ii = i + di
                    if ii < 0 or ii >= nx:
                        continue
                    for dj in range(-radius, radius + 1):
                        jj = j + dj
                        if jj < 0 or jj >= ny:
                            continue
                        for dl in range(-radius, radius + 1):
                            ll = l + dl
                            if ll < 0 or ll >= nz:
                                continue
                            b = lab[ii, jj, ll]
                            if b != 0 and b != a:
                                cb = piece2cell[b]
                                if cb != ca and ((cb < ca) if larger else (cb > ca)):
                                    hit = True
                                    break
                        if hit:
                            break
                    if hit:
                        break
                if hit:
                    mask[i, j, l] = 1


@njit(cache=True)
def same_cell_pairs(sv, sv2cell):
    """Unique (a, b), a < b, of 6-adjacent supervoxels of the same cell, as an (n, 2) array."""
    nx, ny, nz = sv.shape
    seen = set()
    seen.add(np.int64(-1))
    for i in range(nx):
        for j in range(ny):
            for l in range(nz):
                a = sv[i, j, l]
                if a == 0:
                    continue
                for d in range(3):
                    ii, jj, ll = i, j, l
                    if d == 0:
                        ii += 1
                    elif d == 1:
                        jj += 1
                    else:
                        ll += 1
                    if ii >= nx or jj >= ny or ll >= nz:
                        continue
                    b = sv[ii, jj, ll]
                    if b == 0 or b == a or sv2cell[a] != sv2cell[b]:
                        continue
                    lo = min(a, b)
                    hi = max(a, b)
                    seen.add(np.int64(lo) * 4294967296 + np.int64(hi))
    seen.remove(np.int64(-1))
    out = np.empty((len(seen), 2), dtype=np.int64)
    k = 0
    for key in seen:
        out[k, 0] = key // 4294967296
        out[k, 1] = key % 4294967296
        k += 1
    return out


@njit(parallel=True, cache=True)
def membrane_base(cellvol, mito, celltone, out, x0):
    """Base EM intensity of an x-slab: cytoplasm tone, dark membranes, darker mitochondria."""
    nx, ny, nz = out.shape
    NX = cellvol.shape[0]
    for a in prange(nx):
        i = a + x0
        for j in range(ny):
            for l in range(nz):
                c = cellvol[i, j, l]
                if c == 0:
                    # thin gaps read as membrane; wider extracellular space is lighter
                    near = False
                    for di in range(-2, 3):
                        ii = i + di
                        if ii < 0 or ii >= NX:
                            continue
                        for dj in range(-2, 3):
                            jj = j + dj
                            if jj < 0 or jj >= ny or near:
                                continue
                            for dl in range(-1, 2):
                                ll = l + dl
                                if 0 <= ll < nz and cellvol[ii, jj, ll] != 0:
                                    near = True
                                    break
                    out[a, j, l] = 60.0 if near else 128.0
                    continue
                edge = False
                medge = False
                m = mito[i, j, l]
                for d in range(6):
                    ii, jj, ll = i, j, l
                    if d == 0:
                        ii -= 1
                    elif d == 1:
                        ii += 1
                    elif d == 2:
                        jj -= 1
                    elif d == 3:
                        jj += 1
                    elif d == 4:
                        ll -= 1
                    else:
                        ll += 1
                    if ii < 0 or ii >= NX or jj < 0 or jj >= ny or ll < 0 or ll >= nz:
                        continue
                    if cellvol[ii, jj, ll] != c:
                        edge = True
                    if m != 0 and mito[ii, jj, ll] != m:
                        medge = True
                if edge:
                    out[a, j, l] = 75.0
                elif m != 0:
                    out[a, j, l] = 78.0 if medge else 112.0
                else:
                    out[a, j, l] = celltone[c]


@njit(parallel=True, cache=True)
def add_smooth(out, coarse, step, amp, lo, hi):
    """out += amp * trilinear(coarse) with coarse nodes every ``step`` voxels; clip to [lo, hi]."""
    nx, ny, nz = out.shape
    cx, cy, cz = coarse.shape
    for i in prange(nx):
        fx = i / step[0]
        ix = min(int(fx), cx - 2)
        wx = fx - ix
        for j in range(ny):
            fy = j / step[1]
            iy = min(int(fy), cy - 2)
            wy = fy - iy
            for l in range(nz):
                fz = l / step[2]
                iz = min(int(fz), cz - 2)
                wz = fz - iz
                v = 0.0
                for a in range(2):
                    wa = wx if a == 1 else 1.0 - wx
                    for b in range(2):
                        wb = wy if b == 1 else 1.0 - wy
                        for g in range(2):
                            wg = wz if g == 1 else 1.0 - wz
                            v += wa * wb * wg * coarse[ix + a, iy + b, iz + g]
                x = out[i, j, l] + amp * v
                if x < lo:
                    x = lo
                elif x > hi:
                    x = hi
                out[i, j, l] = x


# ---------------------------------------------------------------- occupancy grid (geometry)


@njit(cache=True)
def grid_free(owner, stamp, lo, res, cx, cy, cz, r, own, ignore, min_stamp, r_own):
    """True when no blocking grid cell lies within r of c.

    Cells of ``ignore`` never block.  Cells of ``own`` painted before ``min_stamp`` (``stamp``
    holds the paint counter of each cell) block within ``r_own`` instead, so a growing neurite
    overlaps its own last steps but keeps a distance from older parts of its cell
    (``min_stamp = 0``: its own cell never blocks)."""
    nx, ny, nz = owner.shape
    rr = max(r, r_own)
    i0 = max(0, int(math.floor((cx - rr - lo[0]) / res)))
    i1 = min(nx, int(math.ceil((cx + rr - lo[0]) / res)) + 1)
    j0 = max(0, int(math.floor((cy - rr - lo[1]) / res)))
    j1 = min(ny, int(math.ceil((cy + rr - lo[1]) / res)) + 1)
    k0 = max(0, int(math.floor((cz - rr - lo[2]) / res)))
    k1 = min(nz, int(math.ceil((cz + rr - lo[2]) / res)) + 1)
    r2 = r * r
    ro2 = r_own * r_own
    for i in range(i0, i1):
        dx = lo[0] + (i + 0.5) * res - cx
        for j in range(j0, j1):
            dy = lo[1] + (j + 0.5) * res - cy
            for k in range(k0, k1):
                o = owner[i, j, k]
                if o < 0 or o == ignore:
                    continue
                if o == own:
                    if stamp[i, j, k] >= min_stamp:
                        continue
                    lim = ro2
                else:
                    lim = r2
                dz = lo[2] + (k + 0.5) * res - cz
                if dx * dx + dy * dy + dz * dz <= lim:
                    return False
    return True


@njit(cache=True)
def grid_paint(owner, comp, stamp, lo, res, cx, cy, cz, r, own, cval, now):
    """Claim the free grid cells within r of c, stamped with the paint counter ``now``."""
    nx, ny, nz = owner.shape
    i0 = max(0, int(math.floor((cx - r - lo[0]) / res)))
    i1 = min(nx, int(math.ceil((cx + r - lo[0]) / res)) + 1)
    j0 = max(0, int(math.floor((cy - r - lo[1]) / res)))
    j1 = min(ny, int(math.ceil((cy + r - lo[1]) / res)) + 1)
    k0 = max(0, int(math.floor((cz - r - lo[2]) / res)))
    k1 = min(nz, int(math.ceil((cz + r - lo[2]) / res)) + 1)
    r2 = r * r
    for i in range(i0, i1):
        dx = lo[0] + (i + 0.5) * res - cx
        for j in range(j0, j1):
            dy = lo[1] + (j + 0.5) * res - cy
            for k in range(k0, k1):
                if owner[i, j, k] >= 0:
                    continue
                dz = lo[2] + (k + 0.5) * res - cz
                if dx * dx + dy * dy + dz * dz <= r2:
                    owner[i, j, k] = own
                    comp[i, j, k] = cval
                    stamp[i, j, k] = now


@njit(cache=True)
def grid_nearest(owner, comp, lo, res, cx, cy, cz, r, own, comp_ok, ignore=-2):
    """Nearest grid cell within r owned by another cell whose compartment is allowed.

    Returns (distance, x, y, z, owner, comp); distance is inf when none.
    """
    nx, ny, nz = owner.shape
    i0 = max(0, int(math.floor((cx - r - lo[0]) / res)))
    i1 = min(nx, int(math.ceil((cx + r - lo[0]) / res)) + 1)
    j0 = max(0, int(math.floor((cy - r - lo[1]) / res)))
    j1 = min(ny, int(math.ceil((cy + r - lo[1]) / res)) + 1)
    k0 = max(0, int(math.floor((cz - r - lo[2]) / res)))
    k1 = min(nz, int(math.ceil((cz + r - lo[2]) / res)) + 1)
    best = r * r
    bx = by = bz = 0.0
    bo = -1
    bc = 0
    for i in range(i0, i1):
        dx = lo[0] + (i + 0.5) * res - cx
        for j in range(j0, j1):
            dy = lo[1] + (j + 0.5) * res - cy
            for k in range(k0, k1):
                o = owner[i, j, k]
                if o < 0 or o == own or o == ignore or not comp_ok[comp[i, j, k]]:
                    continue
                dz = lo[2] + (k + 0.5) * res - cz
                d2 = dx * dx + dy * dy + dz * dz
                if d2 < best:
                    best = d2
                    bx, by, bz = cx + dx, cy + dy, cz + dz
                    bo = o
                    bc = comp[i, j, k]
    if bo < 0:
        return math.inf, 0.0, 0.0, 0.0, -1, 0
    return math.sqrt(best), bx, by, bz, bo, bc
