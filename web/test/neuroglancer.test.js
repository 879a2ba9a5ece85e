// node --test web/test/: the Neuroglancer link of a cell.
import assert from "node:assert/strict";
import { test } from "node:test";
import { neuroglancerLink, neuroglancerState } from "../src/neuroglancer.js";

test("state: the cell selected in the export's segmentation, synapses, centred in voxels", () => {
  const s = neuroglancerState({ source: "http://127.0.0.1:10001/precomputed/", synapses: true,
    cellKey: "4611686018427387909", voxelSizeNm: [10, 10, 20], positionNm: [100, 250, 400] });
  assert.deepEqual(s.layers, [
    { type: "segmentation", source: "precomputed://http://127.0.0.1:10001/precomputed",
      name: "cells", segments: ["4611686018427387909"] },
    { type: "annotation", source: "precomputed://http://127.0.0.1:10001/precomputed/synapses",
      name: "synapses" },
  ]);
  assert.deepEqual(s.dimensions, { x: [1e-8, "m"], y: [1e-8, "m"], z: [2e-8, "m"] });
  assert.deepEqual(s.position, [10, 25, 20]);
  assert.equal(s.layout, "3d");
});

test("state without synapses, voxel size or position", () => {
  const s = neuroglancerState({ source: "http://h/precomputed", synapses: false, cellKey: "7",
    voxelSizeNm: null, positionNm: null });
  assert.equal(s.layers.length, 1);
  assert.equal("dimensions" in s || "position" in s, false);
  const t = neuroglancerState({ source: "http://h/precomputed", synapses: false, cellKey: "7",
    voxelSizeNm: [4, 4, 40], positionNm: [null, null, null] });
  assert.equal("position" in t, false);
});

test("link: the state as URL-encoded JSON after #!", () => {
  const state = { layers: [], layout: "3d" };
  const url = neuroglancerLink("https://neuroglancer-demo.appspot.com/", state);
  assert.ok(url.startsWith("https://neuroglancer-demo.appspot.com/#!"));
  assert.deepEqual(JSON.parse(decodeURIComponent(url.split("#!")[1])), state);
});
