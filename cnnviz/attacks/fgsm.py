"""FGSM: one signed-gradient step of size ``eps`` (Goodfellow et al., 2015)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnviz.attacks.pgd import pgd
from cnnviz.attacks.result import AttackResult


def fgsm(
    model: nn.Module,
    images: torch.Tensor,
    labels: int | Sequence[int] | torch.Tensor | None = None,
    *,
    eps: float = 0.3,
    targets: int | Sequence[int] | torch.Tensor | None = None,
    bounds: Sequence[float] | None = None,
) -> AttackResult:
    """Fast gradient sign method (Goodfellow et al. 2015), L-infinity: one PGD step.

    Parameters
    ----------
    model
        Any classifier.
    images
        ``(N, C, H, W)`` inputs within the bounds.
    labels
        ``(N,)`` (or one) true classes: move away from them.
    eps
        Budget in pixel units of [0, 1] images (0.3: the usual MNIST budget; 8/255 the
        usual CIFAR one).
    targets
        ``(N,)`` (or one) classes to move towards instead (targeted; ``labels`` may then
        be ``None``).
    bounds
        The model's input range; default :func:`~cnnviz.core.classifier.input_bounds`.

    Returns
    -------
    AttackResult
        Images within ``eps`` pixels of ``images`` and within the bounds.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    >>> images = torch.rand(2, 3, 2, 2)
    >>> result = fgsm(net, images, [0, 1], eps=8 / 255, bounds=(0, 1))
    >>> bool((result.images - images).abs().max() <= 8 / 255 + 1e-6)
    True
    """
    return pgd(
        model,
        images,
        labels,
        eps=eps,
        steps=1,
        step_size=eps,
        random_start=False,
        targets=targets,
        bounds=bounds,
    )
