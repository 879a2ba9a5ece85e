// Links that open a cell in Neuroglancer, reading the working directory's precomputed export
// from this server (/precomputed/, served with CORS).  Pure: no DOM, tested by node --test.

/**
 * The Neuroglancer state of one cell: the export's cells as a segmentation layer with `cellKey`
 * selected, its synapses as an annotation layer (where the export has them), the 3D layout,
 * centred on the cell.
 *
 * @param {object} o
 * @param {string} o.source        the export's URL, e.g. "http://127.0.0.1:10001/precomputed"
 * @param {boolean} o.synapses     whether the export holds synapse annotations
 * @param {string} o.cellKey       the cell id as decimal text (64-bit safe)
 * @param {number[]|null} o.voxelSizeNm   (x, y, z) nm, or null (Neuroglancer takes the source's)
 * @param {number[]|null} o.positionNm    a point of the cell in nm, or null
 */
export function neuroglancerState({ source, synapses, cellKey, voxelSizeNm, positionNm }) {
  const base = source.replace(/\/+$/, "");
  const layers = [{ type: "segmentation", source: `precomputed://${base}`, name: "cells",
    segments: [cellKey] }];
  if (synapses) {
    layers.push({ type: "annotation", source: `precomputed://${base}/synapses`, name: "synapses" });
  }
  const state = {};
  if (voxelSizeNm) {
    state.dimensions = { x: [voxelSizeNm[0] * 1e-9, "m"], y: [voxelSizeNm[1] * 1e-9, "m"],
      z: [voxelSizeNm[2] * 1e-9, "m"] };
    if (positionNm && positionNm.every((v) => typeof v === "number")) {
      state.position = positionNm.map((v, i) => v / voxelSizeNm[i]);
    }
  }
  Object.assign(state, { layers, selectedLayer: { layer: "cells", visible: true }, layout: "3d" });
  return state;
}

/** The URL of `neuroglancerUrl` showing `state` (Neuroglancer reads it from "#!"). */
export function neuroglancerLink(neuroglancerUrl, state) {
  return `${neuroglancerUrl.replace(/\/+$/, "")}/#!${encodeURIComponent(JSON.stringify(state))}`;
}
