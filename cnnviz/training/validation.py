"""Validation during training and keeping the best epoch.

Every ``val_every`` steps and at the end of every epoch :class:`Validation` measures the loss
and accuracy on the validation images; in adversarial training it also measures, after every
epoch, the accuracy under PGD (:func:`robust_check`), keeps the weights of the most robust
epoch, and asks to stop when that accuracy collapses (:func:`collapsed`).
"""

from __future__ import annotations

import torch
from torch import nn

from cnnviz.attacks.evaluation import accuracy_under_attack
from cnnviz.data.mnist import Splits
from cnnviz.training.evaluation import evaluate
from cnnviz.training.history import History
from cnnviz.training.recipe import Recipe


def robust_check(
    model: nn.Module, data: Splits, *, recipe: Recipe, history: History, step: int
) -> bool:
    """Per-epoch PGD validation of adversarial training; ``True`` if this epoch is the best.

    PGD with ``recipe.robust_val_steps`` steps at ``recipe.adversarial_eps`` on the first
    ``recipe.robust_val_size`` validation images; the accuracy and ``step`` are appended
    to ``history``. A tie goes to this epoch: a later one has trained longer, at a lower
    rate.

    Examples
    --------
    >>> from torch import nn
    >>> x, y = torch.rand(10, 1, 6, 6), torch.arange(10) % 2
    >>> data = Splits(x, y, x, y, x, y, num_classes=2)
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    >>> recipe = Recipe("r", epochs=1, batch_size=5, lr=0.1, momentum=0.0,
    ...                 adversarial_eps=0.1, robust_val_size=10, robust_val_steps=2)
    >>> history = History(variant="x", recipe={}, seed=0)
    >>> robust_check(net, data, recipe=recipe, history=history, step=5), history.robust_val_step
    (True, [5])
    """
    count = min(recipe.robust_val_size, len(data.val_x))
    accuracy = accuracy_under_attack(
        model,
        data.val_x[:count],
        data.val_y[:count],
        [recipe.adversarial_eps],
        attack="pgd",
        steps=recipe.robust_val_steps,
    )[0].item()
    best = max(history.robust_val_acc, default=-1.0)
    history.robust_val_step.append(step)
    history.robust_val_acc.append(accuracy)
    return accuracy >= best


def collapsed(history: History) -> bool:
    """Catastrophic overfitting: the last robust accuracy fell below half its best so far.

    Examples
    --------
    >>> collapsed(History("x", {}, 0, robust_val_acc=[40.0, 60.0, 29.0]))
    True
    >>> collapsed(History("x", {}, 0, robust_val_acc=[40.0, 60.0, 31.0]))
    False
    """
    return history.robust_val_acc[-1] < 0.5 * max(history.robust_val_acc)


class Validation:
    """Measures a model as it trains, into its history, and keeps its best epoch.

    Parameters
    ----------
    data
        The splits (their validation part is used).
    recipe
        Its ``val_every``, ``val_size`` and, with ``adversarial_eps``, the robust check's
        fields are used.
    judged
        The model validation measures: the one trained, or its weight average.
    steps_per_epoch
        Steps in one epoch (every epoch's last step is validated).

    Attributes
    ----------
    robust
        Whether every epoch ends with :func:`robust_check`.
    kept
        The weights of the most robust epoch so far (``None`` before any robust check).

    Examples
    --------
    >>> from torch import nn
    >>> x, y = torch.rand(10, 1, 6, 6), torch.arange(10) % 2
    >>> data = Splits(x, y, x, y, x, y, num_classes=2)
    >>> recipe = Recipe("v", epochs=1, batch_size=5, lr=0.1, momentum=0.0, val_every=3)
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    >>> validation = Validation(data, recipe, judged=net, steps_per_epoch=2)
    >>> history = History(variant="x", recipe={}, seed=0)
    >>> [validation.after_step(history, step=s, seconds=0.1 * s)[1] is None for s in (1, 2, 3)]
    [True, False, False]
    >>> history.val_step, validation.end_epoch(history, step=3), history.epoch_steps
    ([2, 3], False, [3])
    """

    def __init__(
        self, data: Splits, recipe: Recipe, *, judged: nn.Module, steps_per_epoch: int
    ) -> None:
        self.data, self.recipe, self.judged = data, recipe, judged
        self.val_x = data.val_x[: recipe.val_size or None]
        self.val_y = data.val_y[: recipe.val_size or None]
        self.steps_per_epoch = steps_per_epoch
        self.robust = recipe.adversarial_eps > 0
        self.kept: dict[str, torch.Tensor] | None = None

    def after_step(
        self, history: History, *, step: int, seconds: float
    ) -> tuple[float | None, float | None]:
        """Validate after ``step`` (1-based) if it is due: the loss and accuracy, else Nones.

        ``seconds`` is the training time so far, recorded with the measurement.
        """
        if step % self.recipe.val_every and step % self.steps_per_epoch:
            return None, None
        val_loss, val_acc = evaluate(self.judged, self.val_x, self.val_y)
        history.val_step.append(step)
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
        history.val_seconds.append(seconds)
        return val_loss, val_acc

    def end_epoch(self, history: History, *, step: int) -> bool:
        """Record the epoch that ended at ``step``; whether robustness collapsed (stop)."""
        history.epoch_steps.append(step)
        if not self.robust:
            return False
        if robust_check(self.judged, self.data, recipe=self.recipe, history=history, step=step):
            self.kept = {name: value.clone() for name, value in self.judged.state_dict().items()}
            history.kept_step = step
        return collapsed(history)

    def keep_best(self, model: nn.Module) -> None:
        """Load into ``model`` the weights to return: the most robust epoch's, else the
        judged model's (its weight average), else leave them."""
        if self.kept is not None:
            model.load_state_dict(self.kept)
        elif self.judged is not model:
            model.load_state_dict(self.judged.state_dict())
