// The cell list: filters and sorting run in SQL on the server (/api/cells), one page at a time.

import { api } from "./api.js";
import { el, num, text } from "./format.js";

const PAGE = 200;

/** Columns: [label, sort key or null, value of a cell row, tooltip]. */
const COLUMNS = [
  ["id", "id", (c) => c.key, "cell id (its smallest supervoxel id)"],
  ["type", "type", (c) => text(c.cell_type), "cell type (missing until the cell type model has run)"],
  ["µm³", "size", (c) => num(c.size_um3), "size in µm³"],
  ["in", "synapses_in", (c) => num(c.n_synapses_in), "synapses onto the cell (syn_prob above the threshold)"],
  ["out", "synapses_out", (c) => num(c.n_synapses_out), "synapses from the cell (syn_prob above the threshold)"],
  ["mi", "mi", (c) => num(c.n_mi), "mitochondria"],
  ["vc", "vc", (c) => num(c.n_vc), "vesicle clouds"],
  ["cable", "cable", (c) => num(c.cable_length_um), "skeleton cable length in µm"],
];

/** The /api/cells parameters of the filter form. */
export function filterParams(form) {
  const v = (name) => form.elements[name].value.trim();
  return {
    q: v("q"), type: v("type"), min_size_um3: v("min_size_um3"), min_synapses: v("min_synapses"),
    min_synapses_in: v("min_synapses_in"), min_synapses_out: v("min_synapses_out"),
    min_cable_um: v("min_cable_um"),
  };
}

export class CellList {
  /**
   * @param {HTMLElement} root  the panel to fill
   * @param {(key: string) => void} onSelect  called with the key of a clicked cell
   */
  constructor(root, onSelect) {
    this.root = root;
    this.onSelect = onSelect;
    this.sort = "size";
    this.desc = true;
    this.rows = [];
    this.selected = null;
    this.request = 0;
    this.typesShown = null;
    this.build();
  }

  build() {
    const input = (name, label, attrs = {}) => el("label", {}, label,
      el("input", { name, type: "number", min: "0", step: "any", ...attrs }));
    this.typeSelect = el("select", { name: "type" });
    this.form = el("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      el("label", { class: "wide" }, "id", el("input", { name: "q", type: "search", inputmode: "numeric",
        pattern: "[0-9]*", placeholder: "id starts with…", autocomplete: "off" })),
      el("label", { class: "wide" }, "type", this.typeSelect),
      input("min_size_um3", "size ≥ µm³"), input("min_cable_um", "cable ≥ µm"),
      input("min_synapses", "synapses ≥", { step: "1" }),
      input("min_synapses_in", "in ≥", { step: "1" }), input("min_synapses_out", "out ≥", { step: "1" }));
    let timer = null;
    this.form.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.load(), 200);
    });
    this.head = el("tr");
    this.body = el("tbody");
    this.count = el("span", { class: "count" });
    this.error = el("p", { class: "error", hidden: true });
    this.more = el("button", { type: "button", class: "more", hidden: true, onclick: () => this.load(true) },
      "more");
    this.root.append(
      el("h2", {}, "Cells ", this.count), this.form, this.error,
      el("div", { class: "scroll" }, el("table", { class: "cells" }, el("thead", {}, this.head), this.body),
        this.more));
    this.renderHead();
  }

  renderHead() {
    this.head.replaceChildren(...COLUMNS.map(([label, key, , tip]) => {
      const arrow = key === this.sort ? (this.desc ? " ▾" : " ▴") : "";
      return el("th", { title: tip, class: "sortable", onclick: () => this.sortBy(key) }, label + arrow);
    }));
  }

  sortBy(key) {
    this.desc = key === this.sort ? !this.desc : key !== "id" && key !== "type";
    this.sort = key;
    this.renderHead();
    this.load();
  }

  /** The type filter's options from the counts the server sends. */
  renderTypes(cellTypes) {
    const typed = cellTypes.filter((t) => t.cell_type !== null);
    const sig = JSON.stringify(typed);
    if (sig === this.typesShown) return;
    this.typesShown = sig;
    const keep = this.typeSelect.value;
    if (!typed.length) {
      this.typeSelect.replaceChildren(el("option", { value: "" }, "no cell types yet"));
      this.typeSelect.disabled = true;
      return;
    }
    this.typeSelect.disabled = false;
    this.typeSelect.replaceChildren(el("option", { value: "" }, "any"),
      ...typed.map((t) => el("option", { value: t.cell_type }, `${t.cell_type} (${t.n_cells})`)));
    this.typeSelect.value = keep;
  }

  /** Fetch the first page for the current filters, or (`append`) the next page. */
  async load(append = false) {
    const offset = append ? this.rows.length : 0;
    const id = ++this.request;
    let page;
    try {
      page = await api.cells({ ...filterParams(this.form), sort: this.sort, desc: this.desc,
        limit: PAGE, offset });
    } catch (err) {
      if (id !== this.request) return;
      this.error.textContent = err.detail ?? err.message;
      this.error.hidden = false;
      return;
    }
    if (id !== this.request) return; // a newer request is under way
    this.error.hidden = true;
    this.renderTypes(page.cell_types);
    this.rows = append ? this.rows.concat(page.cells) : page.cells;
    this.count.textContent = `${this.rows.length.toLocaleString("en-US")} of ${page.total.toLocaleString("en-US")}`;
    this.more.hidden = this.rows.length >= page.total;
    const rows = page.cells.map((c) => this.row(c));
    if (append) this.body.append(...rows);
    else this.body.replaceChildren(...rows);
  }

  row(c) {
    return el("tr", {
      dataset: { key: c.key }, class: c.key === this.selected ? "selected" : null,
      onclick: () => this.onSelect(c.key),
    }, ...COLUMNS.map(([, , value]) => el("td", {}, value(c))));
  }

  /** Mark `key` as the selected cell. */
  select(key) {
    this.selected = key;
    for (const tr of this.body.children) tr.classList.toggle("selected", tr.dataset.key === key);
  }
}
