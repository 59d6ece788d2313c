"""The model contract: what cnnviz needs of a network, so it works with any classifier.

A *classifier* is any ``torch.nn.Module`` that maps images ``(N, C, H, W)`` to class
scores ``(N, K)``. Every analysis and attack in cnnviz takes one:

* Its **class scores** are :func:`class_scores`: the model's ``logits`` method where it
  has one (the report's :class:`~cnnviz.models.cnn.CNN`, whose ``forward`` returns
  log-probabilities), else its ``forward``.
* Its **input range** ("bounds", the values a black and a white pixel have in the
  model's input space) is declared once: pass ``bounds=(low, high)`` to a function, or
  give the model an ``input_bounds`` attribute (the report's CNN has ``(-1.0, 1.0)``);
  otherwise ``(0.0, 1.0)``. A mean/std normalised model (torchvision style) is wrapped
  in :class:`Normalized` so that it takes ``[0, 1]`` images.
* Epsilons and step sizes are in **pixel units**, fractions of the range between black
  and white, whatever the bounds: ``eps=0.3`` is 0.3 of ``[0, 1]`` images and 0.6 in
  the report's ``[-1, 1]`` space (:func:`pixel_scale`).
* Shapes come from the input; tensors cnnviz creates live on the input's device and
  dtype.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

Bounds = tuple[float, float]
DEFAULT_BOUNDS: Bounds = (0.0, 1.0)


def class_scores(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Pre-softmax class scores ``(N, K)`` of ``images`` ``(N, C, H, W)``.

    Uses ``model.logits`` where the model has it, else ``model(images)``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    >>> class_scores(net, torch.zeros(2, 3, 2, 2)).shape
    torch.Size([2, 3])
    """
    logits = getattr(model, "logits", None)
    scores = logits(images) if callable(logits) else model(images)
    if scores.ndim != 2 or scores.shape[0] != images.shape[0]:
        raise ValueError(
            f"a classifier must return scores of shape (N, K) for N images; "
            f"got {tuple(scores.shape)} for {images.shape[0]} images"
        )
    return scores


def input_bounds(model: nn.Module, bounds: Sequence[float] | None = None) -> Bounds:
    """The model's input range ``(low, high)``: ``bounds``, else ``model.input_bounds``.

    Parameters
    ----------
    model
        The classifier; its ``input_bounds`` attribute is used when ``bounds`` is ``None``.
    bounds
        ``(low, high)``, finite, ``low < high``; ``None`` for the model's own.

    Returns
    -------
    tuple of float
        ``(low, high)``; ``(0.0, 1.0)`` when neither is given.

    Examples
    --------
    >>> from cnnviz.models.cnn import CNN
    >>> input_bounds(CNN())
    (-1.0, 1.0)
    >>> input_bounds(CNN(), bounds=(0, 1))
    (0.0, 1.0)
    """
    chosen = bounds if bounds is not None else getattr(model, "input_bounds", DEFAULT_BOUNDS)
    low, high = (float(value) for value in chosen)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"bounds must be finite (low, high) with low < high, not {chosen!r}")
    return low, high


def pixel_scale(bounds: Bounds) -> float:
    """Model-space units per pixel unit: ``high - low`` (2.0 for ``[-1, 1]``).

    Examples
    --------
    An ``eps`` of 0.3 pixel units is 0.6 in the report's ``[-1, 1]`` input space:

    >>> 0.3 * pixel_scale((-1.0, 1.0))
    0.6
    """
    return bounds[1] - bounds[0]


def to_pixels(images: torch.Tensor, bounds: Bounds) -> torch.Tensor:
    """Model-space ``images`` as pixel intensities (0 black, 1 white; not clipped).

    Examples
    --------
    >>> to_pixels(torch.tensor([-1.0, 0.0, 1.0]), (-1.0, 1.0)).tolist()
    [0.0, 0.5, 1.0]
    """
    return (images - bounds[0]) / pixel_scale(bounds)


def from_pixels(pixels: torch.Tensor, bounds: Bounds) -> torch.Tensor:
    """Pixel intensities in ``[0, 1]`` as the model's input values (inverse of :func:`to_pixels`).

    Examples
    --------
    >>> from_pixels(torch.tensor([0.0, 0.5, 1.0]), (-1.0, 1.0)).tolist()
    [-1.0, 0.0, 1.0]
    """
    return bounds[0] + pixels * pixel_scale(bounds)


def model_placement(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of the model's first parameter or buffer (CPU float32 if none).

    Examples
    --------
    >>> model_placement(nn.Linear(2, 2).double())
    (device(type='cpu'), torch.float64)
    """
    tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
    if tensor is None:
        return torch.device("cpu"), torch.float32
    return tensor.device, tensor.dtype if tensor.is_floating_point() else torch.float32


def as_targets(target: int | Sequence[int] | torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """One class index per image: ``(N,)`` int64 on the images' device.

    Parameters
    ----------
    target
        One class for every image, or one per image.
    images
        ``(N, ...)``: gives ``N`` and the device.

    Examples
    --------
    >>> as_targets(3, torch.zeros(2, 1, 4, 4)).tolist()
    [3, 3]
    """
    n = images.shape[0]
    targets = torch.as_tensor(target, dtype=torch.int64, device=images.device).reshape(-1)
    if targets.numel() == 1:
        targets = targets.expand(n)
    if targets.shape != (n,):
        raise ValueError(f"need one target or {n} targets, got {targets.numel()}")
    return targets


def check_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    """``images`` as a floating ``(N, C, H, W)`` batch; one ``(C, H, W)`` image gets N = 1.

    Parameters
    ----------
    images
        ``(N, C, H, W)`` or ``(C, H, W)``, floating point, ``N >= 1``.
    name
        What the error messages call the tensor.

    Raises
    ------
    TypeError
        Not a floating-point tensor.
    ValueError
        Any other shape, or an empty batch.

    Examples
    --------
    >>> check_images(torch.zeros(1, 28, 28)).shape
    torch.Size([1, 1, 28, 28])
    >>> check_images(torch.zeros(28, 28), name="digits")
    Traceback (most recent call last):
    ...
    ValueError: digits must have shape (N, C, H, W), not (28, 28)
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor")
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, C, H, W), not {tuple(images.shape)}")
    return images


class Normalized(nn.Module):
    """A mean/std-normalised model (torchvision style) that takes ``[0, 1]`` images.

    Parameters
    ----------
    model
        Expects ``(images - mean) / std`` per channel.
    mean, std
        One value per input channel (``std > 0``).

    Examples
    --------
    >>> net = Normalized(nn.Sequential(nn.Flatten(), nn.Linear(3, 2)), [0.5] * 3, [0.25] * 3)
    >>> input_bounds(net)
    (0.0, 1.0)
    >>> class_scores(net, torch.rand(4, 3, 1, 1)).shape
    torch.Size([4, 2])
    """

    input_bounds: Bounds = (0.0, 1.0)

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if len(mean) != len(std) or min(std) <= 0:
            raise ValueError("mean and std need one value per channel, and std > 0")
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32)[:, None, None])
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32)[:, None, None])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class scores of ``[0, 1]`` images ``(N, C, H, W)``."""
        return self.model((images - self.mean) / self.std)
