"""Class model visualisation (R12): grow an image that a class scores highly, by gradient ascent."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.attacks.result import AttackResult
from cnnviz.core.classifier import (
    Bounds,
    check_images,
    class_scores,
    input_bounds,
    model_placement,
    pixel_scale,
)
from cnnviz.core.hooks import eval_mode
from cnnviz.core.noise import seeded_noise
from cnnviz.models.cnn import CNN

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
    (:data:`~cnnviz.report.presets.REPORT_CLASS_VISUALISATION`); with the batch-norm model
    that stalls (the competing logits rise with the target's, and class 1 stays below 0.99
    after 2,000 steps). The defaults therefore climb the target's log-probability with steps of
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
        The model's input range; default :func:`~cnnviz.core.classifier.input_bounds`.
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
        noise = seeded_noise((len(targets), *image_shape), seed=seed, like=like, kind="normal")
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
