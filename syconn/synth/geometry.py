"""Cell morphology in micrometres: somata, neurites, spines, boutons, mitochondria.

Neurites grow as persistent random walks (direction diffusion per micrometre, independent of
the step) through an occupancy grid, so cells avoid each other and pack densely, and the
neurites of one cell keep a gap from each other (isoneuronal self-avoidance); boutons attach
where an axon passes a dendrite or soma of another cell, and spines grow from spiny dendrites
towards nearby boutons.  The result is a :class:`Scene` of
tapered capsules (the primitives later rasterised) plus skeletons, boutons, candidate synaptic
contacts and mitochondria.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from syconn.synth import _kernels as K
from syconn.synth.types import CELL_TYPES, Compartment as C

__all__ = ["Scene", "build_scene", "default_cell_counts"]

_POST_OK = np.zeros(8, dtype=np.bool_)
_POST_OK[[C.DENDRITE, C.SOMA]] = True
_CLEAR = 0.03  # minimum clearance between cells while growing (um)
# isoneuronal self-avoidance: a neurite keeps this gap (um) from the older parts of its own
# cell, as dendrites and axons of one neuron do (they tile rather than bundle)
_SELF_GAP = 0.5
_REF_STEP = 0.3  # step (um) at which tortuosity and goal_bias are defined
_EXEMPT = np.iinfo(np.int64).max  # paint stamp of cells that never block their own cell
_DODGE_ANGLES = np.radians([10, 20, 35, 50, 70, 90, 115])
# a side branch is at least this long (um) unless it leaves the volume, and leaves its parent at
# about 55 degrees through a corridor that is free for that length: real terminal branches are
# micrometres long, and stubs shorter than a skeletonizer's resolution (TEASAR: 2 x radius +
# 0.5 um) are spines or boutons, not branches
_MIN_BRANCH_UM = 2.5
_BRANCH_SPREAD = 1.4  # perpendicular share of a branch's initial direction (atan 1.4 = 54 deg)
_BRANCH_TRIES = 6


@dataclass
class Scene:
    """Geometry of one synthetic volume; every length in micrometres, points as (x, y, z)."""

    size_um: np.ndarray
    cell_type: list[str] = field(default_factory=lambda: [""])  # index 0 unused
    soma_center: list = field(default_factory=lambda: [None])
    soma_radius: list[float] = field(default_factory=lambda: [0.0])
    # primitives
    p0: list = field(default_factory=list)
    p1: list = field(default_factory=list)
    r0: list = field(default_factory=list)
    r1: list = field(default_factory=list)
    margin: list = field(default_factory=list)
    piece: list = field(default_factory=list)
    comp: list = field(default_factory=list)
    piece_cell: list = field(default_factory=lambda: [0])  # piece index -> cell index
    # skeleton nodes: cell, x, y, z, radius, compartment, parent (global node index or -1)
    nodes: list = field(default_factory=list)
    # boutons: cell, center(3), radius, piece
    boutons: list = field(default_factory=list)
    # candidate contacts: pre cell, post cell, bouton index, post kind, point(3), normal(3)
    candidates: list = field(default_factory=list)
    # mitochondria: (cell, points (n,3), radius)
    mitos: list = field(default_factory=list)

    def new_piece(self, cell: int, n: int = 1) -> int:
        first = len(self.piece_cell)
        self.piece_cell.extend([cell] * n)
        return first

    def add_prim(self, a, b, ra, rb, margin, piece, comp):
        self.p0.append(a)
        self.p1.append(b)
        self.r0.append(ra)
        self.r1.append(rb)
        self.margin.append(margin)
        self.piece.append(piece)
        self.comp.append(int(comp))

    def add_node(self, cell, p, r, comp, parent) -> int:
        self.nodes.append((cell, p[0], p[1], p[2], r, int(comp), parent))
        return len(self.nodes) - 1

    def prim_arrays(self):
        return (
            np.asarray(self.p0, np.float64).reshape(-1, 3),
            np.asarray(self.p1, np.float64).reshape(-1, 3),
            np.asarray(self.r0, np.float64),
            np.asarray(self.r1, np.float64),
            np.asarray(self.margin, np.float64),
            np.asarray(self.piece, np.int64),
            np.asarray(self.comp, np.uint8),
        )


def default_cell_counts(size_um, n_cells: int | None = None) -> dict[str, int]:
    """Cells per type for a volume of ``size_um`` (x, y, z); ``n_cells`` overrides the total."""
    vol = float(np.prod(size_um))
    n = int(n_cells) if n_cells is not None else max(6, int(round(0.9 * vol)))
    frac = {"spiny": 0.24, "interneuron": 0.14, "sparsely_spiny": 0.12, "afferent": 0.40, "glia": 0.10}
    counts = {k: max(1, int(round(v * n))) for k, v in frac.items()}
    counts["afferent"] = max(1, n - sum(v for k, v in counts.items() if k != "afferent"))
    return counts


class _Grid:
    def __init__(self, lo, hi, res):
        self.lo = np.asarray(lo, np.float64)
        self.res = float(res)
        shape = np.ceil((np.asarray(hi) - self.lo) / res).astype(int)
        self.owner = np.full(tuple(shape), -1, np.int32)
        self.comp = np.zeros(tuple(shape), np.uint8)
        self.stamp = np.zeros(tuple(shape), np.int64)  # paint counter when claimed
        self.now = 0

    def free(self, p, r, own, ignore=-2, min_stamp=0, r_own=0.0):
        """No other cell within r of p and no part of its own painted before ``min_stamp``
        within ``r_own``."""
        return K.grid_free(self.owner, self.stamp, self.lo, self.res, p[0], p[1], p[2], r, own,
                           ignore, min_stamp, max(r_own, r))

    def paint(self, p, r, own, comp, exempt=False):
        """Claim the free cells within r of p for ``own``; ``exempt`` cells never block their
        own cell (boutons: an axon passes close to its own)."""
        self.now += 1
        K.grid_paint(self.owner, self.comp, self.stamp, self.lo, self.res, p[0], p[1], p[2], r,
                     own, int(comp), _EXEMPT if exempt else self.now)

    def free_segment(self, a, b, r, own, ignore=-2):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / (0.5 * self.res + 0.5 * r))))
        return all(self.free(a + (b - a) * t, r, own, ignore) for t in np.linspace(0, 1, n + 1)[1:])

    def paint_segment(self, a, b, r, own, comp, exempt=False):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / (0.5 * self.res + 0.5 * r))))
        for t in np.linspace(0, 1, n + 1):
            self.paint(a + (b - a) * t, r, own, comp, exempt)

    def nearest(self, p, r, own, ignore=-2):
        return K.grid_nearest(self.owner, self.comp, self.lo, self.res, p[0], p[1], p[2], r, own, _POST_OK,
                              ignore)


def _unit(v):
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def _perp(rng, t):
    """A random unit vector perpendicular to unit vector t."""
    v = rng.normal(size=3)
    v -= v.dot(t) * t
    return _unit(v)


def _margin(r):
    return float(np.clip(0.5 * r, 0.03, 0.12))


class _Builder:
    def __init__(self, size_um, rng, ext, bouton_radius_um=(0.18, 0.3)):
        self.size = np.asarray(size_um, np.float64)
        self.rng = rng
        self.bouton_radius_um = tuple(bouton_radius_um)
        self.lo = -np.full(3, ext)
        self.hi = self.size + ext
        # collisions only matter where voxels are painted: the volume plus a thin rim
        res = max(0.04, float(self.size.max() + 0.6) / 300.0)
        self.grid = _Grid(-0.3 * np.ones(3), self.size + 0.3, res)
        self.scene = Scene(size_um=self.size)
        self.paths: list[dict] = []  # neurite paths for spines / mitochondria

    # ------------------------------------------------------------------ placement helpers
    def _inside_ext(self, p):
        return bool(np.all(p >= self.lo) and np.all(p <= self.hi))

    def _entry(self, cell=-1, r=0.1):
        """A free start point on the extended-box surface and an inward direction."""
        for _ in range(40):
            p, d = self._entry_once()
            if self.grid.free(p + d * 0.1, r + _CLEAR, cell):
                break
        return p, d

    def _entry_once(self):
        rng = self.rng
        face = rng.integers(6)
        ax, side = face // 2, face % 2
        p = self.lo + rng.random(3) * (self.hi - self.lo)
        p[ax] = self.lo[ax] + 0.01 if side == 0 else self.hi[ax] - 0.01
        target = self.size * (0.2 + 0.6 * rng.random(3))
        d = _unit(_unit(target - p) + 0.3 * rng.normal(size=3))
        return p, d

    # ------------------------------------------------------------------ cells
    def add_cell(self, type_name: str) -> int:
        s = self.scene
        s.cell_type.append(type_name)
        s.soma_center.append(None)
        s.soma_radius.append(0.0)
        return len(s.cell_type) - 1

    def place_soma(self, cell, radius, comp):
        """Soma centre just outside a random face so that a cap lies inside the volume."""
        rng = self.rng
        for _ in range(60):
            c = self.size * rng.random(3)
            ax = rng.integers(3)
            # how deep the cap reaches into the volume: a cap, never the whole volume
            depth = min(rng.uniform(0.25, 0.5) * radius, rng.uniform(0.15, 0.3) * self.size[ax])
            c[ax] = -radius + depth if rng.random() < 0.5 else self.size[ax] + radius - depth
            if self.grid.free(c, radius + 0.3, cell):
                self.scene.soma_center[cell] = c
                self.scene.soma_radius[cell] = radius
                piece = self.scene.new_piece(cell, 8)
                self.scene.add_prim(c, c, radius, radius, 0.15, piece, comp)
                self.grid.paint(c, radius, cell, comp)
                node = self.scene.add_node(cell, c, radius, comp, -1)
                return c, node
        return None, -1

    def grow(self, cell, start, direction, *, length, r_start, r_end, comp, tortuosity,
             branch_per_um, parent_node=-1, max_depth=3, radius_jitter=0.0,
             bouton_interval=None, depth=0, goal_bias=0.12, grace=None, wander=False):
        """Grow one neurite (and its branches) from ``start``; returns the number of steps.

        The direction diffuses with a variance per micrometre set by ``tortuosity`` and is
        pulled towards a goal by ``goal_bias`` per 0.3 um, both independent of the step
        length (which follows the radius), so thin and thick neurites of one tortuosity are
        equally straight.  A blocked step turns by the smallest angle that is free.  The
        neurite avoids other cells and, after the first ``grace`` micrometres (leaving the
        soma or parent branch it starts in), the older parts of its own cell, so it does not
        fold onto itself or run back into its soma.  With ``wander`` (axons) a reached goal is
        replaced by another point of the volume, so local axons meander through it.  Side
        branches start 0.3 um or more from a bouton, at about 55 degrees, where a free corridor
        allows ``_MIN_BRANCH_UM``, and are at least that long unless blocked later or leaving.
        """
        rng, g, s = self.rng, self.grid, self.scene
        p = np.asarray(start, np.float64)
        d = _unit(np.asarray(direction, np.float64))
        pts, rads, nodes = [p.copy()], [r_start], [parent_node]
        walked = 0.0
        since_bouton = 0.0 if bouton_interval is None else rng.uniform(0.3, 1.0) * bouton_interval[0]
        next_bouton = None if bouton_interval is None else rng.uniform(*bouton_interval)
        branches = []
        want_branch = False
        steps = 0
        last_post = -2  # partner of the previous bouton: the next one looks for another cell
        goal = self.size * (0.1 + 0.8 * rng.random(3))  # a point to head for: neurites cross the volume
        if np.dot(goal - p, d) < 0:
            goal = p + d * float(self.size.max())
        if grace is None:
            grace = r_start + _SELF_GAP + 2 * _CLEAR + 0.1
        stamps = [g.now]  # paint counter at every step: own paint older than a few steps blocks
        while walked < length:
            r = r_start + (r_end - r_start) * walked / length
            if radius_jitter:
                r *= rng.uniform(1 - radius_jitter, 1 + radius_jitter)
            step = float(np.clip(0.8 * r, 0.06, 0.3))
            f = step / _REF_STEP
            if walked < grace:
                min_stamp = 0
            else:
                recent = int(np.ceil((2 * r + _SELF_GAP + 2 * _CLEAR) / step)) + 1
                min_stamp = stamps[max(0, len(stamps) - recent)] + 1
            if wander and np.linalg.norm(goal - p) < 1.0:  # reached: head for another point
                goal = self._next_goal(p, d)
            nd = _unit(d + tortuosity * 0.35 * np.sqrt(f) * rng.normal(size=3)
                       + goal_bias * f * _unit(goal - p))
            nd = self._dodge(p, nd, step, r + _CLEAR, cell, min_stamp, r + _SELF_GAP)
            if nd is None:
                break
            d = nd
            p = p + nd * step
            g.paint(p, r, cell, comp)
            walked += step
            steps += 1
            pts.append(p.copy())
            rads.append(r)
            nodes.append(-1)
            if not self._inside_ext(p):
                break
            if branch_per_um and depth < max_depth and rng.random() < branch_per_um * step:
                want_branch = True
            # a branch point keeps 0.3 um from boutons on either side, so it is not buried in one
            if want_branch and (bouton_interval is None or since_bouton >= 0.3):
                branches.append((len(pts) - 1, d.copy()))
                want_branch = False
                if bouton_interval is not None:
                    next_bouton = max(next_bouton, since_bouton + 0.3)
            if bouton_interval is not None and np.all(p > 0.15) and np.all(p < self.size - 0.15):
                since_bouton += step
                if since_bouton >= next_bouton:
                    if self._try_bouton(cell, p, d, r, force=since_bouton > 1.6 * next_bouton,
                                        avoid=last_post):
                        last_post = self._last_post
                        since_bouton = 0.0
                        next_bouton = rng.uniform(*bouton_interval)
            stamps.append(g.now)
        if len(pts) < 2:
            return steps
        path = self._commit_path(cell, np.array(pts), np.array(rads), comp, parent_node)
        for idx, pd_ in branches:
            rem = max(_MIN_BRANCH_UM, (length - path["cum"][idx]) * rng.uniform(0.5, 1.0))
            r0 = rads[idx] * 0.8
            grace = 1.5 * (rads[idx] + r0 + _SELF_GAP)
            bd = self._branch_direction(cell, pts[idx], pd_, rads[idx], r0, grace)
            if bd is None:  # no room for a branch here
                continue
            steps += self.grow(cell, pts[idx] + bd * rads[idx] * 0.5, bd, length=rem, r_start=r0,
                               r_end=min(r_end, r0), comp=comp, tortuosity=tortuosity,
                               branch_per_um=branch_per_um, parent_node=path["nodes"][idx],
                               max_depth=max_depth, radius_jitter=radius_jitter,
                               bouton_interval=bouton_interval, depth=depth + 1, goal_bias=goal_bias,
                               grace=grace, wander=wander)
        return steps

    def _branch_direction(self, cell, p, d, r_parent, r, grace):
        """A direction about 55 degrees off the parent's ``d`` along which a branch of radius
        ``r`` has a free, straight corridor from ``grace`` to ``_MIN_BRANCH_UM`` (away from
        other cells and from every painted part of its own), or ``None``."""
        g = self.grid
        for _ in range(_BRANCH_TRIES):
            bd = _unit(d + _BRANCH_SPREAD * _perp(self.rng, d))
            ok = True
            for t in np.arange(grace, _MIN_BRANCH_UM + 1e-9, 0.2):
                q = p + bd * (r_parent * 0.5 + t)
                if not self._inside_ext(q):
                    break
                if not g.free(q, r + _CLEAR, cell, min_stamp=g.now + 1, r_own=r + _SELF_GAP):
                    ok = False
                    break
            if ok:
                return bd
        return None

    def _next_goal(self, p, d):
        """A random point of the volume's inner part, preferably ahead of ``d``."""
        for _ in range(10):
            goal = self.size * (0.1 + 0.8 * self.rng.random(3))
            if np.dot(goal - p, d) > 0.5 * np.linalg.norm(goal - p):
                break
        return goal

    def _dodge(self, p, d, step, r, cell, min_stamp, r_own):
        """``d`` if the step along it is free, else the free direction that turns least from
        it (up to 115 degrees, 8 random azimuths per angle); ``None`` when boxed in."""
        g = self.grid
        if g.free(p + d * step, r, cell, min_stamp=min_stamp, r_own=r_own):
            return d
        u = _perp(self.rng, d)
        w = np.cross(d, u)
        phase = self.rng.uniform(0, 2 * np.pi)
        for theta in _DODGE_ANGLES:
            for k in range(8):
                phi = phase + k * np.pi / 4
                nd = np.cos(theta) * d + np.sin(theta) * (np.cos(phi) * u + np.sin(phi) * w)
                if g.free(p + nd * step, r, cell, min_stamp=min_stamp, r_own=r_own):
                    return nd
        return None

    def _commit_path(self, cell, pts, rads, comp, parent_node):
        """Turn a walked path into capsules (supervoxel pieces every 2-5 um) and skeleton nodes."""
        s, rng = self.scene, self.rng
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        piece = s.new_piece(cell)
        next_cut = rng.uniform(2.0, 5.0)
        node_ids = np.full(len(pts), -1, np.int64)
        last_node = parent_node
        last_node_at = -1e9
        for i in range(len(pts)):
            if cum[i] - last_node_at >= 0.25 or i == len(pts) - 1 or i == 0:
                last_node = s.add_node(cell, pts[i], rads[i], comp, last_node)
                last_node_at = cum[i]
            node_ids[i] = last_node
            if i == 0:
                continue
            if cum[i] >= next_cut:
                piece = s.new_piece(cell)
                next_cut = cum[i] + rng.uniform(2.0, 5.0)
            s.add_prim(pts[i - 1], pts[i], rads[i - 1], rads[i], _margin(rads[i]), piece, comp)
        # piece of each point (for spines / boutons attached later): piece of the segment ending there
        path = {"cell": cell, "pts": pts, "rads": rads, "cum": cum, "comp": comp, "nodes": node_ids,
                "pieces": np.array([s.piece[len(s.piece) - (len(pts) - 1) + max(0, i - 1)]
                                    for i in range(len(pts))])}
        self.paths.append(path)
        self._cur_path = path
        return path

    # ------------------------------------------------------------------ boutons and spines
    def _try_bouton(self, cell, p, d, r_axon, force=False, avoid=-2):
        rng, g, s = self.rng, self.grid, self.scene
        rb = rng.uniform(*self.bouton_radius_um)
        self._last_post = -2
        dist, qx, qy, qz, post, pcomp = g.nearest(p, rb * 2.2 + 0.3, cell, ignore=avoid)
        if post >= 0 and not CELL_TYPES[s.cell_type[post]].is_glia:
            q = np.array([qx, qy, qz])
            u = _unit(q - p)
            c = q - u * (rb + 0.015)
            if g.free(c, 0.6 * rb, cell) and g.free_segment(p, c, 0.5 * r_axon, cell, ignore=post):
                self._place_bouton(cell, p, c, rb, r_axon)
                s.candidates.append((cell, post, len(s.boutons) - 1, int(pcomp), q - u * 0.01, u))
                self._last_post = post
                # multi-synaptic bouton: a second partner touching the bouton
                d2, x2, y2, z2, post2, pcomp2 = g.nearest(c, rb + 0.15, cell, ignore=post)
                if post2 >= 0 and not CELL_TYPES[s.cell_type[post2]].is_glia:
                    q2 = np.array([x2, y2, z2])
                    u2 = _unit(q2 - c)
                    s.candidates.append((cell, post2, len(s.boutons) - 1, int(pcomp2), q2 - u2 * 0.01, u2))
                return True
        if force:
            c = p + _perp(rng, d) * 0.2 * rb
            if g.free(c, 0.8 * rb, cell):
                self._place_bouton(cell, p, c, rb, r_axon)
                return True
        return False

    def _place_bouton(self, cell, p, c, rb, r_axon):
        s, g = self.scene, self.grid
        piece = s.new_piece(cell)  # boutons are their own small pieces of the axon
        s.piece_cell[piece] = cell
        s.add_prim(p, c, r_axon, r_axon, _margin(r_axon), piece, C.AXON)
        s.add_prim(c, c, rb, rb, 0.06, piece, C.BOUTON)
        g.paint_segment(p, c, r_axon, cell, C.AXON, exempt=True)
        g.paint(c, rb, cell, C.BOUTON, exempt=True)
        s.boutons.append((cell, c, rb, piece))

    def add_spines(self, path, density):
        """Spines along a dendritic path; most reach for a nearby bouton of another cell."""
        if density <= 0 or not self.scene.boutons:
            return
        rng, g, s = self.rng, self.grid, self.scene
        cell = path["cell"]
        bc = np.array([b[1] for b in s.boutons])
        bcell = np.array([b[0] for b in s.boutons])
        tree = cKDTree(bc)
        pos = rng.exponential(1.0 / density)
        total = path["cum"][-1]
        while pos < total:
            i = int(np.searchsorted(path["cum"], pos))
            i = min(max(i, 1), len(path["pts"]) - 1)
            a, r = path["pts"][i], path["rads"][i]
            t = _unit(path["pts"][i] - path["pts"][i - 1])
            placed = False
            for k in tree.query_ball_point(a, r + 1.9):
                if bcell[k] == cell or CELL_TYPES[s.cell_type[bcell[k]]].is_glia:
                    continue
                placed = self._spine_to(cell, path, i, a, r, t, k, bc[k], s.boutons[k][2])
                if placed:
                    break
            if not placed and rng.random() < 0.6:
                self._spine_free(cell, path, i, a, r, t)
            pos += rng.exponential(1.0 / density)

    def _spine_to(self, cell, path, i, a, r, t, k, c, rb):
        g, s, rng = self.grid, self.scene, self.rng
        u = c - a
        u -= 0.5 * u.dot(t) * t
        u = _unit(u)
        base = a + u * r * 0.85
        rh = rng.uniform(0.15, 0.28)
        u2 = _unit(c - base)
        h = c - u2 * (rb + rh + 0.012)
        neck_end = h - u2 * rh * 0.8
        L = np.linalg.norm(neck_end - base)
        if not (0.45 <= L <= 1.5) or u2.dot(u) < 0.5:
            return False
        rn = rng.uniform(0.045, 0.06)
        pre = s.boutons[k][0]
        if not g.free_segment(base + u2 * 0.1, neck_end, rn + 0.02, cell, ignore=pre):
            return False
        if not g.free(h, rh + 0.01, cell, ignore=pre):
            return False
        self._commit_spine(cell, path, i, base, neck_end, h, rn, rh)
        s.candidates.append((pre, cell, k, int(C.SPINE_HEAD), c - u2 * (rb + 0.006), u2))
        return True

    def _spine_free(self, cell, path, i, a, r, t):
        rng, g = self.rng, self.grid
        u = _perp(rng, t)
        base = a + u * r * 0.85
        L = rng.uniform(0.5, 1.4)
        rn, rh = rng.uniform(0.045, 0.06), rng.uniform(0.15, 0.28)
        neck_end = base + u * L
        h = neck_end + u * rh * 0.8
        if g.free_segment(base + u * 0.1, neck_end, rn + _CLEAR, cell) and g.free(h, rh + _CLEAR, cell):
            self._commit_spine(cell, path, i, base, neck_end, h, rn, rh)

    def _commit_spine(self, cell, path, i, base, neck_end, h, rn, rh):
        s, g = self.scene, self.grid
        piece = path["pieces"][i]
        s.add_prim(base, neck_end, rn, rn, 0.015, piece, C.SPINE_NECK)
        s.add_prim(h, h, rh, rh, 0.04, piece, C.SPINE_HEAD)
        g.paint_segment(base, neck_end, rn, cell, C.SPINE_NECK)
        g.paint(h, rh, cell, C.SPINE_HEAD)
        n0 = s.add_node(cell, base, rn, C.SPINE_NECK, int(path["nodes"][i]))
        n1 = s.add_node(cell, neck_end, rn, C.SPINE_NECK, n0)
        s.add_node(cell, h, rh, C.SPINE_HEAD, n1)

    # ------------------------------------------------------------------ mitochondria
    def add_mitochondria(self):
        rng, s = self.rng, self.scene
        for path in self.paths:
            comp = path["comp"]
            if comp not in (C.DENDRITE, C.AXON):
                continue
            per_um = 0.35 if comp == C.DENDRITE else 0.25
            cum, pts, rads = path["cum"], path["pts"], path["rads"]
            pos = rng.exponential(1.0 / per_um)
            while pos < cum[-1] - 0.5:
                L = rng.uniform(0.6, 2.5)
                i0 = int(np.searchsorted(cum, pos))
                i1 = int(np.searchsorted(cum, min(cum[-1], pos + L)))
                if i1 - i0 >= 2:
                    rmin = rads[i0:i1 + 1].min()
                    rm = min(rng.uniform(0.1, 0.17), rmin - 0.035)
                    if rm >= 0.095:
                        off = _perp(rng, _unit(pts[i1] - pts[i0])) * rng.uniform(0, max(0.0, rmin - rm - 0.04))
                        s.mitos.append((path["cell"], pts[i0:i1 + 1] + off, rm))
                pos += L + rng.exponential(1.0 / per_um)
        for cell, c in enumerate(s.soma_center):
            if c is None:
                continue
            R = s.soma_radius[cell]
            for _ in range(int(rng.integers(25, 45))):
                # mitochondria in the outer shell of the soma (the part inside the volume)
                p = c + _unit(rng.normal(size=3)) * R * rng.uniform(0.55, 0.85)
                d = _perp(rng, _unit(p - c))
                L = rng.uniform(0.5, 1.6)
                s.mitos.append((cell, np.array([p - d * L / 2, p + d * L / 2]), rng.uniform(0.11, 0.18)))


