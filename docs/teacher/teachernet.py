"""A teacher's two networks for ``cnnviz demo --model``: an MNIST ``Net`` and a colour CNN.

Put this file next to your notebook (or on ``PYTHONPATH``) and run, once::

    python teachernet.py net.safetensors colour.safetensors pictures

It writes a folder of generated colour pictures, trains both networks and saves them, then::

    cnnviz demo --model teachernet:build --weights net.safetensors
    cnnviz demo --model teachernet:colour --weights colour.safetensors \\
        --images pictures --class-names cat,dog,car,ship,tree

``build`` is pytorch/examples' MNIST ``Net`` (``mnist/main.py``) unchanged, wrapped in
:class:`cnnviz.Normalized` with MNIST's mean and standard deviation so that it takes
pictures in ``[0, 1]``. ``colour`` is a small CNN for ``3 x 32 x 32`` colour pictures with
batch normalisation and adaptive pooling; :func:`make_pictures` draws five classes of
pictures it can learn (shapes and colours), so that nothing needs downloading.
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
from cnnviz.data import Splits

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CLASSES = ("cat", "dog", "car", "ship", "tree")
PICTURE_SIZE = 32

#: How ``train_net`` trains ``Net``: one pass over the first 24,000 MNIST training digits
#: with Adam and a one-cycle schedule, batches of 128, channels-last layout (faster on CPUs).
NET_RECIPE = cnnviz.Recipe(
    "teachernet", epochs=1, batch_size=128, lr=0.003, momentum=0.0, optimizer="adam",
    schedule="onecycle", val_every=1000, channels_last=True,
)  # fmt: skip
NET_TRAIN_SIZE = 24_000

#: How ``train_colour`` trains ``colour``: 12 passes over the pictures with Adam, a
#: one-cycle schedule and random shifts of up to 3 pixels.
COLOUR_RECIPE = cnnviz.Recipe(
    "colour", epochs=12, batch_size=32, lr=0.01, momentum=0.0, optimizer="adam",
    schedule="onecycle", max_shift=3,
)  # fmt: skip


class Net(nn.Module):
    """pytorch/examples' MNIST network: expects ``(N, 1, 28, 28)`` digits normalised with
    MNIST's mean and standard deviation; returns log-probabilities ``(N, 10)``."""

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
    """``Net`` taking ``[0, 1]`` digits ``(N, 1, 28, 28)``: the factory for ``--model``.

    Examples
    --------
    >>> build()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    return cnnviz.Normalized(Net(), [MNIST_MEAN], [MNIST_STD])


class ColourNet(nn.Module):
    """Three convolution blocks (convolution, batch norm, ReLU) and adaptive average pooling.

    Takes ``[0, 1]`` colour pictures ``(N, 3, 32, 32)`` (any size works: the pooling adapts)
    and returns class scores ``(N, num_classes)``.
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
    """The colour CNN for the five classes of :func:`make_pictures`: the ``--model`` factory.

    Examples
    --------
    >>> net = colour()
    >>> net.input_shape, net(torch.zeros(2, *net.input_shape)).shape
    ((3, 32, 32), torch.Size([2, 5]))
    """
    return ColourNet(len(CLASSES))


def _draw(draw: ImageDraw.ImageDraw, name: str, rng: np.random.Generator, size: int) -> None:
    """Draw one ``name`` on ``draw`` (a ``size`` x ``size`` picture) at a random place."""
    s = size * rng.uniform(0.55, 0.8)  # the object's size
    x0, y0 = rng.uniform(0, size - s, 2)

    def at(*xy: float) -> list[float]:  # object coordinates (0..1) to pixels
        return [(x0 if i % 2 == 0 else y0) + v * s for i, v in enumerate(xy)]

    def shade(*rgb: int) -> tuple[int, ...]:
        return tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in rgb)

    if name == "cat":  # an orange round face, two pointed ears, green eyes
        fur = shade(230, 140, 40)
        draw.polygon(at(0.1, 0.45, 0.25, 0.0, 0.45, 0.35), fill=fur)
        draw.polygon(at(0.55, 0.35, 0.75, 0.0, 0.9, 0.45), fill=fur)
        draw.ellipse(at(0.05, 0.25, 0.95, 1.0), fill=fur)
        for left in (0.28, 0.6):
            draw.ellipse(at(left, 0.5, left + 0.14, 0.64), fill=shade(40, 170, 60))
    elif name == "dog":  # a brown face, long dark ears hanging down, a black nose
        fur, ear = shade(150, 100, 60), shade(70, 45, 25)
        draw.ellipse(at(0.2, 0.1, 0.8, 0.95), fill=fur)
        draw.ellipse(at(0.0, 0.1, 0.3, 0.75), fill=ear)
        draw.ellipse(at(0.7, 0.1, 1.0, 0.75), fill=ear)
        draw.ellipse(at(0.4, 0.65, 0.6, 0.8), fill=(20, 20, 20))
    elif name == "car":  # a red body, a pale cabin, two black wheels
        draw.rectangle(at(0.25, 0.25, 0.75, 0.5), fill=shade(240, 170, 170))
        draw.rectangle(at(0.0, 0.45, 1.0, 0.8), fill=shade(210, 30, 40))
        for left in (0.1, 0.62):
            draw.ellipse(at(left, 0.65, left + 0.28, 0.93), fill=(15, 15, 15))
    elif name == "ship":  # blue sea, a dark hull, a white sail
        draw.rectangle([0, y0 + 0.75 * s, size, size], fill=shade(30, 80, 200))
        draw.polygon(at(0.0, 0.6, 1.0, 0.6, 0.8, 0.85, 0.2, 0.85), fill=shade(60, 40, 30))
        draw.polygon(at(0.5, 0.0, 0.5, 0.55, 0.15, 0.55), fill=(245, 245, 245))
    elif name == "tree":  # a brown trunk under a green crown
        draw.rectangle(at(0.42, 0.55, 0.58, 1.0), fill=shade(110, 70, 30))
        draw.ellipse(at(0.05, 0.0, 0.95, 0.7), fill=shade(40, 150, 40))
    else:
        raise ValueError(f"no drawing for {name!r}: choose among {', '.join(CLASSES)}")


