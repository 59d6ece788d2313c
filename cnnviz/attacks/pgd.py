"""PGD: projected gradient descent within an Lp ball (Madry et al., 2018)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnviz.attacks.result import AttackResult, _concatenate, _goal, _loss_gradient, _scores
from cnnviz.core.batching import batch_indices
from cnnviz.core.classifier import (
    check_images,
    input_bounds,
    pixel_scale,
)
from cnnviz.core.hooks import eval_mode
from cnnviz.core.noise import seeded_noise
from cnnviz.core.scores import target_scores
from cnnviz.visualise.ascent import Callback


def pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: int | Sequence[int] | torch.Tensor | None = None,
    *,
    eps: float = 0.3,
    steps: int = 40,
    step_size: float | None = None,
    targets: int | Sequence[int] | torch.Tensor | None = None,
    random_start: bool = True,
    seed: int = 0,
    noise: torch.Tensor | None = None,
    bounds: Sequence[float] | None = None,
    callback: Callback | None = None,
    batch_size: int = 128,
) -> AttackResult:
    """Projected gradient descent (Madry et al. 2018), L-infinity, on the cross-entropy.

    Parameters
    ----------
    model, images, labels, eps, targets, bounds
        As :func:`~cnnviz.attacks.fgsm.fgsm`; ``eps`` in pixel units.
    steps
        Gradient-sign steps (a fixed number: the loop is bounded).
    step_size
        Per step, pixel units; default ``2.5 * eps / steps``.
    random_start
        Start from a uniform random point in the eps-ball: ``noise`` times the radius.
    seed, noise
        ``noise`` ``(N, C, H, W)`` in [-1, 1]; default: uniform, drawn on the CPU with
        ``seed`` (the same on every device).
    callback
        See :data:`~cnnviz.visualise.ascent.Callback`; return ``False`` to stop early.
    batch_size
        Without a callback, images are attacked this many at a time (the same result
        as all at once; small batches stay in the CPU's cache and run about twice as
        fast as a batch of 1,000).

    Returns
    -------
    AttackResult
        Images within ``eps`` pixels of ``images`` and within the bounds; the history
        follows the attacked class (the target, else the label).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    >>> images = torch.rand(4, 3, 2, 2)
    >>> result = pgd(net, images, [0, 1, 2, 0], eps=8 / 255, steps=10, bounds=(0, 1))
    >>> result.images.shape, result.logit_history.shape
    (torch.Size([4, 3, 2, 2]), torch.Size([11, 4]))
    >>> bool((result.images - images).abs().max() <= 8 / 255 + 1e-6)
    True
    """
    if eps < 0 or steps < 1:
        raise ValueError(f"need eps >= 0 and steps >= 1, got eps={eps}, steps={steps}")
    bounds = input_bounds(model, bounds)
    low, high = bounds
    scale = pixel_scale(bounds)
    radius = scale * eps
    alpha = scale * (step_size if step_size is not None else 2.5 * eps / steps)
    original = check_images(images).detach()
    labels, targets = _goal(labels, targets, original)
    if random_start and noise is None:
        noise = seeded_noise(original.shape, seed=seed, like=original)
    if callback is None and len(original) > batch_size:
        return _concatenate(
            [
                pgd(
                    model,
                    original[idx],
                    None if labels is None else labels[idx],
                    eps=eps,
                    steps=steps,
                    step_size=step_size,
                    targets=None if targets is None else targets[idx],
                    random_start=random_start,
                    noise=None if noise is None else noise[idx],
                    bounds=bounds,
                    batch_size=batch_size,
                )
                for idx in batch_indices(len(original), batch_size)
            ]
        )
    goal = targets if targets is not None else labels
    adversarial = original.clone()
    if random_start and radius > 0:
        adversarial = (original + noise * radius).clamp(low, high)
    direction = -1.0 if targets is not None else 1.0
    logits_seen, probabilities_seen = [], []

    def record(step: int, scores: torch.Tensor) -> bool:
        """Keep the history; ``False`` when the callback asks to stop."""
        logits_seen.append(target_scores(scores, goal))
        probabilities_seen.append(target_scores(scores, goal, kind="probability"))
        return callback is None or callback(step, adversarial, probabilities_seen[-1]) is not False

    taken, scores = steps, None
    lowest, highest = (original - radius).clamp_min(low), (original + radius).clamp_max(high)
    with eval_mode(model):
        for step in range(steps):
            logits, gradient = _loss_gradient(model, adversarial, goal)
            if not record(step, logits):
                taken, scores = step, logits
                break
            adversarial = adversarial + direction * alpha * gradient.sign()
            adversarial = torch.min(torch.max(adversarial, lowest), highest)
        if scores is None:
            scores = _scores(model, adversarial)
            record(steps, scores)
    predictions = scores.argmax(1)
    success = predictions == targets if targets is not None else predictions != labels
    return AttackResult(
        images=adversarial,
        originals=original,
        labels=labels,
        targets=targets,
        success=success,
        steps=torch.full((len(original),), taken, dtype=torch.int64, device=original.device),
        logit_history=torch.stack(logits_seen),
        probability_history=torch.stack(probabilities_seen),
        predictions=predictions,
        bounds=bounds,
    )
