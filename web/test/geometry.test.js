// node --test web/test/: the pure geometry helpers against brute force and worked examples.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bounds, compartmentColors, labelVertices, markerRadiusNm, nodesToNm, PointGrid, rgb,
  skeletonCompartments, skeletonSegments, unionBounds,
} from "../src/geometry.js";

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bruteNearest(points, x, y, z) {
  let best = -1, bestD = Infinity;
  for (let i = 0; i < points.length / 3; i++) {
    const d = (points[3 * i] - x) ** 2 + (points[3 * i + 1] - y) ** 2 + (points[3 * i + 2] - z) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}

test("bounds of a flat xyz array", () => {
  const b = bounds([0, 0, 0, 2, 4, 4]);
  assert.deepEqual([b.min, b.max, b.center, b.radius], [[0, 0, 0], [2, 4, 4], [1, 2, 2], 3]);
  assert.equal(bounds([]), null);
  assert.deepEqual(unionBounds(null, b), b);
  assert.deepEqual(unionBounds(b, bounds([-2, 0, 0])).min, [-2, 0, 0]);
});

test("PointGrid finds the nearest point as brute force does", () => {
  const rnd = random(1);
  for (const [n, spread] of [[1, 1000], [7, 1000], [300, 5000], [200, 50]]) {
    // points along a line (as skeleton nodes lie) plus scatter; queries around them
    const pts = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) pts.set([i * 37 + rnd() * spread, rnd() * spread, rnd() * 10], 3 * i);
    const queries = Array.from({ length: 500 }, () => [rnd() * (n * 37 + spread), rnd() * spread, rnd() * 400 - 200]);
    const flatQ = queries.flat();
    const grid = new PointGrid(pts, unionBounds(bounds(pts), bounds(flatQ)));
    for (const [x, y, z] of queries) {
      const got = grid.nearest(x, y, z), want = bruteNearest(pts, x, y, z);
      const d = (i) => Math.hypot(pts[3 * i] - x, pts[3 * i + 1] - y, pts[3 * i + 2] - z);
      assert.ok(Math.abs(d(got) - d(want)) < 1e-9, `query ${x} ${y} ${z}: ${got} vs ${want}`);
    }
  }
});

test("mesh vertices take the label of the nearest skeleton node", () => {
  const nodes = [0, 0, 0, 1000, 0, 0, 2000, 0, 0];
  const labels = [2, 0, 1]; // soma, dendrite, axon
  const vertices = [10, 50, 0, 900, -40, 0, 2100, 30, 5, 1600, 0, 0];
  assert.deepEqual([...labelVertices(vertices, nodes, labels)], [2, 0, 1, 1]);
});

test("compartment labels come from the best skeleton key of the right length", () => {
  const sk = { nodes: [0, 0, 0, 1, 1, 1], axoness: [0, 1], axoness_avg10000: [1, 1] };
  assert.deepEqual(skeletonCompartments(sk), { key: "axoness_avg10000", labels: [1, 1] });
  assert.equal(skeletonCompartments({ nodes: [0, 0, 0], axoness: [0, 1] }), null); // wrong length
  assert.equal(skeletonCompartments({}), null); // no skeleton: {} as the server sends it
});

test("colours, segments and marker sizes", () => {
  assert.deepEqual(rgb("#ff0080"), [1, 0, 128 / 255]);
  const c = compartmentColors(Int16Array.from([1, 9]), "#000000");
  assert.deepEqual([...c.slice(3)], [0, 0, 0]); // unknown code: the fallback colour
  assert.deepEqual([...skeletonSegments([0, 0, 0, 1, 2, 3], [0, 1])], [0, 0, 0, 1, 2, 3]);
  assert.deepEqual([...nodesToNm([1, 2, 3, 4, 5, 6], [10, 10, 20])], [10, 20, 60, 40, 50, 120]);
  assert.equal(markerRadiusNm(null), 40);
  assert.ok(Math.abs(markerRadiusNm(Math.PI) - 500) < 1e-9); // disc radius 1 µm, halved
});
