"""Adversarial lab (R12-R14 and beyond): every method batched, bounded and seeded.

All methods work in the model's input space [-1, 1] and clip to it, run the model in
eval mode (restoring its mode afterwards), never touch its weights, stop each sample
on its own when it reaches its goal or at ``max_steps``, and return their history so
plots need no re-computation.

Conventions: a *pixel* epsilon is in units of [0, 1] images (``eps=0.3`` as in the
literature); in model space ([-1, 1], twice as wide) it is ``2 * eps``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from cnnviz.data import batch_indices
from cnnviz.model import CNN, eval_mode

LOW, HIGH = -1.0, 1.0
PIXEL_TO_MODEL = 2.0  # one unit of [0, 1] pixel intensity is two units of model space


@dataclass(frozen=True)
class AscentResult:
    """Outcome of a gradient-ascent attack over a batch of ``N`` samples.

    Attributes
    ----------
    images
        ``(N, 1, 28, 28)`` final images in [-1, 1].
    targets
        ``(N,)`` class each sample was pushed towards.
    probabilities
        ``(N,)`` final softmax probability of the target.
    success
        ``(N,)`` bool: the threshold was reached within ``max_steps``.
    steps
        ``(N,)`` steps each sample took (``max_steps`` for failures).
    logit_history, probability_history
        ``(T, N)`` target logit and probability before each step ``t < T`` and after
        the last (``T = max(steps) + 1``); entries after a sample stopped repeat its
        final value (the report's "cost" curves).
    """

    images: torch.Tensor
    targets: torch.Tensor
    probabilities: torch.Tensor
    success: torch.Tensor
    steps: torch.Tensor
    logit_history: torch.Tensor
    probability_history: torch.Tensor


def gradient_ascent(
    model: CNN,
    start: torch.Tensor,
    targets: torch.Tensor,
    *,
    threshold: float,
    step_size: float,
    max_steps: int,
    penalty: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    perturb: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> AscentResult:
    """Ascend ``logit[target] - penalty`` per sample until ``p(target) >= threshold``.

    Each step evaluates only the samples still below the threshold, so finished samples
    cost nothing.

    Parameters
    ----------
    model
        The CNN (eval mode inside, restored afterwards; weights untouched).
    start
        ``(N, 1, 28, 28)`` starting point; with ``perturb``, the starting variable.
    targets
        ``(N,)`` target classes.
    threshold
        Stop a sample once its target probability reaches this, in (0, 1).
    step_size
        Plain gradient step (as the report: ``x += step_size * grad``).
    max_steps
        Hard cap on steps, so every loop ends.
    penalty
        ``(images (M, 1, 28, 28), indices (M,)) -> (M,)`` cost subtracted from the logit
        of samples ``indices``.
    perturb
        ``(variables, indices) -> images``: what the model sees (e.g. ``base + noise``);
        identity when ``None``. Images are clipped to [-1, 1].
    """
    if max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, not {max_steps}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), not {threshold}")
    variable = start.detach().clone()
    targets = torch.as_tensor(targets, dtype=torch.int64)
    n = len(variable)
    steps = torch.zeros(n, dtype=torch.int64)
    logit_now, probability_now = torch.zeros(n), torch.zeros(n)
    logits_seen, probabilities_seen = [], []

    def image_of(v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return (perturb(v, idx) if perturb is not None else v).clamp(LOW, HIGH)

    active = torch.arange(n)
    with eval_mode(model), torch.enable_grad():
        for step in range(max_steps + 1):
            v = variable[active].requires_grad_(True)
            images = image_of(v, active)
            logits = model.logits(images)
            target_logit = logits.gather(1, targets[active, None])[:, 0]
            logit_now[active] = target_logit.detach()
            probability_now[active] = F.softmax(logits.detach(), dim=1).gather(
                1, targets[active, None]
            )[:, 0]
            logits_seen.append(logit_now.clone())
            probabilities_seen.append(probability_now.clone())
            going = probability_now[active] < threshold
            if step == max_steps or not going.any():
                break
            objective = target_logit if penalty is None else target_logit - penalty(images, active)
            (gradient,) = torch.autograd.grad(objective[going].sum(), v)
            active = active[going]
            updated = variable[active] + step_size * gradient[going]
            variable[active] = updated if perturb is not None else updated.clamp(LOW, HIGH)
            steps[active] += 1
    everyone = torch.arange(n)
    return AscentResult(
        images=image_of(variable, everyone).detach(),
        targets=targets,
        probabilities=probability_now,
        success=probability_now >= threshold,
        steps=steps,
        logit_history=torch.stack(logits_seen),
        probability_history=torch.stack(probabilities_seen),
    )


def class_visualisation(
    model: CNN,
    targets: Sequence[int] | torch.Tensor = tuple(range(10)),
    *,
    start: torch.Tensor | None = None,
    noise_std: float = 0.1,
    step_size: float = 0.1,
    threshold: float = 0.99,
    max_steps: int = 500,
    l2: float = 0.0,
    seed: int = 0,
) -> AscentResult:
    """Images the network calls ``target`` with high confidence, grown from noise (R12).

    The report's "non-targeted attack": from N(0, ``noise_std``) noise (clipped to
    [-1, 1]), ascend the target logit (minus ``l2 * ||x||^2``, Simonyan et al.'s
    regulariser, when ``l2 > 0``) until ``p(target) >= threshold``, all targets in one
    batch.

    Parameters
    ----------
    targets
        Classes to visualise, one sample each.
    start
        ``(len(targets), 1, 28, 28)`` starting images instead of noise.
    noise_std, seed
        The starting noise.
    step_size, threshold, max_steps
        See :func:`gradient_ascent`.
    l2
        Weight of the squared-norm penalty (per pixel mean).
    """
    targets = torch.as_tensor(targets, dtype=torch.int64).reshape(-1)
    if start is None:
        generator = torch.Generator().manual_seed(seed)
        start = (noise_std * torch.randn(len(targets), 1, 28, 28, generator=generator)).clamp(
            LOW, HIGH
        )
    penalty = (lambda x, _: l2 * x.pow(2).flatten(1).mean(1)) if l2 > 0 else None
    return gradient_ascent(
        model,
        start,
        targets,
        threshold=threshold,
        step_size=step_size,
        max_steps=max_steps,
        penalty=penalty,
    )


def targeted_attack(
    model: CNN,
    images: torch.Tensor,
    targets: torch.Tensor,
    *,
    beta: float = 1.0,
    step_size: float = 0.1,
    threshold: float = 0.9,
    max_steps: int = 500,
) -> AscentResult:
    """Make each image look like itself but be read as its target (R13).

    Ascends ``logit[t] - beta * MSE(x, x_source)`` (the report's intent; its code's MSE
    compared two fixed images, a constant) until ``p(t) >= threshold``.

    Parameters
    ----------
    images
        ``(N, 1, 28, 28)`` source images in [-1, 1].
    targets
        ``(N,)`` target classes. Use :func:`all_pairs` for every (source, target) pair.
    beta
        Weight of the closeness term; 0 lets the image drift freely.
    """
    sources = images.detach()

    def penalty(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return beta * (x - sources[idx]).pow(2).flatten(1).mean(1)

    return gradient_ascent(
        model,
        sources,
        torch.as_tensor(targets, dtype=torch.int64),
        threshold=threshold,
        step_size=step_size,
        max_steps=max_steps,
        penalty=penalty if beta != 0.0 else None,
    )


def all_pairs(images: torch.Tensor, num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (source image, target class) pair: ``images`` ``(A, 1, 28, 28)`` ->
    ``(A * num_classes, 1, 28, 28)`` repeated images and ``(A * num_classes,)`` targets,
    source-major (row ``a * num_classes + t``)."""
    repeated = images.repeat_interleave(num_classes, dim=0)
    targets = torch.arange(num_classes).repeat(len(images))
    return repeated, targets


