"""Class model visualisation (R12): grow an image that a class scores highly, by gradient ascent.

:func:`class_ascent` climbs each row's class score on the engine
(:func:`~cnnviz.visualise.ascent.ascend`) until the class is read with a given probability
and reports it as an :class:`~cnnviz.attacks.result.AttackResult`;
:func:`class_visualisation` grows images from noise with it, as
:func:`~cnnviz.attacks.targeted.targeted_attack` and
:func:`~cnnviz.attacks.transfer.noise_attack` change digits with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

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
from cnnviz.visualise.ascent import Callback, ascend
from cnnviz.visualise.objectives import ClassScore, MeanSquaredChange
from cnnviz.visualise.parameterisations import Offset, Pixels
from cnnviz.visualise.steps import PlainStep, UnitStep

#: Default step cap of :func:`class_visualisation` (the app's default too). With the
#: default normalised step both shipped models reach p >= 0.99 for every class in at
#: most 75 steps over eight start seeds, so the cap leaves a margin of more than 2.5x.
CLASS_VISUALISATION_MAX_STEPS = 200


#: Default L2 length of one normalised class-visualisation step, pixel units (about
#: 0.018 per pixel of a 28x28 image on average).
CLASS_VISUALISATION_STEP = 0.5


def class_ascent(
    model: nn.Module,
    start: torch.Tensor,
    targets: torch.Tensor,
    *,
    bounds: Bounds,
    threshold: float,
    step_size: float,
    steps: int,
    penalty: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    base: torch.Tensor | None = None,
    objective: str = "logit",
    normalise: bool = False,
    clip: bool = True,
    steps_past_threshold: int = 0,
    callback: Callback | None = None,
) -> AttackResult:
    """Ascend ``objective[target] - penalty`` per sample until ``p(target) >= threshold``.

    Parameters
    ----------
    model
        Any classifier.
    start
        ``(N, C, H, W)`` starting images in model space (with ``base``: starting noises).
    targets
        ``(N,)`` int64 class of each sample.
    bounds
        The model's input range.
    threshold, steps, steps_past_threshold, callback
        When to stop (:func:`~cnnviz.visualise.ascent.ascend`).
    step_size
        Pixel units: a plain step is ``scale**2 * step_size * gradient`` in model space,
        a normalised one (``normalise=True``) has L2 length ``scale * step_size``.
    penalty
        ``penalty(images, indices) -> (M,)`` subtracted from the objective.
    base
        ``(N, C, H, W)``: climb a noise added to these images instead of the images.
    objective
        ``"logit"`` or ``"log_probability"`` of the target.
    clip
        Keep what the model sees within the bounds (and, without ``base``, the images).

    Returns
    -------
    AttackResult
        ``originals`` are ``base`` (else ``start``); ``labels`` is ``None``.

    Examples
    --------
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> found = class_ascent(net, torch.full((1, 1, 2, 2), 0.5), torch.tensor([2]),
    ...                      bounds=(0.0, 1.0), threshold=0.9, step_size=1.0, steps=3)
    >>> found.images.shape, found.probability_history.shape
    (torch.Size([1, 1, 2, 2]), torch.Size([4, 1]))
    """
    low, high = bounds
    scale = pixel_scale(bounds)
    if normalise:
        step = UnitStep(step_size * scale, bounds if clip else None)
    else:
        step = PlainStep(step_size * scale**2)
    parameterisation = Pixels(bounds, clip) if base is None else Offset(base, bounds, clip)
    found = ascend(
        model,
        start,
        parameterisation=parameterisation,
        objective=ClassScore(targets, objective),
        step=step,
        steps=steps,
        penalty=penalty,
        project=(lambda x: x.clamp(low, high)) if base is None and clip else None,
        classes=targets,
        threshold=threshold,
        steps_past_threshold=steps_past_threshold,
        callback=callback,
    )
    return AttackResult(
        images=found.images,
        originals=(base if base is not None else start).detach(),
        labels=None,
        targets=targets,
        success=found.probability_history[-1] >= threshold,
        steps=found.steps,
        logit_history=found.logit_history,
        probability_history=found.probability_history,
        predictions=found.predictions,
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
        See :data:`~cnnviz.visualise.ascent.Callback`; return ``False`` to stop.

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
    penalty = MeanSquaredChange(grey, l2 / scale**2) if l2 > 0 else None
    return class_ascent(
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
