"""The dataset patches that excite a channel most: for each channel, the digits and where.

:func:`top_patches` searches images for the strongest unit of every channel of one of
the report's CNN's spatial layers and cuts its receptive field out of the digit, the
real-data counterpart of a grown channel image (:mod:`~cnnviz.visualise.features`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.core.batching import batch_indices
from cnnviz.core.classifier import input_bounds
from cnnviz.inspect.layers import activations


@dataclass(frozen=True)
class TopPatches:
    """The digits that excite each channel of a layer most, and where.

    Attributes
    ----------
    layer
        The layer searched.
    indices
        ``(C, K)`` positions in the searched images, strongest first.
    positions
        ``(C, K, 2)`` ``(row, col)`` of the strongest unit in the layer's map.
    values
        ``(C, K)`` the activation there.
    patches
        ``(C, K, P, P)`` the receptive field of that unit, cut from the digit (``P`` =
        3, 4, 8, 10 for conv1, pool1, conv2, pool2; background where it leaves the image).

    Examples
    --------
    >>> import cnnviz
    >>> digits = cnnviz.load_test_digits()
    >>> found = top_patches(cnnviz.pretrained(), digits.x[:100], "relu2", count=4)
    >>> found.indices.shape, found.patches.shape
    ((32, 4), (32, 4, 8, 8))
    """

    layer: str
    indices: np.ndarray
    positions: np.ndarray
    values: np.ndarray
    patches: np.ndarray


def top_patches(
    model: nn.Module,
    images: torch.Tensor,
    layer: str,
    *,
    count: int = 9,
    batch_size: int = 500,
) -> TopPatches:
    """For every channel of ``layer``, the ``count`` images that excite it most, and where.

    Each image counts once per channel, at its strongest position. Only the report's
    CNN's spatial layers (``conv1`` to ``pool2``) have the receptive fields cut here.

    Parameters
    ----------
    model
        The report's CNN.
    images
        ``(N, 1, 28, 28)`` digits in [-1, 1] (the test set, or the bundled sample).
    layer
        ``"conv1"``, ``"relu1"``, ``"pool1"``, ``"conv2"``, ``"conv2_bn"``, ``"relu2"``
        or ``"pool2"``.
    count
        Images per channel (at most ``N``).
    batch_size
        Images per forward pass (bounds memory).

    Returns
    -------
    TopPatches

    Examples
    --------
    >>> import cnnviz
    >>> found = top_patches(cnnviz.pretrained(), cnnviz.load_test_digits().x[:20], "pool2", count=2)
    >>> found.patches.shape, bool((found.values[:, 0] >= found.values[:, 1]).all())
    ((32, 2, 10, 10), True)
    """
    from cnnviz.inspect.neuron import receptive_field

    count = min(count, len(images))
    best_values, best_where = [], []
    for idx in batch_indices(len(images), batch_size):
        maps = activations(model, images[idx], layer)[layer].float().cpu()
        flat = maps.flatten(2)  # (B, C, H*W)
        value, where = flat.max(2)
        best_values.append(value)
        best_where.append(where)
    values = torch.cat(best_values).t()  # (C, N)
    where = torch.cat(best_where).t()
    top_values, top_indices = values.topk(count, dim=1)
    width = maps.shape[-1]
    flat_positions = where.gather(1, top_indices)
    positions = torch.stack([flat_positions // width, flat_positions % width], -1)
    top, bottom, _, _ = receptive_field(layer, width // 2, width // 2)
    size = bottom - top  # the field of an interior unit
    background = input_bounds(model)[0]
    padded = F.pad(images.cpu(), (size, size, size, size), value=background)
    patches = np.empty((values.shape[0], count, size, size), dtype=np.float32)
    for channel in range(values.shape[0]):
        for rank in range(count):
            row, col = positions[channel, rank].tolist()
            top, _, left, _ = receptive_field(layer, row, col, clip=False)
            image = padded[top_indices[channel, rank], 0]
            patches[channel, rank] = image[
                top + size : top + 2 * size, left + size : left + 2 * size
            ].numpy()
    return TopPatches(
        layer=layer,
        indices=top_indices.numpy(),
        positions=positions.numpy(),
        values=top_values.numpy(),
        patches=patches,
    )