@dataclass(frozen=True)
class NoiseTransfer:
    """Learned noises and what they do to other images (R14).

    Attributes
    ----------
    attack
        The noise attack itself: ``attack.images`` are ``base + noise`` (clipped).
    noises
        ``(K, 1, 28, 28)`` additive noise learned for each target, model units.
    predictions
        ``(K, M)`` class predicted for ``images[m] + noises[k]`` (clipped): the
        report's table, rows = noise targets, columns = images.
    fooling_rate
        ``(K,)`` fraction of the images whose prediction became the noise's target,
        among those not already of that class (all ``M`` if no labels were given).
    """

    attack: AscentResult
    noises: torch.Tensor
    predictions: torch.Tensor
    fooling_rate: torch.Tensor


def noise_attack(
    model: CNN,
    base: torch.Tensor,
    targets: Sequence[int] | torch.Tensor,
    others: torch.Tensor,
    other_labels: torch.Tensor | None = None,
    *,
    step_size: float = 0.1,
    threshold: float = 0.99,
    max_steps: int = 500,
) -> NoiseTransfer:
    """Learn, per target, a noise that makes ``base`` read as the target, then transfer it.

    Parameters
    ----------
    base
        ``(1, 1, 28, 28)`` (or ``(K, 1, 28, 28)``, one per target) image the noise is
        learned on.
    targets
        ``K`` target classes.
    others
        ``(M, 1, 28, 28)`` images each learned noise is then added to.
    other_labels
        ``(M,)`` their true labels; images already of a noise's target class then do
        not count towards its fooling rate.
    """
    targets = torch.as_tensor(targets, dtype=torch.int64).reshape(-1)
    base = base.detach().expand(len(targets), 1, 28, 28)
    attack = gradient_ascent(
        model,
        torch.zeros_like(base),
        targets,
        threshold=threshold,
        step_size=step_size,
        max_steps=max_steps,
        perturb=lambda noise, idx: base[idx] + noise,
    )
    noises = attack.images - base  # the noise as it acted (after clipping)
    combined = (others[None] + noises[:, None]).clamp(LOW, HIGH).reshape(-1, 1, 28, 28)
    with eval_mode(model), torch.no_grad():
        predictions = model.logits(combined).argmax(1).reshape(len(targets), len(others))
    fooled = predictions == targets[:, None]
    counted = torch.ones_like(fooled)
    if other_labels is not None:
        counted = torch.as_tensor(other_labels)[None, :] != targets[:, None]
    rate = (fooled & counted).sum(1) / counted.sum(1).clamp(min=1)
    return NoiseTransfer(attack=attack, noises=noises, predictions=predictions, fooling_rate=rate)


