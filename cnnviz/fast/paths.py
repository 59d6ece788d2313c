"""Which fast paths a model has: the one place the general algorithms look them up.

The algorithms are written for any classifier (:func:`cnnviz.inspect.occlusion.occlusion`,
:func:`cnnviz.attacks.pgd.pgd` and :func:`~cnnviz.attacks.fgsm.fgsm`). Where a step has a
faster exact implementation for a model, they find it here with :func:`for_model` and
never name it: the report's :class:`~cnnviz.models.cnn.CNN` has its attack step
written out by hand (:mod:`cnnviz.fast.cnn_gradient`) and its occlusion computed
incrementally (:mod:`cnnviz.fast.occlusion`). Each path returns ``None`` for inputs it
does not serve (every path of a model without fast paths does), and the algorithm then
computes in its general way; both give the same
numbers (to float summation order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cnnviz.fast import cnn_gradient, occlusion
from cnnviz.models.cnn import CNN


@dataclass(frozen=True)
class FastPaths:
    """A model's fast, exact implementations of steps of the general algorithms.

    Each returns what the general step returns, or ``None`` when it does not serve the
    given inputs (another model, device, dtype or shape): then the general step runs.

    Attributes
    ----------
    scores
        ``scores(images)``: ``(N, K)`` class scores of ``(N, C, H, W)`` images, without
        a graph (the general step: :func:`cnnviz.core.classifier.class_scores`).
    loss_gradient
        ``loss_gradient(images, goal)``: ``(N, K)`` scores and the ``(N, C, H, W)``
        gradient of the summed cross-entropy towards the ``(N,)`` classes ``goal``
        (the general step: autograd).
    occluded_logits
        ``occluded_logits(images, *, rows, cols, patch, stride, value, chunk)``: the
        ``(ny * nx, K)`` scores of the ``(1, C, H, W)`` image occluded at every window
        (window starts ``rows`` ``(ny,)`` and ``cols`` ``(nx,)``; ``patch`` and
        ``stride`` ``(height, width)`` pairs; the general step: one forward pass of each
        occluded copy).

    Examples
    --------
    >>> paths = for_model(CNN().eval())
    >>> digits = torch.zeros(2, 1, 28, 28)
    >>> paths.scores(digits).shape, paths.scores(digits.double())  # float64: not served
    (torch.Size([2, 10]), None)
    """

    scores: Callable[[torch.Tensor], torch.Tensor | None]
    loss_gradient: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor] | None]
    occluded_logits: Callable[..., torch.Tensor | None]


def _keeps_cnn_logits(model: nn.Module) -> bool:
    """Whether ``model`` is a :class:`~cnnviz.models.cnn.CNN` whose ``logits`` is the CNN's own."""
    logits = getattr(getattr(model, "logits", None), "__func__", None)
    return isinstance(model, CNN) and logits is CNN.logits


def _cnn_paths(model: CNN) -> FastPaths:
    """The report's CNN's paths (the attack step: ``CNN`` itself, not subclasses)."""

    def scores(images: torch.Tensor) -> torch.Tensor | None:
        if not cnn_gradient.supports(model, images):
            return None
        return cnn_gradient.cnn_scores(model, images)

    def loss_gradient(
        images: torch.Tensor, goal: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        if not cnn_gradient.supports(model, images):
            return None
        return cnn_gradient.cnn_loss_gradient(model, images.detach(), goal)

    def occluded_logits(
        images: torch.Tensor,
        *,
        rows: torch.Tensor,
        cols: torch.Tensor,
        patch: tuple[int, int],
        stride: tuple[int, int],
        value: float,
        chunk: int,
    ) -> torch.Tensor | None:
        if not occlusion.supports(model, images, patch=patch, stride=stride):
            return None
        return occlusion.occluded_logits(
            model, images, starts=rows, patch=patch[0], value=value, chunk=chunk
        )

    return FastPaths(scores=scores, loss_gradient=loss_gradient, occluded_logits=occluded_logits)


def _not_served(*_inputs: object, **_options: object) -> None:
    """The path of a model without one: serves no input."""
    return None


#: The paths of a model without fast paths: every step is general.
_GENERAL = FastPaths(scores=_not_served, loss_gradient=_not_served, occluded_logits=_not_served)


def for_model(model: nn.Module) -> FastPaths:
    """The fast paths of ``model``; for a model without any, paths that serve nothing.

    Parameters
    ----------
    model
        Any classifier. The report's :class:`~cnnviz.models.cnn.CNN`, or a subclass
        that keeps its ``logits``, has fast paths; any other model has none.

    Returns
    -------
    FastPaths
        The model's paths, each still checking the inputs it is given (``None``: not
        served, take the general step).

    Examples
    --------
    >>> digits = torch.zeros(2, 1, 28, 28)
    >>> for_model(CNN().eval()).scores(digits).shape
    torch.Size([2, 10])
    >>> plain = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    >>> print(for_model(plain).scores(digits))
    None
    """
    return _cnn_paths(model) if _keeps_cnn_logits(model) else _GENERAL
