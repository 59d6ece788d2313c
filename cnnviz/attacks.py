"""Adversarial lab (R12-R14 and beyond): every method batched, bounded and seeded.

All methods work in the model's input space [-1, 1] and clip to it (only
:data:`REPORT_NOISE_ATTACK`, which re-creates the report's unclipped noise, does not),
run the model in eval mode (restoring its mode afterwards), never touch its weights,
stop each sample on its own when it reaches its goal or at ``max_steps`` (or after a
fixed number of steps), and return their history so plots need no re-computation.

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


#: What :func:`gradient_ascent` climbs, ``(logits (M, C), targets (M,)) -> (M,)``.
OBJECTIVES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "logit": lambda logits, t: logits.gather(1, t[:, None])[:, 0],
    "log_probability": lambda logits, t: F.log_softmax(logits, 1).gather(1, t[:, None])[:, 0],
}

#: Default step cap of :func:`class_visualisation` (the app's default too). With the
#: default normalised step both shipped models reach p >= 0.99 for every class in at
#: most 75 steps over eight start seeds, so the cap leaves a margin of more than 2.5x.
CLASS_VISUALISATION_MAX_STEPS = 200

#: Default L2 length of one normalised class-visualisation step, model units (about
#: 0.036 per pixel on average, 1/28 of the step's length).
CLASS_VISUALISATION_STEP = 1.0


def unit_step(gradient: torch.Tensor, images: torch.Tensor | None = None) -> torch.Tensor:
    """``gradient`` ``(M, 1, 28, 28)`` scaled to unit L2 length per sample.

    With ``images`` (what the model saw, in [-1, 1]), components that would push a
    pixel already at a bound further out are dropped first, so the whole step counts.
    """
    if images is not None:
        outward = ((images >= HIGH) & (gradient > 0)) | ((images <= LOW) & (gradient < 0))
        gradient = gradient.masked_fill(outward, 0.0)
    norm = gradient.flatten(1).norm(dim=1).clamp_min(1e-12)
    return gradient / norm[:, None, None, None]


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
    objective: str = "logit",
    normalise: bool = False,
    clip: bool = True,
    steps_past_threshold: int = 0,
) -> AscentResult:
    """Ascend ``objective[target] - penalty`` per sample until ``p(target) >= threshold``.

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
        ``(images (M, 1, 28, 28), indices (M,)) -> (M,)`` cost subtracted from the
        objective of samples ``indices``.
    perturb
        ``(variables, indices) -> images``: what the model sees (e.g. ``base + noise``,
        an additive change of the variable); identity when ``None``.
    objective
        ``"logit"`` (the report's "cost": the unnormalised class score) or
        ``"log_probability"`` (``logit[target] - logsumexp(logits)``: it also pushes the
        competing classes down, the quantity the threshold is about).
    normalise
        ``False``: the report's plain step, ``step_size * gradient``, whose length
        follows the gradient's (tiny for a confident network). ``True``: a step of L2
        length ``step_size`` (model units) along the gradient, after dropping the
        components that would push a pixel already at -1 or 1 out of range; the
        direction is the same, only the length is fixed.
    clip
        Clip what the model sees to [-1, 1] (``False`` only reproduces the report's
        noise attack, whose ``x + n`` was never clipped).
    steps_past_threshold
        Keep ascending this many steps after a sample reaches the threshold (the
        report's noise loop updated once more after its last check: 1).
    """
    if max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, not {max_steps}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), not {threshold}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, not {objective!r}")
    variable = start.detach().clone()
    targets = torch.as_tensor(targets, dtype=torch.int64)
    n = len(variable)
    steps = torch.zeros(n, dtype=torch.int64)
    past = torch.zeros(n, dtype=torch.int64)
    logit_now, probability_now = torch.zeros(n), torch.zeros(n)
    logits_seen, probabilities_seen = [], []

    def image_of(v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        image = perturb(v, idx) if perturb is not None else v
        return image.clamp(LOW, HIGH) if clip else image

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
            reached = probability_now[active] >= threshold
            going = ~reached | (past[active] < steps_past_threshold)
            if step == max_steps or not going.any():
                break
            score = OBJECTIVES[objective](logits, targets[active])
            if penalty is not None:
                score = score - penalty(images, active)
            (gradient,) = torch.autograd.grad(score[going].sum(), v)
            if normalise:
                gradient = unit_step(gradient, images.detach() if clip else None)
            past[active[going & reached]] += 1
            active = active[going]
            updated = variable[active] + step_size * gradient[going]
            variable[active] = (
                updated if perturb is not None or not clip else updated.clamp(LOW, HIGH)
            )
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
    step_size: float = CLASS_VISUALISATION_STEP,
    threshold: float = 0.99,
    max_steps: int = CLASS_VISUALISATION_MAX_STEPS,
    objective: str = "log_probability",
    normalise: bool = True,
    l2: float = 0.0,
    seed: int = 0,
) -> AscentResult:
    """Images the network calls ``target`` with high confidence, grown from noise (R12).

    The report's "non-targeted attack": from N(0, ``noise_std``) noise (clipped to
    [-1, 1]), climb by gradient ascent until ``p(target) >= threshold``, all targets in
    one batch. The report climbed the target logit with plain steps of 0.1
    (:data:`REPORT_CLASS_VISUALISATION`); with the batch-norm model that stalls (the
    competing logits rise with the target's, and class 1 stays below 0.99 after 2,000
    steps). The defaults therefore climb the target's log-probability with steps of
    fixed L2 length (see :func:`gradient_ascent`), which reaches p >= 0.99 for every
    class of both shipped models well within :data:`CLASS_VISUALISATION_MAX_STEPS`.

    Parameters
    ----------
    targets
        Classes to visualise, one sample each.
    start
        ``(len(targets), 1, 28, 28)`` starting images instead of noise.
    noise_std, seed
        The starting noise.
    step_size, threshold, max_steps, objective, normalise
        See :func:`gradient_ascent`.
    l2
        Weight of Simonyan et al.'s squared-norm penalty ``l2 * mean(x^2)`` subtracted
        from the objective. Its scale is the objective's: a log-probability is at most
        0, so weights of order 0.1 already matter, while the logit grows without
        bound and needs weights of order 1-10.

    Returns
    -------
    AscentResult
        Images in [-1, 1]; ``success`` is False for classes that hit the cap.
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
        objective=objective,
        normalise=normalise,
    )


