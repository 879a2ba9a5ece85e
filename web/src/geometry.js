// Pure geometry helpers on the flat arrays the server sends (no three.js, no DOM), so that
// they run under `node --test` too.  Coordinates are nm, x y z interleaved.

/** SyConn's axoness codes (skeleton node labels, synapse comp_pre / comp_post). */
export const COMPARTMENTS = [
  { code: 0, name: "dendrite", color: "#8fb8de" },
  { code: 1, name: "axon", color: "#9bd48a" },
  { code: 2, name: "soma", color: "#f2c38f" },
  { code: 3, name: "en-passant bouton", color: "#3f9b4a" },
  { code: 4, name: "terminal bouton", color: "#1d6b2b" },
];

/** Skeleton keys with per-node compartment labels, best first (as the original plugin). */
export const COMPARTMENT_KEYS = ["axoness_avg10000_comp_maj", "axoness_avg10000", "axoness"];

/** Axis-aligned bounds of a flat xyz array: {min, max, center, radius} or null if empty. */
export function bounds(flat) {
  const n = Math.floor(flat.length / 3);
  if (n === 0) return null;
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < 3; a++) {
      const v = flat[3 * i + a];
      if (v < min[a]) min[a] = v;
      if (v > max[a]) max[a] = v;
    }
  }
  const center = min.map((lo, a) => (lo + max[a]) / 2);
  const radius = Math.hypot(max[0] - min[0], max[1] - min[1], max[2] - min[2]) / 2;
  return { min, max, center, radius };
}

/** The union of bounds (either may be null). */
export function unionBounds(a, b) {
  if (!a) return b;
  if (!b) return a;
  const min = a.min.map((v, i) => Math.min(v, b.min[i]));
  const max = a.max.map((v, i) => Math.max(v, b.max[i]));
  const center = min.map((lo, i) => (lo + max[i]) / 2);
  const radius = Math.hypot(max[0] - min[0], max[1] - min[1], max[2] - min[2]) / 2;
  return { min, max, center, radius };
}

/**
 * A uniform grid over points for nearest-neighbour queries.  `box` must contain every point
 * and every later query (the search stops once no unvisited cell can hold a closer point,
 * which holds only for queries inside the grid).
 */
export class PointGrid {
  constructor(points, box, { cellsPerPoint = 8, maxCells = 2_000_000 } = {}) {
    const n = Math.floor(points.length / 3);
    if (n === 0) throw new Error("PointGrid: no points");
    this.points = points;
    this.origin = box.min.slice();
    const ext = box.max.map((hi, a) => Math.max(hi - box.min[a], 1e-6));
    const cells = Math.min(maxCells, Math.max(1, n * cellsPerPoint));
    this.size = Math.cbrt((ext[0] * ext[1] * ext[2]) / cells) || Math.max(...ext);
    this.size = Math.max(this.size, Math.max(...ext) / 1024);
    this.dims = ext.map((e) => Math.floor(e / this.size) + 1);
    const nCells = this.dims[0] * this.dims[1] * this.dims[2];
    // compressed rows: start[c] .. start[c + 1] index `order`
    const cellOf = new Int32Array(n);
    const count = new Int32Array(nCells + 1);
    for (let i = 0; i < n; i++) {
      cellOf[i] = this.cellIndex(points[3 * i], points[3 * i + 1], points[3 * i + 2]);
      count[cellOf[i] + 1]++;
    }
    for (let c = 0; c < nCells; c++) count[c + 1] += count[c];
    this.start = count;
    this.order = new Int32Array(n);
    const fill = count.slice(0, nCells);
    for (let i = 0; i < n; i++) this.order[fill[cellOf[i]]++] = i;
  }

  cellCoord(v, a) {
    const c = Math.floor((v - this.origin[a]) / this.size);
    return Math.min(this.dims[a] - 1, Math.max(0, c));
  }

  cellIndex(x, y, z) {
    const [nx, ny] = this.dims;
    return this.cellCoord(x, 0) + nx * (this.cellCoord(y, 1) + ny * this.cellCoord(z, 2));
  }

