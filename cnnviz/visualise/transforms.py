"""What an ascent step sees and keeps: random shifts, rotations and scales, blur, total variation.

Olah et al. (Distill, "Feature Visualization", 2017) list what makes a feature
visualisation readable; :class:`Regularisers` toggles each of them:

* **transformation robustness** (:func:`random_affine`): every step sees the image
  shifted by a pixel or two, slightly rotated and scaled, so only patterns that survive
  those count;
* **frequency penalties**: :func:`total_variation` subtracted from the objective, and
  :func:`gaussian_blur` after each step;
* **a decorrelated parameterisation**: the ``fourier`` toggle
  (:class:`~cnnviz.visualise.parameterisations.Fourier`).

The jitter here and :func:`cnnviz.training.augment.random_shift` both move images by a
few pixels, but they are not the same operation and are kept apart on purpose: training
shifts whole pixels (a gather, no interpolation, exact digits) drawn with ``randint``,
while the jitter is a sub-pixel shift folded into one bilinear resampling with the
rotation and scale, drawn with ``rand``, and must stay differentiable. Either one in the
other's place would change its outputs (the pretrained weights' training, the grown
images).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class Regularisers:
    """The toggles that make a feature visualisation readable (all off: plain ascent).

    Attributes
    ----------
    jitter
        Shift the image by up to this many pixels (x and y) before every step.
    rotate
        Rotate by up to this many degrees, either way, before every step.
    scale
        Scale by a factor in ``[1 - scale, 1 + scale]`` before every step.
    total_variation
        Weight of the total-variation penalty (mean absolute difference of neighbours).
    blur
        Standard deviation (pixels) of a Gaussian blur applied after every step (0: off).
    fourier
        Optimise a ``1 / frequency`` scaled Fourier spectrum instead of pixels.

    Examples
    --------
    >>> PLAIN.jitter, READABLE.jitter, READABLE.fourier
    (0, 2, False)
    """

    jitter: int = 0
    rotate: float = 0.0
    scale: float = 0.0
    total_variation: float = 0.0
    blur: float = 0.0
    fourier: bool = False


#: Plain gradient ascent on the pixels, as the report did (Fig 13).
PLAIN = Regularisers()
#: Transformation robustness and a small blur, which keep 28x28 grey digits readable
#: (the total-variation penalty and the Fourier basis are further toggles).
READABLE = Regularisers(jitter=2, rotate=10.0, scale=0.1, blur=0.3)


def random_affine(
    images: torch.Tensor, regularisers: Regularisers, generator: torch.Generator, low: float
) -> torch.Tensor:
    """A random shift, rotation and scale of each image; uncovered pixels are ``low``.

    Parameters
    ----------
    images
        ``(N, C, H, W)`` images (differentiable).
    regularisers
        Its ``jitter``, ``rotate`` and ``scale`` bound the random draws; with all three
        off, ``images`` are returned as they are and nothing is drawn.
    generator
        CPU generator of the ``(N, 4)`` uniform draws.
    low
        The model's black, which fills what the move uncovers.

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)`` moved images (one bilinear resampling).

    Examples
    --------
    >>> black = -torch.ones(2, 1, 8, 8)
    >>> moved = random_affine(black, READABLE, torch.Generator().manual_seed(0), low=-1.0)
    >>> bool(torch.allclose(moved, black)), random_affine(black, PLAIN, None, -1.0) is black
    (True, True)
    """
    n = len(images)
    if not (regularisers.jitter or regularisers.rotate or regularisers.scale):
        return images
    uniform = torch.rand(n, 4, generator=generator).to(images.device, images.dtype) * 2 - 1
    angle = uniform[:, 0] * math.radians(regularisers.rotate)
    zoom = 1.0 + uniform[:, 1] * regularisers.scale
    height, width = images.shape[-2:]
    shift = torch.stack(
        [
            uniform[:, 2] * 2 * regularisers.jitter / width,
            uniform[:, 3] * 2 * regularisers.jitter / height,
        ],
        1,
    )
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    moved = F.grid_sample(images - low, grid, align_corners=False, padding_mode="zeros")
    return moved + low


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)`` images with replicate padding.

    Parameters
    ----------
    images
        ``(N, C, H, W)`` images, any range.
    sigma
        Standard deviation in pixels (> 0); the kernel reaches ``ceil(2 sigma)`` pixels.

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)`` blurred images; a constant image stays constant.

    Examples
    --------
    >>> flat = torch.full((1, 1, 5, 5), 0.5)
    >>> bool(torch.allclose(gaussian_blur(flat, 0.8), flat))
    True
    """
    radius = max(1, math.ceil(2 * sigma))
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    rows = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    cols = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    return F.conv2d(F.conv2d(padded, rows, groups=channels), cols, groups=channels)


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """``(N,)`` mean absolute difference between neighbouring pixels of each image.

    Parameters
    ----------
    images
        ``(N, C, H, W)`` images (differentiable).

    Examples
    --------
    >>> stripes = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    >>> total_variation(stripes).tolist()
    [1.0]
    """
    down = (images[..., 1:, :] - images[..., :-1, :]).abs().flatten(1).mean(1)
    right = (images[..., :, 1:] - images[..., :, :-1]).abs().flatten(1).mean(1)
    return down + right
