"""Spine shape features, the class at a synapse and the head volume on shapes whose answers are
known: a shaft (cylinder) with a spine (thin neck, ball head) drawn at 20 nm."""

from __future__ import annotations

import numpy as np
import pytest

from syconn.proc import spines as S

VS = (20.0, 20.0, 20.0)
SHAFT_R, NECK_R, NECK_LEN, HEAD_R = 400.0, 50.0, 600.0, 250.0


def _spine_shape():
    """x along the shaft; the neck leaves it along +y at x = 0 and ends in the head.
    Returns the mask and each voxel's true class (neck, head, shaft; -1 outside)."""
    n = (120, 140, 50)
    x, y, z = np.meshgrid(*[(np.arange(k) - c) * 20.0 for k, c in zip(n, (60, 30, 25))],
                          indexing="ij")
    shaft = y ** 2 + z ** 2 <= SHAFT_R ** 2
    top = SHAFT_R + NECK_LEN
    neck = (x ** 2 + z ** 2 <= NECK_R ** 2) & (y > 0) & (y <= top)
    head = x ** 2 + (y - top - HEAD_R) ** 2 + z ** 2 <= HEAD_R ** 2
    cls = np.full(n, -1, np.int64)
    cls[shaft] = S.SHAFT
    cls[neck & ~shaft] = S.NECK
    cls[head] = S.HEAD
    return shaft | neck | head, cls


def test_features_tell_the_neck_head_and_shaft_apart():
    mask, cls = _spine_shape()
    surf, X = S.spine_features(mask, VS)
    assert X.shape == (len(surf), len(S.FEATURE_NAMES)) and np.isfinite(X).all()
    y = cls[tuple(surf.T)]
    f = {n: X[:, i] for i, n in enumerate(S.FEATURE_NAMES)}
    # an opening with an 80 nm ball removes the 50 nm neck (but for its ends, which the balls
    # in the shaft and the head reach), keeps the head and the shaft
    assert np.mean(f["open_80"][y == S.NECK] > 0) > 0.7
    assert np.median(f["open_80"][y == S.HEAD]) == 0 and np.median(f["open_80"][y == S.SHAFT]) == 0
    # the head is its own small piece of that opening (its ball: 0.065 um^3), the shaft the big one
    head_part = np.median(f["open_80_part_um3"][y == S.HEAD])
    assert head_part == pytest.approx(4 / 3 * np.pi * (HEAD_R / 1000) ** 3, rel=0.25)
    assert np.median(f["open_80_part_um3"][y == S.SHAFT]) > 10 * head_part
    # inscribed radii: the box's largest is the shaft's; the head's basin peaks at its radius
    assert f["dmax_box"][0] == pytest.approx(SHAFT_R, abs=25)
    assert np.median(f["basin_peak"][y == S.HEAD]) == pytest.approx(HEAD_R, abs=30)
    # the head is far from the shaft's core, the shaft's surface near it
    assert np.median(f["core_dist"][y == S.HEAD]) > NECK_LEN
    assert np.median(f["core_dist"][y == S.SHAFT]) < SHAFT_R


def test_head_volume_of_the_ball_on_its_neck():
    mask, cls = _spine_shape()
    surf = S.surface_voxels(mask)
    labels = cls[tuple(surf.T)]
    tip = np.array([60, 30 + int((SHAFT_R + NECK_LEN + 2 * HEAD_R) / 20) - 1, 25])
    vol = S.head_volume_um3(mask, surf, labels, tip, VS)
    assert vol == pytest.approx(4 / 3 * np.pi * (HEAD_R / 1000) ** 3, rel=0.1)
    # on the shaft there is no head within the radius
    assert np.isnan(S.head_volume_um3(mask, surf, labels, (5, 30, 25), VS))


def test_features_of_an_empty_mask_and_the_mask_box_offset():
    surf, X = S.spine_features(np.zeros((6, 6, 6), bool), VS)
    assert surf.shape == (0, 3) and X.shape == (0, len(S.FEATURE_NAMES))
    m = np.zeros((30, 30, 30), bool)
    m[20:25, 20:25, 20:25] = True
    surf, _ = S.spine_features(m, VS)
    assert m[tuple(surf.T)].all() and len(surf) == 5 ** 3 - 3 ** 3
