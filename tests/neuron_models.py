"""A teacher's colour CNN for the unit tests (helper N): nested blocks, every conv option.

``colour_model()``: ``(N, 3, 32, 32)`` in [0, 1] -> 5 scores. ``features.0.0`` a 5x5 conv
with zero padding; ``features.1.0`` grouped (3 groups), strided, dilated, without bias;
``features.2`` reflect padding ("same"); batch norm with non-trivial running statistics;
adaptive pooling and a linear head. ``colour_digits()`` makes real colour inputs from
MNIST digits (tinted, on a coloured background).
"""

from __future__ import annotations

import torch
from torch import nn

COLOUR_SHAPE = (3, 32, 32)
COLOUR_CLASSES = ("cat", "dog", "car", "ship", "tree")


class ColourModel(nn.Module):
    input_bounds = (0.0, 1.0)
    input_shape = COLOUR_SHAPE
    classes = COLOUR_CLASSES

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 12, 5, padding=2), nn.BatchNorm2d(12), nn.ReLU()),
            nn.Sequential(
                nn.Conv2d(12, 12, 3, stride=2, padding=2, dilation=2, groups=3, bias=False),
                nn.BatchNorm2d(12),
                nn.ReLU(),
            ),
            nn.Conv2d(12, 16, 3, padding="same", padding_mode="reflect"),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, len(COLOUR_CLASSES)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def colour_model(seed: int = 0) -> ColourModel:
    """A seeded :class:`ColourModel` in eval mode, batch norm with non-trivial statistics."""
    torch.manual_seed(seed)
    model = ColourModel().eval()
    with torch.no_grad():
        for norm in (model.features[0][1], model.features[1][1]):
            norm.running_mean.uniform_(-0.2, 0.2)
            norm.running_var.uniform_(0.5, 2.0)
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.1, 0.1)
    return model


def colour_digits(digits: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """``(N, 1, 28, 28)`` digits in [-1, 1] -> ``(N, 3, 32, 32)`` tinted pictures in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    ink = (digits + 1) / 2
    ink = nn.functional.pad(ink, (2, 2, 2, 2))
    tint = torch.rand(len(digits), 3, 1, 1, generator=generator)
    ground = torch.rand(len(digits), 3, 1, 1, generator=generator) * 0.5
    return (ground * (1 - ink) + tint * ink).clamp(0, 1)
