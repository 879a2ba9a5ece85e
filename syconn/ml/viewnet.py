"""View classifiers (torch): multi-view images of a cell location in, class probabilities out.

The original classifies glia from views with elektronn3's ``StackedConv2Scalar(1, 2)`` on
(1 channel, 2 views, 128 x 256 px), and cell types with a relative of it (reference §6).  Here
a view classifier is an architecture name, its constructor arguments and its weights in one
``.npz`` file with a card (no pickled code, as the synapse model): ``card`` (JSON: format,
task, architecture, arguments, input shape (channels, views, height, width), class names,
training data, held-out figures, library versions) and one array per ``state_dict`` entry
(``w:<name>``).  :func:`load_view_classifier` checks the card before it builds the network
and fails with one line (:class:`~syconn.errors.ModelError`) that names the file on a
missing, corrupt or foreign file or weights that do not fit the architecture.

Architectures (:data:`ARCHITECTURES`):

* ``StackedConv2Scalar``: elektronn3's, the original's glia network (per-view 2D convolutions
  as 3D convolutions of kernel depth 1, then fully connected layers); needs images of at
  least about 100 px in each direction.
* ``CompactViewNet``: a small one of this package (strided 2D convolutions shared by all views,
  the views' features averaged, one linear layer); about a tenth of the other's arithmetic per
  view, for training on CPU.

Views are normalised as the original's: ``x / 255 - 0.5``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from syconn.errors import InputError, ModelError
from syconn.ml.cardfile import read_card_file, write_card_file

__all__ = ["FORMAT", "FORMAT_VERSION", "ARCHITECTURES", "ViewClassifier", "build_network",
           "normalise_views", "load_view_classifier", "train_view_classifier"]

FORMAT = "syconn-view-classifier"
FORMAT_VERSION = 1


def _stacked_conv2scalar(in_channels: int, n_classes: int):
    from elektronn3.models.simple import StackedConv2Scalar

    return StackedConv2Scalar(in_channels, n_classes, dropout_rate=0.05)


def _compact(in_channels: int, n_classes: int, width: int = 16):
    import torch
    from torch import nn

    class CompactViewNet(nn.Module):
        """Per view: four stride-2 3x3 convolutions (width, 2w, 4w, 4w channels, batch norm,
        ReLU), global average pool; the views' features averaged; one linear layer."""

        def __init__(self):
            super().__init__()
            chans = [in_channels, width, 2 * width, 4 * width, 4 * width]
            layers = []
            for a, b in zip(chans[:-1], chans[1:]):
                layers += [nn.Conv2d(a, b, 3, stride=2, padding=1, bias=False),
                           nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
            self.features = nn.Sequential(*layers)
            self.head = nn.Linear(chans[-1], n_classes)

        def forward(self, x):                        # (B, C, V, H, W)
            b, c, v, h, w = x.shape
            f = self.features(x.transpose(1, 2).reshape(b * v, c, h, w))
            f = f.mean(dim=(2, 3)).reshape(b, v, -1).mean(dim=1)
            return self.head(f)

    return CompactViewNet()


ARCHITECTURES: dict[str, Callable] = {
    "StackedConv2Scalar": _stacked_conv2scalar,
    "CompactViewNet": _compact,
}


def build_network(architecture: str, in_channels: int, n_classes: int, **kwargs):
    """A freshly initialised network of ``architecture`` (:data:`ARCHITECTURES`)."""
    if architecture not in ARCHITECTURES:
        raise InputError(f"architecture: got {architecture!r}, expected one of "
                         f"{', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](int(in_channels), int(n_classes), **kwargs)


def normalise_views(views: np.ndarray):
    """uint8 views (N, C, V, H, W) -> float32 tensor ``x / 255 - 0.5`` (the original's)."""
    import torch

    v = np.asarray(views)
    if v.ndim != 5:
        raise InputError(f"views: got shape {v.shape}, expected (N, channels, views, H, W)")
    return torch.from_numpy(v.astype(np.float32) / 255.0 - 0.5)


@dataclass
class ViewClassifier:
    """A trained view classifier: ``net`` (torch module, eval mode) and its ``card``."""

    net: object
    card: Mapping = field(default_factory=dict)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.card["classes"])

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """(channels, views, height, width) the network was trained on."""
        return tuple(int(x) for x in self.card["input_shape"])

    def predict_proba(self, views: np.ndarray, *, batch: int = 64) -> np.ndarray:
        """Class probabilities ``float64 (N, n_classes)`` of uint8 views ``(N, C, V, H, W)``."""
        import torch

        v = np.asarray(views)
        if v.ndim != 5 or tuple(v.shape[1:]) != self.input_shape:
            raise InputError(f"views: got shape {v.shape}, expected (N, "
                             f"{', '.join(map(str, self.input_shape))}) for this model")
        out = np.zeros((len(v), len(self.classes)))
        self.net.eval()
        with torch.no_grad():
            for i in range(0, len(v), batch):
                logits = self.net(normalise_views(v[i:i + batch]))
                out[i:i + batch] = torch.softmax(logits, dim=1).double().numpy()
        return out

    def save(self, path) -> Path:
        """Write the model file (atomically)."""
        import torch

        card = dict(self.card)
        card.update(format=FORMAT, format_version=FORMAT_VERSION,
                    n_parameters=int(sum(p.numel() for p in self.net.parameters())),
                    torch=torch.__version__)
        arrays = {f"w:{k}": t.detach().cpu().numpy() for k, t in self.net.state_dict().items()}
        return write_card_file(path, card, arrays)


def load_view_classifier(path, *, task: str | None = None) -> ViewClassifier:
    """Read a view classifier file, checking its card (and ``task``, e.g. ``"glia"``) first."""
    import torch

    path = Path(path)

    def fail(what: str) -> ModelError:
        return ModelError(f"{path}: {what}")

    card, arrays = read_card_file(path, FORMAT, FORMAT_VERSION, "view classifier", fail)
    weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w:")}
    if task is not None and card.get("task") != task:
        raise fail(f"a {card.get('task')!r} model, expected a {task!r} model")
    try:
        shape = [int(x) for x in card["input_shape"]]
        classes = [str(c) for c in card["classes"]]
        net = build_network(card["architecture"], shape[0], len(classes),
                            **card.get("arguments", {}))
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise fail(f"card does not describe a known network ({exc})") from None
    try:
        net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()},
                            strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise fail(f"weights do not match architecture {card['architecture']} "
                   f"({first[1].strip() if len(first) > 1 else first[0]})") from None
    net.eval()
    return ViewClassifier(net=net, card=card)


