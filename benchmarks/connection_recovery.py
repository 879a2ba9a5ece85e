"""The generator's connection rule recovered from a processed volume: type-to-type connection
probabilities, found against ``syconn.synth.types.CONNECTION_PROB``.

    python benchmarks/connection_recovery.py [--seeds 930] [--size-um 10]
                                             [--workdir syconn_train] [--min-candidates 10]

Each seed is made as the training volumes are (``syconn synth --variation``; a cube of
``--size-um``; reused when present under ``WORKDIR/connections/cp_SEED``) and run through the
whole ``Pipeline`` (cell types included), then read back from SQL.

The generator draws a synapse for each contact of a bouton of a pre cell with a post cell with
probability ``CONNECTION_PROB[pre type, post type]``.  The pipeline's counterpart: every
contact site is a candidate ``a -> b`` where the nearest skeleton node of ``a`` at the contact
is a bouton (en passant or terminal, the compartment step's labels), and also where a synapse
above the threshold was found there with ``a`` presynaptic (a bouton the compartment step
missed); a candidate formed a synapse when such a synapse exists.  Per pair of types, found
probability = formed / candidates.  Printed for the types the ``CellTypes`` step gave
(``cells.cell_type``, typed cells only), and for the generator's true types of the same cells
(what typing errors cost), with the Pearson correlation over the type pairs that have at least
``--min-candidates`` candidates, and each pair's counts.

Where the volume's ground truth has the generator's own candidates (``gt/candidates.parquet``,
written since 2026-12-07: every bouton-partner contact with what became of it), it also prints
the rule as the volume realises it: per type pair, the share of bouton-partner pairs the rule
drew (about ``CONNECTION_PROB``) and the share that became synapses after the generator's
voxel checks (cleft, vesicles, post side), and the pipeline's figures against the latter.

The default seed 930 was used for nothing else (cell type training 830, 831, 900-903;
validation 910; accuracy 920-924).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

BOUTONS = (3, 4)  # node compartment codes: en-passant and terminal bouton


def bouton_candidates(cs_ids, cell_a, cell_b, comp_a, comp_b, syn_pairs) -> tuple[np.ndarray,
                                                                                 np.ndarray,
                                                                                 np.ndarray]:
    """``(pre, post, formed)`` per candidate: each contact site side whose compartment is a
    bouton, or that is the presynaptic side of a synapse found there (``syn_pairs``: set of
    (contact site id, pre cell)).

    >>> pre, post, formed = bouton_candidates(
    ...     np.array([10, 11, 12]), np.array([1, 1, 2]), np.array([2, 3, 3]),
    ...     np.array([3, 0, 0]), np.array([0, 4, 1]), {(10, 1), (12, 2)})
    >>> pre.tolist(), post.tolist(), formed.tolist()
    ([1, 2, 3], [2, 3, 1], [True, True, False])
    """
    pre, post, formed = [], [], []
    for cid, a, b, ca, cb in zip(np.asarray(cs_ids).tolist(), np.asarray(cell_a).tolist(),
                                 np.asarray(cell_b).tolist(), np.asarray(comp_a).tolist(),
                                 np.asarray(comp_b).tolist()):
        for p, q, cp in ((a, b, ca), (b, a, cb)):
            syn = (cid, p) in syn_pairs
            if cp in BOUTONS or syn:
                pre.append(p)
                post.append(q)
                formed.append(syn)
    order = np.lexsort((np.asarray(post), np.asarray(pre))) if pre else np.zeros(0, np.int64)
    return (np.asarray(pre, np.int64)[order], np.asarray(post, np.int64)[order],
            np.asarray(formed, bool)[order])


def type_matrix(pre, post, formed, kind: dict, names) -> tuple[np.ndarray, np.ndarray]:
    """``(candidates, formed)`` per pair of ``names`` (rows: pre type), over the candidates
    whose both cells have a type in ``kind``."""
    k = {n: i for i, n in enumerate(names)}
    cand = np.zeros((len(names), len(names)), np.int64)
    hit = np.zeros_like(cand)
    for p, q, f in zip(pre.tolist(), post.tolist(), formed.tolist()):
        a, b = kind.get(p), kind.get(q)
        if a in k and b in k:
            cand[k[a], k[b]] += 1
            hit[k[a], k[b]] += int(f)
    return cand, hit


def contact_compartments(res) -> tuple[np.ndarray, ...]:
    """Contact sites ``(id, cell_a, cell_b, comp_a, comp_b)``: each side's label of the nearest
    skeleton node (-1 without one within the compartment step's distance)."""
    from syconn.tasks.compartments import synapse_compartments

    _, rows = res.query("SELECT id, cell_a, cell_b, rep_x, rep_y, rep_z FROM contact_sites "
                        "ORDER BY id")
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    ids = np.array([r[0] for r in rows], np.int64)
    cell_a, cell_b = a[:, 1].astype(np.int64), a[:, 2].astype(np.int64)
    rep = a[:, 3:6] * np.asarray(res.voxel_size_nm, np.float64)
    cells = np.unique(np.concatenate([cell_a, cell_b])).tolist()
    labels = res.node_compartments(cells)
    verts = {c: s.vertices for c, s in res.skeletons(list(labels)).items()}
    return (ids, cell_a, cell_b, synapse_compartments(rep, cell_a, verts, labels),
            synapse_compartments(rep, cell_b, verts, labels))


def correlation(found: np.ndarray, cand: np.ndarray, truth: np.ndarray, min_cand: int
                ) -> tuple[float, int]:
    """Pearson r of found against true probabilities over the pairs with ``min_cand``
    candidates or more, and how many pairs that is."""
    sel = cand >= min_cand
    if sel.sum() < 3:
        return float("nan"), int(sel.sum())
    return float(np.corrcoef(found[sel], truth[sel])[0, 1]), int(sel.sum())


def realised_rule(candidates, names) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From the generator's ``candidates`` table: per pair of ``names`` (rows: pre type), the
    bouton-partner pairs (one per bouton and post cell, however many contacts), how many the
    rule drew and how many became synapses."""
    k = {n: i for i, n in enumerate(names)}
    c = candidates[candidates.pre_type.isin(k) & candidates.post_type.isin(k)]
    g = c.assign(drawn=c.fate != "not_drawn", syn=c.fate == "synapse")
    g = g.groupby(["pre_cell_id", "bouton", "post_cell_id", "pre_type", "post_type"],
                  observed=True)[["drawn", "syn"]].any().reset_index()
    pairs = np.zeros((len(names), len(names)), np.int64)
    drawn, syn = np.zeros_like(pairs), np.zeros_like(pairs)
    for a, b, d, s_ in zip(g.pre_type, g.post_type, g.drawn, g.syn):
        pairs[k[a], k[b]] += 1
        drawn[k[a], k[b]] += int(d)
        syn[k[a], k[b]] += int(s_)
    return pairs, drawn, syn


def _print_matrix(title, names, found, num, den, truth) -> None:
    print(f"\n{title}\n")
    print("| pre \\ post | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for i, c in enumerate(names):
        print(f"| {c} | " + " | ".join(
            (f"{found[i, j]:.2f} ({num[i, j]}/{den[i, j]})" if den[i, j] else "-")
            + f" / {truth[i, j]:.2f}" for j in range(len(names))) + " |")


def main() -> None:
    from syconn.celltypes import SYNTH_CLASSES, synthetic_cell_labels
    from syconn.read import Results
    from syconn.synth.types import CONNECTION_PROB, TYPE_NAMES
    from syconn.tasks import Pipeline
    from syconn.train import parse_seeds, prepare_synthetic

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="930")
    ap.add_argument("--size-um", type=float, default=10.0)
    ap.add_argument("--workdir", default="syconn_train")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--min-candidates", type=int, default=10)
    a = ap.parse_args()
    names = [n for n in TYPE_NAMES if n != "glia"]
    truth = CONNECTION_PROB[np.ix_([TYPE_NAMES.index(n) for n in names],
                                   [TYPE_NAMES.index(n) for n in names])]
    tot = {"typed": None, "true types": None}
    gen = None  # the generator's own candidates: bouton-partner pairs, drawn, synapses
    for s in parse_seeds(a.seeds):
        t0 = time.perf_counter()
        wd, data = prepare_synthetic(s, Path(a.workdir) / "connections", size_um=a.size_um,
                                     workers=a.workers, prefix="cp", task=Pipeline,
                                     log=lambda m: None)
        res = Results(wd)
        made = time.perf_counter() - t0
        _, rows = res.query("SELECT id, cell_type FROM cells WHERE cell_type IS NOT NULL")
        typed = {int(i): t for i, t in rows}
        y, true_cable = synthetic_cell_labels(res, data)
        ids = np.asarray(res.cell_ids(), np.int64)
        true_kind = {int(c): SYNTH_CLASSES[k] for c, k in zip(ids, y) if k >= 0}
        thr = res.syn_prob_threshold()
        _, srows = res.query("SELECT contact_site_id, cell_pre FROM synapses WHERE "
                             "syn_prob >= :t AND cell_pre IS NOT NULL", {"t": thr})
        syn = {(int(c), int(p)) for c, p in srows}
        cs = contact_compartments(res)
        pre, post, formed = bouton_candidates(*cs, syn)
        print(f"seed {s}: {res.voxel_size_nm} nm voxels, {len(ids)} cells, {len(typed)} typed, "
              f"{len(cs[0])} contact sites, {len(pre)} bouton candidates, {int(formed.sum())} "
              f"formed, {len(syn)} synapses above {thr:g}; made and run in {made:.0f} s",
              flush=True)
        gt_cand = Path(data) / "gt" / "candidates.parquet"
        if gt_cand.is_file():
            import pandas as pd

            r3 = realised_rule(pd.read_parquet(gt_cand), names)
            gen = r3 if gen is None else tuple(x + y for x, y in zip(gen, r3))
        for label, kind in (("typed", typed), ("true types", true_kind)):
            cand, hit = type_matrix(pre, post, formed, kind, names)
            prev = tot[label]
            tot[label] = (cand, hit) if prev is None else (prev[0] + cand, prev[1] + hit)
    realised = None
    if gen is not None:
        pairs, drawn, syn = gen
        realised = np.where(pairs > 0, syn / np.maximum(pairs, 1), np.nan)
        for label, num in (("drawn", drawn), ("became synapses", syn)):
            rate = np.where(pairs > 0, num / np.maximum(pairs, 1), np.nan)
            r, n = correlation(rate, pairs, truth, a.min_candidates)
            _print_matrix(f"the generator's candidates, share {label}: r = {r:.3f} against "
                          f"CONNECTION_PROB over {n} type pairs with >= {a.min_candidates} "
                          "bouton-partner pairs (rows: pre; share (n / bouton-partner pairs) / "
                          "CONNECTION_PROB)", names, rate, num, pairs, truth)
    for label, (cand, hit) in tot.items():
        found = np.where(cand > 0, hit / np.maximum(cand, 1), np.nan)
        r, n = correlation(found, cand, truth, a.min_candidates)
        extra = ""
        if realised is not None:
            ok = (cand >= a.min_candidates) & (gen[0] >= a.min_candidates)
            rr = (float(np.corrcoef(found[ok], realised[ok])[0, 1]) if ok.sum() >= 3
                  else float("nan"))
            extra = f"; r = {rr:.3f} against the generator's realised shares ({int(ok.sum())} pairs)"
        _print_matrix(f"{label}: r = {r:.3f} against CONNECTION_PROB over {n} type pairs with >= "
                      f"{a.min_candidates} candidates{extra} (rows: pre; found probability "
                      "(formed / candidates) / CONNECTION_PROB)", names, found, hit, cand, truth)


if __name__ == "__main__":
    main()
