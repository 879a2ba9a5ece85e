// The SyConn web viewer: wires the cell list, the 3D view, the cell / synapse panels and the
// type matrix together.  State that a link can carry lives in the URL hash (#cell=ID).
//
// For scripted checks the page reports what it shows: <body data-state="loading|ready|error"
// data-cell="ID">; the canvas' data-target holds the view centre in nm and data-partners the
// partners overlaid; a synapse row's data-nm its position.

import "./style.css";
import { api, serverUrl } from "./api.js";
import { CellList } from "./cellList.js";
import { CellPanel } from "./cellPanel.js";
import { el } from "./format.js";
import {
  COMPARTMENTS, compartmentColors, labelVertices, nodesToNm, skeletonCompartments,
} from "./geometry.js";
import { TypeMatrix } from "./matrix.js";
import { neuroglancerLink, neuroglancerState } from "./neuroglancer.js";
import { CELL_COLOR, ORGANELLE_COLORS, PARTNER_COLORS, SIGN_COLORS, Viewer } from "./scene.js";
import { SynapseTable } from "./synapseTable.js";

const ORGANELLES = [["mi", "mitochondria"], ["vc", "vesicle clouds"], ["sj", "synaptic junctions"]];
const $ = (sel) => document.querySelector(sel);

const state = {
  key: null, token: 0, partnerColors: new Map(), nextColor: 0, synapses: [],
  voxelSizeNm: null, // from /api/dataset: skeleton nodes come in voxels, meshes in nm
  neuroglancer: null, // from /api/dataset: {url, precomputed} while an export exists
};

const viewer = new Viewer($("#view"));
const status = $("#status");
const legend = $("#legend");
const cellList = new CellList($("#cells"), (key) => selectCell(key));
const cellPanel = new CellPanel($("#tab-cell"), {
  onTogglePartner: (key, on) => togglePartner(key, on),
  onOpen: (key) => selectCell(key),
  neuroglancerLink: (detail) => cellNeuroglancerLink(detail),
});
const synapseTable = new SynapseTable($("#tab-synapses"), {
  onJump: (s) => jumpTo(s),
  onFilter: (shown) => viewer.setSynapses(shown),
});
const typeMatrix = new TypeMatrix($("#tab-types"));
viewer.onPickSynapse = (key) => {
  const s = state.synapses.find((x) => x.key === key);
  if (s) {
    showTab("synapses");
    jumpTo(s);
  }
};

/** The link that opens cell `detail` (an /api/cell response) in Neuroglancer, null without
 * an export. */
function cellNeuroglancerLink(detail) {
  const ng = state.neuroglancer;
  if (!ng?.precomputed) return null;
  const a = detail.attributes;
  return neuroglancerLink(ng.url, neuroglancerState({
    source: serverUrl(ng.precomputed.path), synapses: ng.precomputed.synapses,
    cellKey: state.key, voxelSizeNm: state.voxelSizeNm,
    positionNm: [a.x_nm, a.y_nm, a.z_nm],
  }));
}

function setStatus(message, kind = "info") {
  status.textContent = message;
  status.dataset.kind = kind;
}

function setPageState(value) {
  document.body.dataset.state = value;
}

// ------------------------------------------------------------------ toolbar and legend

function buildToolbar() {
  const toggle = (layer, label, color, title = null) => el("label", { class: "check", title },
    el("input", { type: "checkbox", checked: true, onchange: (e) => viewer.setVisible(layer, e.target.checked) }),
    color ? el("span", { class: "swatch", style: `background:${color}` }) : null, label);
  const opacity = el("input", { type: "range", min: "0.1", max: "1", step: "0.05", value: String(viewer.opacity),
    "aria-label": "cell opacity", oninput: (e) => viewer.setOpacity(Number(e.target.value)) });
  $("#toolbar").replaceChildren(
    toggle("cell", "cell", CELL_COLOR),
    ...ORGANELLES.map(([t, name]) => toggle(t, t, ORGANELLE_COLORS[t], name)),
    toggle("skeleton", "skeleton", "#202124"), toggle("synapses", "synapses"),
    toggle("partners", "partners"),
    el("label", { class: "check" }, "opacity ", opacity),
    el("button", { type: "button", onclick: () => viewer.frameCell() }, "fit"));
}

function renderLegend(compartmentKey) {
  const item = (color, label) => el("span", { class: "item" }, el("span", { class: "dot", style: `background:${color}` }), label);
  const parts = [el("strong", {}, "synapses "),
    ...Object.entries(SIGN_COLORS).map(([k, c]) => item(c, k))];
  if (compartmentKey) {
    parts.push(el("strong", {}, ` mesh by compartment (${compartmentKey}) `),
      ...COMPARTMENTS.map((c) => item(c.color, c.name)));
  } else {
    parts.push(el("span", { class: "hint" }, " mesh: uniform (no compartment labels yet)"));
  }
  legend.replaceChildren(...parts);
}

// ------------------------------------------------------------------ loading a cell

/** Organelle meshes of `type` of cell `key`: {vert, ind}; missing ones as empty lists. */
async function organelles(key, type) {
  const [v, i] = await Promise.all([api.objectVertices(key, type), api.objectIndices(key, type)]);
  return { vert: v.vert ?? [], ind: i.ind ?? [] };
}

