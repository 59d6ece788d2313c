"""Noise learned on one digit, added to others (R14): how far an adversarial noise transfers.

A transfer analysis built on an attack: :func:`noise_attack` attacks one base image per
target (its :class:`~cnnviz.attacks.result.AttackResult`), then measures the learned noises
on other images (:func:`transfer_predictions`, :func:`fooling_rates`), and returns both as
a :class:`NoiseTransfer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnviz.attacks.result import AttackResult
from cnnviz.core.classifier import (
    as_targets,
    check_images,
    class_scores,
    input_bounds,
)
from cnnviz.core.hooks import eval_mode
from cnnviz.visualise.ascent import Callback
from cnnviz.visualise.class_images import class_ascent


@dataclass(frozen=True)
class NoiseTransfer:
    """Learned noises and what they do to other images (R14).

    :func:`noise_attack` keeps its own type because the transfer table is about the
    learned noises on *other* images, not about the ``K`` attacked ones; the attack
    itself is the embedded :class:`~cnnviz.attacks.result.AttackResult`.

    Attributes
    ----------
    attack
        The noise attack itself: ``attack.images`` are ``base + noise`` (clipped unless
        ``clip=False``), ``attack.originals`` the bases.
    noises
        ``(K, C, H, W)`` additive noise learned for each target, model units.
    predictions
        ``(K, M)`` class predicted for ``others[m] + noises[k]``: the report's table,
        rows = noise targets, columns = images.
    fooling_rate
        ``(K,)`` fraction of the other images whose prediction became the noise's
        target, among those not already of that class (all ``M`` without labels).

    Examples
    --------
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> base, others = torch.rand(1, 1, 2, 2), torch.rand(5, 1, 2, 2)
    >>> transfer = noise_attack(net, base, [0, 2], others=others, bounds=(0, 1), steps=20)
    >>> transfer.attack.targets.tolist(), transfer.fooling_rate.shape
    ([0, 2], torch.Size([2]))
    """

    attack: AttackResult
    noises: torch.Tensor
    predictions: torch.Tensor
    fooling_rate: torch.Tensor


def transfer_predictions(
    model: nn.Module,
    noises: torch.Tensor,
    images: torch.Tensor,
    *,
    clip: bool = True,
    bounds: Sequence[float] | None = None,
) -> torch.Tensor:
    """``(K, M)`` class predicted for ``images[m] + noises[k]``.

    Parameters
    ----------
    model
        Any classifier.
    noises
        ``(K, C, H, W)`` additive noises, model units.
    images
        ``(M, C, H, W)`` images within the bounds.
    clip
        Clip each sum to the bounds first (``False``: the report's unclipped ``x + n``).
    bounds
        The model's input range; default :func:`~cnnviz.core.classifier.input_bounds`.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> transfer_predictions(net, torch.zeros(2, 1, 2, 2), torch.rand(5, 1, 2, 2)).shape
    torch.Size([2, 5])
    """
    low, high = input_bounds(model, bounds)
    predictions = []
    with eval_mode(model), torch.no_grad():
        for noise in noises:
            combined = images + noise
            predictions.append(class_scores(model, combined.clamp(low, high) if clip else combined))
    return torch.stack(predictions).argmax(2)


def fooling_rates(
    predictions: torch.Tensor,
    targets: int | Sequence[int] | torch.Tensor,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(K,)`` fraction of images whose prediction became each noise's target.

    Parameters
    ----------
    predictions
        ``(K, M)`` from :func:`transfer_predictions`.
    targets
        ``(K,)`` target class of each noise.
    labels
        ``(M,)`` true labels; images already of a noise's target class then do not
        count (all ``M`` count when ``None``).

    Examples
    --------
    >>> import torch
    >>> fooling_rates(torch.tensor([[8, 5, 8]]), [8], torch.tensor([3, 5, 8])).tolist()
    [0.5]
    """
    targets = as_targets(targets, predictions)
    fooled = predictions == targets[:, None]
    counted = torch.ones_like(fooled)
    if labels is not None:
        counted = torch.as_tensor(labels, device=predictions.device)[None, :] != targets[:, None]
    return (fooled & counted).sum(1) / counted.sum(1).clamp(min=1)


def noise_attack(
    model: nn.Module,
    images: torch.Tensor,
    targets: int | Sequence[int] | torch.Tensor,
    *,
    others: torch.Tensor,
    other_labels: torch.Tensor | None = None,
    step_size: float = 0.025,
    threshold: float = 0.99,
    steps: int = 500,
    clip: bool = True,
    steps_past_threshold: int = 0,
    bounds: Sequence[float] | None = None,
    callback: Callback | None = None,
) -> NoiseTransfer:
    """Learn, per target, a noise that makes a base image read as the target; transfer it.

    The noise starts at zero and climbs the target logit with plain steps (the report's
    method, R14); :data:`~cnnviz.report.presets.REPORT_NOISE_ATTACK` reproduces the report's
    procedure exactly.

    Parameters
    ----------
    model
        Any classifier.
    images
        ``(1, C, H, W)`` base image the noises are learned on, or ``(K, C, H, W)``, one
        per target.
    targets
        ``K`` target classes.
    others
        ``(M, C, H, W)`` images each learned noise is then added to.
    other_labels
        ``(M,)`` their true labels; images already of a noise's target class then do
        not count towards its fooling rate.
    step_size, threshold, steps, bounds, callback
        As :func:`~cnnviz.attacks.targeted.targeted_attack`.
    clip
        Clip ``x + n`` to the bounds, while learning and when transferring. ``False``
        (the report) lets the sum leave the pixel range, so the noise can grow larger.
    steps_past_threshold
        Keep ascending this many steps after a sample reaches the threshold (the
        report's loop updated once more after its last check: 1).

    Returns
    -------
    NoiseTransfer

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> base, others = torch.full((1, 1, 2, 2), 0.5), torch.rand(5, 1, 2, 2)
    >>> transfer = noise_attack(net, base, [0, 2], others=others, bounds=(0, 1), steps=20)
    >>> transfer.noises.shape, transfer.predictions.shape
    (torch.Size([2, 1, 2, 2]), torch.Size([2, 5]))
    """
    bounds = input_bounds(model, bounds)
    images = check_images(images).detach()
    targets = torch.as_tensor(targets, dtype=torch.int64, device=images.device).reshape(-1)
    base = images.expand(len(targets), *images.shape[1:])
    attack = class_ascent(
        model,
        torch.zeros_like(base),
        targets,
        bounds=bounds,
        threshold=threshold,
        step_size=step_size,
        steps=steps,
        base=base,
        clip=clip,
        steps_past_threshold=steps_past_threshold,
        callback=callback,
    )
    noises = attack.images - base  # the noise as it acted (after any clipping)
    predictions = transfer_predictions(model, noises, others, clip=clip, bounds=bounds)
    rate = fooling_rates(predictions, targets, other_labels)
    return NoiseTransfer(attack=attack, noises=noises, predictions=predictions, fooling_rate=rate)