#: The report's own class-visualisation procedure, plain steps of 0.1 on the logit.
#: ``class_visualisation(model, **REPORT_CLASS_VISUALISATION, max_steps=...)``.
REPORT_CLASS_VISUALISATION: dict[str, object] = {
    "objective": "logit",
    "normalise": False,
    "step_size": 0.1,
}


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


def transfer_predictions(
    model: CNN, noises: torch.Tensor, images: torch.Tensor, *, clip: bool = True
) -> torch.Tensor:
    """``(K, M)`` class predicted for ``images[m] + noises[k]``.

    Parameters
    ----------
    noises
        ``(K, 1, 28, 28)`` additive noises, model units.
    images
        ``(M, 1, 28, 28)`` images in [-1, 1].
    clip
        Clip each sum to [-1, 1] first (``False``: the report's unclipped ``x + n``).
    """
    predictions = []
    with eval_mode(model), torch.no_grad():
        for noise in noises:
            combined = images + noise
            predictions.append(model.logits(combined.clamp(LOW, HIGH) if clip else combined))
    return torch.stack(predictions).argmax(2)


def perturbation_size(delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample L-infinity and L2 size of a change, in pixel units of [0, 1] images.

    Parameters
    ----------
    delta
        ``(N, ...)`` change in model units ([-1, 1] space, twice as wide as pixels).

    Returns
    -------
    linf, l2
        ``(N,)`` each.
    """
    pixels = delta.detach().flatten(1) / PIXEL_TO_MODEL
    return pixels.abs().amax(1), pixels.norm(dim=1)


def fooling_rates(
    predictions: torch.Tensor,
    targets: torch.Tensor,
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
    """
    targets = torch.as_tensor(targets, dtype=torch.int64).reshape(-1)
    fooled = predictions == targets[:, None]
    counted = torch.ones_like(fooled)
    if labels is not None:
        counted = torch.as_tensor(labels)[None, :] != targets[:, None]
    return (fooled & counted).sum(1) / counted.sum(1).clamp(min=1)


#: The report's noise-attack procedure (its code sketch in section 2.4.4), plain steps of
#: 0.1 on the target logit, ``x + n`` never clipped (neither while learning nor when the
#: noise is added to other digits), and one update after the last check of ``p``.
#: ``noise_attack(model, ..., **REPORT_NOISE_ATTACK)``.
REPORT_NOISE_ATTACK: dict[str, object] = {
    "step_size": 0.1,
    "clip": False,
    "steps_past_threshold": 1,
}


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
    clip: bool = True,
    steps_past_threshold: int = 0,
) -> NoiseTransfer:
    """Learn, per target, a noise that makes ``base`` read as the target, then transfer it.

    The noise starts at zero and climbs the target logit with plain steps (the report's
    method, R14); :data:`REPORT_NOISE_ATTACK` reproduces the report's procedure exactly.

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
    step_size, threshold, max_steps, steps_past_threshold
        See :func:`gradient_ascent`.
    clip
        Clip ``x + n`` to [-1, 1], while learning and when transferring. ``False`` (the
        report) lets the sum leave the pixel range, so the noise can grow larger.
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
        clip=clip,
        steps_past_threshold=steps_past_threshold,
    )
    noises = attack.images - base  # the noise as it acted (after any clipping)
    predictions = transfer_predictions(model, noises, others, clip=clip)
    rate = fooling_rates(predictions, targets, other_labels)
    return NoiseTransfer(attack=attack, noises=noises, predictions=predictions, fooling_rate=rate)


@dataclass(frozen=True)
class UniversalPerturbation:
    """One perturbation learned over a batch of digits (see :func:`universal_perturbation`).

    Attributes
    ----------
    perturbation
        ``(1, 1, 28, 28)`` additive perturbation, model units (``2 * eps`` at most in
        L-infinity, or ``2 * eps`` in L2).
    target
        Class it pushes towards, or ``None`` (untargeted: away from the true labels).
    eps, norm
        The budget in pixel units of [0, 1] images and its norm (``"linf"``, ``"l2"``).
    loss_history
        ``(steps,)`` mini-batch loss before each step (cross-entropy towards the target,
        or minus the cross-entropy of the true labels when untargeted): it falls.
    """

    perturbation: torch.Tensor
    target: int | None
    eps: float
    norm: str
    loss_history: torch.Tensor

    def sizes(self) -> dict[str, float]:
        """L-infinity and L2 size of the perturbation in pixel units of [0, 1] images."""
        pixels = self.perturbation / PIXEL_TO_MODEL
        return {"linf": float(pixels.abs().max()), "l2": float(pixels.norm())}


def project(delta: torch.Tensor, radius: float, norm: str) -> torch.Tensor:
    """``delta`` projected onto the ``norm`` ball of ``radius`` (model units)."""
    if norm == "linf":
        return delta.clamp(-radius, radius)
    return delta * (radius / delta.norm().clamp_min(1e-12)).clamp(max=1.0)


def universal_perturbation(
    model: CNN,
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
) -> UniversalPerturbation:
    """A single perturbation that fools the network on most digits (a universal one).

    Moosavi-Dezfooli et al. (2017) showed that one small image-agnostic perturbation
    fools a classifier on most natural images. This is the simple batched
    projected-gradient version: each step draws ``batch_size`` of ``images`` (seeded),
    moves the shared perturbation along the sign (L-infinity) or the direction (L2) of
    the gradient of the mean loss over the batch, and projects it back into the
    ``eps`` ball; every sum is clipped to [-1, 1]. Measure it on digits it was NOT
    learned on with :func:`universal_fooling_rate`.

    Parameters
    ----------
    images, labels
        ``(N, 1, 28, 28)`` digits in [-1, 1] to learn on and their ``(N,)`` labels.
    target
        Push every digit towards this class; ``None``: away from its true label.
    eps
        Budget in pixel units of [0, 1] images (the usual MNIST L-infinity budget: 0.3).
    norm
        ``"linf"`` or ``"l2"``.
    steps
        Number of mini-batch steps (fixed: the loop is bounded).
    step_size
        Per step, pixel units; default ``eps / 20``.
    seed
        Seeds the mini-batch draws (the perturbation starts at zero).

    Returns
    -------
    UniversalPerturbation
    """
    if norm not in ("linf", "l2"):
        raise ValueError(f"norm must be 'linf' or 'l2', not {norm!r}")
    if eps < 0 or steps < 1 or batch_size < 1:
        raise ValueError(f"need eps >= 0, steps >= 1, batch_size >= 1; got {eps}, {steps}")
    radius = PIXEL_TO_MODEL * eps
    alpha = PIXEL_TO_MODEL * (step_size if step_size is not None else eps / 20)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    delta = torch.zeros(1, 1, 28, 28)
    losses = torch.zeros(steps)
    with eval_mode(model), torch.enable_grad():
        for step in range(steps):
            idx = torch.randint(len(images), (min(batch_size, len(images)),), generator=generator)
            candidate = delta.clone().requires_grad_(True)
            logits = model.logits((images[idx] + candidate).clamp(LOW, HIGH))
            if target is None:
                loss = -F.cross_entropy(logits, labels[idx])
            else:
                loss = F.cross_entropy(logits, torch.full((len(idx),), int(target)))
            (gradient,) = torch.autograd.grad(loss, candidate)
            losses[step] = loss.detach()
            direction = gradient.sign() if norm == "linf" else unit_step(gradient)
            delta = project(delta - alpha * direction, radius, norm).detach()
    return UniversalPerturbation(
        perturbation=delta, target=target, eps=eps, norm=norm, loss_history=losses
    )


def universal_fooling_rate(
    model: CNN, universal: UniversalPerturbation, images: torch.Tensor, labels: torch.Tensor
) -> float:
    """Fraction of ``images`` the universal perturbation fools (use unseen digits).

    Targeted: among the images not already of the target class, those now read as the
    target. Untargeted: those whose prediction changed from the clean prediction
    (Moosavi-Dezfooli et al.'s definition).

    Parameters
    ----------
    images, labels
        ``(M, 1, 28, 28)`` digits in [-1, 1] and their ``(M,)`` true labels.
    """
    predictions = transfer_predictions(model, universal.perturbation, images)
    if universal.target is not None:
        return float(fooling_rates(predictions, torch.tensor([universal.target]), labels)[0])
    clean = transfer_predictions(model, torch.zeros_like(universal.perturbation), images)
    return float((predictions != clean).float().mean())


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
