"""The attack step's gradient for the report's CNN, written out by hand: fast and exact.

An attack step needs the scores of a batch and the gradient of a loss with respect to
the *input* only. Autograd computes it through general kernels: a 32-channel 28x28 map
after conv1 that max pooling reads, its backward writes (mostly zeros) and conv1's
backward reads again, ReLU on maps four times larger than needed, and layouts that suit
the weight gradients it is not asked for. :func:`cnn_loss_gradient`
computes the same numbers in fp32, but:

* the first layer (conv1, ReLU, pooling) and its input gradient fused into two kernels
  (:mod:`cnnviz.fast.conv1_pool`) that never make the 28x28 map;
* channels-last maps after it, pooled by torch's own 2x2 max-pooling kernel and
  unpooled by its backward (so ties route the gradient to the same pixel as autograd);
* ReLU after pooling (max and ReLU commute), on a quarter of the values;
* the backward pass of every other layer as one kernel call (matrix product,
  convolution backward, masked product), with no graph and no weight gradient.

It applies to :class:`~cnnviz.models.cnn.CNN` itself (not subclasses, which may change
``logits``) in eval mode, on the CPU; :func:`cnnviz.attacks.pgd.pgd` and
:func:`cnnviz.attacks.fgsm.fgsm` find it through :func:`cnnviz.fast.paths.for_model` and
every other model (or device) goes through autograd.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.fast.conv1_pool import conv1_relu_pool, conv1_relu_pool_input_gradient
from cnnviz.models.cnn import CNN, IMAGE_SIZE

_CHANNELS_LAST = torch.channels_last


def supports(model: nn.Module, images: torch.Tensor) -> bool:
    """Whether :func:`cnn_loss_gradient` serves ``model`` on ``images``.

    Examples
    --------
    >>> digits = torch.zeros(2, 1, 28, 28)
    >>> supports(CNN().eval(), digits), supports(CNN().train(), digits)
    (True, False)
    """
    return (
        type(model) is CNN
        and images.device.type == model.conv1.weight.device.type == "cpu"
        and not any(module.training for module in model.modules())
        and images.dtype == torch.float32
        and tuple(images.shape[1:]) == (1, IMAGE_SIZE, IMAGE_SIZE)
        and model.conv1.weight.dtype == torch.float32
    )


def _pool(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """2x2 max pooling of channels-last ``(N, C, H, W)`` maps, with the winners' indices."""
    return F.max_pool2d(maps, 2, return_indices=True)


def _unpool(gradient: torch.Tensor, maps: torch.Tensor, winners: torch.Tensor) -> torch.Tensor:
    """The gradient of ``_pool`` (torch's kernel): each window's to its winner."""
    return torch.ops.aten.max_pool2d_with_indices_backward(
        gradient.contiguous(memory_format=_CHANNELS_LAST),
        maps,
        [2, 2],
        [2, 2],
        [0, 0],
        [1, 1],
        False,
        winners,
    )


class _Forward(NamedTuple):
    """The maps of one forward pass that the backward pass reads (channels-last)."""

    hidden1: torch.Tensor  # (N, 32, 14, 14), conv1 -> ReLU -> pool
    winners1: torch.Tensor  # (N, 14, 14, 32) uint8, see conv1_relu_pool
    conv2: torch.Tensor  # (N, 32, 14, 14), after conv2_bn
    pooled2: torch.Tensor  # (N, 32, 7, 7), before ReLU
    winners2: torch.Tensor
    hidden2: torch.Tensor  # ReLU of pooled2, contiguous in fc1's order
    fc1: torch.Tensor  # (N, 500), after fc1_bn
    scores: torch.Tensor  # (N, K)


@torch.no_grad()
def _forward(model: CNN, images: torch.Tensor) -> _Forward:
    """The eval-mode forward pass of ``model`` on ``(N, 1, 28, 28)`` float32 images."""
    hidden1, winners1 = conv1_relu_pool(model.conv1.weight, model.conv1.bias, images)
    conv2 = F.conv2d(hidden1, model.conv2.weight, model.conv2.bias, padding=1)
    conv2 = _batch_norm(model.conv2_bn, conv2)
    pooled2, winners2 = _pool(conv2)
    hidden2 = pooled2.clamp_min(0).contiguous()
    fc1 = _batch_norm(model.fc1_bn, model.fc1(hidden2.flatten(1)))
    scores = model.fc2(fc1.clamp_min(0))
    return _Forward(hidden1, winners1, conv2, pooled2, winners2, hidden2, fc1, scores)


