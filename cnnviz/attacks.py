"""Adversarial lab (R12-R14 and beyond): one family of attacks for any classifier.

Every attack has the same shape, as torchattacks' and Foolbox's do::

    result = attack(model, images, labels, *, eps=..., steps=..., step_size=...,
                    targets=None, bounds=None, seed=0, callback=None, ...)

* ``model`` is any classifier (:mod:`cnnviz.classifier`): ``(N, C, H, W)`` images to
  ``(N, K)`` scores. It runs in eval mode (its mode is restored afterwards); its
  weights are never changed and no parameter gradient is accumulated.
* ``images`` are in the model's input range ``bounds`` (default: the model's own,
  ``(-1, 1)`` for the report's CNN, else ``(0, 1)``), and every adversarial image is
  clipped to it (only :data:`REPORT_NOISE_ATTACK`, which re-creates the report's
  unclipped noise, is not).
* ``labels`` are the true classes; ``targets`` (where an attack takes them) the classes
  to reach. Target-only attacks (:func:`targeted_attack`, :func:`class_visualisation`,
  :func:`noise_attack`) take ``targets`` in that place.
* Budgets and steps are in **pixel units** of ``[0, 1]`` images, whatever the bounds:
  ``eps=0.3`` is the usual MNIST budget, ``8 / 255`` the usual CIFAR one. A plain
  gradient step ``step_size * gradient`` is taken with respect to pixel intensities,
  and closeness terms weigh mean squared changes in pixel units.
* Each returns an :class:`AttackResult` (:func:`noise_attack` a :class:`NoiseTransfer`
  that holds one): adversarial images, success flags, steps taken and the per-step
  history the plots need. The long attacks take a ``callback(step, images,
  probabilities)`` that can show progress and stop them.
* Random starts come from a seeded CPU generator moved to the images' device, so results
  are the same on every device.

:data:`ATTACKS` names the attacks on given images (:func:`get_attack`);
:func:`accuracy_under_attack` and :func:`robustness_curves` measure a model with them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz import cnn_gradient
from cnnviz.classifier import (
    Bounds,
    as_targets,
    check_images,
    class_scores,
    input_bounds,
    model_placement,
    pixel_scale,
)
from cnnviz.data import batch_indices
from cnnviz.model import CNN, eval_mode

#: ``callback(step, images, probabilities) -> bool | None``: called before each step
#: (and once after the last) with the step number, the current images ``(N, C, H, W)``
#: and ``(N,)`` probability of each sample's attacked class (the target, else the true
#: label). Returning ``False`` stops the attack; what was found so far is returned.
Callback = Callable[[int, torch.Tensor, torch.Tensor], "bool | None"]

#: What the gradient ascent climbs, ``(logits (M, K), targets (M,)) -> (M,)``.
OBJECTIVES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "logit": lambda logits, t: logits.gather(1, t[:, None])[:, 0],
    "log_probability": lambda logits, t: F.log_softmax(logits, 1).gather(1, t[:, None])[:, 0],
}

#: Default step cap of :func:`class_visualisation` (the app's default too). With the
#: default normalised step both shipped models reach p >= 0.99 for every class in at
#: most 75 steps over eight start seeds, so the cap leaves a margin of more than 2.5x.
CLASS_VISUALISATION_MAX_STEPS = 200

#: Default L2 length of one normalised class-visualisation step, pixel units (about
#: 0.018 per pixel of a 28x28 image on average).
CLASS_VISUALISATION_STEP = 0.5


@dataclass(frozen=True)
class AttackResult:
    """Outcome of an attack on a batch of ``N`` images.

    Attributes
    ----------
    images
        ``(N, C, H, W)`` adversarial images, model input space, within ``bounds``.
    originals
        ``(N, C, H, W)`` images the attack started from (the start noise for
        :func:`class_visualisation`).
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
        >>> result = fgsm(net, torch.full((2, 1, 2, 2), 0.5), [0, 1], eps=0.1, bounds=(0, 1))
        >>> [round(float(v), 3) for v in result.perturbation_size()[0]]
        [0.1, 0.1]
        """
        pixels = self.perturbation.detach().flatten(1)
        return pixels.abs().amax(1), pixels.norm(dim=1)


def _noise(
    shape: Sequence[int], seed: int, like: torch.Tensor, kind: str = "uniform"
) -> torch.Tensor:
    """Seeded noise of ``shape`` drawn on the CPU, then moved to ``like``'s device/dtype.

    ``"uniform"`` in [-1, 1], ``"normal"`` N(0, 1).
    """
    generator = torch.Generator().manual_seed(seed)
    if kind == "uniform":
        noise = torch.rand(tuple(shape), generator=generator) * 2 - 1
    else:
        noise = torch.randn(tuple(shape), generator=generator)
    return noise.to(like.device, like.dtype)


def _unit_step(
    gradient: torch.Tensor, images: torch.Tensor | None = None, bounds: Bounds = (-1.0, 1.0)
) -> torch.Tensor:
    """``gradient`` ``(M, ...)`` scaled to unit L2 length per sample.

    With ``images`` (what the model saw), components that would push a pixel already at
    a bound further out are dropped first, so the whole step counts.
    """
    if images is not None:
        low, high = bounds
        outward = ((images >= high) & (gradient > 0)) | ((images <= low) & (gradient < 0))
        gradient = gradient.masked_fill(outward, 0.0)
    norm = gradient.flatten(1).norm(dim=1).clamp_min(1e-12)
    return gradient / norm.reshape(-1, *([1] * (gradient.ndim - 1)))


def _ascend(
    model: nn.Module,
    start: torch.Tensor,
    targets: torch.Tensor,
    *,
    bounds: Bounds,
    threshold: float,
    step_size: float,
    steps: int,
    penalty: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    perturb: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    originals: torch.Tensor | None = None,
    objective: str = "logit",
    normalise: bool = False,
    clip: bool = True,
    steps_past_threshold: int = 0,
    callback: Callback | None = None,
) -> AttackResult:
    """Ascend ``objective[target] - penalty`` per sample until ``p(target) >= threshold``.

    Works in model space; ``step_size`` is in pixel units (a plain step is
    ``scale**2 * step_size * gradient`` in model space, a normalised step has L2 length
    ``scale * step_size``). Each step evaluates only the samples still below the
    threshold, so finished samples cost nothing. ``perturb(variables, indices)`` gives
    what the model sees (identity when ``None``); ``penalty(images, indices)`` is
    subtracted from the objective.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, not {steps}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), not {threshold}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, not {objective!r}")
    low, high = bounds
    scale = pixel_scale(bounds)
    model_step = step_size * scale if normalise else step_size * scale**2
    variable = start.detach().clone()
    n, device = len(variable), variable.device
    taken = torch.zeros(n, dtype=torch.int64, device=device)
    past = torch.zeros(n, dtype=torch.int64, device=device)
    logit_now = torch.zeros(n, dtype=variable.dtype, device=device)
    probability_now = torch.zeros_like(logit_now)
    predictions = torch.zeros(n, dtype=torch.int64, device=device)
    logits_seen, probabilities_seen = [], []

    def image_of(v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        image = perturb(v, idx) if perturb is not None else v
        return image.clamp(low, high) if clip else image

    everyone = torch.arange(n, device=device)
    active = everyone
    with eval_mode(model), torch.enable_grad():
        for step in range(steps + 1):
            v = variable[active].requires_grad_(True)
            images = image_of(v, active)
            logits = class_scores(model, images)
            seen = logits.detach()
            logit_now[active] = seen.gather(1, targets[active, None])[:, 0]
            probability_now[active] = F.softmax(seen, dim=1).gather(1, targets[active, None])[:, 0]
            predictions[active] = seen.argmax(1)
            logits_seen.append(logit_now.clone())
            probabilities_seen.append(probability_now.clone())
            if callback is not None and (
                callback(step, image_of(variable, everyone).detach(), probability_now.clone())
                is False
            ):
                break
            reached = probability_now[active] >= threshold
            going = ~reached | (past[active] < steps_past_threshold)
            if step == steps or not going.any():
                break
            score = OBJECTIVES[objective](logits, targets[active])
            if penalty is not None:
                score = score - penalty(images, active)
            (gradient,) = torch.autograd.grad(score[going].sum(), v)
            if normalise:
                gradient = _unit_step(gradient, images.detach() if clip else None, bounds)
            past[active[going & reached]] += 1
            active = active[going]
            updated = variable[active] + model_step * gradient[going]
            variable[active] = (
                updated if perturb is not None or not clip else updated.clamp(low, high)
            )
            taken[active] += 1
    return AttackResult(
        images=image_of(variable, everyone).detach(),
        originals=(originals if originals is not None else start).detach(),
        labels=None,
        targets=targets,
        success=probability_now >= threshold,
        steps=taken,
        logit_history=torch.stack(logits_seen),
        probability_history=torch.stack(probabilities_seen),
        predictions=predictions,
        bounds=bounds,
    )


def _start_shape(
    model: nn.Module, shape: Sequence[int] | None, start: torch.Tensor | None
) -> tuple[int, ...]:
    """``(C, H, W)`` of one image: from ``start``, ``shape`` or the report's CNN."""
    if start is not None:
        return tuple(check_images(start, "start").shape[1:])
    if shape is not None:
        return tuple(int(size) for size in shape)
    if isinstance(model, CNN):
        return (1, 28, 28)
    raise ValueError("pass shape=(C, H, W) (or start=) for a model other than the report's CNN")


def class_visualisation(
    model: nn.Module,
    targets: int | Sequence[int] | torch.Tensor | None = None,
    *,
    shape: Sequence[int] | None = None,
    start: torch.Tensor | None = None,
    noise_std: float = 0.05,
    step_size: float = CLASS_VISUALISATION_STEP,
    threshold: float = 0.99,
    steps: int = CLASS_VISUALISATION_MAX_STEPS,
    steps_past_threshold: int = 0,
    objective: str = "log_probability",
    normalise: bool = True,
    l2: float = 0.0,
    seed: int = 0,
    bounds: Sequence[float] | None = None,
    callback: Callback | None = None,
) -> AttackResult:
    """Images the network calls ``target`` with high confidence, grown from noise (R12).

    The report's "non-targeted attack": from mid-grey plus N(0, ``noise_std``) noise
    (clipped to the bounds), climb by gradient ascent until ``p(target) >= threshold``,
    all targets in one batch. The report climbed the target logit with plain steps
    (:data:`REPORT_CLASS_VISUALISATION`); with the batch-norm model that stalls (the
    competing logits rise with the target's, and class 1 stays below 0.99 after 2,000
    steps). The defaults therefore climb the target's log-probability with steps of
    fixed L2 length, which reaches p >= 0.99 for every class of both shipped models
    well within :data:`CLASS_VISUALISATION_MAX_STEPS`.

    Parameters
    ----------
    model
        Any classifier.
    targets
        Classes to visualise, one sample each; ``None``: every class of the model.
    shape
        ``(C, H, W)`` of one image; default ``start``'s, or ``(1, 28, 28)`` for the
        report's CNN (required for other models without ``start``).
    start
        ``(len(targets), C, H, W)`` starting images instead of noise.
    noise_std, seed
        The starting noise: standard deviation in pixel units (0.05: the report's
        N(0, 0.1) in its [-1, 1] space) and the seed of its CPU generator.
    step_size
        Pixel units: the L2 length of a step (``normalise=True``; components that would
        push a pixel beyond the bounds are dropped first), or the factor of a plain
        gradient step (``normalise=False``, the report's ``x += step_size * grad``).
    threshold
        Stop a sample once its target probability reaches this, in (0, 1).
    steps
        Step cap, so every run ends.
    steps_past_threshold
        Keep climbing this many steps after the threshold (within the cap): a robust
        network's class images take shape long after it is sure.
    objective
        ``"logit"`` (the report's "cost") or ``"log_probability"`` (also pushes the
        competing classes down).
    normalise
        Fixed-length steps (``True``) or plain gradient steps.
    l2
        Weight of Simonyan et al.'s penalty ``l2 * mean(((x - grey) / scale) ** 2)``,
        the mean squared distance from mid-grey in pixel units, subtracted from the
        objective. Its scale is the objective's: a log-probability is at most 0, so
        weights of order 0.1-1 already matter, while the logit needs order 10.
    bounds
        The model's input range; default :func:`~cnnviz.classifier.input_bounds`.
    callback
        See :data:`Callback`; return ``False`` to stop.

    Returns
    -------
    AttackResult
        ``success`` is False for classes that hit the cap; ``labels`` is ``None``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> result = class_visualisation(net, [0, 2], shape=(1, 2, 2), bounds=(0, 1), steps=50)
    >>> result.images.shape, result.targets.tolist()
    (torch.Size([2, 1, 2, 2]), [0, 2])
    >>> bool(result.images.min() >= 0 and result.images.max() <= 1)
    True
    """
    bounds = input_bounds(model, bounds)
    image_shape = _start_shape(model, shape, start)
    device, dtype = (start.device, start.dtype) if start is not None else model_placement(model)
    like = torch.empty(0, device=device, dtype=dtype)
    if targets is None:
        with eval_mode(model), torch.no_grad():
            classes = class_scores(model, torch.zeros(1, *image_shape, device=device, dtype=dtype))
        targets = torch.arange(classes.shape[1])
    targets = torch.as_tensor(targets, dtype=torch.int64, device=device).reshape(-1)
    low, high = bounds
    scale = pixel_scale(bounds)
    grey = (low + high) / 2
    if start is None:
        noise = _noise((len(targets), *image_shape), seed, like, kind="normal")
        start = (grey + (noise_std * scale) * noise).clamp(low, high)
    penalty = None
    if l2 > 0:
        weight = l2 / scale**2

        def penalty(x: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
            return weight * (x - grey).pow(2).flatten(1).mean(1)

    return _ascend(
        model,
        start,
        targets,
        bounds=bounds,
        threshold=threshold,
        step_size=step_size,
        steps=steps,
        penalty=penalty,
        objective=objective,
        normalise=normalise,
        steps_past_threshold=steps_past_threshold,
        callback=callback,
    )


#: The report's own class-visualisation procedure, plain steps on the logit, 0.1 times
#: the gradient in its [-1, 1] space (0.025 in pixel units).
#: ``class_visualisation(model, **REPORT_CLASS_VISUALISATION, steps=...)``.
REPORT_CLASS_VISUALISATION: dict[str, object] = {
    "objective": "logit",
    "normalise": False,
    "step_size": 0.025,
}

#: The same plain steps on the logit at ten times the report's step size, continued for
#: 1,000 steps after ``p >= 0.99`` (3,000 at most): the robust network's gradients are
#: small, and its class images take shape long after it is sure.
LONG_CLASS_VISUALISATION: dict[str, object] = {
    **REPORT_CLASS_VISUALISATION,
    "step_size": 0.25,
    "steps": 3000,
    "steps_past_threshold": 1000,
}


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
        As :func:`class_visualisation`.

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

    def penalty(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return weight * (x - sources[idx]).pow(2).flatten(1).mean(1)

    return _ascend(
        model,
        sources,
        as_targets(targets, sources),
        bounds=bounds,
        threshold=threshold,
        step_size=step_size,
        steps=steps,
        penalty=penalty if beta != 0.0 else None,
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


@dataclass(frozen=True)
class NoiseTransfer:
    """Learned noises and what they do to other images (R14).

    :func:`noise_attack` keeps its own type because the transfer table is about the
    learned noises on *other* images, not about the ``K`` attacked ones; the attack
    itself is the embedded :class:`AttackResult`.

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
        The model's input range; default :func:`~cnnviz.classifier.input_bounds`.

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


#: The report's noise-attack procedure (its code sketch in section 2.4.4), plain steps of
#: 0.1 times the logit's gradient in [-1, 1] (0.025 in pixel units), ``x + n`` never
#: clipped (neither while learning nor when the noise is added to other digits), and one
#: update after the last check of ``p``. ``noise_attack(model, ..., **REPORT_NOISE_ATTACK)``.
REPORT_NOISE_ATTACK: dict[str, object] = {
    "step_size": 0.025,
    "clip": False,
    "steps_past_threshold": 1,
}


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
    method, R14); :data:`REPORT_NOISE_ATTACK` reproduces the report's procedure exactly.

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
        As :func:`targeted_attack`.
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
    attack = _ascend(
        model,
        torch.zeros_like(base),
        targets,
        bounds=bounds,
        threshold=threshold,
        step_size=step_size,
        steps=steps,
        perturb=lambda noise, idx: base[idx] + noise,
        originals=base,
        clip=clip,
        steps_past_threshold=steps_past_threshold,
        callback=callback,
    )
    noises = attack.images - base  # the noise as it acted (after any clipping)
    predictions = transfer_predictions(model, noises, others, clip=clip, bounds=bounds)
    rate = fooling_rates(predictions, targets, other_labels)
    return NoiseTransfer(attack=attack, noises=noises, predictions=predictions, fooling_rate=rate)


@dataclass(frozen=True)
class UniversalPerturbation:
    """One perturbation learned over a batch of images by ``universal_perturbation``.

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
        The model's input range; default :func:`~cnnviz.classifier.input_bounds`.

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
            direction = gradient.sign() if norm == "linf" else _unit_step(gradient)
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

    Only the input's gradient is asked of autograd, so no weight gradient is formed; the
    report's CNN in eval mode skips autograd (:mod:`cnnviz.cnn_gradient`, same numbers).
    """
    if cnn_gradient.supports(model, images):
        return cnn_gradient.cnn_loss_gradient(model, images.detach(), goal)
    candidate = images.detach().requires_grad_(True)
    with torch.enable_grad():
        scores = class_scores(model, candidate)
        loss = F.cross_entropy(scores, goal, reduction="sum")
        (gradient,) = torch.autograd.grad(loss, candidate)
    return scores.detach(), gradient


@torch.no_grad()
def _scores(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Class scores without a graph (the report's CNN on :mod:`cnnviz.cnn_gradient`'s path)."""
    if cnn_gradient.supports(model, images):
        return cnn_gradient.cnn_scores(model, images)
    return class_scores(model, images)


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
        The model's input range; default :func:`~cnnviz.classifier.input_bounds`.

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
        As :func:`fgsm`; ``eps`` in pixel units.
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
        See :data:`Callback`; return ``False`` to stop early.
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
        noise = _noise(original.shape, seed, original)
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
        logits_seen.append(scores.gather(1, goal[:, None])[:, 0])
        probabilities_seen.append(F.softmax(scores, 1).gather(1, goal[:, None])[:, 0])
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


#: The attacks on given images, by name. Each is called as
#: ``ATTACKS[name](model, images, labels_or_targets, **options)`` and returns an
#: :class:`AttackResult`. ``"fgsm"`` and ``"pgd"`` take a budget ``eps`` (pixel units).
ATTACKS: dict[str, Callable[..., AttackResult]] = {
    "fgsm": fgsm,
    "pgd": pgd,
    "targeted": targeted_attack,
}


def get_attack(name: str) -> Callable[..., AttackResult]:
    """The attack called ``name`` (``"fgsm"``, ``"pgd"``, ``"targeted"``) in ``ATTACKS``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> get_attack("pgd")(net, torch.rand(2, 1, 2, 2), [0, 1], eps=0.1, steps=3).steps.tolist()
    [3, 3]
    """
    if name not in ATTACKS:
        raise ValueError(f"attack must be one of {sorted(ATTACKS)}, not {name!r}")
    return ATTACKS[name]


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
        A budgeted attack of :data:`ATTACKS` (``"fgsm"``, ``"pgd"``); ``options`` go to
        it (e.g. ``steps``).
    batch_size
        Images attacked at once (bounds memory; about 128 is fastest on a small CPU).
    seed
        A random start (PGD's) is drawn once for all of ``images``, so the result does
        not depend on ``batch_size``.
    restarts
        Attack this many times from different random starts (seeds ``seed``,
        ``seed + 1``, ...); an image counts as correct only if it survives every one
        (the strong evaluation of Madry et al.: PGD-100 with 10 restarts).
    bounds
        The model's input range; default :func:`~cnnviz.classifier.input_bounds`.

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
    method = get_attack(attack)
    parameters = inspect.signature(method).parameters
    if "eps" not in parameters:
        raise ValueError(f"attack {attack!r} takes no budget eps")
    if restarts < 1:
        raise ValueError(f"restarts must be at least 1, not {restarts}")
    images = check_images(images)
    labels = as_targets(labels, images)
    correct = torch.ones(len(epsilons), len(images), dtype=torch.bool, device=images.device)
    for restart in range(restarts if "noise" in parameters else 1):
        noise = _noise(images.shape, seed + restart, images) if "noise" in parameters else None
        for idx in batch_indices(len(images), batch_size):
            start = {"noise": noise[idx]} if noise is not None else {}
            for index, eps in enumerate(epsilons):
                result = method(
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
    bounds: Sequence[float] | None = None,
) -> dict[str, torch.Tensor]:
    """Accuracy (%) under FGSM and PGD-40 at each epsilon, for each named model.

    Parameters
    ----------
    models
        Classifiers by name (all with the same input range).
    images, labels
        ``(N, C, H, W)`` images and their ``(N,)`` true classes.
    epsilons
        Budgets in pixel units.
    bounds
        The models' input range; default each model's own.

    Returns
    -------
    dict
        ``"{name}, FGSM"`` and ``"{name}, PGD-40"`` -> ``(len(epsilons),)`` accuracies.

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
        for attack in ("fgsm", "pgd"):
            label = f"{name}, {attack.upper()}{'-40' if attack == 'pgd' else ''}"
            curves[label] = accuracy_under_attack(
                model, images, labels, epsilons, attack=attack, bounds=bounds
            )
    return curves
