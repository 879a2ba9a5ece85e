// Formatting of values for tables; a missing value is shown as missing, never as 0.

export const MISSING = "—";

/** A number with `digits` significant digits, or MISSING for null / NaN. */
export function num(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return MISSING;
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}

/** Text, or MISSING for null / empty. */
export function text(v) {
  return v === null || v === undefined || v === "" ? MISSING : String(v);
}

/** Create an element: el("td", {class: "x", title: "..."}, child, "text", ...). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}
