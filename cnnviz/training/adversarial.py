"""The adversarial batch of adversarial training, and the loss that mixes it with the clean one.

With a recipe's ``adversarial_eps`` above 0, :func:`cnnviz.training.loop.train` replaces every
batch by a PGD attack on it (Madry et al. 2018) within a budget that grows over the first
``eps_warmup_epochs``; with ``clean_weight`` the clean copy of the batch follows the attacked
one, and :func:`mixed_loss` weighs their cross-entropies.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.attacks.pgd import pgd
from cnnviz.training.recipe import Recipe


def mixed_loss(
    scores: torch.Tensor, labels: torch.Tensor, *, clean_weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The scores of the trained-on batch and the loss.

    Parameters
    ----------
    scores
        ``(N, K)``, or with ``clean_weight > 0`` ``(2N, K)``: the attacked batch, then the
        same batch clean.
    labels
        ``(N,)`` class indices.
    clean_weight
        In [0, 1): the loss weighs the two halves' cross-entropies ``1 - clean_weight``
        and ``clean_weight``; 0: one batch, plain cross-entropy.

    Returns
    -------
    scores, loss
        The (attacked half's) ``(N, K)`` scores and the scalar loss.

    Examples
    --------
    >>> scores, labels = torch.zeros(4, 3), torch.tensor([0, 1])
    >>> attacked, loss = mixed_loss(scores, labels, clean_weight=0.25)
    >>> tuple(attacked.shape), round(loss.item(), 4)  # ln 3 for equal scores
    ((2, 3), 1.0986)
    """
    if clean_weight <= 0:
        return scores, F.cross_entropy(scores, labels)
    attacked, clean = scores.chunk(2)
    loss = (1 - clean_weight) * F.cross_entropy(attacked, labels)
    return attacked, loss + clean_weight * F.cross_entropy(clean, labels)


class AdversarialBatch:
    """Turns a training batch into the batch adversarial training learns from.

    Parameters
    ----------
    recipe
        Its ``adversarial_eps`` (0: the batch is returned as it is), ``adversarial_steps``,
        ``eps_warmup_epochs`` and ``clean_weight`` are used.
    steps_per_epoch
        Steps in one epoch (for the warm-up of the budget).
    layout
        The memory format of the batches (channels-last or contiguous).

    Attributes
    ----------
    clean_weight
        The clean copy's weight in the loss: the recipe's with an attack, else 0.

    Examples
    --------
    >>> from cnnviz.models.cnn import CNN
    >>> recipe = Recipe("adv", epochs=1, batch_size=2, lr=0.1, momentum=0.0,
    ...                 adversarial_eps=0.1, clean_weight=0.5)
    >>> make = AdversarialBatch(recipe, steps_per_epoch=10, layout=torch.contiguous_format)
    >>> x, y = torch.zeros(2, 1, 28, 28), torch.tensor([3, 5])
    >>> batch = make(CNN().eval(), x, x, y, step=0)
    >>> tuple(batch.shape), make.clean_weight, bool((batch[:2] != x).any())
    ((4, 1, 28, 28), 0.5, True)
    """

    def __init__(
        self, recipe: Recipe, *, steps_per_epoch: int, layout: torch.memory_format
    ) -> None:
        self.eps = recipe.adversarial_eps
        self.steps = recipe.adversarial_steps
        self.clean_weight = recipe.clean_weight if self.eps > 0 else 0.0
        self.warmup_steps = max(1.0, recipe.eps_warmup_epochs * steps_per_epoch)
        self.layout = layout

    @property
    def enabled(self) -> bool:
        """Whether batches are attacked at all."""
        return self.eps > 0

    def budget(self, step: int) -> float:
        """The L-inf budget (pixel units) at ``step`` (0-based): growing over the warm-up."""
        return self.eps * min(1.0, (step + 1) / self.warmup_steps)

    def __call__(
        self, model: nn.Module, x: torch.Tensor, clean: torch.Tensor, y: torch.Tensor, *, step: int
    ) -> torch.Tensor:
        """``x`` attacked (seeded by ``step``), followed by ``clean`` if it has a weight."""
        if not self.enabled:
            return x
        eps = self.budget(step)
        step_size = 1.25 * eps if self.steps == 1 else 2.5 * eps / self.steps
        x = pgd(model, x, y, eps=eps, steps=self.steps, step_size=step_size, seed=step).images
        if self.clean_weight > 0:
            x = torch.cat([x, clean.to(x.device)]).contiguous(memory_format=self.layout)
        return x
