"""The one gradient-ascent engine: a bounded loop with everything else plugged in.

:func:`ascend` is lucent's ``render_vis`` for cnnviz. Each step it turns the variables
of the rows still climbing into images (a parameterisation:
:mod:`~cnnviz.visualise.parameterisations`), shows the model a randomly transformed view
of them (:mod:`~cnnviz.visualise.transforms`), climbs an objective minus penalties
(:mod:`~cnnviz.visualise.objectives`) with a step rule (:mod:`~cnnviz.visualise.steps`),
and may tidy the variables afterwards (a projection: clipping, blurring). It stops a row
when its target class's probability reaches a threshold (and after a few more steps, if
asked), stops all when a callback says so, and always after ``steps`` steps. Finished
rows are not evaluated again, so they cost nothing.

Its users are thin: :func:`~cnnviz.visualise.class_images.class_visualisation`,
:func:`~cnnviz.visualise.features.visualise`,
:func:`~cnnviz.attacks.targeted.targeted_attack` and
:func:`~cnnviz.attacks.transfer.noise_attack`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from cnnviz.core.hooks import eval_mode
from cnnviz.core.scores import target_scores

#: The progress callback of an ascent, ``callback(step, images, probabilities)``,
#: called before each step (and once after the last) with the step number, the current
#: images ``(N, C, H, W)`` and ``(N,)`` probability of each sample's attacked class (the
#: target, else the true label; the objective when the targets are not classes).
#: Returning ``False`` stops the ascent; what was found so far is returned.
Callback = Callable[[int, torch.Tensor, torch.Tensor], "bool | None"]


class Parameterisation(Protocol):
    """Turns the variables of some rows into the images the model sees.

    Examples
    --------
    >>> from cnnviz.visualise.parameterisations import Pixels
    >>> isinstance(Pixels((0.0, 1.0)).image(torch.zeros(1, 1, 2, 2), None), torch.Tensor)
    True
    """

    def image(self, variables: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``(M, C, H, W)`` images of ``variables`` (the rows ``rows`` of the ascent)."""


#: What an ascent climbs, ``objective(model, images, rows) -> (values, logits)``, the
#: ``(M,)`` differentiable values for the rows and the ``(M, K)`` class scores of the same
#: forward pass.
Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

#: How an ascent steps, ``step(variables, rows, gradient, images)`` updating
#: ``variables[rows]`` in place.
StepRule = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], None]


@dataclass(frozen=True)
class Ascent:
    """What :func:`ascend` found for ``N`` rows after ``T - 1`` evaluations with a step.

    Attributes
    ----------
    variables
        ``(N, ...)`` the final variables.
    images
        ``(N, C, H, W)`` their images, untransformed, in the model's input range.
    steps
        ``(N,)`` int64 steps each row took.
    objective_history
        ``(T, N)`` the objective (without penalties) at each evaluation, on the view the
        step saw; the last on the untransformed images. Stopped rows repeat their value.
    logit_history, probability_history
        ``(T, N)`` logit and probability of each row's class at each evaluation, or
        ``None`` when the ascent had no classes to watch.
    predictions
        ``(N,)`` the class the model read at each row's last evaluation.

    Examples
    --------
    >>> from cnnviz.visualise.objectives import ClassScore
    >>> from cnnviz.visualise.parameterisations import Pixels
    >>> from cnnviz.visualise.steps import PlainStep
    >>> net, targets = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), torch.tensor([1, 2])
    >>> found = ascend(net, torch.zeros(2, 1, 2, 2), parameterisation=Pixels((0.0, 1.0)),
    ...                objective=ClassScore(targets), step=PlainStep(0.1), steps=5,
    ...                classes=targets)
    >>> found.images.shape, found.objective_history.shape, found.steps.tolist()
    (torch.Size([2, 1, 2, 2]), torch.Size([6, 2]), [5, 5])
    """

    variables: torch.Tensor
    images: torch.Tensor
    steps: torch.Tensor
    objective_history: torch.Tensor
    logit_history: torch.Tensor | None
    probability_history: torch.Tensor | None
    predictions: torch.Tensor