def train_view_classifier(views: np.ndarray, labels: np.ndarray, *, classes: Sequence[str],
                          task: str, architecture: str = "CompactViewNet", seed: int = 0,
                          epochs: int = 10, batch: int = 32, lr: float = 1e-3,
                          arguments: Mapping | None = None, augment: bool = True,
                          log: Callable[[str], None] | None = None,
                          card: Mapping | None = None) -> ViewClassifier:
    """Train a view classifier on uint8 ``views`` (N, C, V, H, W) with integer ``labels``.

    Reproducible: the same seed, data and thread count give the same weights (torch's
    deterministic algorithms, one shuffling generator).  Class weights balance the loss;
    ``augment`` mirrors views left-right and swaps their order at random (the views of a
    location have no preferred direction along the principal axis).
    """
    import torch

    v = np.asarray(views)
    y = np.asarray(labels, np.int64).reshape(-1)
    if v.ndim != 5 or len(v) != len(y) or not len(y):
        raise InputError(f"views/labels: got shapes {v.shape} / {y.shape}, expected (N, C, V, "
                         "H, W) and (N,) with N >= 1")
    n_cls = len(classes)
    if n_cls < 2 or y.min() < 0 or y.max() >= n_cls:
        raise InputError(f"labels: expected integers 0..{n_cls - 1} for classes {list(classes)}")
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        return _train(v, y, torch, classes=classes, task=task, architecture=architecture,
                      seed=seed, epochs=epochs, batch=batch, lr=lr, arguments=arguments,
                      augment=augment, log=log, card=card)
    finally:
        torch.use_deterministic_algorithms(was_deterministic)


def _train(v, y, torch, *, classes, task, architecture, seed, epochs, batch, lr, arguments,
           augment, log, card) -> ViewClassifier:
    from torch import nn

    n_cls = len(classes)
    torch.manual_seed(seed)
    gen = np.random.default_rng(seed)
    net = build_network(architecture, v.shape[1], n_cls, **dict(arguments or {}))
    counts = np.bincount(y, minlength=n_cls).astype(np.float64)
    weight = torch.tensor(len(y) / (n_cls * np.maximum(counts, 1.0)), dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(
        1, epochs * -(-len(y) // batch)))
    history = []
    for ep in range(epochs):
        net.train()
        order = gen.permutation(len(y))
        total = 0.0
        for i in range(0, len(y), batch):
            idx = order[i:i + batch]
            xb = v[idx]
            if augment:
                flip = gen.random(len(idx)) < 0.5
                xb = xb.copy()
                xb[flip] = xb[flip][..., ::-1]
                swap = gen.random(len(idx)) < 0.5
                xb[swap] = xb[swap][:, :, ::-1]
            xt = normalise_views(np.ascontiguousarray(xb))
            loss = loss_fn(net(xt), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / len(y))
        if log:
            log(f"epoch {ep + 1}/{epochs}: loss {history[-1]:.4f}")
    net.eval()
    out = dict(card or {})
    out.update(task=task, architecture=architecture, arguments=dict(arguments or {}),
               input_shape=list(v.shape[1:]), classes=list(classes), seed=int(seed),
               epochs=int(epochs), batch=int(batch), lr=float(lr), n_train=int(len(y)),
               train_class_counts=counts.astype(int).tolist(),
               train_loss=[round(x, 6) for x in history])
    return ViewClassifier(net=net, card=out)
