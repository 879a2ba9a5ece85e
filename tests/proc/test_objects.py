import numpy as np
import pytest

from syconn.errors import InputError
from syconn.proc.objects import merge_object_stats, object_stats, overlap_counts

DT = [np.uint32, np.uint64]
OR = ["C", "F"]


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("order", OR)
def test_object_stats_hand_worked(dtype, order):
    lab = np.zeros((5, 4, 3), dtype, order=order)
    lab[1:4, 1, 1] = 7        # line of 3 along x
    lab[0, 0, 0] = 2**31 + 5  # single voxel, big id
    t = object_stats(lab, offset_xyz=(10, 20, 30)).to_pylist()
    assert [r["id"] for r in t] == [7, 2**31 + 5]
    r = t[0]
    assert r["size_vx"] == 3
    assert (r["bb_min_x"], r["bb_min_y"], r["bb_min_z"]) == (11, 21, 31)
    assert (r["bb_max_x"], r["bb_max_y"], r["bb_max_z"]) == (14, 22, 32)
    assert (r["sum_x"], r["sum_y"], r["sum_z"]) == (36, 63, 93)
    assert (r["rep_x"], r["rep_y"], r["rep_z"]) == (12, 21, 31)
    assert (t[1]["rep_x"], t[1]["size_vx"]) == (10, 1)


@pytest.mark.parametrize("order", OR)
def test_rep_inside_concave_object_and_tie_break(order):
    lab = np.zeros((5, 5, 1), np.uint32, order=order)
    lab[:, 0, 0] = 1
    lab[:, 4, 0] = 1  # centroid (2, 2) is background; nearest: (2,0) and (2,4) -> smallest y
    r = object_stats(lab).to_pylist()[0]
    assert lab[r["rep_x"], r["rep_y"], r["rep_z"]] == 1
    assert (r["rep_x"], r["rep_y"]) == (2, 0)


def _blocks(lab, bs):
    out = []
    for x in range(0, lab.shape[0], bs):
        for y in range(0, lab.shape[1], bs):
            for z in range(0, lab.shape[2], bs):
                out.append(object_stats(lab[x:x + bs, y:y + bs, z:z + bs], offset_xyz=(x, y, z)))
    return out


@pytest.mark.parametrize("order", OR)
def test_merge_block_size_independent(order):
    rng = np.random.default_rng(0)
    lab = np.asarray(rng.integers(0, 6, (16, 12, 10)).astype(np.uint64), order=order)
    whole = object_stats(lab)
    cols = [c for c in whole.column_names if not c.startswith("rep_")]
    assert whole["size_vx"].to_numpy().sum() == (lab > 0).sum()
    for bs in (4, 5, 8):
        m = merge_object_stats(_blocks(lab, bs))
        assert m.select(cols).equals(whole.select(cols))
        for r in m.to_pylist():
            assert lab[r["rep_x"], r["rep_y"], r["rep_z"]] == r["id"]
    assert merge_object_stats([whole]).equals(whole)
    assert merge_object_stats(_blocks(lab, 5)[::-1]).equals(merge_object_stats(_blocks(lab, 5)))


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("order", OR)
def test_overlap_counts(dtype, order):
    a = np.zeros((4, 4, 2), dtype, order=order)
    b = np.zeros((4, 4, 2), dtype, order=order)
    a[0:2, :, 0] = 3     # 8 voxels
    b[0, :, 0] = 10      # 4 shared with a=3
    b[1, 0:3, 0] = 11    # 3 shared
    b[3, :, :] = 12      # none shared
    t = overlap_counts(a, b, names=("org_id", "sv_id")).to_pylist()
    assert t == [{"org_id": 3, "sv_id": 10, "n_vx": 4}, {"org_id": 3, "sv_id": 11, "n_vx": 3}]


def test_errors_name_the_value():
    with pytest.raises(InputError, match="float32"):
        object_stats(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(InputError, match="offset_xyz"):
        object_stats(np.zeros((2, 2, 2), np.uint32), offset_xyz=(1, 2))
    with pytest.raises(InputError, match="shape"):
        overlap_counts(np.zeros((2, 2, 2), np.uint32), np.zeros((2, 2, 3), np.uint32))


def test_rep_lattice_makes_rep_block_size_independent():
    """With candidates on a global lattice (and the first voxel for objects no lattice point
    hits) the chosen rep voxel is the same for any block layout, and it lies inside its
    object."""
    from syconn.proc import merge_object_stats, object_stats

    rng = np.random.default_rng(0)
    lab = np.zeros((64, 64, 48), np.uint64)
    x, y, z = np.ogrid[:64, :64, :48]
    for i in range(30):
        c = rng.integers(0, [64, 64, 48])
        lab[(x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 < rng.integers(3, 15) ** 2] = i + 1
    lab[5:7, 6, 7] = 98  # two voxels across a block face at x = 6 in one layout

    def blocked(bs):
        return merge_object_stats([
            object_stats(lab[x0:x0 + bs[0], y0:y0 + bs[1], z0:z0 + bs[2]],
                         offset_xyz=(x0, y0, z0), rep_lattice_vx=8)
            for x0 in range(0, 64, bs[0]) for y0 in range(0, 64, bs[1])
            for z0 in range(0, 48, bs[2])], rep="lattice")

    a, b, c = blocked((32, 32, 16)), blocked((64, 64, 48)), blocked((6, 20, 7))
    assert a.equals(b) and a.equals(c)
    whole = merge_object_stats([object_stats(lab)])
    reps = [f"rep_{q}" for q in "xyz"]
    assert a.drop(reps).equals(whole.drop(reps))
    r = a.to_pydict()
    assert all(lab[x_, y_, z_] == i for i, x_, y_, z_ in zip(r["id"], r["rep_x"], r["rep_y"],
                                                             r["rep_z"]))
    row = {k: v[r["id"].index(98)] for k, v in r.items()}
    assert (row["rep_x"], row["rep_y"], row["rep_z"]) == (5, 6, 7)  # first voxel, z-y-x order
