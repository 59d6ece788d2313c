r"""A teacher's two networks for ``cnnviz demo --model``.

Put this file next to your notebook (or on ``PYTHONPATH``) and run::

    python teachernet.py net.safetensors colour.safetensors pictures

It trains pytorch/examples' MNIST ``Net``, writes a folder of
generated colour pictures, trains a colour CNN on them, saves both;
then::

    cnnviz demo --model teachernet:build --weights net.safetensors
    cnnviz demo --model teachernet:colour \
        --weights colour.safetensors --images pictures \
        --class-names cat,dog,car,ship,tree

``build`` is ``Net`` (``mnist/main.py``) unchanged, wrapped in
:class:`cnnviz.Normalized` with MNIST's mean and standard deviation so
that it takes pictures in ``[0, 1]``. ``colour`` is a CNN for
``3 x 32 x 32`` colour pictures with batch normalisation and adaptive
pooling; :func:`make_pictures` draws five classes of pictures it can
learn (shapes and colours), so that nothing needs downloading.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn
from torch.nn import functional as F

import cnnviz
from cnnviz.data.mnist import Splits

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CLASSES = ("cat", "dog", "car", "ship", "tree")
PICTURE_SIZE = 32

#: How ``train_net`` trains ``Net``: one pass over the first 24,000
#: MNIST training digits, Adam with a one-cycle schedule, batches of
#: 128, in channels-last layout (faster on CPUs).
NET_RECIPE = cnnviz.Recipe(
    "teachernet",
    epochs=1,
    batch_size=128,
    lr=0.003,
    momentum=0.0,
    optimizer="adam",
    schedule="onecycle",
    val_every=1000,
    channels_last=True,
)
NET_TRAIN_SIZE = 24_000

#: How ``train_colour`` trains ``colour``: 12 passes over the
#: pictures, Adam with a one-cycle schedule, random shifts of up to 3
#: pixels.
COLOUR_RECIPE = cnnviz.Recipe(
    "colour",
    epochs=12,
    batch_size=32,
    lr=0.01,
    momentum=0.0,
    optimizer="adam",
    schedule="onecycle",
    max_shift=3,
)


class Net(nn.Module):
    """pytorch/examples' MNIST network: digits ``(N, 1, 28, 28)``
    normalised with MNIST's mean and standard deviation in,
    log-probabilities ``(N, 10)`` out."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def build() -> nn.Module:
    """``Net`` for digits ``(N, 1, 28, 28)`` in ``[0, 1]``: a model.

    Examples
    --------
    >>> build()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    return cnnviz.Normalized(Net(), [MNIST_MEAN], [MNIST_STD])


class ColourNet(nn.Module):
    """Three blocks (convolution, batch norm, ReLU), adaptive pooling.

    Takes ``[0, 1]`` colour pictures ``(N, 3, 32, 32)`` (other sizes
    work too: the pooling adapts); returns scores, one per class.
    """

    input_shape = (3, PICTURE_SIZE, PICTURE_SIZE)
    input_bounds = (0.0, 1.0)

    def __init__(self, num_classes: int = len(CLASSES)):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def colour() -> nn.Module:
    """The colour CNN for the classes of :func:`make_pictures`.

    Examples
    --------
    >>> net = colour()
    >>> net.input_shape, net(torch.zeros(2, *net.input_shape)).shape
    ((3, 32, 32), torch.Size([2, 5]))
    """
    return ColourNet(len(CLASSES))


def _draw(draw, name: str, rng: np.random.Generator, size: int):
    """Draw one ``name`` at a random place of a ``size`` px square."""
    s = size * rng.uniform(0.55, 0.8)  # the object's size
    x0, y0 = rng.uniform(0, size - s, 2)

    def at(*xy: float) -> list[float]:  # object (0..1) to pixels
        return [(x0, y0)[i % 2] + v * s for i, v in enumerate(xy)]

    def shade(*rgb: int) -> tuple[int, ...]:
        noise = rng.integers(-25, 26, len(rgb))
        rgb = np.clip(np.add(rgb, noise), 0, 255)
        return tuple(int(v) for v in rgb)

    if name == "cat":  # a round orange face, pointed ears, green eyes
        fur = shade(230, 140, 40)
        draw.polygon(at(0.1, 0.45, 0.25, 0.0, 0.45, 0.35), fill=fur)
        draw.polygon(at(0.55, 0.35, 0.75, 0.0, 0.9, 0.45), fill=fur)
        draw.ellipse(at(0.05, 0.25, 0.95, 1.0), fill=fur)
        for x in (0.28, 0.6):
            eye = shade(40, 170, 60)
            draw.ellipse(at(x, 0.5, x + 0.14, 0.64), fill=eye)
    elif name == "dog":  # a brown face, long dark ears, a black nose
        fur, ear = shade(150, 100, 60), shade(70, 45, 25)
        draw.ellipse(at(0.2, 0.1, 0.8, 0.95), fill=fur)
        draw.ellipse(at(0.0, 0.1, 0.3, 0.75), fill=ear)
        draw.ellipse(at(0.7, 0.1, 1.0, 0.75), fill=ear)
        draw.ellipse(at(0.4, 0.65, 0.6, 0.8), fill=(20, 20, 20))
    elif name == "car":  # a red body, a pale cabin, two black wheels
        cabin = shade(240, 170, 170)
        draw.rectangle(at(0.25, 0.25, 0.75, 0.5), fill=cabin)
        body = shade(210, 30, 40)
        draw.rectangle(at(0.0, 0.45, 1.0, 0.8), fill=body)
        for x in (0.1, 0.62):
            wheel = at(x, 0.65, x + 0.28, 0.93)
            draw.ellipse(wheel, fill=(15, 15, 15))
    elif name == "ship":  # blue sea, a dark hull, a white sail
        sea = [0, y0 + 0.75 * s, size, size]
        draw.rectangle(sea, fill=shade(30, 80, 200))
        hull = at(0.0, 0.6, 1.0, 0.6, 0.8, 0.85, 0.2, 0.85)
        draw.polygon(hull, fill=shade(60, 40, 30))
        sail = at(0.5, 0.0, 0.5, 0.55, 0.15, 0.55)
        draw.polygon(sail, fill=(245, 245, 245))
    elif name == "tree":  # a brown trunk under a green crown
        trunk = shade(110, 70, 30)
        draw.rectangle(at(0.42, 0.55, 0.58, 1.0), fill=trunk)
        crown = shade(40, 150, 40)
        draw.ellipse(at(0.05, 0.0, 0.95, 0.7), fill=crown)
    else:
        known = ", ".join(CLASSES)
        raise ValueError(f"no drawing for {name!r}: draw {known}")


def make_pictures(
    folder: str | Path,
    *,
    classes: Sequence[str] = CLASSES,
    per_class: int = 40,
    size: int = 64,
    seed: int = 0,
) -> Path:
    """Write ``per_class`` PNG pictures of each class to ``folder``.

    Each is one object of :data:`CLASSES` (a cat's face with pointed
    ears, a dog's with hanging ears, a red car, a sailboat, a tree)
    of random size, place and shade on a random pale background,
    ``size`` x ``size`` RGB pixels.

    Examples
    --------
    >>> import tempfile
    >>> folder = make_pictures(tempfile.mkdtemp(), per_class=2)
    >>> sorted(p.name for p in folder.rglob("*.png"))[:3]
    ['car-000.png', 'car-001.png', 'cat-000.png']
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pale = tuple(int(c) for c in rng.integers(170, 256, 3))
            picture = Image.new("RGB", (size, size), pale)
            _draw(ImageDraw.Draw(picture), name, rng, size)
            picture.save(folder / name / f"{name}-{index:03d}.png")
    return folder


def read_pictures(
    folder: str | Path, *, classes: Sequence[str] = CLASSES
) -> tuple[torch.Tensor, torch.Tensor]:
    """The PNGs of ``folder/<class>``: ``(N, 3, 32, 32)`` pictures in
    ``[0, 1]``, and their labels ``(N,)``.

    Examples
    --------
    >>> import tempfile
    >>> folder = make_pictures(tempfile.mkdtemp(), per_class=2)
    >>> x, y = read_pictures(folder)
    >>> tuple(x.shape), y.tolist()
    ((10, 3, 32, 32), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    """
    pictures, labels = [], []
    size = (PICTURE_SIZE, PICTURE_SIZE)
    for label, name in enumerate(classes):
        for path in sorted((Path(folder) / name).glob("*.png")):
            rgb = Image.open(path).convert("RGB").resize(size)
            pictures.append(np.asarray(rgb, dtype=np.float32) / 255)
            labels.append(label)
    images = torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2)
    return images.contiguous(), torch.tensor(labels)


