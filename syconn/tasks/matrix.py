"""Connectivity matrix export (SyConn ``run_matrix_export`` / ``export_matrix``, section 1.13).

``MatrixExport`` writes ``WD/connectivity_matrix/``:

- ``conn_mat.csv``: the original's layout, tab-separated, header line ``# x y z ssv1 ssv2 size
  comp1 comp2 celltype1 celltype2 spiness1 spiness2 synprob spinehead_vol1 spinehead_vol2
  direction_known`` (``numpy.loadtxt`` reads it): the original's columns in its order, its 20
  latent morphology columns left out (a comment line says so: no embedding is computed, and
  -1 there would read as a value) and ``direction_known`` last.  One row per synapse with
  ``syn_prob > 0`` (the original's ``export_matrix(threshold_syn=0)``), sorted by synapse id.
  ``x y z``: representative voxel; ``ssv1`` = presynaptic, ``ssv2`` = postsynaptic cell; where the
  direction is undetermined (``direction_known`` 0) ``ssv1 < ssv2`` are the partners in id
  order.  ``size`` = ``area_um2 * sign`` (negative:
  symmetric).  ``comp1/2`` = compartments of pre/post, ``celltype1/2`` = index of the cell type
  in the sorted list of the types present (second comment line: the legend), ``spiness2`` and
  ``spinehead_vol2`` from the synapse row.  Values of steps that have not run (or that the
  schema does not hold for that side: ``spiness1``, ``spinehead_vol1``) are -1.
- ``conn_mat.parquet``: the same rows plus ``synapse_id`` and ``celltype_name1/2``.
- ``conn_mat.png``: cell-by-cell heatmap of summed signed synapse area (the ``connections``
  view: synapses with known direction), cells grouped by cell type (labelled), then id.
- ``conn_mat_types.png``: type-by-type heatmaps (the ``type_connections`` view): synapse
  counts and summed area, excitatory (asymmetric) and inhibitory (symmetric) apart.

The files are also kept in the step folder (named by the config hash), which is the task's
target: a config change reruns the export and overwrites ``connectivity_matrix/``.
"""

from __future__ import annotations

import shutil

import luigi
import numpy as np
import pyarrow as pa

from syconn.tasks.base import SyconnTask, atomic_path, write_parquet
from syconn.tasks.synapses import Synapses

__all__ = ["MatrixExport", "CONN_MAT_COLUMNS", "conn_mat_table"]

#: the original's columns up to the latent morphology, then whether the direction is known
#: (the original's ``latentmorph1_0..9 latentmorph2_0..9`` are left out, and the header says
#: so: no morphology embedding is computed; -1 there would read as a value)
CONN_MAT_COLUMNS = ["x", "y", "z", "ssv1", "ssv2", "size", "comp1", "comp2", "celltype1",
                    "celltype2", "spiness1", "spiness2", "synprob", "spinehead_vol1",
                    "spinehead_vol2", "direction_known"]
_INT_COLUMNS = {"x", "y", "z", "ssv1", "ssv2", "comp1", "comp2", "celltype1", "celltype2",
                "spiness1", "spiness2", "direction_known"}
_LEFT_OUT = ("# left out: latentmorph1_0..9 latentmorph2_0..9 (no morphology embedding is "
             "computed); -1: not computed (spiness1, spinehead_vol1: only the postsynaptic side "
             "is measured; spiness2: direction unknown or below the threshold; spinehead_vol2: "
             "not on a spine head; comp: no skeleton within 3 um; celltype: the cell is not "
             "typed); spiness 0 neck, 1 head, 2 shaft, 3 other; direction_known 0: "
             "ssv1 < ssv2 are the partners in id order, not pre and post; synapses with a "
             "glia partner (cells.is_glia) are left out")
_FILES = ("conn_mat.csv", "conn_mat.parquet", "conn_mat.png", "conn_mat_types.png")

_SQL = """
SELECT s.id, s.rep_x, s.rep_y, s.rep_z, s.cell_pre, s.cell_post, s.cell_a, s.cell_b,
       s.area_um2, s.sign, s.comp_pre, s.comp_post, s.spiness_post, s.syn_prob,
       s.spinehead_vol_post_um3, pre.cell_type, post.cell_type
FROM synapses s
LEFT JOIN cells pre ON pre.id = COALESCE(s.cell_pre, s.cell_a)
LEFT JOIN cells post ON post.id = COALESCE(s.cell_post, s.cell_b)
WHERE s.syn_prob > 0 AND pre.is_glia IS NOT TRUE AND post.is_glia IS NOT TRUE
ORDER BY s.id
"""


def _num(values, fill=-1.0) -> np.ndarray:
    return np.array([fill if v is None else v for v in values], np.float64)


