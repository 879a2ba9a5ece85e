// The 3D view: one cell's mesh (uniform or by compartment), its organelles, skeleton and
// synapse markers, and partner cells overlaid in other colours.  Renders on demand.

import {
  AmbientLight,
  BufferAttribute,
  BufferGeometry,
  Color,
  DirectionalLight,
  DoubleSide,
  Group,
  InstancedMesh,
  LineBasicMaterial,
  LineSegments,
  Matrix4,
  Mesh,
  MeshLambertMaterial,
  PerspectiveCamera,
  Raycaster,
  Scene,
  SphereGeometry,
  Vector2,
  Vector3,
  WebGLRenderer,
} from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { bounds, markerRadiusNm, skeletonSegments, unionBounds } from "./geometry.js";

export const BACKGROUND = "#f4f5f7";
export const CELL_COLOR = "#b8bcc6";
export const ORGANELLE_COLORS = { mi: "#ff8c1a", vc: "#9d4edd", sj: "#e6c200" };
export const SIGN_COLORS = { excitatory: "#d62728", inhibitory: "#1f77b4", unknown: "#7f7f7f" };
export const PARTNER_COLORS = ["#17becf", "#e377c2", "#bcbd22", "#8c564b", "#2ca02c", "#9467bd"];

/** A BufferGeometry of a flat vertex / triangle-index mesh, with normals computed. */
function meshGeometry(vertices, indices, colors = null) {
  const g = new BufferGeometry();
  g.setAttribute("position", new BufferAttribute(Float32Array.from(vertices), 3));
  const nv = vertices.length / 3;
  g.setIndex(new BufferAttribute(nv > 65535 ? Uint32Array.from(indices) : Uint16Array.from(indices), 1));
  if (colors) g.setAttribute("color", new BufferAttribute(colors, 3));
  g.computeVertexNormals();
  return g;
}

function dispose(object) {
  object.traverse((o) => {
    o.geometry?.dispose();
    o.material?.dispose?.();
  });
}

export class Viewer {
  /** @param {HTMLElement} container  the element the canvas fills */
  constructor(container) {
    this.container = container;
    // preserveDrawingBuffer: the canvas can be read back (screenshots, scripted checks)
    this.renderer = new WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.renderer.setClearColor(BACKGROUND);
    container.appendChild(this.renderer.domElement);
    this.canvas = this.renderer.domElement;

    this.scene = new Scene();
    this.camera = new PerspectiveCamera(40, 1, 1, 1e7);
    this.camera.up.set(0, 0, 1);
    this.scene.add(new AmbientLight("#ffffff", 1.1));
    this.light = new DirectionalLight("#ffffff", 1.6);
    this.camera.add(this.light);
    this.light.position.set(0.3, 0.6, 1);
    this.scene.add(this.camera);

    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.addEventListener("change", () => this.render());

    this.layers = {
      cell: new Group(), mi: new Group(), vc: new Group(), sj: new Group(),
      skeleton: new Group(), synapses: new Group(), partners: new Group(),
    };
    Object.values(this.layers).forEach((g) => this.scene.add(g));
    this.partners = new Map(); // key -> Mesh
    this.synapseKeys = [];
    this.highlighted = null;
    this.cellBounds = null;
    this.opacity = 0.45;
    this.onPickSynapse = null;

    this.raycaster = new Raycaster();
    this.downAt = null; // a click that ends a drag of the view picks nothing
    this.canvas.addEventListener("pointerdown", (ev) => { this.downAt = [ev.clientX, ev.clientY]; });
    this.canvas.addEventListener("click", (ev) => this.pick(ev));
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
  }

