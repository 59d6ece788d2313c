"""Gradient saliency: which pixels would change the class score most if nudged."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnviz.core.classifier import as_targets, check_images, class_scores, input_bounds, pixel_scale
from cnnviz.core.hooks import eval_mode
from cnnviz.core.noise import seeded_noise
from cnnviz.core.scores import target_scores

Target = int | Sequence[int] | torch.Tensor


def input_gradient(model: nn.Module, images: torch.Tensor, target: Target) -> torch.Tensor:
    """``d score[target] / d images`` for a batch, in eval mode, leaving parameters alone.

    Parameters
    ----------
    model
        A classifier (see :mod:`cnnviz.core.classifier`); its pre-softmax class score is
        differentiated. Its mode is restored, no parameter gradient is accumulated.
    images
        ``(N, C, H, W)`` inputs in the model's input range (one ``(C, H, W)`` image is a
        batch of one).
    target
        One class for all images, or one per image.

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)`` signed gradient, same device and dtype as ``images`` (the
        samples do not interact: batch norm runs on running statistics).

    Examples
    --------
    >>> from cnnviz.models.cnn import CNN
    >>> input_gradient(CNN(), torch.zeros(2, 1, 28, 28), 3).shape
    torch.Size([2, 1, 28, 28])
    """
    images = check_images(images)
    targets = as_targets(target, images)
    images = images.detach().clone().requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        score = target_scores(class_scores(model, images), targets).sum()
        (gradient,) = torch.autograd.grad(score, images)
    return gradient


def saliency(
    model: nn.Module,
    images: torch.Tensor,
    target: Target,
    *,
    absolute: bool = True,
    smooth_samples: int = 0,
    noise: float = 0.075,
    seed: int = 0,
    bounds: Sequence[float] | None = None,
) -> torch.Tensor:
    """Saliency maps (Simonyan et al. 2014), optionally SmoothGrad (Smilkov et al. 2017).

    Parameters
    ----------
    model
        A classifier (see :mod:`cnnviz.core.classifier`); left as it was.
    images
        ``(N, C, H, W)`` inputs in the model's input range.
    target
        Class whose pre-softmax score is differentiated: one for all, or one per image.
    absolute
        Return ``|gradient|`` (the classic saliency map) instead of the signed gradient.
    smooth_samples
        If positive, average the gradient (or its absolute value) over this many
        noisy copies of each input (SmoothGrad), in one batch per sample set.
    noise
        Standard deviation of SmoothGrad's Gaussian noise in pixel units, as a fraction
        of the range from black to white (the default 0.075 is 0.15 in the report
        CNN's [-1, 1] inputs). The noisy copies are not clipped.
    seed
        Seeds SmoothGrad's noise (drawn on the CPU, so every device gets the same).
    bounds
        The model's input range ``(low, high)``, which scales ``noise``; ``None`` for the
        model's own (:func:`cnnviz.core.classifier.input_bounds`).

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)`` map on the images' device and dtype; signed, or ``>= 0`` when
        ``absolute``. Its unit is score per model-input unit.

    Examples
    --------
    >>> from cnnviz.models.cnn import CNN
    >>> maps = saliency(CNN(), torch.zeros(2, 1, 28, 28), [3, 7], smooth_samples=4)
    >>> maps.shape, bool((maps >= 0).all())
    (torch.Size([2, 1, 28, 28]), True)
    """
    if smooth_samples < 0:
        raise ValueError(f"smooth_samples must be >= 0, not {smooth_samples}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, not {noise}")
    images = check_images(images)
    targets = as_targets(target, images)
    if smooth_samples == 0:
        gradient = input_gradient(model, images, targets)
        return gradient.abs() if absolute else gradient
    sigma = noise * pixel_scale(input_bounds(model, bounds))
    noisy = images.repeat(smooth_samples, 1, 1, 1)
    noisy = noisy + sigma * seeded_noise(noisy.shape, seed=seed, like=images, kind="normal")
    gradient = input_gradient(model, noisy, targets.repeat(smooth_samples))
    gradient = gradient.abs() if absolute else gradient
    return gradient.reshape(smooth_samples, *images.shape).mean(0)
