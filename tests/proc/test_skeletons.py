import numpy as np
import pytest

from syconn.errors import InputError
from syconn.proc.skeletons import (
    Skeleton,
    merge_skeletons,
    retract_tips,
    skeleton_components,
    skeleton_downsampling,
    skeleton_stats,
    skeletonize_block,
    terminal_branches,
    tip_retraction_args,
    twig_mask,
)

VS = (10.0, 10.0, 20.0)


def _tube(length=128, r_nm=60.0, label=5):
    """A tube along x from voxel 8 to 8 + length - 1 (centre-line length (length - 1) * 10 nm)."""
    lab = np.zeros((length + 16, 24, 12), np.uint64)
    yy, zz = np.ogrid[:24, :12]
    disk = ((yy - 11.5) * VS[1]) ** 2 + ((zz - 5.5) * VS[2]) ** 2 < r_nm**2
    lab[8: 8 + length][:, disk] = label
    return lab


def _blocks(lab, block, ds, **kw):
    shape = lab.shape
    pieces = []
    for ox in range(0, shape[0], block[0]):
        for oy in range(0, shape[1], block[1]):
            for oz in range(0, shape[2], block[2]):
                sl = lab[ox: ox + block[0] + ds[0], oy: oy + block[1] + ds[1],
                         oz: oz + block[2] + ds[2]]
                core = np.minimum(block, np.asarray(shape) - [ox, oy, oz])
                got = skeletonize_block(sl, voxel_size_nm=VS, offset_xyz=(ox, oy, oz),
                                        core_shape_xyz=core, volume_shape_xyz=shape, **kw)
                pieces.extend(got.values())
    return pieces


def test_downsampling_rule():
    assert skeleton_downsampling((10, 10, 20)) == (2, 2, 1)
    assert skeleton_downsampling((8, 8, 8)) == (1, 1, 1)


def test_tube_is_one_path():
    lab = _tube()
    raw = skeletonize_block(lab, voxel_size_nm=VS)
    assert list(raw) == [5]
    skel = merge_skeletons([raw[5]])
    length_um, n_branch, n_tips = skeleton_stats(skel)
    assert (n_branch, n_tips) == (0, 2)
    assert skeleton_components(skel) == 1
    assert length_um == pytest.approx(127 * 10 / 1000, rel=0.05)
    # nodes are voxel centres inside the tube, radius about the tube radius
    vx = skel.vertices_vx(VS)
    assert (lab[vx[:, 0], vx[:, 1], vx[:, 2]] == 5).all()
    assert np.allclose(vx * VS, skel.vertices)
    assert 20 <= np.median(skel.radii_nm) <= 80


def test_tube_in_three_blocks_is_one_connected_skeleton():
    lab = _tube()
    pieces = _blocks(lab, (48, 24, 12), (2, 2, 1), dust_threshold=20)
    assert len(pieces) == 3
    skel = merge_skeletons(pieces)
    assert skeleton_components(skel) == 1
    length_um, n_branch, n_tips = skeleton_stats(skel)
    assert (n_branch, n_tips) == (0, 2)
    assert length_um == pytest.approx(127 * 10 / 1000, rel=0.05)
    # piece order does not matter
    again = merge_skeletons(pieces[::-1])
    assert np.array_equal(again.vertices, skel.vertices) and np.array_equal(again.edges, skel.edges)


def test_y_shape_has_one_branch_point():
    lab = np.zeros((100, 100, 10), np.uint8)
    x, y = np.mgrid[:100, :100]

    def segment(p, q, r=5):
        p, q = np.asarray(p, float), np.asarray(q, float)
        d = q - p
        t = np.clip(((x - p[0]) * d[0] + (y - p[1]) * d[1]) / (d @ d), 0, 1)
        return (x - p[0] - t * d[0]) ** 2 + (y - p[1] - t * d[1]) ** 2 <= r * r

    mask = segment((50, 50), (50, 5)) | segment((50, 50), (10, 92)) | segment((50, 50), (90, 92))
    lab[mask, 2:8] = 1
    raw = skeletonize_block(lab, voxel_size_nm=(10, 10, 10))
    skel = merge_skeletons([raw[1]])
    _, n_branch, n_tips = skeleton_stats(skel)
    assert (n_branch, n_tips) == (1, 3)


