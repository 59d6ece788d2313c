"""What a channel or a class looks for: feature visualisation with readable regularisers.

Plain gradient ascent on a unit's value (the report's Fig 13 for classes) finds
high-frequency patterns that excite the network but look like noise to a person.
:func:`visualise` grows images for classes (their log-probability) or for channels of any
layer (their mean activation) of any classifier, on the ascent engine
(:func:`~cnnviz.visualise.ascent.ascend`) with Adam steps and the toggles of
:class:`~cnnviz.visualise.transforms.Regularisers` (random shifts, rotations and scales,
total variation, blur, a Fourier basis) that make them readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnviz.core.classifier import input_bounds, model_placement
from cnnviz.visualise.ascent import ascend
from cnnviz.visualise.objectives import ChannelMean, ClassScore, TotalVariation
from cnnviz.visualise.parameterisations import Fourier, Pixels
from cnnviz.visualise.steps import AdamStep
from cnnviz.visualise.transforms import READABLE, Regularisers, random_affine


@dataclass(frozen=True)
class Visualisation:
    """Images grown to excite classes or channels.

    Attributes
    ----------
    images
        ``(N, C, H, W)`` in the model's input range.
    objective_history
        ``(T, N)`` the objective (the class's log-probability, or the channel's mean
        activation) before each step, on the transformed images the step saw.
    objective
        ``(N,)`` the final objective on the untransformed images.
    probabilities
        ``(N,)`` for classes, the model's probability of the class on the final image;
        ``None`` for channels.
    layer
        The layer for channels; ``None`` for classes.
    targets
        ``(N,)`` the classes or channels.

    Examples
    --------
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    >>> grown = visualise(net, [0, 2], shape=(1, 4, 4), steps=3)
    >>> grown.images.shape, grown.objective_history.shape, grown.probabilities.shape
    (torch.Size([2, 1, 4, 4]), torch.Size([3, 2]), torch.Size([2]))
    """

    images: torch.Tensor
    objective_history: torch.Tensor
    objective: torch.Tensor
    probabilities: torch.Tensor | None
    layer: str | None
    targets: torch.Tensor


def visualise(
    model: nn.Module,
    targets: int | Sequence[int] | torch.Tensor,
    *,
    layer: str | None = None,
    regularisers: Regularisers = READABLE,
    steps: int = 256,
    learning_rate: float = 0.05,
    shape: Sequence[int] | None = None,
    seed: int = 0,
    bounds: Sequence[float] | None = None,
) -> Visualisation:
    """Grow one image per target that excites it, from N(0, 0.1) noise (R12's start).

    Parameters
    ----------
    model
        Any classifier; run in eval mode, its weights untouched.
    targets
        Classes (``layer=None``: their log-probability, which unlike the bare logit
        cannot rise by raising every class at once) or channels of ``layer`` (their
        mean activation over positions).
    layer
        A name from ``model.named_modules()``, or ``None`` for classes.
    regularisers
        :data:`~cnnviz.visualise.transforms.READABLE` (transformations and blur),
        :data:`~cnnviz.visualise.transforms.PLAIN` (the report's plain ascent), or any
        :class:`~cnnviz.visualise.transforms.Regularisers`.
    steps
        Adam steps (a fixed number: the loop is bounded).
    learning_rate
        Adam's step size on the parameters (pixels in the model's space, or the spectrum).
    shape
        ``(C, H, W)`` of one image; default ``(1, 28, 28)``.
    seed
        Seeds the start noise and the random transformations.
    bounds
        The model's input range; default :func:`~cnnviz.core.classifier.input_bounds`.

    Returns
    -------
    Visualisation

    Examples
    --------
    >>> import cnnviz
    >>> grown = visualise(cnnviz.pretrained(), [3], steps=64)
    >>> grown.images.shape, bool(grown.probabilities[0] > 0.9)
    (torch.Size([1, 1, 28, 28]), True)
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    bounds = input_bounds(model, bounds)
    low, high = bounds
    device, dtype = model_placement(model)
    targets = torch.as_tensor(targets, dtype=torch.int64).reshape(-1).to(device)
    if layer is not None and layer not in dict(model.named_modules()):
        raise ValueError(f"{layer!r} is not a layer of the model")
    channels, height, width = tuple(shape) if shape is not None else (1, 28, 28)
    generator = torch.Generator().manual_seed(seed)
    start = 0.1 * torch.randn(len(targets), channels, height, width, generator=generator)
    middle, half = (low + high) / 2, (high - low) / 2
    start = (start * half + middle).clamp(low, high).to(device, dtype)
    if regularisers.fourier:
        parameterisation = Fourier.of(height, width, bounds=bounds, device=device)
        start = parameterisation.spectrum(start)
    else:
        parameterisation = Pixels(bounds)
    if layer is None:
        objective = ClassScore(targets, "log_probability")
    else:
        objective = ChannelMean(layer, targets)
    weight = regularisers.total_variation
    found = ascend(
        model,
        start,
        parameterisation=parameterisation,
        objective=objective,
        step=AdamStep(learning_rate),
        steps=steps,
        transform=lambda images: random_affine(images, regularisers, generator, low),
        penalty=TotalVariation(weight) if weight else None,
        project=(
            (lambda variables: parameterisation.blurred(variables, regularisers.blur))
            if regularisers.blur
            else None
        ),
        classes=targets if layer is None else None,
    )
    return Visualisation(
        images=found.images,
        objective_history=found.objective_history[:-1],
        objective=found.objective_history[-1],
        probabilities=found.probability_history[-1] if layer is None else None,
        layer=layer,
        targets=targets,
    )
