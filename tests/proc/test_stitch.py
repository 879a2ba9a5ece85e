import functools

import cc3d
import numpy as np
import pyarrow as pa
import pytest
from scipy import ndimage

from syconn.proc.morphology import extract_objects, required_halo_vx
from syconn.proc.stitch import (PAIR_SCHEMA, face_pairs, first_voxels, label_blockwise,
                                relabel, resolve_global_ids)


def test_object_cut_by_face_is_one_object():
    # volume 8x2x1, blocks of 4 along x; a bar from x=2..5 crosses the face at x=4
    # block 0 (halo 1 above): labels core x0..3 + halo x4; block 1: core x4..7
    b0 = np.zeros((4, 2, 1), np.uint32); b0[2:4, 0, 0] = 1
    b1 = np.zeros((4, 2, 1), np.uint32); b1[0:2, 0, 0] = 1; b1[3, 1, 0] = 2
    slab0 = np.array([[[1], [0]]], np.uint32)  # block 0's label at x=4 (its halo)
    p = face_pairs(slab0, b1[0:1])
    assert p.tolist() == [[1, 1]]
    pairs = pa.table({"block_a": [0], "local_a": p[:, 0], "block_b": [1], "local_b": p[:, 1]},
                     schema=PAIR_SCHEMA)
    fv = [first_voxels(b0, offset_xyz=(0, 0, 0)), first_voxels(b1, offset_xyz=(4, 0, 0))]
    luts = resolve_global_ids([1, 2], fv, pairs)
    assert luts[0].tolist() == [0, 1] and luts[1].tolist() == [0, 1, 2]


def _canonical_whole(mask):
    lab = cc3d.connected_components(np.asfortranarray(mask), connectivity=6)
    return relabel(lab, resolve_global_ids([int(lab.max())], [first_voxels(lab)], None)[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("order", ["C", "F"])
def test_blockwise_equals_whole_label_only(seed, order):
    rng = np.random.default_rng(seed)
    vol = np.asarray((rng.random((20, 18, 13)) * 255).astype(np.uint8), order=order)
    fn = functools.partial(extract_objects, threshold=0.55)
    ref = _canonical_whole(vol > 0.55 * 255)
    for bs in (8, 16):
        got = label_blockwise(vol, fn, block_shape_vx=(bs, bs, bs), halo_vx=(1, 1, 1))
        assert (got == ref).all()


def test_blockwise_equals_whole_with_morphology():
    rng = np.random.default_rng(5)
    vol = ndimage.gaussian_filter(rng.random((32, 32, 12)) * 255, 1.2)
    ops = ["binary_opening", "binary_closing"]
    fn = functools.partial(extract_objects, threshold=0.5, ops=ops)
    h = required_halo_vx(ops, (10, 10, 20), exact=True)
    whole = label_blockwise(vol, fn, block_shape_vx=(64, 64, 64), halo_vx=h)
    assert whole.max() > 1
    for bs in (8, 16):
        assert (label_blockwise(vol, fn, block_shape_vx=(bs, bs, bs), halo_vx=h) == whole).all()


def test_canonical_relabel_idempotent():
    rng = np.random.default_rng(0)
    m = rng.random((9, 9, 9)) > 0.6
    once = _canonical_whole(m)
    twice = relabel(once, resolve_global_ids([int(once.max())], [first_voxels(once)], None)[0])
    assert (once == twice).all()
    assert (relabel(once, np.arange(once.max() + 1)) == once).all()
