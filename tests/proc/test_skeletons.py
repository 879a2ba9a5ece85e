import numpy as np
import pytest

from syconn.errors import InputError
from syconn.proc.skeletons import (
    Skeleton,
    merge_skeletons,
    skeleton_components,
    skeleton_downsampling,
    skeleton_stats,
    skeletonize_block,
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
    assert skeleton_stats(m)[0] == pytest.approx(3.6)
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
    assert skeleton_stats(m)[0] == pytest.approx(3.6)
    assert skeleton_stats(m, exclude_edges=bridges)[0] == pytest.approx(3.0)
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