  /** Index of the point nearest to (x, y, z). */
  nearest(x, y, z) {
    const [nx, ny, nz] = this.dims;
    const ci = this.cellCoord(x, 0), cj = this.cellCoord(y, 1), ck = this.cellCoord(z, 2);
    const p = this.points;
    let best = -1, bestD2 = Infinity;
    const maxR = Math.max(nx, ny, nz);
    for (let r = 0; r <= maxR; r++) {
      for (let k = ck - r; k <= ck + r; k++) {
        if (k < 0 || k >= nz) continue;
        for (let j = cj - r; j <= cj + r; j++) {
          if (j < 0 || j >= ny) continue;
          const onShell = Math.abs(k - ck) === r || Math.abs(j - cj) === r;
          const step = onShell ? 1 : 2 * r || 1;
          for (let i = ci - r; i <= ci + r; i += step) {
            if (i < 0 || i >= nx) continue;
            const c = i + nx * (j + ny * k);
            for (let s = this.start[c]; s < this.start[c + 1]; s++) {
              const q = this.order[s];
              const dx = p[3 * q] - x, dy = p[3 * q + 1] - y, dz = p[3 * q + 2] - z;
              const d2 = dx * dx + dy * dy + dz * dz;
              if (d2 < bestD2 || (d2 === bestD2 && q < best)) {
                bestD2 = d2;
                best = q;
              }
            }
          }
        }
      }
      // every point in ring r + 1 is at least r cell sizes away from the query
      if (best >= 0 && Math.sqrt(bestD2) <= r * this.size) break;
    }
    return best;
  }
}

/** The per-node compartment labels a skeleton response carries: {key, labels} or null. */
export function skeletonCompartments(skeleton) {
  const nNodes = Math.floor((skeleton?.nodes?.length ?? 0) / 3);
  if (nNodes === 0) return null;
  for (const key of COMPARTMENT_KEYS) {
    const labels = skeleton[key];
    if (Array.isArray(labels) && labels.length === nNodes) return { key, labels };
  }
  return null;
}

/** For every vertex, the label of the nearest skeleton node (as SyConn maps node labels). */
export function labelVertices(vertices, nodes, labels) {
  const nv = Math.floor(vertices.length / 3);
  const out = new Int16Array(nv);
  const grid = new PointGrid(nodes, unionBounds(bounds(vertices), bounds(nodes)));
  for (let i = 0; i < nv; i++) {
    out[i] = labels[grid.nearest(vertices[3 * i], vertices[3 * i + 1], vertices[3 * i + 2])];
  }
  return out;
}

/** "#rrggbb" -> [r, g, b] in 0..1. */
export function rgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255];
}

/** Per-vertex RGB (Float32Array, 3 per vertex) of compartment labels; unknown codes: `fallback`. */
export function compartmentColors(vertexLabels, fallback) {
  const byCode = new Map(COMPARTMENTS.map((c) => [c.code, rgb(c.color)]));
  const other = rgb(fallback);
  const out = new Float32Array(vertexLabels.length * 3);
  vertexLabels.forEach((code, i) => out.set(byCode.get(code) ?? other, 3 * i));
  return out;
}

/**
 * Skeleton nodes in nm from the voxel coordinates `/ssv_skeleton` sends (as the original
 * does), given the voxel size (x, y, z) in nm.
 */
export function nodesToNm(nodes, voxelSizeNm) {
  const out = new Float32Array(nodes.length);
  for (let i = 0; i < nodes.length; i++) out[i] = nodes[i] * voxelSizeNm[i % 3];
  return out;
}

/** Line-segment endpoints (flat xyz, two points per edge) of a skeleton. */
export function skeletonSegments(nodes, edges) {
  const ne = Math.floor(edges.length / 2);
  const out = new Float32Array(ne * 6);
  for (let e = 0; e < ne; e++) {
    const a = edges[2 * e], b = edges[2 * e + 1];
    out.set([nodes[3 * a], nodes[3 * a + 1], nodes[3 * a + 2],
      nodes[3 * b], nodes[3 * b + 1], nodes[3 * b + 2]], 6 * e);
  }
  return out;
}

/**
 * Marker radius (nm) of a synapse of `areaUm2`: half the radius of a disc of that area (a
 * sphere of the full radius hides the neurite it sits on), at least `minNm`.
 */
export function markerRadiusNm(areaUm2, minNm = 40) {
  const r = 0.5 * Math.sqrt(Math.max(areaUm2 ?? 0, 0) / Math.PI) * 1000;
  return Math.max(r, minNm);
}
