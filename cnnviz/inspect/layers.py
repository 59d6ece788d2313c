"""What the layers hold: convolution filters (R9) and feature maps (R10), for any model.

:func:`feature_layers` lists a model's layers whose outputs are feature maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.core.classifier import check_images, class_scores, model_placement
from cnnviz.core.hooks import _recorded_outputs, eval_mode, recording
from cnnviz.models.cnn import CNN

#: What :func:`activations` captures of the report's CNN when no layers are named.
_CNN_DEFAULT_LAYERS = ("conv1", "conv2")


@dataclass(frozen=True)
class Filters:
    """The kernels of one convolution layer, ready to show.

    Attributes
    ----------
    layer
        The layer's name in ``model.named_modules()``.
    weights
        ``float32 (out_channels, in_channels / groups, kh, kw)``: (32, 1, 3, 3) for the
        report's conv1, (32, 32, 3, 3) for its conv2.
    limit
        ``max |w|`` over the whole layer. Show every kernel of the layer with the
        same diverging colour scale ``[-limit, limit]`` so that sign and size can be
        compared across kernels (0 is the scale's neutral middle).

    Examples
    --------
    >>> import cnnviz
    >>> filters = conv_filters(cnnviz.pretrained(), "conv2")
    >>> filters.layer, filters.weights.shape, bool(abs(filters.weights).max() == filters.limit)
    ('conv2', (32, 32, 3, 3), True)
    """

    layer: str
    weights: np.ndarray
    limit: float


def conv_filters(model: nn.Module, layer: str = "conv1") -> Filters:
    """The kernels of one ``Conv2d`` with their shared symmetric colour limit.

    Parameters
    ----------
    model
        Any model; left untouched (the weights are copied to the CPU as float32).
    layer
        The convolution's name in ``model.named_modules()``, nested ones too
        (``"blocks.0.conv"``).

    Returns
    -------
    Filters
        ``weights`` ``(out_channels, in_channels / groups, kh, kw)`` and ``limit >= 0``.

    Raises
    ------
    ValueError
        If ``layer`` is not a ``Conv2d`` of the model (the message lists those that are).

    Examples
    --------
    >>> conv_filters(CNN(), "conv2").weights.shape
    (32, 32, 3, 3)
    """
    convolutions = {
        name: module for name, module in model.named_modules() if isinstance(module, nn.Conv2d)
    }
    if layer not in convolutions:
        raise ValueError(
            f"{layer!r} is not a convolution layer of the model "
            f"(its Conv2d layers: {', '.join(convolutions) or 'none'})"
        )
    weights = convolutions[layer].weight.detach().float().cpu().numpy()
    return Filters(layer=layer, weights=weights, limit=float(np.abs(weights).max()))


def activations(
    model: nn.Module,
    images: torch.Tensor,
    layers: str | Sequence[str] | None = None,
) -> dict[str, torch.Tensor]:
    """Outputs of the named layers for a batch, captured with forward hooks.

    Parameters
    ----------
    model
        A classifier (see :mod:`cnnviz.core.classifier`); run once in eval mode (its mode is
        restored afterwards), without gradients.
    images
        ``(N, C, H, W)`` inputs in the model's input range (one ``(C, H, W)`` image is
        a batch of one), on the model's device.
    layers
        One name or several from ``model.named_modules()``, nested ones too
        (``"blocks.0.conv"``, ``"block.0"``). ``None``: ``("conv1", "conv2")`` for the
        report's :class:`~cnnviz.models.cnn.CNN`; required for any other model.

    Returns
    -------
    dict
        Layer name -> its output, a detached tensor on the images' device, in the
        order asked. For the report's CNN ``(N, 32, H, W)``, H = W = 28 up to
        ``relu1``, 14 from ``pool1`` to ``relu2``, 7 at ``pool2``. A layer called more
        than once in a forward pass gives its first call.

    Raises
    ------
    ValueError
        For a name that is not a module of the model (the message lists valid names),
        a layer the forward pass does not call, or missing ``layers``.

    Notes
    -----
    The hooks are removed before returning, also when the forward pass raises, and each
    records only the forward pass of the thread that registered it, so concurrent calls
    on a shared eval-mode model do not see each other's tensors.

    Examples
    --------
    >>> activations(CNN(), torch.zeros(1, 1, 28, 28), ["conv1"])["conv1"].shape
    torch.Size([1, 32, 28, 28])
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
    >>> activations(net, torch.rand(2, 3, 8, 8), "1")["1"].shape
    torch.Size([2, 4, 6, 6])
    """
    names = _layer_names(model, layers)
    calls = _recorded_outputs(model, check_images(images), names)
    missing = [name for name in names if name not in calls]
    if missing:
        raise ValueError(f"layers {missing} did not run in the model's forward pass")
    return {name: calls[name].output for name in names}


def _layer_names(model: nn.Module, layers: str | Sequence[str] | None) -> tuple[str, ...]:
    """``layers`` as a tuple of names (the CNN's default for ``None``)."""
    if layers is None:
        if not isinstance(model, CNN):
            raise ValueError(
                f"name the layers to capture for {type(model).__name__} (any names from "
                "model.named_modules()); only the report's CNN has a default"
            )
        layers = _CNN_DEFAULT_LAYERS
    names = (layers,) if isinstance(layers, str) else tuple(layers)
    if not names:
        raise ValueError("name at least one layer")
    return names


class NoFeatureMaps(ValueError):
    """A model none of whose layers outputs feature maps (a multilayer perceptron).

    Examples
    --------
    >>> feature_layers(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), (1, 2, 2))
    Traceback (most recent call last):
    ...
    cnnviz.inspect.layers.NoFeatureMaps: Sequential has no layer whose output is a feature map
    """


def feature_layers(model: nn.Module, input_shape: Sequence[int]) -> dict[str, tuple[int, int, int]]:
    """The layers whose output is a stack of feature maps, with its shape, in forward order.

    Parameters
    ----------
    model
        Any classifier; run once on a zero image in eval mode (its mode is restored), its
        weights untouched.
    input_shape
        ``(C, H, W)`` of one input image.

    Returns
    -------
    dict
        Name in ``model.named_modules()`` (nested ones too, ``"blocks.0.conv"``) -> the
        ``(C, H, W)`` of its output, for every module (convolution, batch norm, ReLU,
        pooling, a custom block) whose output for one image is such a 3-D map, in the
        order their forward calls end. ``nn.Sequential`` containers are left out (their
        output is their last layer's); functional steps (``F.relu``) have no name, so
        no entry.

    Raises
    ------
    ValueError
        If ``input_shape`` is not ``(C, H, W)``; :class:`NoFeatureMaps` if the model
        yields no feature map.

    Examples
    --------
    >>> list(feature_layers(CNN(), (1, 28, 28)))
    ['conv1', 'relu1', 'pool1', 'conv2', 'conv2_bn', 'relu2', 'pool2']
    >>> net = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), nn.Flatten(),
    ...                     nn.Linear(144, 2))
    >>> feature_layers(net, (3, 8, 8))
    {'0.0': (4, 6, 6), '0.1': (4, 6, 6)}
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), not {tuple(input_shape)}")
    names = [
        name
        for name, module in model.named_modules()
        if name and not isinstance(module, nn.Sequential | nn.ModuleList | nn.ModuleDict)
    ]
    device, dtype = model_placement(model)
    with recording(model, names) as calls, eval_mode(model), torch.no_grad():
        class_scores(model, torch.zeros(1, *input_shape, device=device, dtype=dtype))
    shapes = {
        name: tuple(call.output.shape[1:])
        for name, call in calls.items()
        if isinstance(call.output, torch.Tensor) and call.output.ndim == 4
    }
    if not shapes:
        raise NoFeatureMaps(f"{type(model).__name__} has no layer whose output is a feature map")
    return shapes
