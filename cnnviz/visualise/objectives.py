"""What an ascent climbs: a class's score, a channel's mean, one unit; and the penalties on it.

An objective is called as ``objective(model, images, rows)`` on the ``(M, C, H, W)``
images of the rows still climbing and returns ``(values, logits)``: the ``(M,)``
differentiable value to climb and the ``(M, K)`` class scores of the same forward pass
(which the ascent records and stops on). A penalty is called as ``penalty(images, rows)``
and returns ``(M,)`` values subtracted from the objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnviz.core.classifier import class_scores
from cnnviz.core.scores import SCORES, target_scores
from cnnviz.visualise.transforms import total_variation


@dataclass(frozen=True)
class ClassScore:
    """Each row's target class's score: its ``"logit"`` or ``"log_probability"``.

    Attributes
    ----------
    targets
        ``(N,)`` int64 class of each row.
    kind
        One of :data:`~cnnviz.core.scores.SCORES`.

    Examples
    --------
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(2, 3))
    >>> values, logits = ClassScore(torch.tensor([2])).__call__(net, torch.zeros(1, 1, 1, 2), None)
    >>> values.shape, logits.shape
    (torch.Size([1]), torch.Size([1, 3]))
    """

    targets: torch.Tensor
    kind: str = "logit"

    def __post_init__(self) -> None:
        if self.kind not in SCORES:
            raise ValueError(f"objective must be one of {sorted(SCORES)}, not {self.kind!r}")

    def __call__(
        self, model: nn.Module, images: torch.Tensor, rows: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(M,)`` scores of ``targets[rows]`` (all rows when ``None``) and the logits."""
        logits = class_scores(model, images)
        targets = self.targets if rows is None else self.targets[rows]
        return target_scores(logits, targets, kind=self.kind), logits


@dataclass(frozen=True)
class ChannelMean:
    """Each row's channel of ``layer``: its mean over positions, or one unit of it.

    Attributes
    ----------
    layer
        A name from ``model.named_modules()``.
    channels
        ``(N,)`` int64 channel of each row.
    position
        ``(row, col)`` of one unit of the channel's map; ``None``: the mean of the map.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    >>> channel = ChannelMean("0", torch.tensor([3]))
    >>> values, logits = channel(net, torch.zeros(1, 1, 5, 5), None)
    >>> values.shape, logits.shape
    (torch.Size([1]), torch.Size([1, 2]))
    """

    layer: str
    channels: torch.Tensor
    position: Sequence[int] | None = None

    def __call__(
        self, model: nn.Module, images: torch.Tensor, rows: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(M,)`` means (or units) of ``channels[rows]`` and the logits."""
        channels = self.channels if rows is None else self.channels[rows]
        captured: list[torch.Tensor] = []
        module = dict(model.named_modules())[self.layer]
        handle = module.register_forward_hook(lambda _m, _i, output: captured.append(output))
        try:
            logits = class_scores(model, images)
        finally:
            handle.remove()
        output = captured[0]
        picked = output[torch.arange(len(channels), device=output.device), channels]
        if self.position is not None:
            return picked[:, self.position[0], self.position[1]], logits
        return picked.flatten(1).mean(1), logits


@dataclass(frozen=True)
class MeanSquaredChange:
    """``weight * mean((x - reference) ** 2)`` per image: how far it moved from a reference.

    Attributes
    ----------
    reference
        A value (e.g. mid-grey) or ``(N, C, H, W)`` images, one per row.
    weight
        Factor in front of the mean.

    Examples
    --------
    >>> penalty = MeanSquaredChange(reference=0.0, weight=2.0)
    >>> penalty(torch.full((1, 1, 2, 2), 0.5), torch.tensor([0])).tolist()
    [0.5]
    """

    reference: float | torch.Tensor
    weight: float

    def __call__(self, images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``(M,)`` penalties of the images of ``rows``."""
        reference = self.reference
        if isinstance(reference, torch.Tensor):
            reference = reference[rows]
        return self.weight * (images - reference).pow(2).flatten(1).mean(1)


@dataclass(frozen=True)
class TotalVariation:
    """``weight * total_variation(x) * height``: a penalty on high frequencies.

    Examples
    --------
    >>> stripes = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    >>> TotalVariation(weight=0.5)(stripes, None).tolist()
    [1.0]
    """

    weight: float

    def __call__(self, images: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        """``(M,)`` penalties (:func:`~cnnviz.visualise.transforms.total_variation`)."""
        return self.weight * total_variation(images) * images.shape[-2]
