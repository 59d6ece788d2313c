"""What the layers hold: convolution filters (R9) and feature maps (R10)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.model import CNN, eval_mode

#: Layers whose outputs :func:`activations` can capture, in forward order.
ACTIVATION_LAYERS = ("conv1", "relu1", "pool1", "conv2", "conv2_bn", "relu2", "pool2")


@dataclass(frozen=True)
class Filters:
    """The kernels of one convolution layer, ready to show.

    Attributes
    ----------
    weights
        ``float32 (out_channels, in_channels, kh, kw)``: (32, 1, 3, 3) for conv1,
        (32, 32, 3, 3) for conv2.
    limit
        ``max |w|`` over the whole layer. Show every kernel of the layer with the
        same diverging colour scale ``[-limit, limit]`` so that sign and size can be
        compared across kernels (0 is the scale's neutral middle).
    """

    layer: str
    weights: np.ndarray
    limit: float


def conv_filters(model: CNN, layer: str = "conv1") -> Filters:
    """The weights of ``conv1`` or ``conv2`` with their shared symmetric colour limit."""
    module = dict(model.named_children()).get(layer)
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"{layer!r} is not a convolution layer of the CNN (conv1, conv2)")
    weights = module.weight.detach().cpu().numpy().astype(np.float32)
    return Filters(layer=layer, weights=weights, limit=float(np.abs(weights).max()))


def activations(
    model: CNN, x: torch.Tensor, layers: tuple[str, ...] = ("conv1", "conv2")
) -> dict[str, torch.Tensor]:
    """Feature maps of the named layers for a batch, captured with forward hooks.

    Parameters
    ----------
    model
        The CNN; run in eval mode (restored afterwards), without gradients.
    x
        ``(N, 1, 28, 28)`` inputs in [-1, 1].
    layers
        Any of ``conv1``, ``relu1``, ``pool1``, ``conv2``, ``conv2_bn``, ``relu2``,
        ``pool2`` (``ACTIVATION_LAYERS``).

    Returns
    -------
    dict
        Layer name -> ``(N, 32, H, W)`` tensor (H = W = 28 up to ``relu1``, 14 from
        ``pool1`` to ``relu2``, 7 at ``pool2``).

    Notes
    -----
    The hooks are removed before returning, also when the forward pass raises, and each
    records only the forward pass of the thread that registered it, so concurrent calls
    on a shared eval-mode model do not see each other's tensors.
    """
    unknown = [name for name in layers if name not in ACTIVATION_LAYERS]
    if unknown:
        raise ValueError(f"unknown layers {unknown}; choose from {ACTIVATION_LAYERS}")
    if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected inputs of shape (N, 1, 28, 28), got {tuple(x.shape)}")
    owner = threading.get_ident()
    captured: dict[str, torch.Tensor] = {}

    def recorder(name: str):
        def hook(_module, _inputs, output):
            if threading.get_ident() == owner:
                captured[name] = output.detach().clone()

        return hook

    modules = dict(model.named_children())
    handles = [modules[name].register_forward_hook(recorder(name)) for name in layers]
    try:
        with eval_mode(model), torch.no_grad():
            model.logits(x)
    finally:
        for handle in handles:
            handle.remove()
    return {name: captured[name] for name in layers}
