"""pytorch/examples' MNIST ``Net`` (mnist/main.py), as a teacher would bring it to ``export-web``:
the docs' copy (docs/teacher/teachernet.py), unwrapped, so it takes inputs normalised with
MNIST's mean and std (``transforms.Normalize((0.1307,), (0.3081,))``) and says so: its input
bounds are ``(-0.4242, 2.8215)``. Plus factories that fail, as a teacher's would.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "teacher"))
import teachernet  # the docs' teacher module, beside this one on sys.path)


class Net(teachernet.Net):
    input_bounds = ((0 - 0.1307) / 0.3081, (1 - 0.1307) / 0.3081)


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
