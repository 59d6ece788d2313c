"""An exponential moving average of a model's weights during training (Polyak averaging).

Averaging the weights over the last few hundred steps smooths out the noise of the last
updates; for adversarial training it adds robustness at no cost in training time (Gowal
et al. 2020, Rebuffi et al. 2021). :func:`cnnviz.training.loop.train` keeps one when a
recipe's ``weight_average`` is above 0.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """A copy of ``model`` whose floating-point weights and buffers trail the model's.

    After update ``t`` (counting from 0) every floating-point tensor ``a`` of the copy is
    ``a + (1 - d) * (w - a)`` for the model's tensor ``w``, with the decay
    ``d = min(decay, (1 + t) / (10 + t))``: early updates follow the model closely, so
    the average does not remember the random initialisation. Integer buffers (batch
    norm's step count) are copied.

    Parameters
    ----------
    model
        The model being trained; it is copied (same device, dtype and memory layout).
    decay
        In (0, 1): the weight of the old average per update; 0.999 averages over about
        the last 1,000 steps.

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Linear(1, 1, bias=False)
    >>> _ = nn.init.zeros_(net.weight)
    >>> average = WeightAverage(net, decay=0.5)
    >>> _ = nn.init.ones_(net.weight)
    >>> average.update(net)  # decay min(0.5, 1 / 10): the average moves 90 % of the way
    >>> round(average.model.weight.item(), 3)
    0.9
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"the decay of a weight average must be in (0, 1), not {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (call after each step)."""
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        averaged = self.model.state_dict()
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                averaged[name].lerp_(value, 1 - decay)
            else:
                averaged[name].copy_(value)
        self.updates += 1
