// The type-by-type connectivity heatmap (/api/type_matrix), or why there is none yet.

import { el, num } from "./format.js";

/** Background colour of `v` on a 0..max square-root scale (white to dark red). */
export function heat(v, max) {
  if (!v || !max) return "#ffffff";
  const t = Math.sqrt(v / max);
  const c = (a, b) => Math.round(a + (b - a) * t);
  return `rgb(${c(255, 140)}, ${c(255, 20)}, ${c(255, 30)})`;
}

export class TypeMatrix {
  constructor(root) {
    this.root = root;
    this.measure = "n_synapses";
  }

  /** Show the /api/type_matrix response `m`. */
  show(m) {
    this.m = m;
    if (!m.available) {
      this.root.replaceChildren(el("h2", {}, "Type-by-type connectivity"),
        el("p", { class: "notice", role: "status" }, m.message));
      return;
    }
    const pick = el("select", { onchange: (e) => { this.measure = e.target.value; this.show(m); } },
      el("option", { value: "n_synapses", selected: this.measure === "n_synapses" || null }, "synapses"),
      el("option", { value: "sum_area_um2", selected: this.measure === "sum_area_um2" || null }, "summed area µm²"));
    const values = m[this.measure];
    const max = Math.max(0, ...values.flat());
    const head = el("tr", {}, el("th", { class: "corner" }, "pre ↓ / post →"),
      ...m.types.map((t) => el("th", { class: "col" }, t)));
    const rows = m.types.map((t, i) => el("tr", {},
      el("th", {}, `${t} (${m.n_cells[i]})`),
      ...values[i].map((v, j) => el("td", {
        style: `background:${heat(v, max)};color:${v > max / 2 ? "#fff" : "#222"}`,
        title: `${t} → ${m.types[j]}: ${num(m.n_synapses[i][j])} synapses, ${num(m.sum_area_um2[i][j])} µm²`,
      }, v ? num(v) : ""))));
    this.root.replaceChildren(el("h2", {}, "Type-by-type connectivity"),
      el("label", {}, "show ", pick),
      el("div", { class: "scroll" }, el("table", { class: "heatmap" }, el("thead", {}, head), el("tbody", {}, ...rows))),
      el("p", { class: "hint" }, "Rows: presynaptic type; columns: postsynaptic type; synapses above the threshold."));
  }
}
