"""Targeted attack (R13): the smallest gradient-ascent change that makes a digit read as
another class."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnviz.attacks.result import AttackResult
from cnnviz.core.classifier import (
    as_targets,
    check_images,
    input_bounds,
    pixel_scale,
)
from cnnviz.visualise.ascent import Callback
from cnnviz.visualise.class_images import class_ascent
from cnnviz.visualise.objectives import MeanSquaredChange


def targeted_attack(
    model: nn.Module,
    images: torch.Tensor,
    targets: int | Sequence[int] | torch.Tensor,
    *,
    beta: float = 4.0,
    step_size: float = 0.025,
    threshold: float = 0.9,
    steps: int = 500,
    bounds: Sequence[float] | None = None,
    callback: Callback | None = None,
) -> AttackResult:
    """Make each image look like itself but be read as its target (R13).

    Ascends ``logit[t] - beta * mean((x - x_source) ** 2)`` (the change in pixel units;
    the report's intent: its code's MSE compared two fixed images, a constant) with
    plain gradient steps until ``p(t) >= threshold``.

    Parameters
    ----------
    model
        Any classifier.
    images
        ``(N, C, H, W)`` source images within the bounds.
    targets
        One target class, or ``(N,)``. Use :func:`all_pairs` for every (source, target)
        pair.
    beta
        Weight of the closeness term (4.0: the report's 1.0 on its [-1, 1] values);
        0 lets the image drift freely.
    step_size
        Factor of the plain gradient step in pixel units (0.025: the report's 0.1 in
        [-1, 1]).
    threshold, steps
        Stop a sample at ``p(target) >= threshold``, or after ``steps`` steps.
    bounds, callback
        As :func:`~cnnviz.visualise.class_images.class_visualisation`.

    Returns
    -------
    AttackResult
        ``labels`` is ``None``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> images = torch.full((2, 1, 2, 2), 0.5)
    >>> result = targeted_attack(net, images, 2, bounds=(0, 1), steps=20)
    >>> result.images.shape, result.targets.tolist(), result.steps.shape
    (torch.Size([2, 1, 2, 2]), [2, 2], torch.Size([2]))
    """
    sources = check_images(images).detach()
    bounds = input_bounds(model, bounds)
    weight = beta / pixel_scale(bounds) ** 2
    return class_ascent(
        model,
        sources,
        as_targets(targets, sources),
        bounds=bounds,
        threshold=threshold,
        step_size=step_size,
        steps=steps,
        penalty=MeanSquaredChange(sources, weight) if beta != 0.0 else None,
        callback=callback,
    )


def all_pairs(images: torch.Tensor, num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (source image, target class) pair, source-major (row ``a * num_classes + t``).

    Parameters
    ----------
    images
        ``(A, C, H, W)`` source images.
    num_classes
        Target classes ``0 .. num_classes - 1``.

    Returns
    -------
    images, targets
        ``(A * num_classes, C, H, W)`` repeated images and ``(A * num_classes,)`` targets.

    Examples
    --------
    >>> import torch
    >>> images, targets = all_pairs(torch.zeros(2, 1, 4, 4), num_classes=3)
    >>> images.shape, targets.tolist()
    (torch.Size([6, 1, 4, 4]), [0, 1, 2, 0, 1, 2])
    """
    repeated = images.repeat_interleave(num_classes, dim=0)
    targets = torch.arange(num_classes, device=images.device).repeat(len(images))
    return repeated, targets
