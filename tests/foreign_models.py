"""Models that are not the report's CNN, for tests of the model contract (issue 11).

``ColourNet``: 3x32x32 images in [0, 1], layer names unlike the report's, plain
``forward`` returning logits. ``NestedNet``: 1x28x28, convolutions inside nested blocks
(``stem.conv``, ``blocks.0.conv``, ...), batch norm, global pooling. Both are seeded.
"""

from __future__ import annotations

import torch
from torch import nn


class ColourNet(nn.Module):
    """``(N, 3, 32, 32)`` in [0, 1] -> 7 class scores; ``block.0`` is its first conv."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.block = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Linear(16 * 4 * 4, 7)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(images).flatten(1))


class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.norm(self.conv(x)))


class NestedNet(nn.Module):
    """``(N, 1, 28, 28)`` in [-1, 1] (declared) -> 10 scores, through nested blocks."""

    input_bounds = (-1.0, 1.0)

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.stem = nn.Sequential()
        self.stem.add_module("conv", nn.Conv2d(1, 6, 5, stride=2, padding=2))
        self.stem.add_module("act", nn.ReLU())
        self.blocks = nn.Sequential(Block(6), Block(6))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(6, 10)
        self.eval()
        with torch.no_grad():  # non-trivial running statistics
            self.blocks[0].norm.running_mean.uniform_(-0.1, 0.1)
            self.blocks[1].norm.running_var.uniform_(0.5, 2.0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.blocks(self.stem(images))).flatten(1))


def colour_images(count: int = 4, seed: int = 1) -> torch.Tensor:
    """``(count, 3, 32, 32)`` random images in [0, 1]."""
    return torch.rand(count, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def grey_images(count: int = 4, seed: int = 1) -> torch.Tensor:
    """``(count, 1, 28, 28)`` random images in [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, 1, 28, 28, generator=generator) * 2 - 1
