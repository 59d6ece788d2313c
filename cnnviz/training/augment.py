"""Augmented training batches: random shifts, Gaussian noise and salt, each seeded."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from cnnviz.core.classifier import Bounds, pixel_scale


def random_shift(
    x: torch.Tensor, max_shift: int, generator: torch.Generator, background: float = -1.0
) -> torch.Tensor:
    """Translate each image of ``(N, C, H, W)`` by its own random offset in [-s, s] px.

    Uncovered pixels become ``background`` (the model's black: the low bound of its
    input range, -1 for the report's CNN). One gather for the whole batch; the offsets
    are drawn on the CPU from ``generator``, so a seed shifts alike on every device.

    Examples
    --------
    >>> image = torch.zeros(1, 3, 4, 4)
    >>> shifted = random_shift(image, 1, torch.Generator().manual_seed(0), background=-1.0)
    >>> tuple(shifted.shape), bool((shifted == -1.0).any())
    ((1, 3, 4, 4), True)
    """
    if max_shift == 0:
        return x
    n, channels, height, width = x.shape
    padded = F.pad(x, [max_shift] * 4, value=background).flatten(0, 1)  # one image per channel
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator).to(x.device)
    if channels > 1:  # every channel of an image moves alike
        dy, dx = dy.repeat_interleave(channels, 0), dx.repeat_interleave(channels, 0)
    rows = (dy + torch.arange(height, device=x.device)).unsqueeze(2)
    cols = (dx + torch.arange(width, device=x.device)).unsqueeze(1)
    planes = torch.arange(n * channels, device=x.device).view(-1, 1, 1)
    return padded[planes, rows, cols].view(n, channels, height, width)


def _add_noise(
    x: torch.Tensor, mean: float, std: float, generator: torch.Generator, bounds: Bounds
) -> torch.Tensor:
    """``x`` plus seeded N(``mean``, ``std``) noise in pixel units, clipped to ``bounds``."""
    low, high = bounds
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return (x + pixel_scale(bounds) * (mean + std * noise)).clamp(low, high)


def _add_salt(
    x: torch.Tensor, share: float, generator: torch.Generator, bounds: Bounds
) -> torch.Tensor:
    """``x`` with a seeded random ``share`` of its pixels set to the top of ``bounds``."""
    if share <= 0:
        return x
    salted = torch.rand(x.shape, generator=generator, dtype=x.dtype) < share
    return x.masked_fill(salted, bounds[1])