def conn_mat_table(rows: list[tuple]) -> tuple[pa.Table, list[str]]:
    """The export's rows (from ``_SQL``) as an Arrow table, and the cell type legend."""
    cols = list(zip(*rows)) if rows else [()] * 17
    (sid, rx, ry, rz, pre, post, ca, cb, area, sign, comp_pre, comp_post, spiness_post, prob,
     shv_post, type_pre, type_post) = cols
    known = np.array([p is not None for p in pre], bool)
    ssv1 = np.array([p if p is not None else a for p, a in zip(pre, ca)], np.int64)
    ssv2 = np.array([p if p is not None else b for p, b in zip(post, cb)], np.int64)
    legend = sorted({t for t in type_pre + type_post if t is not None})
    code = {t: i for i, t in enumerate(legend)}
    n = len(rows)
    out = {
        "x": np.array(rx, np.int64), "y": np.array(ry, np.int64), "z": np.array(rz, np.int64),
        "ssv1": ssv1, "ssv2": ssv2,
        "size": _num(area, 0.0) * _num(sign, 1.0),
        "comp1": _num(comp_pre).astype(np.int64), "comp2": _num(comp_post).astype(np.int64),
        "celltype1": np.array([code.get(t, -1) for t in type_pre], np.int64),
        "celltype2": np.array([code.get(t, -1) for t in type_post], np.int64),
        "spiness1": np.full(n, -1, np.int64),
        "spiness2": _num(spiness_post).astype(np.int64),
        "synprob": _num(prob, 0.0),
        "spinehead_vol1": np.full(n, -1.0),
        "spinehead_vol2": _num(shv_post),
    }
    out["direction_known"] = known.astype(np.int64)
    t = pa.table(out)
    t = t.append_column("synapse_id", pa.array(np.array(sid, np.int64))) \
        .append_column("celltype_name1", pa.array(list(type_pre), pa.string())) \
        .append_column("celltype_name2", pa.array(list(type_post), pa.string()))
    return t, legend