def build_scene(size_um, counts: dict[str, int], rng: np.random.Generator, *,
                bouton_radius_um=(0.18, 0.3), axon_radius_scale: float = 1.0) -> Scene:
    """Grow all cells of a volume of ``size_um`` (x, y, z) micrometres.

    ``bouton_radius_um`` is the range of bouton radii and ``axon_radius_scale`` a factor on
    every type's axon radii (:class:`~syconn.synth.variation.Variation`)."""
    b = _Builder(size_um, rng, ext=1.0, bouton_radius_um=bouton_radius_um)
    s = b.scene
    order = ["spiny", "sparsely_spiny", "interneuron", "afferent", "glia"]
    cells = {t: [b.add_cell(t) for _ in range(counts.get(t, 0))] for t in order}
    neurons = [c for t in order[:3] for c in cells[t]]
    # a few somata cut by the border (neurons and glia), the rest lie outside the volume
    n_soma = max(1, int(round(0.1 * len(neurons))))
    soma_at = {}
    for c in cells["glia"][:1] + list(rng.choice(neurons, size=min(n_soma, len(neurons)), replace=False)):
        ct = CELL_TYPES[s.cell_type[c]]
        center, node = b.place_soma(c, rng.uniform(*ct.soma_radius_um),
                                    C.GLIA if ct.is_glia else C.SOMA)
        if center is not None:
            soma_at[c] = (center, node)

    def start_of(c, r):
        if c in soma_at:
            center, node = soma_at[c]
            R = s.soma_radius[c]
            target = b.size * (0.2 + 0.6 * rng.random(3))
            d = _unit(_unit(target - center) + 0.5 * rng.normal(size=3))
            return center + d * (R - 0.05), d, node, True
        p, d = b._entry(c, r)
        return p, d, -1, False

    # dendrites first (thick), then glia, then axons with boutons, then spines
    for t in order[:3]:
        ct = CELL_TYPES[t]
        for c in cells[t]:
            for _ in range(int(rng.integers(ct.n_dendrites[0], ct.n_dendrites[1] + 1))):
                f = rng.uniform(0.4, 0.7)
                p, d, node, proximal = start_of(c, ct.dendrite_radius_um[0] * f)
                r0 = ct.dendrite_radius_um[0] * (1.0 if proximal else f)
                b.grow(c, p, d, length=rng.uniform(7, 12), r_start=r0, r_end=ct.dendrite_radius_um[1],
                       comp=C.DENDRITE, tortuosity=ct.tortuosity, branch_per_um=ct.dendrite_branch_per_um,
                       parent_node=node)
    ct = CELL_TYPES["glia"]
    for c in cells["glia"]:
        for _ in range(int(rng.integers(ct.n_dendrites[0], ct.n_dendrites[1] + 1))):
            p, d, node, _ = start_of(c, ct.dendrite_radius_um[0])
            b.grow(c, p, d, length=rng.uniform(3, 7), r_start=ct.dendrite_radius_um[0],
                   r_end=ct.dendrite_radius_um[1], comp=C.GLIA, tortuosity=ct.tortuosity,
                   branch_per_um=ct.dendrite_branch_per_um, parent_node=node, max_depth=4,
                   radius_jitter=0.35, goal_bias=0.03)
    axon_cells = [(t, c) for t in order[:4] for c in cells[t]]
    rng.shuffle(axon_cells)
    for t, c in axon_cells:
        ct = CELL_TYPES[t]
        for _ in range(int(rng.integers(ct.n_axons[0], ct.n_axons[1] + 1))):
            r = rng.uniform(*ct.axon_radius_um) * axon_radius_scale
            p, d, node, _ = start_of(c, r)
            b.grow(c, p, d, length=rng.uniform(8, 14), r_start=r, r_end=r, comp=C.AXON,
                   tortuosity=ct.tortuosity, branch_per_um=ct.axon_branch_per_um, parent_node=node,
                   bouton_interval=ct.bouton_interval_um, max_depth=4, goal_bias=0.3, wander=True)
    for path in list(b.paths):
        if path["comp"] == C.DENDRITE:
            b.add_spines(path, CELL_TYPES[s.cell_type[path["cell"]]].spines_per_um)
    b.add_mitochondria()
    return s