  resize() {
    const { clientWidth: w, clientHeight: h } = this.container;
    if (!w || !h) return;
    this.renderer.setSize(w, h, false);
    this.canvas.style.width = "100%";
    this.canvas.style.height = "100%";
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  render() {
    const t = this.controls.target;
    this.canvas.dataset.target = JSON.stringify([t.x, t.y, t.z].map((v) => Math.round(v)));
    this.renderer.render(this.scene, this.camera);
  }

  /** Remove the cell, its organelles, skeleton, synapses and every partner overlay. */
  clear() {
    for (const g of Object.values(this.layers)) {
      for (const child of [...g.children]) {
        g.remove(child);
        dispose(child);
      }
    }
    this.partners.clear();
    this.canvas.dataset.partners = "";
    this.synapseKeys = [];
    this.highlighted = null;
    this.cellBounds = null;
    this.render();
  }

  _material(color, { vertexColors = false, transparent = true } = {}) {
    return new MeshLambertMaterial({
      color: vertexColors ? "#ffffff" : color, vertexColors, side: DoubleSide,
      transparent, opacity: transparent ? this.opacity : 1, depthWrite: !transparent,
    });
  }

  /** The selected cell's mesh; `colors` (per vertex RGB) or one uniform colour. */
  setCellMesh(vertices, indices, colors = null) {
    const mesh = new Mesh(meshGeometry(vertices, indices, colors),
      this._material(CELL_COLOR, { vertexColors: Boolean(colors) }));
    mesh.renderOrder = 2; // after the opaque organelles and markers inside it
    this.layers.cell.add(mesh);
    this.cellBounds = unionBounds(this.cellBounds, bounds(vertices));
    this.render();
  }

  /** Organelle meshes of one type (mi, vc, sj), opaque inside the translucent cell. */
  setOrganelles(type, vertices, indices) {
    if (!vertices.length) return;
    const mesh = new Mesh(meshGeometry(vertices, indices),
      this._material(ORGANELLE_COLORS[type], { transparent: false }));
    this.layers[type].add(mesh);
    this.render();
  }

  setSkeleton(nodes, edges) {
    if (!edges.length) return;
    const g = new BufferGeometry();
    g.setAttribute("position", new BufferAttribute(skeletonSegments(nodes, edges), 3));
    this.layers.skeleton.add(new LineSegments(g, new LineBasicMaterial({ color: "#202124" })));
    this.cellBounds = unionBounds(this.cellBounds, bounds(nodes));
    this.render();
  }

  /** Synapse markers: spheres at x/y/z_nm sized by area, coloured by sign. */
  setSynapses(synapses) {
    for (const child of [...this.layers.synapses.children]) {
      this.layers.synapses.remove(child);
      dispose(child);
    }
    const placed = synapses.filter((s) => s.x_nm !== null && s.y_nm !== null && s.z_nm !== null);
    this.synapseKeys = placed.map((s) => s.key);
    this.highlighted = null;
    if (placed.length) {
      const marks = new InstancedMesh(new SphereGeometry(1, 16, 12),
        new MeshLambertMaterial({ color: "#ffffff" }), placed.length);
      const m = new Matrix4();
      placed.forEach((s, i) => {
        const r = markerRadiusNm(s.area_um2);
        m.makeScale(r, r, r).setPosition(s.x_nm, s.y_nm, s.z_nm);
        marks.setMatrixAt(i, m);
        marks.setColorAt(i, new Color(SIGN_COLORS[s.sign_label] ?? SIGN_COLORS.unknown));
      });
      marks.userData.radii = placed.map((s) => markerRadiusNm(s.area_um2));
      this.layers.synapses.add(marks);
    }
    this.render();
  }

  /** Enlarge the marker of synapse `key` (and shrink the one before back). */
  highlightSynapse(key) {
    const marks = this.layers.synapses.children[0];
    if (!marks) return;
    const scale = (i, f) => {
      const m = new Matrix4();
      marks.getMatrixAt(i, m);
      const p = new Vector3().setFromMatrixPosition(m);
      const r = marks.userData.radii[i] * f;
      marks.setMatrixAt(i, m.makeScale(r, r, r).setPosition(p));
    };
    if (this.highlighted !== null) scale(this.highlighted, 1);
    const i = this.synapseKeys.indexOf(key);
    this.highlighted = i >= 0 ? i : null;
    if (i >= 0) scale(i, 2.2);
    marks.instanceMatrix.needsUpdate = true;
    marks.computeBoundingSphere();
    this.render();
  }

  addPartner(key, vertices, indices, color) {
    this.removePartner(key);
    const mesh = new Mesh(meshGeometry(vertices, indices), this._material(color));
    mesh.renderOrder = 3;
    this.partners.set(key, mesh);
    this.layers.partners.add(mesh);
    this.canvas.dataset.partners = [...this.partners.keys()].join(" ");
    this.render();
  }

  removePartner(key) {
    const mesh = this.partners.get(key);
    if (!mesh) return;
    this.layers.partners.remove(mesh);
    dispose(mesh);
    this.partners.delete(key);
    this.canvas.dataset.partners = [...this.partners.keys()].join(" ");
    this.render();
  }

  setVisible(layer, visible) {
    this.layers[layer].visible = visible;
    this.render();
  }

  /** Opacity of the cell and partner meshes (0..1). */
  setOpacity(value) {
    this.opacity = value;
    for (const layer of [this.layers.cell, this.layers.partners]) {
      layer.traverse((o) => {
        if (o.material) {
          o.material.opacity = value;
          o.material.transparent = value < 1;
          o.material.depthWrite = value >= 1;
          o.material.needsUpdate = true;
        }
      });
    }
    this.render();
  }

  /** Look at the whole cell. */
  frameCell() {
    if (this.cellBounds) this.lookAt(this.cellBounds.center, this.cellBounds.radius, true);
  }

  /** Centre the view on `point` (nm) at a distance showing `radius` nm around it. */
  lookAt(point, radius, resetDirection = false) {
    const target = new Vector3(...point);
    const dist = Math.max(radius, 50) / Math.sin((this.camera.fov * Math.PI) / 360);
    let dir = new Vector3().subVectors(this.camera.position, this.controls.target);
    if (resetDirection || dir.lengthSq() === 0) dir = new Vector3(0.6, -0.9, 0.5);
    dir.normalize();
    this.camera.position.copy(target).addScaledVector(dir, dist);
    this.camera.near = Math.max(dist / 500, 0.5);
    this.camera.far = dist * 50 + (this.cellBounds?.radius ?? 0) * 10;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(target);
    this.controls.update();
    this.render();
  }

  /** Clicking a synapse marker calls `onPickSynapse(key)`. */
  pick(ev) {
    const marks = this.layers.synapses.children[0];
    if (!marks || !this.layers.synapses.visible || !this.onPickSynapse) return;
    if (this.downAt && Math.hypot(ev.clientX - this.downAt[0], ev.clientY - this.downAt[1]) > 4) return;
    const rect = this.canvas.getBoundingClientRect();
    const ndc = new Vector2(((ev.clientX - rect.left) / rect.width) * 2 - 1,
      -((ev.clientY - rect.top) / rect.height) * 2 + 1);
    this.raycaster.setFromCamera(ndc, this.camera);
    const hit = this.raycaster.intersectObject(marks)[0];
    if (hit && hit.instanceId !== undefined) this.onPickSynapse(this.synapseKeys[hit.instanceId]);
  }
}