def test_merge_connects_components_and_removes_dust():
    a = Skeleton([[0, 0, 0], [1000, 0, 0], [2000, 0, 0]], [[0, 1], [1, 2]], [50, 50, 50])
    b = Skeleton([[2600, 0, 0], [3600, 0, 0]], [[0, 1]], [50, 50])       # 600 nm gap
    dust = Skeleton([[0, 5000, 0], [100, 5000, 0]], [[0, 1]], [10, 10])   # 100 nm of cable
    m = merge_skeletons([a, b, dust], downsample=1)
    assert skeleton_components(m) == 1 and m.n_vertices == 5
    assert skeleton_stats(m)[0] == pytest.approx(3.0)                 # the bridge is not cable
    assert skeleton_stats(m, exclude_edges=np.zeros(m.n_edges, bool))[0] == pytest.approx(3.6)
    alone = merge_skeletons([dust])                                     # never drop everything
    assert alone.n_vertices == 2


def test_bridges_are_marked_and_left_out_of_the_cable():
    xa = np.arange(21) * 100.0                       # 0 .. 2000 nm
    xb = 2600.0 + np.arange(11) * 100.0              # 2600 .. 3600 nm: a 600 nm gap
    a = Skeleton(np.c_[xa, 0 * xa, 0 * xa], [[i, i + 1] for i in range(20)], np.full(21, 50))
    b = Skeleton(np.c_[xb, 0 * xb, 0 * xb], [[i, i + 1] for i in range(10)], np.full(11, 50))
    m, bridges = merge_skeletons([a, b], downsample=10, return_bridges=True)
    assert skeleton_components(m) == 1 and bridges.sum() == 1
    ends = np.sort(m.vertices[m.edges[bridges][0].astype(int), 0])
    assert ends.tolist() == [2000.0, 2600.0]          # the closest pair, kept by the downsampling
    assert np.array_equal(m.bridges, bridges)          # the skeleton carries its bridges
    assert skeleton_stats(m, exclude_edges=np.zeros(m.n_edges, bool))[0] == pytest.approx(3.6)
    assert skeleton_stats(m)[0] == pytest.approx(3.0)
    single, none = merge_skeletons([a], return_bridges=True)
    assert not none.any() and len(none) == single.n_edges


def test_bridge_to_a_tip_keeps_the_path_beyond_it():
    # the bridge joins the middle of a to the end of b: b's end gets degree 2 and is pinned; the
    # downsampling must still walk the rest of b from there (it once dropped it)
    xa = np.arange(21) * 100.0
    yb = 600.0 + np.arange(11) * 100.0
    a = Skeleton(np.c_[xa, 0 * xa, 0 * xa], [[i, i + 1] for i in range(20)], np.full(21, 50))
    b = Skeleton(np.c_[0 * yb + 1000, yb, 0 * yb], [[i, i + 1] for i in range(10)],
                 np.full(11, 50))
    m, bridges = merge_skeletons([a, b], downsample=10, return_bridges=True)
    assert skeleton_components(m) == 1 and bridges.sum() == 1
    assert skeleton_stats(m, exclude_edges=bridges)[0] == pytest.approx(3.0)
    assert m.vertices[:, 1].max() == 1600.0


def test_shared_block_vertices_are_welded():
    a = Skeleton([[0, 0, 0], [100, 0, 0]], [[0, 1]], [30, 40])
    b = Skeleton([[100, 0, 0], [200, 0, 0]], [[0, 1]], [50, 30])
    m = merge_skeletons([a, b], downsample=1, tick_threshold_nm=0)
    assert m.n_vertices == 3 and m.n_edges == 2
    assert m.radii_nm[np.argmin(np.abs(m.vertices[:, 0] - 100))] == 50


