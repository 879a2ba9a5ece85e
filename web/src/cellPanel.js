// The selected cell: its attributes and its partners out and in (thresholded connections).

import { el, MISSING, num, text } from "./format.js";

/** Attributes shown, in order: [cells_full column, label, unit]. */
const ATTRIBUTES = [
  ["cell_type", "cell type", ""],
  ["cell_type_certainty", "type certainty", ""],
  ["is_glia", "glia", ""],
  ["size_um3", "size", "µm³"],
  ["volume_um3", "mesh volume", "µm³"],
  ["mesh_area_um2", "mesh area", "µm²"],
  ["n_supervoxels", "supervoxels", ""],
  ["cable_length_um", "cable length", "µm"],
  ["skeleton_status", "skeleton", ""],
  ["n_skeleton_nodes", "skeleton nodes", ""],
  ["n_branch_points", "branch points", ""],
  ["n_tips", "tips", ""],
  ["n_synapses_in", "synapses in", ""],
  ["n_synapses_out", "synapses out", ""],
  ["sum_area_in_um2", "synapse area in", "µm²"],
  ["sum_area_out_um2", "synapse area out", "µm²"],
  ["n_mi", "mitochondria", ""],
  ["n_vc", "vesicle clouds", ""],
  ["n_sj", "synaptic junctions", ""],
];

const SIGN = { 1: "exc", "-1": "inh", 0: "mixed" };

function value(v, unit) {
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") return `${num(v)}${unit ? ` ${unit}` : ""}`;
  return text(v);
}

/** The bounding box of a cells_full row, "x0–x1, y0–y1, z0–z1 nm" (or missing). */
function bbox(a) {
  if (a.bb_min_x_nm === null || a.bb_min_x_nm === undefined) return MISSING;
  return ["x", "y", "z"].map((k) => `${num(a[`bb_min_${k}_nm`])}–${num(a[`bb_max_${k}_nm`])}`)
    .join(", ") + " nm";
}

export class CellPanel {
  /**
   * @param {HTMLElement} root
   * @param {{onTogglePartner: (key: string, on: boolean) => void, onOpen: (key: string) => void,
   *   neuroglancerLink?: (detail: object) => string | null}} handlers  the last: the URL that
   *   opens the cell in Neuroglancer, or null (no export: no link)
   */
  constructor(root, { onTogglePartner, onOpen, neuroglancerLink = () => null }) {
    this.root = root;
    this.onTogglePartner = onTogglePartner;
    this.onOpen = onOpen;
    this.neuroglancerLink = neuroglancerLink;
    this.shown = new Map(); // partner key -> colour
    this.root.append(el("p", { class: "hint" }, "Select a cell in the list."));
  }

  /** Show `detail` (the /api/cell response). */
  show(detail) {
    this.detail = detail;
    const a = detail.attributes;
    const rows = ATTRIBUTES.map(([k, label, unit]) =>
      el("tr", {}, el("th", {}, label), el("td", { class: a[k] === null ? "missing" : null }, value(a[k], unit))));
    rows.push(el("tr", {}, el("th", {}, "position"),
      el("td", {}, a.x_nm === null ? MISSING : `${num(a.x_nm)}, ${num(a.y_nm)}, ${num(a.z_nm)} nm`)));
    rows.push(el("tr", {}, el("th", {}, "bounding box"), el("td", {}, bbox(a))));
    const ng = this.neuroglancerLink(detail);
    this.root.replaceChildren(
      el("h2", {}, `Cell ${detail.id}`),
      ng ? el("p", { class: "external" }, el("a", { href: ng, target: "_blank", rel: "noopener",
        id: "neuroglancer-link", title: "the working directory's Neuroglancer export, served by this server" },
      "open in Neuroglancer")) : null,
      el("table", { class: "attrs" }, el("tbody", {}, ...rows)),
      this.partnerTable("Partners out (this cell is presynaptic)", detail.partners_out, "out"),
      this.partnerTable("Partners in (this cell is postsynaptic)", detail.partners_in, "in"));
  }

  partnerTable(title, partners, dir) {
    const head = el("tr", {}, el("th", { title: "overlay the partner's mesh" }, "show"),
      el("th", {}, "partner"), el("th", {}, "type"), el("th", { title: "synapses" }, "n"),
      el("th", { title: "summed synapse area" }, "µm²"), el("th", { title: "area-weighted sign" }, "sign"),
      el("th", {}, ""));
    const body = partners.map((p) => {
      const box = el("input", { type: "checkbox", checked: this.shown.has(p.partner_key) || null,
        "aria-label": `show cell ${p.partner_key}`, onchange: (e) => this.onTogglePartner(p.partner_key, e.target.checked) });
      const swatch = el("span", { class: "swatch", dataset: { partner: p.partner_key } });
      if (this.shown.has(p.partner_key)) swatch.style.background = this.shown.get(p.partner_key);
      return el("tr", { dataset: { partner: p.partner_key, dir } },
        el("td", {}, box, swatch), el("td", {}, p.partner_key), el("td", {}, text(p.partner_type)),
        el("td", {}, num(p.n_synapses)), el("td", {}, num(p.sum_area_um2)),
        el("td", { class: `sign s${p.sign}` }, SIGN[p.sign] ?? MISSING),
        el("td", {}, el("button", { type: "button", class: "link", title: `open cell ${p.partner_key}`,
          onclick: () => this.onOpen(p.partner_key) }, "open")));
    });
    return el("section", { class: "partners" }, el("h3", {}, `${title}: ${partners.length}`),
      partners.length
        ? el("table", {}, el("thead", {}, head), el("tbody", {}, ...body))
        : el("p", { class: "hint" }, "none above the synapse threshold"));
  }

  /** Record that partner `key` is overlaid in `color` (null: not overlaid). */
  setShown(key, color) {
    if (color) this.shown.set(key, color);
    else this.shown.delete(key);
    for (const s of this.root.querySelectorAll(`.swatch[data-partner="${key}"]`)) s.style.background = color ?? "";
    for (const b of this.root.querySelectorAll(`tr[data-partner="${key}"] input[type=checkbox]`)) b.checked = Boolean(color);
  }

  clearShown() {
    this.shown.clear();
  }
}
