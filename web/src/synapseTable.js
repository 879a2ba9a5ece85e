// The synapse table of the selected cell; a row click centres the 3D view on the synapse.

import { el, MISSING, num, text } from "./format.js";
import { SIGN_COLORS } from "./scene.js";

const ARROW = { out: "→", in: "←", unknown: "?" };
const SIGN_SHORT = { excitatory: "exc", inhibitory: "inh", unknown: "?" };
const ARROW_TIP = {
  out: "this cell is presynaptic", in: "this cell is postsynaptic", unknown: "direction not determined",
};

/** The compartments of a synapse as "this cell / partner", from its direction. */
export function compartments(s) {
  const [own, other] = s.direction === "in"
    ? [s.comp_post_label, s.comp_pre_label] : [s.comp_pre_label, s.comp_post_label];
  if (own === null && other === null) return MISSING;
  return `${text(own)} / ${text(other)}`;
}

/** The synapses a table shows: all, or those the connectome counts. */
export function visibleSynapses(synapses, countedOnly) {
  return countedOnly ? synapses.filter((s) => s.counted) : synapses;
}

export class SynapseTable {
  /**
   * @param {HTMLElement} root
   * @param {{onJump: (s: object) => void, onFilter: (shown: object[]) => void}} handlers
   */
  constructor(root, { onJump, onFilter }) {
    this.root = root;
    this.onJump = onJump;
    this.onFilter = onFilter;
    this.synapses = [];
    this.selected = null;
    this.countedOnly = el("input", { type: "checkbox", checked: true, onchange: () => this.render() });
    this.caption = el("span", { class: "count" });
    this.body = el("tbody");
    this.threshold = el("span");
    this.root.append(
      el("h2", {}, "Synapses ", this.caption),
      el("label", { class: "counted" }, this.countedOnly, " only those counted in the connectome (syn_prob > ",
        this.threshold, ", direction known)"),
      el("div", { class: "scroll" }, el("table", { class: "synapses" },
        el("thead", {}, el("tr", {},
          el("th", { title: "direction" }, ""), el("th", {}, "partner"), el("th", {}, "sign"),
          el("th", { title: "compartment on this cell / on the partner" }, "comp."),
          el("th", { title: "synapse area" }, "µm²"), el("th", { title: "synapse voxels" }, "vx"),
          el("th", { title: "synapse probability" }, "prob"),
          el("th", { title: "position in voxels (mag 1)" }, "voxel"))),
        this.body)));
  }

  /** Show the /api/synapses response `list`. */
  show(list) {
    this.synapses = list.synapses;
    this.threshold.textContent = String(list.threshold);
    this.selected = null;
    this.render();
  }

  clear() {
    this.synapses = [];
    this.render();
  }

  render() {
    const shown = visibleSynapses(this.synapses, this.countedOnly.checked);
    this.caption.textContent = `${shown.length} of ${this.synapses.length}`;
    this.body.replaceChildren(...shown.map((s) => el("tr", {
      dataset: { key: s.key, nm: s.x_nm === null ? "" : JSON.stringify([s.x_nm, s.y_nm, s.z_nm]) },
      class: s.key === this.selected ? "selected" : null,
      title: s.x_nm === null ? "no position in nm (no voxel size recorded)"
        : `${num(s.x_nm)}, ${num(s.y_nm)}, ${num(s.z_nm)} nm — click to centre the view`,
      onclick: () => this.onJump(s),
    },
    el("td", { title: ARROW_TIP[s.direction] }, ARROW[s.direction]),
    el("td", {}, text(s.partner_key)),
    el("td", { title: s.sign_label }, el("span", { class: "dot", style: `background:${SIGN_COLORS[s.sign_label]}` }),
      SIGN_SHORT[s.sign_label]),
    el("td", {}, compartments(s)),
    el("td", {}, num(s.area_um2)), el("td", {}, num(s.size_vx)), el("td", {}, num(s.syn_prob)),
    el("td", {}, `${s.rep_x}, ${s.rep_y}, ${s.rep_z}`))));
    this.onFilter(shown);
  }

  /** Mark synapse `key` as the selected row and scroll it into view. */
  select(key) {
    this.selected = key;
    for (const tr of this.body.children) {
      const on = tr.dataset.key === key;
      tr.classList.toggle("selected", on);
      if (on) tr.scrollIntoView({ block: "nearest" });
    }
  }
}