def fgsm(
    model: CNN,
    x: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    *,
    targeted: bool = False,
) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015), L-infinity.

    Parameters
    ----------
    x
        ``(N, 1, 28, 28)`` inputs in [-1, 1].
    labels
        ``(N,)`` true labels (untargeted: move away from them) or targets
        (``targeted=True``: move towards them).
    eps
        Budget in pixel units of [0, 1] images (0.3 = the usual MNIST budget).

    Returns
    -------
    torch.Tensor
        ``(N, 1, 28, 28)`` adversarial inputs, within ``eps`` pixels of ``x``, in [-1, 1].
    """
    return pgd(model, x, labels, eps, steps=1, step_size=eps, random_start=False, targeted=targeted)


def uniform_noise(shape: Sequence[int], seed: int) -> torch.Tensor:
    """Uniform noise in [-1, 1] of ``shape``, from a generator seeded with ``seed``."""
    return torch.rand(tuple(shape), generator=torch.Generator().manual_seed(seed)) * 2 - 1


def pgd(
    model: CNN,
    x: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    *,
    steps: int = 40,
    step_size: float | None = None,
    random_start: bool = True,
    targeted: bool = False,
    seed: int = 0,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Projected gradient descent (Madry et al. 2018), L-infinity, on the NLL loss.

    Parameters
    ----------
    x, labels, eps, targeted
        As :func:`fgsm`; ``eps`` in pixel units.
    steps
        Gradient-sign steps (a fixed number: the loop is bounded).
    step_size
        Per step, pixel units; default ``2.5 * eps / steps``.
    random_start
        Start from a uniform random point in the eps-ball: ``noise`` times the radius.
    seed, noise
        ``noise`` ``(N, 1, 28, 28)`` in [-1, 1]; default: uniform, drawn with ``seed``.
    """
    if eps < 0 or steps < 1:
        raise ValueError(f"need eps >= 0 and steps >= 1, got eps={eps}, steps={steps}")
    radius = PIXEL_TO_MODEL * eps
    alpha = PIXEL_TO_MODEL * (step_size if step_size is not None else 2.5 * eps / steps)
    original = x.detach()
    labels = torch.as_tensor(labels, dtype=torch.int64)
    adversarial = original.clone()
    if random_start and radius > 0:
        if noise is None:
            noise = uniform_noise(original.shape, seed)
        adversarial = (original + noise * radius).clamp(LOW, HIGH)
    direction = -1.0 if targeted else 1.0
    with eval_mode(model), torch.enable_grad():
        for _ in range(steps):
            candidate = adversarial.clone().requires_grad_(True)
            loss = F.cross_entropy(model.logits(candidate), labels, reduction="sum")
            (gradient,) = torch.autograd.grad(loss, candidate)
            adversarial = adversarial + direction * alpha * gradient.sign()
            adversarial = torch.min(torch.max(adversarial, original - radius), original + radius)
            adversarial = adversarial.clamp(LOW, HIGH).detach()
    return adversarial


def accuracy_under_attack(
    model: CNN,
    x: torch.Tensor,
    labels: torch.Tensor,
    epsilons: Sequence[float],
    *,
    attack: str = "fgsm",
    batch_size: int = 128,
    seed: int = 0,
    **options: object,
) -> torch.Tensor:
    """Accuracy (%) on ``(x, labels)`` after an untargeted attack at each epsilon.

    Parameters
    ----------
    epsilons
        Budgets in pixel units.
    attack
        ``"fgsm"`` or ``"pgd"``; ``options`` go to the attack (e.g. ``steps``).
    batch_size
        Inputs attacked at once (bounds memory; about 128 is fastest on a small CPU).
    seed
        PGD's random start, drawn once for all of ``x``, so the result does not depend
        on ``batch_size``.

    Returns
    -------
    torch.Tensor
        ``(len(epsilons),)`` accuracies in percent.
    """
    methods = {"fgsm": fgsm, "pgd": pgd}
    if attack not in methods:
        raise ValueError(f"attack must be 'fgsm' or 'pgd', not {attack!r}")
    noise = uniform_noise(x.shape, seed) if attack == "pgd" else None
    correct = torch.zeros(len(epsilons))
    for idx in batch_indices(len(x), batch_size):
        start = {"noise": noise[idx]} if noise is not None else {}
        for index, eps in enumerate(epsilons):
            adversarial = methods[attack](model, x[idx], labels[idx], eps, **options, **start)
            with eval_mode(model), torch.no_grad():
                correct[index] += (model.logits(adversarial).argmax(1) == labels[idx]).sum()
    return 100.0 * correct / len(x)
