"""Partner radii near a synapse candidate (syconn.proc.radius), on hand-made label arrays."""

import numpy as np

from syconn.proc.radius import grid_steps, partner_radii, radius_halo_vx


def _slabs(shape=(8, 16, 8)):
    """Cell 7 fills y 1-9 (9 voxels thick), cell 9 fills y 11-13 (3 thick), 0 elsewhere."""
    lab = np.zeros(shape, np.uint64)
    lab[:, 1:10] = 7
    lab[:, 11:14] = 9
    return lab


def test_isotropic_radii_are_the_half_thickness():
    # centre of the 9-thick slab is 5 voxels from both faces (50 nm); the 3-thick one's 2 (20 nm)
    ra, rb = partner_radii(_slabs(), (0, 0, 0), np.array([[4, 10, 4]]), np.array([7]),
                           np.array([9]), voxel_size_nm=(10, 10, 10))
    assert ra.tolist() == [50.0] and rb.tolist() == [20.0]
    # supervoxels 70 and 71 of cell 7 (split at x 4), mapped after subsampling: the same cell
    sv = _slabs()
    sv[:4][sv[:4] == 7] = 70
    sv[4:][sv[4:] == 7] = 71
    before = sv.copy()
    ra, _ = partner_radii(sv, (0, 0, 0), np.array([[4, 10, 4]]), np.array([7]), np.array([9]),
                          voxel_size_nm=(10, 10, 10),
                          labels_of=lambda s: np.where((s == 70) | (s == 71), 7, s))
    assert ra.tolist() == [50.0] and np.array_equal(sv, before)


def test_anisotropic_grid():
    # at 10 x 10 20 nm the grid samples every 2nd voxel in x and y (20 nm): slab 7 is sampled at
    # y 2, 4, 6, 8 between background at y 0 and 10 -> largest distance 40 nm
    ra, _ = partner_radii(_slabs(), (0, 0, 0), np.array([[4, 10, 4]]), np.array([7]),
                          np.array([9]), voxel_size_nm=(10, 10, 20))
    assert ra.tolist() == [40.0]


def test_capped_radii_do_not_depend_on_the_region():
    """Balls and tubes of many radii; every region that holds the halo around the points gives
    the radii of the whole volume (the part up to the cap), whatever its grid offset."""
    rng = np.random.default_rng(3)
    vs = (10.0, 10.0, 20.0)
    shape = (240, 240, 80)
    lab = np.zeros(shape, np.uint64)
    g = np.stack(np.meshgrid(*[np.arange(n) * v for n, v in zip(shape, vs)], indexing="ij"), -1)
    for cid in range(1, 25):
        c = rng.uniform(0, 1, 3) * np.array(shape) * vs
        r = rng.uniform(60, 500)
        lab[(np.linalg.norm(g - c, axis=-1) <= r) & (lab == 0)] = cid
    del g
    pts = rng.integers((100, 100, 35), (140, 140, 45), size=(40, 3))
    a = lab[tuple(pts.T)]
    b = np.roll(a, 1)
    cap = 200.0
    whole = partner_radii(lab, (0, 0, 0), pts, a, b, voxel_size_nm=vs, reach_nm=300,
                          cap_nm=cap)
    halo = radius_halo_vx(vs, reach_nm=300, cap_nm=cap)
    assert whole[0].max() == cap and (whole[0] > 0).sum() > 10
    for lo in [(100 - halo[0], 100 - halo[1], 35 - halo[2]),
               (99 - halo[0], 97 - halo[1], 34 - halo[2])]:  # another grid offset
        hi = (140 + halo[0], 140 + halo[1], 45 + halo[2])
        region = lab[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        got = partner_radii(region, lo, pts, a, b, voxel_size_nm=vs, reach_nm=300, cap_nm=cap)
        assert np.array_equal(got[0], whole[0]) and np.array_equal(got[1], whole[1])


def test_thick_parts_beyond_the_reach_do_not_count_and_absent_partners_are_0():
    lab = np.zeros((200, 40, 40), np.uint64)
    lab[:20, 18:21, 18:21] = 5        # thin axon near the point: 3 x 3 voxels -> 20 nm
    lab[20:, 18:21, 18:21] = 5
    yy, zz = np.mgrid[:40, :40]
    lab[150:, (yy - 20) ** 2 + (zz - 20) ** 2 <= 100] = 5   # thick part 1.5 um away
    ra, rb = partner_radii(lab, (0, 0, 0), np.array([[5, 20, 20]]), np.array([5]),
                           np.array([6]), voxel_size_nm=(10, 10, 10), reach_nm=600)
    assert ra.tolist() == [20.0] and rb.tolist() == [0.0]
    # at the thick part (disk y^2 + z^2 <= 100 voxels^2): the nearest voxel outside is (10, 1)
    # from the axis, sqrt(101) voxels = 100.5 nm; capped at 60 nm
    far, _ = partner_radii(lab, (0, 0, 0), np.array([[160, 20, 20]]), np.array([5]),
                           np.array([6]), voxel_size_nm=(10, 10, 10), reach_nm=600)
    assert np.allclose(far, [10 * np.sqrt(101)])
    capped, _ = partner_radii(lab, (0, 0, 0), np.array([[160, 20, 20]]), np.array([5]),
                              np.array([6]), voxel_size_nm=(10, 10, 10), cap_nm=60)
    assert capped.tolist() == [60.0]


def test_halo_is_a_multiple_of_the_grid_step_and_covers_the_reach():
    assert grid_steps((10, 10, 20)) == (2, 2, 1)
    halo = radius_halo_vx((10, 10, 20), reach_nm=400, cap_nm=400)
    assert halo == (82, 82, 41)
    assert all(h % s == 0 for h, s in zip(halo, grid_steps((10, 10, 20))))
