"""The report's CNN (R2): two 3x3 convolutions with max pooling, then two fully connected
layers, with or without batch norm."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.core.hooks import eval_mode

#: Side of the CNN's square input, ``(N, 1, 28, 28)`` digits.
IMAGE_SIZE = 28

#: ``(name, kernel, stride, padding)`` of the CNN's spatial layers, in forward order.
SPATIAL_LAYERS = (("conv1", 3, 1, 1), ("pool1", 2, 2, 0), ("conv2", 3, 1, 1), ("pool2", 2, 2, 0))

#: Layers that keep the geometry of the spatial layer before them (ReLU, batch norm).
SAME_GEOMETRY = {"relu1": "conv1", "conv2_bn": "conv2", "relu2": "conv2"}

#: The layers whose outputs are feature maps, in forward order (``conv2_bn`` only with
#: batch norm).
ACTIVATION_LAYERS = ("conv1", "relu1", "pool1", "conv2", "conv2_bn", "relu2", "pool2")


def _map_sizes() -> dict[str, int]:
    """Side of each feature-map layer's square maps, from :data:`SPATIAL_LAYERS`."""
    sizes, side = {}, IMAGE_SIZE
    for name, kernel, stride, padding in SPATIAL_LAYERS:
        side = (side + 2 * padding - kernel) // stride + 1
        sizes[name] = side
    return {name: sizes[SAME_GEOMETRY.get(name, name)] for name in ACTIVATION_LAYERS}


#: Side of each feature-map layer's square maps (28 before the first pooling, 14, then 7).
MAP_SIZE = _map_sizes()


class CNN(nn.Module):
    """The assignment's MNIST network, with or without batch normalisation.

    ``conv1`` (1->32, 3x3, pad 1) -> ReLU -> maxpool 2 -> ``conv2`` (32->32, 3x3, pad 1)
    -> [``conv2_bn``] -> ReLU -> maxpool 2 -> flatten (1568) -> ``fc1`` (1568->500) ->
    [``fc1_bn``] -> ReLU -> ``fc2`` (500->10).

    Every step is a named submodule (``relu1``, ``pool1``, ...) so forward hooks can
    capture any intermediate activation.

    Parameters
    ----------
    batchnorm
        Insert ``BatchNorm2d`` after ``conv2`` and ``BatchNorm1d`` after ``fc1``.
    num_classes
        Size of the output layer (10 for MNIST and its look-alikes).

    Notes
    -----
    Input: ``float32 (N, 1, 28, 28)`` in the model's space [-1, 1]. :meth:`forward`
    returns log-probabilities ``(N, num_classes)``, :meth:`logits` the pre-softmax scores.

    Examples
    --------
    >>> CNN(batchnorm=True).eval().logits(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    input_bounds = (-1.0, 1.0)  # black and white pixels (see cnnviz.core.classifier)

    def __init__(self, batchnorm: bool = False, num_classes: int = 10) -> None:
        super().__init__()
        self.batchnorm = batchnorm
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 32, kernel_size=3, padding=1)
        self.conv2_bn = nn.BatchNorm2d(32) if batchnorm else nn.Identity()
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(32 * 7 * 7, 500)
        self.fc1_bn = nn.BatchNorm1d(500) if batchnorm else nn.Identity()
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(500, num_classes)

    @property
    def variant(self) -> str:
        """``"bn"`` or ``"nobn"``."""
        return "bn" if self.batchnorm else "nobn"

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-softmax class scores ``(N, num_classes)`` for inputs ``(N, 1, 28, 28)``."""
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2_bn(self.conv2(x))))
        x = self.relu3(self.fc1_bn(self.fc1(self.flatten(x))))
        return self.fc2(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities ``(N, num_classes)``, as the report's ``log_softmax`` output."""
        return F.log_softmax(self.logits(x), dim=1)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(N, num_classes)`` in [0, 1], in eval mode, no gradients.

        The model's train/eval mode is restored afterwards.
        """
        with eval_mode(self):
            return F.softmax(self.logits(x), dim=1)
