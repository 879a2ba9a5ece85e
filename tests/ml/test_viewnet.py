"""View classifiers: learn a separable toy task, reproducible, saved and loaded with their card."""

from __future__ import annotations

import json

import numpy as np
import pytest

from syconn.errors import InputError, ModelError
from syconn.ml.viewnet import (
    ViewClassifier,
    build_network,
    load_view_classifier,
    normalise_views,
    train_view_classifier,
)


def toy_views(n: int, seed: int, h: int = 32, w: int = 64):
    """Class 0: a horizontal bar (a neurite along the principal axis); class 1: a disc (a
    blob); both at random places and grey levels, two views each, background 255."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    v = np.full((n, 1, 2, h, w), 255, np.uint8)
    yy, xx = np.mgrid[:h, :w]
    for i in range(n):
        for k in range(2):
            cy, cx = rng.uniform(8, h - 8), rng.uniform(12, w - 12)
            grey = rng.integers(40, 200)
            if y[i] == 0:
                m = (np.abs(yy - cy) < rng.uniform(2, 4)) & (np.abs(xx - cx) < rng.uniform(15, 25))
            else:
                m = (yy - cy) ** 2 + (xx - cx) ** 2 < rng.uniform(5, 8) ** 2
            v[i, 0, k][m] = grey
    return v, y


@pytest.fixture(scope="module")
def trained():
    v, y = toy_views(160, seed=1)
    return train_view_classifier(v, y, classes=["bar", "disc"], task="toy", seed=3, epochs=6,
                                 batch=16, lr=3e-3, arguments={"width": 8})


def test_learns_a_separable_task_on_held_out_views(trained):
    v, y = toy_views(80, seed=2)
    p = trained.predict_proba(v)
    assert p.shape == (80, 2) and np.allclose(p.sum(1), 1)
    assert (p.argmax(1) == y).mean() >= 0.9
    assert trained.card["train_class_counts"] == np.bincount(toy_views(160, 1)[1]).tolist()


def test_training_is_reproducible():
    v, y = toy_views(32, seed=5)
    a = train_view_classifier(v, y, classes=["bar", "disc"], task="toy", seed=7, epochs=1,
                              batch=8, arguments={"width": 4})
    b = train_view_classifier(v, y, classes=["bar", "disc"], task="toy", seed=7, epochs=1,
                              batch=8, arguments={"width": 4})
    for (ka, ta), (kb, tb) in zip(a.net.state_dict().items(), b.net.state_dict().items()):
        assert ka == kb and np.array_equal(ta.numpy(), tb.numpy())


def test_save_and_load_give_the_same_probabilities(trained, tmp_path):
    v, _ = toy_views(12, seed=9)
    path = trained.save(tmp_path / "m.npz")
    back = load_view_classifier(path, task="toy")
    assert back.classes == ("bar", "disc") and back.input_shape == (1, 2, 32, 64)
    assert back.card["n_parameters"] > 0
    np.testing.assert_array_equal(back.predict_proba(v), trained.predict_proba(v))
    with pytest.raises(InputError, match="expected"):
        back.predict_proba(v[:, :, :1])


def test_bad_model_files_give_one_line_naming_the_file(trained, tmp_path):
    path = trained.save(tmp_path / "m.npz")
    with pytest.raises(ModelError, match="no such model file"):
        load_view_classifier(tmp_path / "none.npz")
    with pytest.raises(ModelError, match="a 'toy' model, expected a 'glia' model"):
        load_view_classifier(path, task="glia")
    # weights that do not fit the architecture the card names
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    card = json.loads(bytes(arrays["card"]).decode())
    card["arguments"] = {"width": 16}
    arrays["card"] = np.frombuffer(json.dumps(card).encode(), np.uint8)
    np.savez(tmp_path / "wrong.npz", **arrays)
    with pytest.raises(ModelError, match=r"wrong\.npz: weights do not match architecture"):
        load_view_classifier(tmp_path / "wrong.npz")
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelError, match=r"cut\.npz: not a readable model file"):
        load_view_classifier(tmp_path / "cut.npz")
    for err in (ModelError,):
        msg = str(pytest.raises(err, load_view_classifier, tmp_path / "cut.npz").value)
        assert "\n" not in msg


def test_the_originals_glia_network_takes_its_views():
    import torch

    net = build_network("StackedConv2Scalar", 1, 2)
    x = normalise_views(np.full((2, 1, 2, 128, 256), 255, np.uint8))
    with torch.no_grad():
        assert tuple(net(x).shape) == (2, 2)
    assert isinstance(ViewClassifier(net, {"classes": ["a", "b"]}).classes, tuple)
    with pytest.raises(InputError, match="architecture"):
        build_network("VGG", 1, 2)
    with pytest.raises(InputError, match="labels"):
        train_view_classifier(np.zeros((2, 1, 2, 8, 8), np.uint8), np.array([0, 2]),
                              classes=["a", "b"], task="t")