def train_net(
    path: str | Path,
    *,
    data: str | Path | None = None,
    seed: int = 0,
    progress: bool = False,
) -> cnnviz.History:
    """Train ``build()`` on MNIST (:data:`NET_RECIPE`), save it to
    ``path`` (safetensors); returns the history.

    ``data``: a folder with MNIST (default: where cnnviz finds it, or
    downloads it). The history's ``test_acc`` is the accuracy on
    MNIST's 10,000 test digits.
    """
    mnist = cnnviz.load_splits(data, bounds=(0.0, 1.0))
    first = slice(NET_TRAIN_SIZE)
    mnist = Splits(
        mnist.train_x[first],
        mnist.train_y[first],
        mnist.val_x,
        mnist.val_y,
        mnist.test_x,
        mnist.test_y,
    )
    net, history = cnnviz.train(
        build, mnist, NET_RECIPE, seed=seed, progress=progress
    )
    cnnviz.save_checkpoint(net, path, history=history)
    return history


def train_colour(
    path: str | Path,
    pictures: str | Path,
    *,
    seed: int = 0,
    progress: bool = False,
) -> cnnviz.History:
    """Train ``colour()`` on a folder of :func:`make_pictures`
    (:data:`COLOUR_RECIPE`), save it to ``path``; returns the history.

    Every fifth picture is held out: the history's validation and
    ``test_acc`` measure those.
    """
    x, y = read_pictures(pictures)
    out = torch.arange(len(y)) % 5 == 0
    splits = Splits(
        x[~out], y[~out], x[out], y[out], x[out], y[out], len(CLASSES)
    )
    net, history = cnnviz.train(
        colour, splits, COLOUR_RECIPE, seed=seed, progress=progress
    )
    cnnviz.save_checkpoint(net, path, history=history)
    return history


if __name__ == "__main__":
    net_path, colour_path, folder = sys.argv[1:4]
    history = train_net(net_path, progress=True)
    print(f"Net: {history.test_acc:.2f} % of MNIST's test digits")
    make_pictures(folder)
    history = train_colour(colour_path, folder, progress=True)
    print(f"colour: {history.test_acc:.1f} % of held-out pictures")
