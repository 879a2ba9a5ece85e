// The server's JSON routes, addressed relative to the page (/app/ -> the server root), so
// the viewer also works behind a proxy that serves it under a prefix.

const ROOT = new URL("../", window.location.href);

/** The absolute URL of `path` on this server (relative to its root). */
export function serverUrl(path) {
  return new URL(path, ROOT).href;
}

/** An HTTP error with the server's `detail` message. */
export class ApiError extends Error {
  constructor(status, detail, path) {
    super(`${path}: ${detail} (HTTP ${status})`);
    this.status = status;
    this.detail = detail;
  }
}

/** A FastAPI `detail`: a message, or a list of validation errors ({loc, msg}). */
function describe(detail) {
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc ?? []).slice(-1)[0]}: ${d.msg}`).join("; ");
  return detail;
}

/** GET `path` (relative to the server root) as JSON; non-2xx responses raise ApiError. */
export async function getJSON(path) {
  const r = await fetch(new URL(path, ROOT));
  if (!r.ok) {
    let detail = r.statusText;
    try {
      detail = describe((await r.json()).detail) ?? detail;
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(r.status, detail, path);
  }
  return r.json();
}

/** Query-string of `params`, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  }
  return q.toString();
}

export const api = {
  dataset: () => getJSON("api/dataset"),
  cells: (params) => getJSON(`api/cells?${query(params)}`),
  cell: (key) => getJSON(`api/cell/${key}`),
  synapses: (key) => getJSON(`api/synapses?cell=${key}`),
  typeMatrix: () => getJSON("api/type_matrix"),
  // the KNOSSOS-plugin routes
  mesh: (key) => getJSON(`ssv_mesh/${key}`),
  objectVertices: (key, type) => getJSON(`ssv_obj_vert/${key}/${type}`),
  objectIndices: (key, type) => getJSON(`ssv_obj_ind/${key}/${type}`),
  skeleton: (key) => getJSON(`ssv_skeleton/${key}`),
};