def test_downsample_keeps_tips_and_branch_points():
    n = 31
    v = np.zeros((n, 3), np.float32)
    v[:21, 0] = np.arange(21) * 10.0
    v[21:, 0] = 100
    v[21:, 1] = np.arange(1, 11) * 10.0
    e = [[i, i + 1] for i in range(20)] + [[10, 21]] + [[21 + i, 22 + i] for i in range(9)]
    s = Skeleton(v, e, np.ones(n))
    m = merge_skeletons([s], tick_threshold_nm=0, downsample=4)
    assert skeleton_stats(m)[1:] == (1, 3)
    assert m.n_vertices < n
    assert skeleton_components(m) == 1


def test_errors():
    with pytest.raises(InputError, match="teasar_params"):
        skeletonize_block(_tube(), voxel_size_nm=VS, teasar_params={"bogus": 1})
    with pytest.raises(InputError, match="offset_xyz"):
        skeletonize_block(_tube(), voxel_size_nm=VS, offset_xyz=(1, 0, 0))
    with pytest.raises(InputError, match="radii_nm"):
        Skeleton([[0, 0, 0]], np.zeros((0, 2)), [1, 2])


def test_empty():
    assert skeletonize_block(np.zeros((8, 8, 8), np.uint32), voxel_size_nm=VS) == {}
    assert merge_skeletons([]).n_vertices == 0
    assert skeleton_stats(Skeleton.empty()) == (0.0, 0, 0)


def test_twig_mask():
    # trunk 0-1-2 (length 2), a twig 2-3 (0.5) and a branch 2-4-5 (2): only the twig is short
    e = np.array([[0, 1], [1, 2], [2, 3], [2, 4], [4, 5]])
    lengths = np.array([1.0, 1.0, 0.5, 1.0, 1.0])
    assert twig_mask(6, e, lengths, 1.0).tolist() == [False, False, True, False, False]
    # one pass: with every arm shorter than the limit all three arms go
    assert twig_mask(6, e, lengths, 2.5).all()
    # an isolated path is a twig when it is short; a cycle has no tips
    assert twig_mask(3, [[0, 1], [1, 2]], [0.3, 0.3], 1.0).all()
    assert not twig_mask(3, [[0, 1], [1, 2]], [0.6, 0.6], 1.0).any()
    assert not twig_mask(3, [[0, 1], [1, 2], [2, 0]], [0.1, 0.1, 0.1], 1.0).any()
    assert twig_mask(0, np.zeros((0, 2)), [], 1.0).shape == (0,)


def test_terminal_branches():
    # trunk 0-1-2, arms 2-3 and 2-4-5: three terminal branches, each from its tip's edge
    e = np.array([[0, 1], [1, 2], [2, 3], [2, 4], [4, 5]])
    got = sorted(b.tolist() for b in terminal_branches(6, e))
    assert got == [[0, 1], [2], [4, 3]]
    assert [b.tolist() for b in terminal_branches(3, [[0, 1], [1, 2]])] == [[0, 1], [1, 0]]
    assert terminal_branches(0, np.zeros((0, 2))) == []


def _path(radii, step=100.0):
    n = len(radii)
    v = np.stack([np.arange(n) * step, np.zeros(n), np.zeros(n)], axis=1)
    return Skeleton(v, np.stack([np.arange(n - 1), np.arange(1, n)], axis=1), radii)