/** The mesh of cell `key` ({vertices, indices}), or null where none is stored (404). */
async function cellMesh(key) {
  try {
    const m = await api.mesh(key);
    return m.vertices?.length ? m : null;
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

async function selectCell(key) {
  const token = ++state.token;
  const stale = () => token !== state.token;
  state.key = key;
  state.partnerColors.clear();
  state.nextColor = 0;
  state.synapses = [];
  if (window.location.hash !== `#cell=${key}`) history.replaceState(null, "", `#cell=${key}`);
  cellList.select(key);
  cellPanel.clearShown();
  synapseTable.clear();
  viewer.clear();
  setPageState("loading");
  document.body.dataset.cell = key;
  setStatus(`loading cell ${key} …`);
  try {
    const [detail, syn, mesh, skeleton, ...orgs] = await Promise.all([
      api.cell(key), api.synapses(key), cellMesh(key), api.skeleton(key),
      ...ORGANELLES.map(([t]) => organelles(key, t)),
    ]);
    if (stale()) return;
    cellPanel.show(detail);
    state.synapses = syn.synapses;
    synapseTable.show(syn);
    const hasSkeleton = Boolean(skeleton.nodes?.length);
    const nodes = hasSkeleton && state.voxelSizeNm ? nodesToNm(skeleton.nodes, state.voxelSizeNm) : null;
    const comp = mesh && nodes && skeletonCompartments(skeleton);
    if (mesh) {
      const colors = comp
        ? compartmentColors(labelVertices(mesh.vertices, nodes, comp.labels), CELL_COLOR) : null;
      viewer.setCellMesh(mesh.vertices, mesh.indices, colors);
    }
    ORGANELLES.forEach(([t], i) => viewer.setOrganelles(t, orgs[i].vert, orgs[i].ind));
    if (nodes) viewer.setSkeleton(nodes, skeleton.edges ?? []);
    renderLegend(comp?.key ?? null);
    viewer.frameCell();
    const skeletonNote = !hasSkeleton ? "no skeleton"
      : nodes ? `${skeleton.nodes.length / 3} skeleton nodes`
        : "skeleton not drawn (its nodes are in voxels and the voxel size is unknown)";
    const notes = [mesh ? `${(mesh.vertices.length / 3).toLocaleString("en-US")} vertices` : "no mesh stored",
      skeletonNote, `${syn.synapses.length} synapses`];
    setStatus(`cell ${key}: ${notes.join(", ")}`, mesh ? "info" : "warn");
    setPageState("ready");
  } catch (err) {
    if (stale()) return;
    setStatus(`cell ${key}: ${err.detail ?? err.message}`, "error");
    setPageState("error");
  }
}

async function togglePartner(key, on) {
  if (!on) {
    viewer.removePartner(key);
    state.partnerColors.delete(key);
    cellPanel.setShown(key, null);
    return;
  }
  const color = PARTNER_COLORS[state.nextColor++ % PARTNER_COLORS.length];
  state.partnerColors.set(key, color);
  cellPanel.setShown(key, color);
  const token = state.token;
  try {
    const mesh = await cellMesh(key);
    if (token !== state.token || !state.partnerColors.has(key)) return;
    if (!mesh) {
      setStatus(`partner ${key}: no mesh stored`, "warn");
      cellPanel.setShown(key, null);
      state.partnerColors.delete(key);
      return;
    }
    viewer.addPartner(key, mesh.vertices, mesh.indices, color);
  } catch (err) {
    setStatus(`partner ${key}: ${err.detail ?? err.message}`, "error");
    cellPanel.setShown(key, null);
    state.partnerColors.delete(key);
  }
}

function jumpTo(s) {
  synapseTable.select(s.key);
  if (s.x_nm === null) {
    setStatus(`synapse ${s.key}: no position in nm (the dataset records no voxel size)`, "warn");
    return;
  }
  viewer.highlightSynapse(s.key);
  viewer.lookAt([s.x_nm, s.y_nm, s.z_nm], 1500);
  setStatus(`synapse ${s.key} at ${s.x_nm}, ${s.y_nm}, ${s.z_nm} nm (voxel ${s.rep_x}, ${s.rep_y}, ${s.rep_z})`);
}

// ------------------------------------------------------------------ tabs, header, start

function showTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const p of document.querySelectorAll(".tab")) p.hidden = p.id !== `tab-${name}`;
}

function hashCell() {
  const m = /^#cell=(\d+)$/.exec(window.location.hash);
  return m ? m[1] : null;
}

async function start() {
  buildToolbar();
  renderLegend(null);
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  showTab("cell");
  window.addEventListener("hashchange", () => {
    const key = hashCell();
    if (key && key !== state.key) selectCell(key);
  });
  try {
    const ds = await api.dataset();
    state.voxelSizeNm = ds.voxel_size_nm;
    state.neuroglancer = { url: ds.neuroglancer_url, precomputed: ds.precomputed };
    const vs = ds.voxel_size_nm ? ds.voxel_size_nm.join(" × ") + " nm" : "voxel size unknown";
    $("#dataset").textContent = `${ds.name ?? "unnamed dataset"} · ${vs} · ${ds.n_cells.toLocaleString("en-US")} cells · `
      + `${ds.n_synapses.toLocaleString("en-US")} synapses (${ds.n_connections.toLocaleString("en-US")} connections `
      + `above syn_prob ${ds.syn_prob_threshold})`;
  } catch (err) {
    $("#dataset").textContent = `dataset: ${err.detail ?? err.message}`;
  }
  await cellList.load();
  api.typeMatrix().then((m) => typeMatrix.show(m),
    (err) => typeMatrix.show({ available: false, message: `type matrix: ${err.detail ?? err.message}` }));
  const key = hashCell();
  if (key) selectCell(key);
  else {
    setStatus("select a cell in the list");
    setPageState("idle");
  }
}

start();
