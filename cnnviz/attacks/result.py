"""What an attack on given images returns: :class:`AttackResult` (and the steps attacks share).

:func:`~cnnviz.attacks.fgsm.fgsm`, :func:`~cnnviz.attacks.pgd.pgd` and
:func:`~cnnviz.attacks.targeted.targeted_attack` each return one: the adversarial images,
success flags, steps taken and the per-step history the plots need.
:func:`~cnnviz.visualise.class_images.class_visualisation` (not an attack: it grows an
image from noise by the same ascent) reports in the same type.

The two transfer analyses built on attacks keep their own type, because what they measure
is not the attacked images: :class:`~cnnviz.attacks.transfer.NoiseTransfer` holds the
:class:`AttackResult` of its noise attack beside what the learned noises do to *other*
images, and :class:`~cnnviz.attacks.universal.UniversalPerturbation` is one perturbation
learned over many images (no image is attacked on its own). The calling contract every
attack follows is in :mod:`cnnviz.attacks.base`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.core.classifier import (
    Bounds,
    as_targets,
    class_scores,
    pixel_scale,
)
from cnnviz.fast.paths import for_model


@dataclass(frozen=True)
class AttackResult:
    """Outcome of an attack on a batch of ``N`` images.

    Attributes
    ----------
    images
        ``(N, C, H, W)`` adversarial images, model input space, within ``bounds``.
    originals
        ``(N, C, H, W)`` images the attack started from (the start noise for
        :func:`~cnnviz.visualise.class_images.class_visualisation`).
    labels
        ``(N,)`` true classes, or ``None`` (target-only attacks).
    targets
        ``(N,)`` classes the attack pushed towards, or ``None`` (untargeted).
    success
        ``(N,)`` bool: untargeted, the prediction differs from the label; targeted with
        a budget, the prediction is the target; gradient ascent, the target's
        probability reached the threshold.
    steps
        ``(N,)`` int64 steps each sample took.
    logit_history, probability_history
        ``(T, N)`` score (logit) and probability of each sample's attacked class (the
        target, else the label) before each step ``t < T`` and after the last; entries
        after a sample stopped repeat its final value (the report's "cost" curves).
    predictions
        ``(N,)`` class the model reads in ``images``.
    bounds
        The model's input range ``(low, high)`` the attack used.

    Examples
    --------
    Every attack returns one; PGD on the bundled network, two test-like blank digits:

    >>> import cnnviz
    >>> model = cnnviz.pretrained()
    >>> result = cnnviz.pgd(model, -torch.ones(2, 1, 28, 28), [1, 7], eps=0.3, steps=5)
    >>> result.images.shape, result.logit_history.shape, result.success.dtype
    (torch.Size([2, 1, 28, 28]), torch.Size([6, 2]), torch.bool)
    >>> float(result.perturbation.abs().max()) <= 0.3 + 1e-6  # pixel units
    True
    """

    images: torch.Tensor
    originals: torch.Tensor
    labels: torch.Tensor | None
    targets: torch.Tensor | None
    success: torch.Tensor
    steps: torch.Tensor
    logit_history: torch.Tensor
    probability_history: torch.Tensor
    predictions: torch.Tensor
    bounds: Bounds

    @property
    def probabilities(self) -> torch.Tensor:
        """``(N,)`` final probability of each sample's attacked class."""
        return self.probability_history[-1]

    @property
    def perturbation(self) -> torch.Tensor:
        """``(N, C, H, W)`` change ``images - originals`` in pixel units of [0, 1] images."""
        return (self.images - self.originals) / pixel_scale(self.bounds)

    def perturbation_size(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample ``(linf, l2)`` size of :attr:`perturbation`, ``(N,)`` each, pixel units.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> from cnnviz.attacks.fgsm import fgsm
        >>> result = fgsm(net, torch.full((2, 1, 2, 2), 0.5), [0, 1], eps=0.1, bounds=(0, 1))
        >>> [round(float(v), 3) for v in result.perturbation_size()[0]]
        [0.1, 0.1]
        """
        pixels = self.perturbation.detach().flatten(1)
        return pixels.abs().amax(1), pixels.norm(dim=1)


def _goal(
    labels: int | Sequence[int] | torch.Tensor | None,
    targets: int | Sequence[int] | torch.Tensor | None,
    images: torch.Tensor,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``(labels, targets)`` as ``(N,)`` int64 on the images' device (``None`` stays)."""
    if labels is None and targets is None:
        raise ValueError("need the true labels (untargeted) or targets (targeted)")
    return (
        as_targets(labels, images) if labels is not None else None,
        as_targets(targets, images) if targets is not None else None,
    )


def _loss_gradient(
    model: nn.Module, images: torch.Tensor, goal: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Detached scores ``(N, K)`` and d/d``images`` of the summed cross-entropy towards ``goal``.

    Only the input's gradient is asked of autograd, so no weight gradient is formed; a
    model with a fast path for it skips autograd (:func:`cnnviz.fast.paths.for_model`:
    the report's CNN in eval mode, same numbers).
    """
    found = for_model(model).loss_gradient(images, goal)
    if found is not None:
        return found
    candidate = images.detach().requires_grad_(True)
    with torch.enable_grad():
        scores = class_scores(model, candidate)
        loss = F.cross_entropy(scores, goal, reduction="sum")
        (gradient,) = torch.autograd.grad(loss, candidate)
    return scores.detach(), gradient


@torch.no_grad()
def _scores(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Class scores without a graph (by the model's fast path where it has one)."""
    found = for_model(model).scores(images)
    return class_scores(model, images) if found is None else found


def _concatenate(results: Sequence[AttackResult]) -> AttackResult:
    """One result from the results of consecutive chunks of a batch (same steps each)."""

    def cat(name: str, dim: int = 0) -> torch.Tensor | None:
        parts = [getattr(result, name) for result in results]
        return None if parts[0] is None else torch.cat(parts, dim)

    return AttackResult(
        images=cat("images"),
        originals=cat("originals"),
        labels=cat("labels"),
        targets=cat("targets"),
        success=cat("success"),
        steps=cat("steps"),
        logit_history=cat("logit_history", 1),
        probability_history=cat("probability_history", 1),
        predictions=cat("predictions"),
        bounds=results[0].bounds,
    )