def test_retract_tips_by_hand():
    # radii grow as fast as the distance from each tip for 3 vertices (the end caps), then
    # level off at 300: the walk from vertex 0 accepts 0..3 (distance <= 1.25 r + 10) and stops
    # at 4 (400 > 385); the first walked vertex with 95 % of the largest radius is 3
    r = [0, 100, 200, 300, 300, 300, 300, 300, 200, 100, 0]
    got, remap = retract_tips(_path(r), tolerance_nm=10.0)
    assert got.vertices[:, 0].tolist() == [300.0, 400.0, 500.0, 600.0, 700.0]
    assert remap.tolist() == [-1, -1, -1, 0, 1, 2, 3, 4, -1, -1, -1]
    assert skeleton_stats(got)[1:] == (0, 2)
    # an exempt tip stays (a neurite cut by the volume face)
    got, _ = retract_tips(_path(r), tolerance_nm=10.0, exempt=np.array([10]))
    assert got.vertices[:, 0].tolist() == [300.0 + 100 * i for i in range(8)]
    # a walk never passes a branch point: a side arm 5-11-12 with rising radii loses only 12?
    # no: its walk from 12 accepts 12 (r 0) and 11 (d 100 <= 1.25 * 150 + 10), stops at the
    # branch point 5, and the largest radius of the walk is at 11, so 12 goes
    s = _path(r)
    v = np.concatenate([s.vertices, [[500.0, 100.0, 0.0], [500.0, 200.0, 0.0]]])
    e = np.concatenate([s.edges, [[5, 11], [11, 12]]])
    got, remap = retract_tips(Skeleton(v, e, r + [150, 0]), tolerance_nm=10.0)
    assert remap[5] >= 0 and remap[11] >= 0 and remap[12] == -1
    # nothing to do on a skeleton without edges
    assert retract_tips(Skeleton.empty(), tolerance_nm=10.0)[0].n_vertices == 0


def _capsule(radius_nm, length_nm, direction):
    """A straight tube with hemispherical end caps, centre line ``length_nm`` long."""
    d = np.asarray(direction, np.float64) / np.linalg.norm(direction)
    shape = tuple(int(x) for x in np.ceil((np.abs(d) * length_nm + 2 * radius_nm + 400) / VS))
    g = np.stack(np.meshgrid(*[np.arange(n) * v for n, v in zip(shape, VS)], indexing="ij"), -1)
    a = np.asarray(shape) * VS / 2 - d * length_nm / 2
    t = np.clip((g - a) @ d / length_nm, 0, 1)
    return (np.linalg.norm(g - (a + t[..., None] * length_nm * d), axis=-1) < radius_nm
            ).astype(np.uint32)


@pytest.mark.parametrize("radius_nm, length_nm, direction",
                         [(400, 3000, (1, 0, 0)), (600, 3000, (0.2, 1, 0.5)),
                          (80, 2000, (1, 0.3, 0.2))])
def test_retracted_tips_end_in_the_cap_centres(radius_nm, length_nm, direction):
    """TEASAR's path runs to the surface of each end cap; retracted, the skeleton of a capsule
    is as long as its centre line (measured: 1-1.5 %; unretracted up to 43 % longer)."""
    lab = _capsule(radius_nm, length_nm, direction)
    raw = skeletonize_block(lab, voxel_size_nm=VS)[1]
    plain = skeleton_stats(merge_skeletons([raw]))[0]
    got = skeleton_stats(merge_skeletons([raw], tip_tolerance_nm=20.0))[0]
    assert got == pytest.approx(length_nm / 1000, rel=0.03)
    assert plain > got + radius_nm / 1000


def test_tips_on_the_volume_faces_stay():
    """A neurite cut by the volume face ends in the middle of the cut: that tip stays."""
    r = [0, 100, 200, 300, 300, 300, 300, 300, 200, 100, 0]
    box = ((0.0, -1e3, -1e3), (2000.0, 1e3, 1e3))      # vertex 0 (x = 0) lies on a face
    got = merge_skeletons([_path(r)], tip_tolerance_nm=10.0, volume_box_nm=box,
                          tick_threshold_nm=0, downsample=1)
    assert sorted(got.vertices[:, 0].tolist()) == [100.0 * i for i in range(8)]
    # kimimaro's paths through the faces of the array (a tube cut at both ends) keep their length
    lab = _tube()[8:8 + 128]
    raw = skeletonize_block(lab, voxel_size_nm=VS)[5]
    box = (np.zeros(3), (np.asarray(lab.shape) - [2, 2, 1]) * VS)
    plain = skeleton_stats(merge_skeletons([raw]))[0]
    kept = skeleton_stats(merge_skeletons([raw], tip_tolerance_nm=20.0, volume_box_nm=box))[0]
    assert kept == pytest.approx(plain) and plain == pytest.approx(1.27, rel=0.05)


