"""A universal perturbation: one noise, learned on many digits, that pushes them all to a
target class (or away from their labels).

A transfer analysis built on an attack: PGD's projected steps (the gradient's sign for
L-infinity, its direction for L2), taken on mini-batches for one perturbation shared by all
images. It returns a :class:`UniversalPerturbation`,
not an :class:`~cnnviz.attacks.result.AttackResult`: no image is attacked on its own, and
the perturbation is measured on images it was not learned on
(:func:`universal_fooling_rate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.attacks.transfer import fooling_rates, transfer_predictions
from cnnviz.core.classifier import (
    Bounds,
    as_targets,
    check_images,
    class_scores,
    input_bounds,
    pixel_scale,
)
from cnnviz.core.hooks import eval_mode
from cnnviz.visualise.steps import unit_steps


@dataclass(frozen=True)
class UniversalPerturbation:
    """One perturbation learned over a batch of images by ``universal_perturbation``.

    It holds no per-image result: the perturbation is meant for images it was not learned
    on (:func:`universal_fooling_rate`).

    Attributes
    ----------
    perturbation
        ``(1, C, H, W)`` additive perturbation, model units (at most ``eps`` pixels in
        L-infinity, or ``eps`` in L2).
    target
        Class it pushes towards, or ``None`` (untargeted: away from the true labels).
    eps, norm
        The budget in pixel units of [0, 1] images and its norm (``"linf"``, ``"l2"``).
    loss_history
        ``(steps,)`` mini-batch loss before each step (cross-entropy towards the target,
        or minus the cross-entropy of the true labels when untargeted): it falls.
    bounds
        The model's input range the perturbation was learned in.

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> images, labels = torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2])
    >>> universal = universal_perturbation(net, images, labels, eps=0.1, steps=3, bounds=(0, 1))
    >>> universal.norm, universal.loss_history.shape, universal.sizes()["linf"] <= 0.1 + 1e-6
    ('linf', torch.Size([3]), True)
    """

    perturbation: torch.Tensor
    target: int | None
    eps: float
    norm: str
    loss_history: torch.Tensor
    bounds: Bounds

    def sizes(self) -> dict[str, float]:
        """L-infinity and L2 size of the perturbation in pixel units of [0, 1] images."""
        pixels = self.perturbation / pixel_scale(self.bounds)
        return {"linf": float(pixels.abs().max()), "l2": float(pixels.norm())}


def _project(delta: torch.Tensor, radius: float, norm: str) -> torch.Tensor:
    """``delta`` projected onto the ``norm`` ball of ``radius`` (model units)."""
    if norm == "linf":
        return delta.clamp(-radius, radius)
    return delta * (radius / delta.norm().clamp_min(1e-12)).clamp(max=1.0)


def universal_perturbation(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    target: int | None = None,
    eps: float = 0.3,
    norm: str = "linf",
    steps: int = 100,
    batch_size: int = 100,
    step_size: float | None = None,
    seed: int = 0,
    bounds: Sequence[float] | None = None,
) -> UniversalPerturbation:
    """A single perturbation that fools the network on most images (a universal one).

    Moosavi-Dezfooli et al. (2017) showed that one small image-agnostic perturbation
    fools a classifier on most natural images. This is the simple batched
    projected-gradient version: each step draws ``batch_size`` of ``images`` (seeded),
    moves the shared perturbation along the sign (L-infinity) or the direction (L2) of
    the gradient of the mean loss over the batch, and projects it back into the
    ``eps`` ball; every sum is clipped to the bounds. Measure it on images it was NOT
    learned on with :func:`universal_fooling_rate`.

    Parameters
    ----------
    model
        Any classifier.
    images, labels
        ``(N, C, H, W)`` images to learn on and their ``(N,)`` labels.
    target
        Push every image towards this class; ``None``: away from its true label.
    eps
        Budget in pixel units of [0, 1] images (the usual MNIST L-infinity budget: 0.3).
    norm
        ``"linf"`` or ``"l2"``.
    steps
        Number of mini-batch steps (fixed: the loop is bounded).
    batch_size
        Images per step.
    step_size
        Per step, pixel units; default ``eps / 20``.
    seed
        Seeds the mini-batch draws (the perturbation starts at zero).
    bounds
        The model's input range; default :func:`~cnnviz.core.classifier.input_bounds`.

    Returns
    -------
    UniversalPerturbation

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> images, labels = torch.rand(8, 1, 2, 2), torch.tensor([0, 1] * 4)
    >>> universal = universal_perturbation(net, images, labels, eps=0.1, steps=3, bounds=(0, 1))
    >>> universal.perturbation.shape, universal.sizes()["linf"] <= 0.1 + 1e-6
    (torch.Size([1, 1, 2, 2]), True)
    """
    if norm not in ("linf", "l2"):
        raise ValueError(f"norm must be 'linf' or 'l2', not {norm!r}")
    if eps < 0 or steps < 1 or batch_size < 1:
        raise ValueError(f"need eps >= 0, steps >= 1, batch_size >= 1; got {eps}, {steps}")
    bounds = input_bounds(model, bounds)
    low, high = bounds
    scale = pixel_scale(bounds)
    images = check_images(images)
    radius = scale * eps
    alpha = scale * (step_size if step_size is not None else eps / 20)
    labels = as_targets(labels, images)
    generator = torch.Generator().manual_seed(seed)
    delta = torch.zeros(1, *images.shape[1:], device=images.device, dtype=images.dtype)
    losses = torch.zeros(steps, device=images.device)
    with eval_mode(model), torch.enable_grad():
        for step in range(steps):
            idx = torch.randint(len(images), (min(batch_size, len(images)),), generator=generator)
            idx = idx.to(images.device)
            candidate = delta.clone().requires_grad_(True)
            logits = class_scores(model, (images[idx] + candidate).clamp(low, high))
            if target is None:
                loss = -F.cross_entropy(logits, labels[idx])
            else:
                loss = F.cross_entropy(logits, as_targets(int(target), idx))
            (gradient,) = torch.autograd.grad(loss, candidate)
            losses[step] = loss.detach()
            direction = gradient.sign() if norm == "linf" else unit_steps(gradient)
            delta = _project(delta - alpha * direction, radius, norm).detach()
    return UniversalPerturbation(
        perturbation=delta,
        target=target,
        eps=eps,
        norm=norm,
        loss_history=losses,
        bounds=bounds,
    )


def universal_fooling_rate(
    model: nn.Module, universal: UniversalPerturbation, images: torch.Tensor, labels: torch.Tensor
) -> float:
    """Fraction of ``images`` the universal perturbation fools (use unseen images).

    Targeted: among the images not already of the target class, those now read as the
    target. Untargeted: those whose prediction changed from the clean prediction
    (Moosavi-Dezfooli et al.'s definition).

    Parameters
    ----------
    model
        The classifier the perturbation was learned on.
    universal
        From :func:`universal_perturbation` (its bounds are used).
    images, labels
        ``(M, C, H, W)`` images and their ``(M,)`` true labels.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> images, labels = torch.rand(8, 1, 2, 2), torch.tensor([0, 1] * 4)
    >>> universal = universal_perturbation(net, images, labels, steps=3, bounds=(0, 1))
    >>> 0.0 <= universal_fooling_rate(net, universal, images, labels) <= 1.0
    True
    """
    bounds = universal.bounds
    predictions = transfer_predictions(model, universal.perturbation, images, bounds=bounds)
    if universal.target is not None:
        return float(fooling_rates(predictions, [universal.target], labels)[0])
    zero = torch.zeros_like(universal.perturbation)
    clean = transfer_predictions(model, zero, images, bounds=bounds)
    return float((predictions != clean).float().mean())