def cnn_scores(model: CNN, images: torch.Tensor) -> torch.Tensor:
    """``model.logits(images)`` without autograd (models :func:`supports`).

    Examples
    --------
    >>> model, images = CNN().eval(), torch.rand(3, 1, 28, 28) * 2 - 1
    >>> torch.allclose(cnn_scores(model, images), model.logits(images), atol=1e-6)
    True
    """
    return _forward(model, images).scores


def cnn_loss_gradient(
    model: CNN, images: torch.Tensor, goal: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores and input gradient of the summed cross-entropy towards ``goal``, by hand.

    Parameters
    ----------
    model
        The report's CNN in eval mode (see :func:`supports`).
    images
        ``(N, 1, 28, 28)`` float32 inputs in the model's space.
    goal
        ``(N,)`` int64 classes of the cross-entropy.

    Returns
    -------
    scores, gradient
        ``(N, K)`` logits and ``(N, 1, 28, 28)`` d(sum of cross-entropies)/d``images``,
        equal to autograd's to float rounding.

    Examples
    --------
    >>> model = CNN(batchnorm=True).eval()
    >>> images, goal = torch.rand(4, 1, 28, 28) * 2 - 1, torch.tensor([0, 3, 5, 9])
    >>> scores, gradient = cnn_loss_gradient(model, images, goal)
    >>> x = images.clone().requires_grad_(True)
    >>> F.cross_entropy(model.logits(x), goal, reduction="sum").backward()
    >>> same_scores = torch.allclose(scores, model.logits(images), atol=1e-5)
    >>> torch.allclose(gradient, x.grad, atol=1e-6), same_scores
    (True, True)
    """
    maps = _forward(model, images)
    with torch.no_grad():
        grad = F.softmax(maps.scores, 1)
        grad[torch.arange(len(goal), device=goal.device), goal] -= 1.0
        grad = _batch_norm_gradient(model.fc1_bn, _relu_gradient(grad @ model.fc2.weight, maps.fc1))
        grad = _relu_gradient((grad @ model.fc1.weight).view(maps.hidden2.shape), maps.hidden2)
        grad = _unpool(grad, maps.conv2, maps.winners2)
        grad = torch.ops.aten.convolution_backward(
            _batch_norm_gradient(model.conv2_bn, grad),
            maps.hidden1,
            model.conv2.weight,
            None,  # bias sizes: no bias gradient
            [1, 1],  # stride
            [1, 1],  # padding
            [1, 1],  # dilation
            False,  # not transposed
            [0, 0],  # output padding
            1,  # groups
            [True, False, False],  # the input's gradient only
        )[0]
        grad = conv1_relu_pool_input_gradient(model.conv1.weight, grad, maps.hidden1, maps.winners1)
    return maps.scores, grad


def _relu_gradient(gradient: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``gradient`` where ``values`` (before or after a ReLU) is positive, else 0: one pass."""
    return torch.ops.aten.threshold_backward(gradient, values, 0.0)


def _batch_norm(layer: nn.Module, values: torch.Tensor) -> torch.Tensor:
    """Eval-mode batch norm (``layer`` may be an ``Identity``)."""
    if not isinstance(layer, nn.modules.batchnorm._BatchNorm):
        return values
    return F.batch_norm(
        values,
        layer.running_mean,
        layer.running_var,
        layer.weight,
        layer.bias,
        False,
        0.0,
        layer.eps,
    )


def _batch_norm_gradient(layer: nn.Module, gradient: torch.Tensor) -> torch.Tensor:
    """The gradient through eval-mode batch norm: times ``weight / sqrt(var + eps)``."""
    if not isinstance(layer, nn.modules.batchnorm._BatchNorm):
        return gradient
    scale = layer.weight * (layer.running_var + layer.eps).rsqrt()
    shape = (1, -1, 1, 1) if gradient.ndim == 4 else (1, -1)
    return gradient * scale.view(shape)
