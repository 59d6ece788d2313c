"""pytorch/examples' MNIST ``Net`` (mnist/main.py), as a teacher would bring it to ``export-web``.

Copied verbatim in structure: two convolutions, max pooling, dropout, two linear layers,
``log_softmax`` output; inputs normalised with MNIST's mean and std (``transforms.Normalize
((0.1307,), (0.3081,))``), so its input bounds are ``(-0.4242, 2.8215)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Net(nn.Module):
    input_bounds = ((0 - 0.1307) / 0.3081, (1 - 0.1307) / 0.3081)

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


def seeded_net(seed: int = 0) -> Net:
    """``Net`` with seeded random weights (the tests' stand-in for a trained one)."""
    torch.manual_seed(seed)
    return Net()


def broken_net() -> Net:
    """A factory that fails, as a teacher's typo would."""
    raise RuntimeError("the teacher's factory failed")


def chatty_net() -> Net:
    """A factory whose error message runs over several lines."""
    raise ValueError("the first line says what\nand a second line says more")


def not_a_classifier() -> nn.Module:
    """A module whose output is not one score per class: (N, 32, 26, 26) maps."""
    return nn.Conv2d(1, 32, 3)


#: The colour net's classes, also the subfolders of the tests' picture folders.
COLOUR_CLASSES = ("cat", "dog", "car", "ship", "tree")


def colour_net(seed: int = 0) -> nn.Sequential:
    """A small 3x32x32 colour CNN (batch norm, adaptive pooling), seeded, eval mode.

    Its batch-norm running statistics are seeded too, so they matter in every comparison.
    """
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, len(COLOUR_CLASSES)),
    )
    for norm in (net[1], net[5]):
        norm.running_mean.uniform_(-0.2, 0.2)
        norm.running_var.uniform_(0.5, 2.0)
    net.input_shape = (3, 32, 32)
    return net.eval()


def named_colour_net() -> nn.Sequential:
    """``colour_net()`` that names its classes itself (a ``classes`` attribute)."""
    net = colour_net()
    net.classes = COLOUR_CLASSES
    return net


def tiny_digit_net() -> nn.Sequential:
    """A seeded linear classifier of 1x28x28 digits in [0, 1] (quick to export)."""
    torch.manual_seed(5)
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10)).eval()


def not_a_module() -> str:
    """A factory that returns something other than a module."""
    return "a network"


class NanNet(nn.Module):
    """A classifier whose ten scores are NaN (a teacher's diverged training)."""

    def forward(self, x):
        return torch.full((x.shape[0], 10), float("nan"))