def ascend(
    model: nn.Module,
    start: torch.Tensor,
    *,
    parameterisation: Parameterisation,
    objective: Objective,
    step: StepRule,
    steps: int,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    penalty: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    project: Callable[[torch.Tensor], torch.Tensor] | None = None,
    classes: torch.Tensor | None = None,
    threshold: float | None = None,
    steps_past_threshold: int = 0,
    callback: Callback | None = None,
) -> Ascent:
    """Climb ``objective - penalty`` from ``start``, row by row, for at most ``steps`` steps.

    Parameters
    ----------
    model
        Any classifier; run in eval mode (restored afterwards), its weights untouched.
    start
        ``(N, ...)`` the starting variables (copied).
    parameterisation
        ``image(variables, rows)``: the ``(M, C, H, W)`` images of the rows' variables
        (:mod:`~cnnviz.visualise.parameterisations`).
    objective
        ``objective(model, images, rows) -> (values (M,), logits (M, K))``
        (:mod:`~cnnviz.visualise.objectives`).
    step
        ``step(variables, rows, gradient, images)`` updates the rows in place
        (:mod:`~cnnviz.visualise.steps`).
    steps
        The step cap (>= 0): there are at most ``steps + 1`` evaluations.
    transform
        ``(M, C, H, W) -> (M, C, H, W)``: the random view each step sees (not the last
        evaluation, which sees the images as they are); ``None``: the images.
    penalty
        ``penalty(view, rows) -> (M,)`` subtracted from the objective.
    project
        Applied to the stepped rows' variables after each step (clipping, blurring).
    classes
        ``(N,)`` each row's class, whose logit and probability are recorded (and
        stopped on); ``None``: nothing is recorded but the objective.
    threshold
        Stop a row once its class's probability reaches this, in (0, 1) (needs
        ``classes``); ``None``: run every row to the cap.
    steps_past_threshold
        Keep climbing this many steps after a row reaches the threshold (within the cap).
    callback
        See :data:`Callback`; return ``False`` to stop.

    Returns
    -------
    Ascent

    Examples
    --------
    Grow an image that a small network reads as class 2, in steps of L2 length 0.5,
    until it is 80 % sure:

    >>> from cnnviz.visualise.objectives import ClassScore
    >>> from cnnviz.visualise.parameterisations import Pixels
    >>> from cnnviz.visualise.steps import UnitStep
    >>> _ = torch.manual_seed(0)
    >>> net, targets = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), torch.tensor([2])
    >>> bounds = (-9.0, 9.0)
    >>> found = ascend(net, torch.zeros(1, 1, 2, 2), parameterisation=Pixels(bounds),
    ...                objective=ClassScore(targets, "log_probability"),
    ...                step=UnitStep(0.5, bounds), steps=100, classes=targets, threshold=0.8)
    >>> bool(found.probability_history[-1] >= 0.8), int(found.steps) < 100
    (True, True)
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, not {steps}")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), not {threshold}")
    if threshold is not None and classes is None:
        raise ValueError("a threshold needs the classes whose probability it stops on")
    variables = start.detach().clone()
    n, device = len(variables), variables.device
    taken = torch.zeros(n, dtype=torch.int64, device=device)
    past = torch.zeros(n, dtype=torch.int64, device=device)
    predictions = torch.zeros(n, dtype=torch.int64, device=device)
    watched = ("objective",) if classes is None else ("objective", "logit", "probability")
    now = {name: torch.zeros(n, dtype=start.real.dtype, device=device) for name in watched}
    history: dict[str, list[torch.Tensor]] = {name: [] for name in watched}
    everyone = torch.arange(n, device=device)
    active = everyone
    with eval_mode(model), torch.enable_grad():
        for count in range(steps + 1):
            v = variables[active].requires_grad_(True)
            images = parameterisation.image(v, active)
            last = count == steps
            view = images if last or transform is None else transform(images)
            values, logits = objective(model, view, active)
            seen = logits.detach()
            now["objective"][active] = values.detach()
            if classes is not None:
                now["logit"][active] = target_scores(seen, classes[active])
                now["probability"][active] = target_scores(
                    seen, classes[active], kind="probability"
                )
            predictions[active] = seen.argmax(1)
            for name in watched:
                history[name].append(now[name].clone())
            watch = now["probability" if classes is not None else "objective"]
            if callback is not None and (
                callback(count, parameterisation.image(variables, everyone).detach(), watch.clone())
                is False
            ):
                break
            if threshold is None:
                going = torch.ones(len(active), dtype=torch.bool, device=device)
                reached = ~going
            else:
                reached = now["probability"][active] >= threshold
                going = ~reached | (past[active] < steps_past_threshold)
            if last or not going.any():
                break
            score = values if penalty is None else values - penalty(view, active)
            (gradient,) = torch.autograd.grad(score[going].sum(), v)
            past[active[going & reached]] += 1
            active = active[going]
            step(variables, active, gradient[going], images.detach()[going])
            if project is not None:
                with torch.no_grad():
                    variables[active] = project(variables[active])
            taken[active] += 1
    stacked = {name: torch.stack(rows) for name, rows in history.items()}
    return Ascent(
        variables=variables.detach(),
        images=parameterisation.image(variables, everyone).detach(),
        steps=taken,
        objective_history=stacked["objective"],
        logit_history=stacked.get("logit"),
        probability_history=stacked.get("probability"),
        predictions=predictions,
    )
