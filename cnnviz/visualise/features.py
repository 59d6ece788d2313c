"""What a channel or a class looks for: feature visualisation with readable regularisers.

Plain gradient ascent on a unit's value (the report's Fig 13 for classes) finds
high-frequency patterns that excite the network but look like noise to a person. Olah
et al. (Distill, "Feature Visualization", 2017) list what makes the result readable,
each a toggle of :class:`Regularisers` here:

* **transformation robustness**: every step sees the image shifted by a pixel or two,
  slightly rotated and scaled, so only patterns that survive those count;
* **frequency penalties**: a total-variation penalty and a small blur after each step;
* **a decorrelated parameterisation**: the image is optimised in a Fourier basis scaled
  by ``1 / frequency``, so that low frequencies (strokes) move first.

:func:`visualise` grows images for classes (their log-probability) or for channels of any layer
(their mean activation) of any classifier; :func:`top_patches` finds the test digits and
the patches in them that excite each channel most.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.core.batching import batch_indices
from cnnviz.core.classifier import class_scores, input_bounds, model_placement
from cnnviz.core.hooks import eval_mode
from cnnviz.inspect.layers import activations


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


@dataclass(frozen=True)
class Visualisation:
    """Images grown to excite classes or channels.

    Attributes
    ----------
    images
        ``(N, C, H, W)`` in the model's input range.
    objective_history
        ``(T, N)`` the objective (the class's log-probability, or the channel's mean
        activation) before each step, on the transformed images the step saw.
    objective
        ``(N,)`` the final objective on the untransformed images.
    probabilities
        ``(N,)`` for classes, the model's probability of the class on the final image;
        ``None`` for channels.
    layer
        The layer for channels; ``None`` for classes.
    targets
        ``(N,)`` the classes or channels.

    Examples
    --------
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    >>> grown = visualise(net, [0, 2], shape=(1, 4, 4), steps=3)
    >>> grown.images.shape, grown.objective_history.shape, grown.probabilities.shape
    (torch.Size([2, 1, 4, 4]), torch.Size([3, 2]), torch.Size([2]))
    """

    images: torch.Tensor
    objective_history: torch.Tensor
    objective: torch.Tensor
    probabilities: torch.Tensor | None
    layer: str | None
    targets: torch.Tensor


def _frequency_scale(height: int, width: int, device: torch.device) -> torch.Tensor:
    """``(H, W // 2 + 1)`` factors ``1 / max(frequency, 1 / max(H, W))`` of an rfft2 spectrum."""
    rows = torch.fft.fftfreq(height, device=device)[:, None]
    cols = torch.fft.rfftfreq(width, device=device)[None, :]
    frequency = torch.sqrt(rows**2 + cols**2)
    return 1.0 / frequency.clamp_min(1.0 / max(height, width))


def _gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)`` with replicate padding."""
    radius = max(1, math.ceil(2 * sigma))
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    rows = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    cols = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    return F.conv2d(F.conv2d(padded, rows, groups=channels), cols, groups=channels)


def _transform(
    images: torch.Tensor, regularisers: Regularisers, generator: torch.Generator, low: float
) -> torch.Tensor:
    """A random shift, rotation and scale of each image; uncovered pixels are ``low``."""
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


def _total_variation(images: torch.Tensor) -> torch.Tensor:
    """``(N,)`` mean absolute difference between neighbouring pixels."""
    down = (images[..., 1:, :] - images[..., :-1, :]).abs().flatten(1).mean(1)
    right = (images[..., :, 1:] - images[..., :, :-1]).abs().flatten(1).mean(1)
    return down + right


def _objective(
    model: nn.Module, images: torch.Tensor, targets: torch.Tensor, layer: str | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N,)`` objective (class logit or channel mean) and the ``(N, K)`` class scores."""
    if layer is None:
        scores = class_scores(model, images)
        return F.log_softmax(scores, 1).gather(1, targets[:, None])[:, 0], scores
    captured: list[torch.Tensor] = []
    module = dict(model.named_modules())[layer]
    handle = module.register_forward_hook(lambda _m, _i, output: captured.append(output))
    try:
        scores = class_scores(model, images)
    finally:
        handle.remove()
    output = captured[0]
    picked = output[torch.arange(len(targets), device=output.device), targets]
    return picked.flatten(1).mean(1), scores