def make_pictures(
    folder: str | Path,
    *,
    classes: Sequence[str] = CLASSES,
    per_class: int = 40,
    size: int = 64,
    seed: int = 0,
) -> Path:
    """Write ``per_class`` generated PNG pictures of each class into ``folder/<class>/``.

    Every picture is one object (:data:`CLASSES` are drawn: a cat's face with pointed
    ears, a dog's with hanging ears, a red car, a sailing ship, a tree) of random size,
    place and shade on a random pale background, ``size`` x ``size`` RGB pixels.

    Examples
    --------
    >>> import tempfile
    >>> folder = make_pictures(tempfile.mkdtemp(), per_class=2)
    >>> sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))[:3]
    ['car/car-000.png', 'car/car-001.png', 'cat/cat-000.png']
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            background = tuple(int(c) for c in rng.integers(170, 256, 3))
            picture = Image.new("RGB", (size, size), background)
            _draw(ImageDraw.Draw(picture), name, rng, size)
            picture.save(folder / name / f"{name}-{index:03d}.png")
    return folder


def read_pictures(
    folder: str | Path, *, classes: Sequence[str] = CLASSES
) -> tuple[torch.Tensor, torch.Tensor]:
    """The PNGs of ``folder/<class>/`` as ``[0, 1]`` pictures ``(N, 3, 32, 32)`` and labels.

    Examples
    --------
    >>> import tempfile
    >>> x, y = read_pictures(make_pictures(tempfile.mkdtemp(), per_class=2))
    >>> tuple(x.shape), y.tolist()
    ((10, 3, 32, 32), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    """
    pictures, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((Path(folder) / name).glob("*.png")):
            rgb = Image.open(path).convert("RGB").resize((PICTURE_SIZE, PICTURE_SIZE))
            pictures.append(np.asarray(rgb, dtype=np.float32) / 255)
            labels.append(label)
    images = torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2).contiguous()
    return images, torch.tensor(labels)


def train_net(
    path: str | Path, *, data: str | Path | None = None, seed: int = 0, progress: bool = False
) -> cnnviz.History:
    """Train ``build()`` on MNIST (:data:`NET_RECIPE`) and save it to ``path`` (safetensors).

    ``data`` is a folder with MNIST (default: where cnnviz finds or downloads it). Returns
    the training history; its ``test_acc`` is the accuracy on MNIST's 10,000 test digits.
    """
    mnist = cnnviz.load_splits(data, bounds=(0.0, 1.0))
    mnist = Splits(
        mnist.train_x[:NET_TRAIN_SIZE], mnist.train_y[:NET_TRAIN_SIZE],
        mnist.val_x, mnist.val_y, mnist.test_x, mnist.test_y,
    )  # fmt: skip
    net, history = cnnviz.train(
        build, mnist, NET_RECIPE, seed=seed, device="cpu", progress=progress
    )
    cnnviz.save_checkpoint(net, path, history=history)
    return history


def train_colour(
    path: str | Path, pictures: str | Path, *, seed: int = 0, progress: bool = False
) -> cnnviz.History:
    """Train ``colour()`` on a folder of :func:`make_pictures` and save it to ``path``.

    Every fifth picture of each class is held out: validation and the history's
    ``test_acc`` measure those (:data:`COLOUR_RECIPE`).
    """
    x, y = read_pictures(pictures)
    held_out = torch.arange(len(y)) % 5 == 0
    splits = Splits(
        x[~held_out], y[~held_out], x[held_out], y[held_out], x[held_out], y[held_out],
        num_classes=len(CLASSES),
    )  # fmt: skip
    net, history = cnnviz.train(
        colour, splits, COLOUR_RECIPE, seed=seed, device="cpu", progress=progress
    )
    cnnviz.save_checkpoint(net, path, history=history)
    return history


if __name__ == "__main__":
    net_path, colour_path, picture_folder = sys.argv[1:4]
    print(f"Net: {train_net(net_path, progress=True).test_acc:.1f} % of MNIST's test digits")
    make_pictures(picture_folder)
    history = train_colour(colour_path, picture_folder, progress=True)
    print(f"colour: {history.test_acc:.1f} % of the held-out pictures")
