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


def not_a_classifier() -> nn.Module:
    """A module whose output is not one score per class: (N, 32, 26, 26) maps."""
    return nn.Conv2d(1, 32, 3)