def _write_csv(t: pa.Table, legend: list[str], path) -> None:
    lines = ["# " + " ".join(CONN_MAT_COLUMNS),
             "# celltypes: " + (" ".join(f"{i}={name}" for i, name in enumerate(legend))
                                or "none (-1)"), _LEFT_OUT]
    arrays = [t[c].to_numpy() for c in CONN_MAT_COLUMNS]
    for r in range(t.num_rows):
        lines.append("\t".join(str(int(a[r])) if c in _INT_COLUMNS else repr(float(a[r]))
                               for c, a in zip(CONN_MAT_COLUMNS, arrays)))
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def _heatmap(conns: list[tuple], cell_types: dict[int, str | None], path) -> None:
    """Cells x cells summed signed area (pre rows, post columns), ordered by type, then id."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    ids = sorted({c[0] for c in conns} | {c[1] for c in conns},
                 key=lambda i: (cell_types.get(i) is None, cell_types.get(i) or "", i))
    pos = {c: i for i, c in enumerate(ids)}
    m = np.zeros((len(ids), len(ids)))
    for pre, post, signed in conns:
        m[pos[pre], pos[post]] += signed or 0.0
    fig, ax = plt.subplots(figsize=(6 + 0.05 * len(ids), 5 + 0.05 * len(ids)))
    vmax = float(np.abs(m).max()) if m.size and np.abs(m).max() > 0 else 1.0
    im = ax.imshow(m, cmap="RdBu_r", norm=TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax),
                   interpolation="nearest")
    fig.colorbar(im, ax=ax, label="summed area x sign (um^2); blue: symmetric")
    if len(ids) <= 40:
        labels = [f"{i} {cell_types.get(i) or '?'}" for i in ids]
        ax.set_xticks(range(len(ids)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(ids)), labels, fontsize=7)
    # lines between cell-type groups, and the groups named where the cells are too many to be
    types = [cell_types.get(i) for i in ids]
    starts = [0] + [k for k in range(1, len(ids)) if types[k] != types[k - 1]]
    for k in starts[1:]:
        ax.axhline(k - 0.5, color="k", lw=0.5)
        ax.axvline(k - 0.5, color="k", lw=0.5)
    if len(ids) > 40 and any(t is not None for t in types):
        mids = [(a + b - 1) / 2 for a, b in zip(starts, starts[1:] + [len(ids)])]
        names = [f"{types[a] or 'untyped'} ({b - a})" for a, b in zip(starts, starts[1:] +
                                                                     [len(ids)])]
        ax.set_xticks(mids, names, rotation=90, fontsize=8)
        ax.set_yticks(mids, names, fontsize=8)
    ax.set_xlabel("postsynaptic cell")
    ax.set_ylabel("presynaptic cell")
    ax.set_title(f"connectivity: {len(ids)} cells, {len(conns)} connections")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _type_heatmap(rows: list[tuple], path) -> None:
    """Type x type heatmaps from ``type_connections`` rows (type_pre, type_post, n_synapses,
    n_symmetric, sum_area_um2, sum_signed_area_um2): counts and area, excitatory and
    inhibitory apart (pre rows, post columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({r[0] for r in rows} | {r[1] for r in rows})
    k = {n: i for i, n in enumerate(names)}
    m = np.zeros((4, len(names), len(names)))
    for pre, post, n, n_sym, area, signed in rows:
        i, j = k[pre], k[post]
        n, n_sym, area, signed = (float(v or 0) for v in (n, n_sym, area, signed))  # Decimal
        m[:, i, j] += [n - n_sym, n_sym, (area + signed) / 2, (area - signed) / 2]
    fig, axes = plt.subplots(2, 2, figsize=(4 + 1.6 * max(len(names), 1),
                                            3.5 + 1.4 * max(len(names), 1)))
    what = [("excitatory (asymmetric) synapses", "synapses", "Reds"),
            ("inhibitory (symmetric) synapses", "synapses", "Blues"),
            ("excitatory synapse area", "summed area (um^2)", "Reds"),
            ("inhibitory synapse area", "summed area (um^2)", "Blues")]
    for ax, (title, unit, cmap), mat in zip(axes.ravel(), what, m):
        im = ax.imshow(mat, cmap=cmap, vmin=0, interpolation="nearest")
        fig.colorbar(im, ax=ax, label=unit)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlabel("postsynaptic type")
        ax.set_ylabel("presynaptic type")
        ax.set_title(title, fontsize=9)
        top = float(mat.max()) if mat.size else 0.0
        for (i, j), v in np.ndenumerate(mat):
            if v:
                ax.text(j, i, f"{v:.0f}" if unit == "synapses" else f"{v:.2f}", ha="center",
                        va="center", fontsize=7, color="w" if v > top / 2 else "k")
    if not names:
        fig.suptitle("no typed cells: run the cell type step (celltypes.enabled)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


class MatrixExport(SyconnTask):
    """``connectivity_matrix/conn_mat.{csv,parquet,png}`` and ``conn_mat_types.png`` from the
    synapses and cell types in SQL."""

    def requires(self):
        # the compartment step fills comp_pre / comp_post and may turn synapses around
        req = {"synapses": Synapses(working_dir=self.working_dir)}
        if self.cfg.compartments.enabled:
            from syconn.tasks.compartments import Compartments

            req["compartments"] = Compartments(working_dir=self.working_dir)
            if self.cfg.celltypes.enabled:  # celltype1/2 (the cell type step reads compartments)
                from syconn.tasks.celltypes import CellTypes

                req["celltypes"] = CellTypes(working_dir=self.working_dir)
            if self.cfg.spines.enabled:  # spiness2, spinehead_vol2
                from syconn.tasks.spines import Spines

                req["spines"] = Spines(working_dir=self.working_dir)
        return req

    def _step(self):
        # the export changes with the classifier's syn_prob, the compartment and the cell type
        # model: their models are part of the name
        req = self.requires()
        d = self.step_dir("matrix", "cell_objects", "compartments", "celltypes", "spines")
        name = f"{d.name}-{req['synapses'].model.digest[:8]}"
        for k in ("compartments", "celltypes", "spines"):
            if k in req:
                name += f"-{req[k].model.digest[:8]}"
        return d.with_name(name)

    def output(self):
        out = {f"step_{n}": luigi.LocalTarget(str(self._step() / n)) for n in _FILES}
        out.update({n: luigi.LocalTarget(str(self.wd / "connectivity_matrix" / n))
                    for n in _FILES})
        return out

    def run(self):
        from sqlalchemy import text

        with self.engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(text(_SQL))]
            conns = [tuple(r) for r in conn.execute(text(
                "SELECT cell_pre, cell_post, sum_signed_area_um2 FROM connections"))]
            types = {int(i): t for i, t in conn.execute(text("SELECT id, cell_type FROM cells"))}
            trows = [tuple(r) for r in conn.execute(text(
                "SELECT type_pre, type_post, n_synapses, n_symmetric, sum_area_um2, "
                "sum_signed_area_um2 FROM type_connections"))]
        t, legend = conn_mat_table(rows)
        step = self._step()
        _write_csv(t, legend, step / "conn_mat.csv")
        write_parquet(t, step / "conn_mat.parquet")
        _heatmap(conns, types, step / "conn_mat.png")
        _type_heatmap(trows, step / "conn_mat_types.png")
        for n in _FILES:  # the user-facing copy (the original's location)
            with atomic_path(self.output()[n].path) as tmp:
                shutil.copyfile(step / n, tmp)
