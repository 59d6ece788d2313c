"""How attacks are evaluated: accuracy under attack, and robustness curves over a range of
budgets. Which attacks fit, and how to run them, is read from their declared capabilities
(:class:`~cnnviz.attacks.base.AttackSpec`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnviz.attacks.registry import get_attack
from cnnviz.core.batching import batch_indices
from cnnviz.core.classifier import (
    as_targets,
    check_images,
)
from cnnviz.core.noise import seeded_noise


def accuracy_under_attack(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilons: Sequence[float],
    *,
    attack: str = "fgsm",
    batch_size: int = 128,
    seed: int = 0,
    restarts: int = 1,
    bounds: Sequence[float] | None = None,
    **options: object,
) -> torch.Tensor:
    """Accuracy (%) on ``(images, labels)`` after an untargeted attack at each epsilon.

    Parameters
    ----------
    model
        Any classifier.
    images, labels
        ``(N, C, H, W)`` images within the bounds and their ``(N,)`` true classes.
    epsilons
        Budgets in pixel units.
    attack
        An untargeted attack on images with a budget, by its name in
        :data:`~cnnviz.attacks.registry.ATTACKS` (``"fgsm"``, ``"pgd"``); ``options`` go
        to it (e.g. ``steps``).
    batch_size
        Images attacked at once (bounds memory; about 128 is fastest on a small CPU).
    seed
        An attack that declares a random start (PGD) gets one drawn once for all of
        ``images``, so the result does not depend on ``batch_size``.
    restarts
        Attack this many times from different random starts (seeds ``seed``,
        ``seed + 1``, ...); an image counts as correct only if it survives every one
        (the strong evaluation of Madry et al.: PGD-100 with 10 restarts). An attack
        without a random start runs once.
    bounds
        The model's input range; default :func:`~cnnviz.core.classifier.input_bounds`.

    Returns
    -------
    torch.Tensor
        ``(len(epsilons),)`` accuracies in percent (CPU).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> images, labels = torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 2] * 2)
    >>> accuracy_under_attack(net, images, labels, [0.0, 0.1], attack="pgd", steps=3).shape
    torch.Size([2])
    """
    spec = get_attack(attack)
    if not (spec.on_images and spec.untargeted and spec.takes_labels and spec.budget is not None):
        raise ValueError(f"attack {attack!r} is not an untargeted attack with a budget eps")
    if restarts < 1:
        raise ValueError(f"restarts must be at least 1, not {restarts}")
    images = check_images(images)
    labels = as_targets(labels, images)
    correct = torch.ones(len(epsilons), len(images), dtype=torch.bool, device=images.device)
    for restart in range(restarts if spec.start_noise else 1):
        noise = (
            seeded_noise(images.shape, seed=seed + restart, like=images)
            if spec.start_noise
            else None
        )
        for idx in batch_indices(len(images), batch_size):
            start = {"noise": noise[idx]} if noise is not None else {}
            for index, eps in enumerate(epsilons):
                result = spec(
                    model, images[idx], labels[idx], eps=eps, bounds=bounds, **options, **start
                )
                correct[index, idx] &= result.predictions == labels[idx]
    return 100.0 * correct.float().mean(1).cpu()


def robustness_curves(
    models: dict[str, nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilons: Sequence[float],
    *,
    attacks: Sequence[str] = ("fgsm", "pgd"),
    bounds: Sequence[float] | None = None,
) -> dict[str, torch.Tensor]:
    """Accuracy (%) under each attack (FGSM and PGD-40) at each epsilon, for each named model.

    Parameters
    ----------
    models
        Classifiers by name (all with the same input range).
    images, labels
        ``(N, C, H, W)`` images and their ``(N,)`` true classes.
    epsilons
        Budgets in pixel units.
    attacks
        Names of untargeted attacks with a budget in
        :data:`~cnnviz.attacks.registry.ATTACKS`, each run with its default steps.
    bounds
        The models' input range; default each model's own.

    Returns
    -------
    dict
        ``"{name}, {ATTACK}"``, with ``-{steps}`` for a many-step attack (``"{name},
        FGSM"``, ``"{name}, PGD-40"``) -> ``(len(epsilons),)`` accuracies.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> curves = robustness_curves({"tiny": net}, torch.rand(4, 1, 2, 2), [0, 1, 2, 0], [0.1])
    >>> sorted(curves)
    ['tiny, FGSM', 'tiny, PGD-40']
    """
    curves = {}
    for name, model in models.items():
        for attack in attacks:
            steps = get_attack(attack).steps
            label = f"{name}, {attack.upper()}{f'-{steps}' if steps > 1 else ''}"
            curves[label] = accuracy_under_attack(
                model, images, labels, epsilons, attack=attack, bounds=bounds
            )
    return curves
