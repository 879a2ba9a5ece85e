"""The compartment step on the test volume: node labels, cell_compartments, synapse partners'
compartments, SWC node types; a broken model file is one line and nothing is written."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from syconn.proc.compartments import COMPARTMENTS, SWC_TYPES, cable_per_class


def _rows(wd, sql):
    from syconn.read import Results

    return Results(wd).query(sql)[1]


def test_every_skeleton_node_is_labelled_and_the_cable_adds_up(pipeline_wd):
    from syconn.read import Results

    res = Results(pipeline_wd)
    ok = [c for c, s in res.skeleton_status().items() if s == "ok"]
    assert ok
    skels = res.skeletons(ok)
    labels = res.node_compartments(ok)
    assert sorted(labels) == sorted(skels)
    summary = {}
    for cid, cls, cable, n_nodes in _rows(pipeline_wd, "SELECT cell_id, compartment, cable_um, "
                                                       "n_nodes FROM cell_compartments"):
        summary.setdefault(cid, {})[cls] = (cable, n_nodes)
    cable_sql = dict(_rows(pipeline_wd, "SELECT id, cable_length_um FROM cells"))
    for cid, sk in skels.items():
        lab = labels[cid]
        assert len(lab) == sk.n_vertices and set(lab.tolist()) <= set(range(len(COMPARTMENTS)))
        got = summary[cid]
        assert {k: v[1] for k, v in got.items()} == \
            dict(zip(*np.unique(lab, return_counts=True)))
        per = cable_per_class(sk.vertices, sk.edges, lab, bridges=sk.bridges)
        for k, (cable, _) in got.items():
            assert cable == pytest.approx(per[k])
        # the compartments split the cell's cable (bridges left out on both sides)
        assert sum(v[0] for v in got.values()) == pytest.approx(cable_sql[cid], rel=1e-6)


def test_synapse_partners_get_the_compartment_of_their_nearest_node(pipeline_wd):
    from syconn.read import Results

    res = Results(pipeline_wd)
    rows = _rows(pipeline_wd, "SELECT cell_pre, cell_post, comp_pre, comp_post, rep_x, rep_y, "
                              "rep_z FROM synapses WHERE cell_pre IS NOT NULL")
    assert rows
    vs = res.voxel_size_nm
    skels = res.skeletons({r[0] for r in rows} | {r[1] for r in rows})
    labels = res.node_compartments(skels)
    checked = 0
    for pre, post, cpre, cpost, *rep in rows:
        p = np.asarray(rep, float) * vs
        for cell, comp in ((pre, cpre), (post, cpost)):
            if cell not in skels:
                assert comp is None
                continue
            d = np.linalg.norm(skels[cell].vertices - p, axis=1)
            if d.min() > 3000:
                assert comp is None
                continue
            assert comp == labels[cell][int(np.argmin(d))]
            checked += 1
    assert checked


def test_compartments_set_the_direction_where_they_decide(pipeline_wd):
    """Axon or bouton against dendrite or soma: the axonal side is presynaptic, whatever the
    vesicle rule said; elsewhere the vesicle rule (more vesicle voxels on the presynaptic side),
    with the features turned along."""
    from syconn.proc.compartments import AXONAL, DENDRITIC

    rows = _rows(pipeline_wd, "SELECT cell_a, cell_b, cell_pre, cell_post, comp_pre, comp_post, "
                              "n_vc_vxs_pre, n_vc_vxs_post, direction_source FROM synapses")
    seen = set()
    for a, b, pre, post, cpre, cpost, vpre, vpost, src in rows:
        seen.add(src)
        assert (src is None) == (pre is None) == (post is None)
        decided = (cpre in AXONAL and cpost in DENDRITIC) or (cpre in DENDRITIC and cpost in AXONAL)
        if src is None:
            assert vpre == vpost and not decided
            continue
        assert {pre, post} == {a, b}
        if src == "vesicles":
            assert vpre > vpost and not decided
        else:
            assert cpre in AXONAL and cpost in DENDRITIC
            assert (vpre > vpost) == (src == "both")
    assert {"vesicles", "both"} <= seen, seen


def test_synapse_counts_per_compartment_match_the_synapses(pipeline_wd):
    thr = _rows(pipeline_wd, "SELECT syn_prob_threshold FROM dataset")[0][0]
    out = dict(((c, k), n) for c, k, n in _rows(
        pipeline_wd, f"SELECT cell_pre, comp_pre, count(*) FROM synapses WHERE syn_prob > {thr} "
                     "AND comp_pre IS NOT NULL GROUP BY cell_pre, comp_pre"))
    got = {(c, k): n for c, k, n in _rows(pipeline_wd, "SELECT cell_id, compartment, n_syn_out "
                                                       "FROM cell_compartments WHERE n_syn_out > 0")}
    assert got == out


def test_swc_export_carries_the_compartment_as_node_type(pipeline_wd, tmp_path):
    from syconn.export import export
    from syconn.io.swc import read_swc
    from syconn.read import Results

    res = Results(pipeline_wd)
    ok = [c for c, s in res.skeleton_status().items() if s == "ok"][:3]
    export(pipeline_wd, "swc", out=tmp_path / "swc", cells=ok)
    labels = res.node_compartments(ok)
    for cid in ok:
        skel, types = read_swc(tmp_path / "swc" / f"{cid}.swc")
        # SWC reorders nodes: compare the multiset of types
        assert sorted(types.tolist()) == sorted(SWC_TYPES[labels[cid]].tolist())


def test_a_broken_model_file_is_one_line_and_nothing_is_written(pipeline_wd, tmp_path, cli,
                                                                one_line_error):
    wd = tmp_path / "wd"
    shutil.copytree(pipeline_wd, wd)
    (wd / "bad.npz").write_bytes(b"not a model")
    cfg = yaml.safe_load((wd / "config.yml").read_text())
    cfg["compartments"]["model"] = "bad.npz"
    (wd / "config.yml").write_text(yaml.safe_dump(cfg))
    before = sorted(p.name for p in (wd / "steps").iterdir())
    r = cli("run", str(wd))
    one_line_error(r, "bad.npz", "not a readable model file")
    assert sorted(p.name for p in (wd / "steps").iterdir()) == before


def test_neuroglancer_skeletons_carry_one_plus_the_compartment(pipeline_wd, tmp_path):
    from syconn.export import export
    from syconn.io.neuroglancer import read_skeleton
    from syconn.read import Results

    res = Results(pipeline_wd)
    ok = [c for c, s in res.skeleton_status().items() if s == "ok"][:2]
    root = export(pipeline_wd, "neuroglancer", out=tmp_path / "ng", cells=ok, log=lambda m: None)
    labels = res.node_compartments(ok)
    for cid in ok:
        skel, comp = read_skeleton(root / "skeletons" / str(cid))
        assert comp.tolist() == (labels[cid] + 1).tolist()
