"""One optimisation step: the optimiser and its schedule, the forward pass (bf16 autocast where
asked), the loss and the update.

:func:`make_optimizer` builds SGD or Adam and the learning-rate schedule a recipe names;
:class:`OptimiserStep` is the step :func:`cnnviz.training.loop.train` takes on every batch.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnviz.core.classifier import class_scores
from cnnviz.training.adversarial import mixed_loss
from cnnviz.training.recipe import Recipe

Schedule = torch.optim.lr_scheduler.LRScheduler


def make_optimizer(
    model: nn.Module, *, recipe: Recipe, total_steps: int
) -> tuple[torch.optim.Optimizer, Schedule | None]:
    """SGD or Adam on ``model``'s parameters and (for ``onecycle``) its per-step schedule.

    Parameters
    ----------
    model
        The model to train.
    recipe
        Its ``optimizer``, ``lr``, ``momentum``, ``nesterov``, ``weight_decay`` and
        ``schedule`` are used.
    total_steps
        Steps of the whole run (the one-cycle schedule spans them).

    Returns
    -------
    optimizer, schedule
        The schedule is ``None`` for ``"constant"``.

    Raises
    ------
    ValueError
        For an unknown optimiser or schedule.

    Examples
    --------
    >>> recipe = Recipe("t", epochs=1, batch_size=8, lr=0.1, momentum=0.9, schedule="onecycle")
    >>> optimizer, schedule = make_optimizer(nn.Linear(2, 2), recipe=recipe, total_steps=10)
    >>> type(optimizer).__name__, type(schedule).__name__
    ('SGD', 'OneCycleLR')
    """
    if recipe.optimizer == "adam":
        optimizer = torch.optim.Adam(
            model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay
        )
    elif recipe.optimizer == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=recipe.lr,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
        )
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', not {recipe.optimizer!r}")
    if recipe.schedule == "constant":
        return optimizer, None
    if recipe.schedule == "onecycle":
        return optimizer, torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=total_steps, pct_start=0.25
        )
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


class OptimiserStep:
    """One update of a model on one batch: forward, loss, backward, optimiser, schedule.

    The forward pass runs under bfloat16 autocast when ``precision`` is ``"bf16"``
    (weights, gradients and optimiser state stay fp32); the scores are cast to fp32
    before the loss.

    Parameters
    ----------
    model
        The model to train.
    recipe
        As for :func:`make_optimizer`.
    total_steps
        Steps of the whole run.
    precision
        ``"fp32"`` or ``"bf16"`` (resolved: see
        :func:`cnnviz.training.device.resolve_precision`).
    device
        Where the model is.
    clean_weight
        As for :func:`cnnviz.training.adversarial.mixed_loss`.

    Examples
    --------
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    >>> recipe = Recipe("t", epochs=1, batch_size=2, lr=0.1, momentum=0.0)
    >>> step = OptimiserStep(net, recipe=recipe, total_steps=1, precision="fp32",
    ...                      device=torch.device("cpu"))
    >>> before = net[1].weight.detach().clone()
    >>> scores, loss = step(net, torch.ones(2, 1, 2, 2), torch.tensor([0, 1]))
    >>> tuple(scores.shape), loss.dim(), torch.equal(before, net[1].weight)
    ((2, 2), 0, False)
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        recipe: Recipe,
        total_steps: int,
        precision: str,
        device: torch.device,
        clean_weight: float = 0.0,
    ) -> None:
        self.optimizer, self.schedule = make_optimizer(
            model, recipe=recipe, total_steps=total_steps
        )
        self.device_type = device.type
        self.bf16 = precision == "bf16"
        self.clean_weight = clean_weight

    def __call__(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Update ``model`` on ``(x, y)``; the scores it gave (before the update), the loss."""
        with torch.autocast(self.device_type, torch.bfloat16, enabled=self.bf16):
            scores = class_scores(model, x)
        scores, loss = mixed_loss(scores.float(), y, clean_weight=self.clean_weight)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        return scores, loss