def test_tip_retraction_args_by_hand():
    # 10x10x20 nm voxels: grid stride (2, 2, 1), grid voxel 20 nm; 101 x 100 x 7 voxels give
    # grid vertices 0..50 x 0..49 x 0..6, the last at (1000, 980, 120) nm
    got = tip_retraction_args((10, 10, 20), (101, 100, 7))
    assert got["tip_tolerance_nm"] == 20.0
    lo, hi = got["volume_box_nm"]
    assert lo.tolist() == [0, 0, 0] and hi.tolist() == [1000.0, 980.0, 120.0]


# --------------------------------------------------------------------------------------------
# tortuous axons with boutons (issue 14): shapes from benchmarks/skeletons_tortuous.py
# --------------------------------------------------------------------------------------------

def _tortuous():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "skeletons_tortuous.py"
    spec = importlib.util.spec_from_file_location("skeletons_tortuous", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("voxel_size_nm, scale", [((10, 10, 20), 1.0), ((40, 40, 80), 2.0)])
def test_tortuous_axon_with_boutons_keeps_its_cable(voxel_size_nm, scale):
    # a helical axon (bends of 400-500 nm radius, x2 at 40x40x80 nm) with 220-320 nm boutons
    # every um: every 10th vertex alone cuts the bends (-12.6 % / -20 % of cable)
    t = _tortuous()
    sph, paths = t.tortuous_shape("wavy", scale=scale)
    lab = t.rasterise(sph, voxel_size_nm)[0].astype(np.uint8)
    truth = t.true_cable_um(paths)
    before = t.skeleton_cable_um(lab, voxel_size_nm, before=True)
    assert before < 0.9 * truth                          # the bug this guards against
    assert t.skeleton_cable_um(lab, voxel_size_nm) == pytest.approx(truth, rel=0.10)
    if scale == 1.0:                                     # over 2 x 2 blocks, as the pipeline
        block = (-(-lab.shape[0] // 4) * 2, -(-lab.shape[1] // 4) * 2, lab.shape[2])
        assert t.skeleton_cable_um(lab, voxel_size_nm, block=block) == \
            pytest.approx(truth, rel=0.10)


@pytest.mark.parametrize("name", ["tube", "branched"])
def test_bend_tolerance_leaves_straight_neurites_alone(name):
    t = _tortuous()
    sph, paths = t.tortuous_shape(name, scale=0.5)
    lab = t.rasterise(sph, VS)[0].astype(np.uint8)
    truth = t.true_cable_um(paths)
    before = t.skeleton_cable_um(lab, VS, before=True)
    after = t.skeleton_cable_um(lab, VS)
    assert after == pytest.approx(before, rel=0.02)
    assert after == pytest.approx(truth, rel=0.03)


def test_bend_vertices_keep_a_semicircle():
    # a semicircle of radius 1 um as 101 vertices: every 50th vertex alone gives two 90-degree
    # chords (-10 %); a 90-degree chord passes 0.21 x its length from the arc, so each is
    # split once, and 45-degree chords (0.0995 x) stay: -2.6 %
    th = np.linspace(0, np.pi, 101)
    v = np.c_[1000 * np.cos(th), 1000 * np.sin(th), 0 * th]
    s = Skeleton(v, np.c_[np.arange(100), np.arange(1, 101)], np.full(101, 50.0))
    plain = merge_skeletons([s], downsample=50, bend_tolerance=None, tick_threshold_nm=0)
    kept = merge_skeletons([s], downsample=50, tick_threshold_nm=0, bend_tolerance=0.1)
    assert merge_skeletons([s], downsample=50, tick_threshold_nm=0).n_vertices == 3  # default
    assert plain.n_vertices == 3 and kept.n_vertices == 5
    assert skeleton_stats(plain)[0] == pytest.approx(4 * np.sin(np.pi / 4), rel=1e-5)
    assert skeleton_stats(kept)[0] == pytest.approx(8 * np.sin(np.pi / 8), rel=1e-5)
    with pytest.raises(InputError, match="bend_tolerance: got 0"):
        merge_skeletons([s], bend_tolerance=0)