def visualise(
    model: nn.Module,
    targets: int | Sequence[int] | torch.Tensor,
    *,
    layer: str | None = None,
    regularisers: Regularisers = READABLE,
    steps: int = 256,
    learning_rate: float = 0.05,
    shape: Sequence[int] | None = None,
    seed: int = 0,
    bounds: Sequence[float] | None = None,
) -> Visualisation:
    """Grow one image per target that excites it, from N(0, 0.1) noise (R12's start).

    Parameters
    ----------
    model
        Any classifier; run in eval mode, its weights untouched.
    targets
        Classes (``layer=None``: their log-probability, which unlike the bare logit
        cannot rise by raising every class at once) or channels of ``layer`` (their
        mean activation over positions).
    layer
        A name from ``model.named_modules()``, or ``None`` for classes.
    regularisers
        :data:`READABLE` (every toggle on), :data:`PLAIN` (the report's plain ascent),
        or any :class:`Regularisers`.
    steps
        Adam steps (a fixed number: the loop is bounded).
    learning_rate
        Adam's step size on the parameters (pixels in the model's space, or the spectrum).
    shape
        ``(C, H, W)`` of one image; default ``(1, 28, 28)``.
    seed
        Seeds the start noise and the random transformations.
    bounds
        The model's input range; default :func:`~cnnviz.core.classifier.input_bounds`.

    Returns
    -------
    Visualisation

    Examples
    --------
    >>> import cnnviz
    >>> grown = visualise(cnnviz.pretrained(), [3], steps=64)
    >>> grown.images.shape, bool(grown.probabilities[0] > 0.9)
    (torch.Size([1, 1, 28, 28]), True)
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    low, high = input_bounds(model, bounds)
    device, dtype = model_placement(model)
    targets = torch.as_tensor(targets, dtype=torch.int64).reshape(-1).to(device)
    if layer is not None and layer not in dict(model.named_modules()):
        raise ValueError(f"{layer!r} is not a layer of the model")
    channels, height, width = tuple(shape) if shape is not None else (1, 28, 28)
    generator = torch.Generator().manual_seed(seed)
    start = 0.1 * torch.randn(len(targets), channels, height, width, generator=generator)
    middle, half = (low + high) / 2, (high - low) / 2
    start = (start * half + middle).clamp(low, high).to(device, dtype)
    if regularisers.fourier:
        frequency = _frequency_scale(height, width, device)
        parameter = torch.fft.rfft2(start - middle) / frequency
    else:
        parameter = start.clone()
    parameter.requires_grad_(True)
    optimiser = torch.optim.Adam([parameter], lr=learning_rate)

    def image() -> torch.Tensor:
        if regularisers.fourier:
            pixels = torch.fft.irfft2(parameter * frequency, s=(height, width)) + middle
        else:
            pixels = parameter
        return pixels.clamp(low, high)

    history = []
    with eval_mode(model), torch.enable_grad():
        for _ in range(steps):
            seen = _transform(image(), regularisers, generator, low)
            value, _ = _objective(model, seen, targets, layer)
            history.append(value.detach())
            loss = -value.sum()
            if regularisers.total_variation:
                loss = loss + regularisers.total_variation * _total_variation(seen).sum() * height
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if regularisers.blur and not regularisers.fourier:
                with torch.no_grad():
                    parameter.copy_(_gaussian_blur(parameter, regularisers.blur))
            elif regularisers.blur:
                with torch.no_grad():
                    blurred = _gaussian_blur(image() - middle, regularisers.blur)
                    parameter.copy_(torch.fft.rfft2(blurred) / frequency)
        final = image().detach()
        with torch.no_grad():
            value, scores = _objective(model, final, targets, layer)
    probabilities = None
    if layer is None:
        probabilities = F.softmax(scores, 1).gather(1, targets[:, None])[:, 0]
    return Visualisation(
        images=final,
        objective_history=torch.stack(history),
        objective=value,
        probabilities=probabilities,
        layer=layer,
        targets=targets,
    )


@dataclass(frozen=True)
class TopPatches:
    """The digits that excite each channel of a layer most, and where.

    Attributes
    ----------
    layer
        The layer searched.
    indices
        ``(C, K)`` positions in the searched images, strongest first.
    positions
        ``(C, K, 2)`` ``(row, col)`` of the strongest unit in the layer's map.
    values
        ``(C, K)`` the activation there.
    patches
        ``(C, K, P, P)`` the receptive field of that unit, cut from the digit (``P`` =
        3, 4, 8, 10 for conv1, pool1, conv2, pool2; background where it leaves the image).

    Examples
    --------
    >>> import cnnviz
    >>> digits = cnnviz.load_test_digits()
    >>> found = top_patches(cnnviz.pretrained(), digits.x[:100], "relu2", count=4)
    >>> found.indices.shape, found.patches.shape
    ((32, 4), (32, 4, 8, 8))
    """

    layer: str
    indices: np.ndarray
    positions: np.ndarray
    values: np.ndarray
    patches: np.ndarray


def top_patches(
    model: nn.Module,
    images: torch.Tensor,
    layer: str,
    *,
    count: int = 9,
    batch_size: int = 500,
) -> TopPatches:
    """For every channel of ``layer``, the ``count`` images that excite it most, and where.

    Each image counts once per channel, at its strongest position. Only the report's
    CNN's spatial layers (``conv1`` to ``pool2``) have the receptive fields cut here.

    Parameters
    ----------
    model
        The report's CNN.
    images
        ``(N, 1, 28, 28)`` digits in [-1, 1] (the test set, or the bundled sample).
    layer
        ``"conv1"``, ``"relu1"``, ``"pool1"``, ``"conv2"``, ``"conv2_bn"``, ``"relu2"``
        or ``"pool2"``.
    count
        Images per channel (at most ``N``).
    batch_size
        Images per forward pass (bounds memory).

    Returns
    -------
    TopPatches

    Examples
    --------
    >>> import cnnviz
    >>> found = top_patches(cnnviz.pretrained(), cnnviz.load_test_digits().x[:20], "pool2", count=2)
    >>> found.patches.shape, bool((found.values[:, 0] >= found.values[:, 1]).all())
    ((32, 2, 10, 10), True)
    """
    from cnnviz.inspect.neuron import receptive_field

    count = min(count, len(images))
    best_values, best_where = [], []
    for idx in batch_indices(len(images), batch_size):
        maps = activations(model, images[idx], layer)[layer].float().cpu()
        flat = maps.flatten(2)  # (B, C, H*W)
        value, where = flat.max(2)
        best_values.append(value)
        best_where.append(where)
    values = torch.cat(best_values).t()  # (C, N)
    where = torch.cat(best_where).t()
    top_values, top_indices = values.topk(count, dim=1)
    width = maps.shape[-1]
    flat_positions = where.gather(1, top_indices)
    positions = torch.stack([flat_positions // width, flat_positions % width], -1)
    top, bottom, _, _ = receptive_field(layer, width // 2, width // 2)
    size = bottom - top  # the field of an interior unit
    background = input_bounds(model)[0]
    padded = F.pad(images.cpu(), (size, size, size, size), value=background)
    patches = np.empty((values.shape[0], count, size, size), dtype=np.float32)
    for channel in range(values.shape[0]):
        for rank in range(count):
            row, col = positions[channel, rank].tolist()
            top, _, left, _ = receptive_field(layer, row, col, clip=False)
            image = padded[top_indices[channel, rank], 0]
            patches[channel, rank] = image[
                top + size : top + 2 * size, left + size : left + 2 * size
            ].numpy()
    return TopPatches(
        layer=layer,
        indices=top_indices.numpy(),
        positions=positions.numpy(),
        values=top_values.numpy(),
        patches=patches,
    )
