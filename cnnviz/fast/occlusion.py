"""Occlusion scores of the report's CNN, computed incrementally: exact and several times faster.

:func:`cnnviz.inspect.occlusion.occlusion` puts one occluded copy of the image per window
through the whole model. On :class:`~cnnviz.models.cnn.CNN` a window changes only a small
block of each feature map, so :func:`occluded_logits` computes the unoccluded maps once and,
per window, only the blocks the window changes: a full 5x5, stride-1 map of a
``1x28x28`` digit (576 windows) then costs about as much as forty single-image forward
passes. The numbers are those of full forward passes up to float summation order.

The block arithmetic follows the CNN's geometry (:data:`~cnnviz.models.cnn.SPATIAL_LAYERS`:
3x3 convolutions with padding 1, each followed by ReLU and 2x2 max pooling; map sides
:data:`~cnnviz.models.cnn.MAP_SIZE`). The general algorithm finds this path through
:func:`cnnviz.fast.paths.for_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from cnnviz.models.cnn import CNN, IMAGE_SIZE, MAP_SIZE, SPATIAL_LAYERS

_POOL1_SIZE, _POOL2_SIZE = MAP_SIZE["pool1"], MAP_SIZE["pool2"]


def supports(
    model: CNN, images: torch.Tensor, *, patch: tuple[int, int], stride: tuple[int, int]
) -> bool:
    """Whether :func:`occluded_logits` serves these windows: one 1x28x28 image, square windows.

    Parameters
    ----------
    model
        The report's CNN (or a subclass keeping its ``logits``, see
        :func:`cnnviz.fast.paths.for_model`).
    images
        The ``(1, C, H, W)`` image batch being occluded.
    patch, stride
        ``(height, width)`` of the window and of its step.

    Examples
    --------
    >>> digit = torch.zeros(1, 1, 28, 28)
    >>> supports(CNN(), digit, patch=(5, 5), stride=(1, 1))
    True
    >>> supports(CNN(), digit, patch=(4, 5), stride=(1, 1))
    False
    """
    return (
        tuple(images.shape) == (1, 1, IMAGE_SIZE, IMAGE_SIZE)
        and patch[0] == patch[1]
        and stride[0] == stride[1]
    )


def _changed_spans(
    starts: torch.Tensor, patch: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows of ``pool1`` and ``pool2`` a window can change, along one axis.

    Walks :data:`~cnnviz.models.cnn.SPATIAL_LAYERS`: a layer's output row ``o`` reads input
    rows ``o * stride - padding + [0, kernel)``, so a change in input rows ``[lo, hi)``
    reaches output rows ``[ceil((lo + padding - kernel + 1) / stride),
    floor((hi - 1 + padding) / stride) + 1)``, clipped to the map. For the CNN: conv1
    rows one further on each side of the patch, the pool1 rows holding those, conv2 rows
    one further again, and the pool2 rows holding those.

    Returns
    -------
    tuple of torch.Tensor
        ``(pool1_lo, pool1_hi, pool2_lo, pool2_hi)``, each ``(n,)`` int64: half-open
        spans ``[lo, hi)`` per window start.
    """
    lo, hi = starts, (starts + patch).clamp(max=IMAGE_SIZE)
    spans = {}
    for name, kernel, step, padding in SPATIAL_LAYERS:
        lo = (-((kernel - 1 - padding - lo) // step)).clamp(min=0)  # ceil division
        hi = ((hi - 1 + padding) // step + 1).clamp(max=MAP_SIZE[name])
        spans[name] = lo, hi
    return (*spans["pool1"], *spans["pool2"])


def _max_pool_channels_last(maps: torch.Tensor) -> torch.Tensor:
    """2x2 max pooling of ``(N, H, W, C)`` maps (``H``, ``W`` even) -> ``(N, H/2, W/2, C)``.

    Same values as ``nn.MaxPool2d(2)``, without the argmax indices it computes.
    """
    return torch.maximum(
        torch.maximum(maps[:, 0::2, 0::2], maps[:, 0::2, 1::2]),
        torch.maximum(maps[:, 1::2, 0::2], maps[:, 1::2, 1::2]),
    )


@dataclass(frozen=True)
class _BlockPlan:
    """Where each window's change lives; windows sorted by their ``pool2`` block.

    Attributes
    ----------
    order
        ``(B,)`` window indices (``i * n + j``) in processing order.
    top, left
        ``(B,)`` window corners in image pixels, in that order.
    row1, col1
        ``(B,)`` corner of the recomputed ``pool1`` block (side ``size1``), which holds
        every ``pool1`` value the window changes.
    row2, col2
        ``(B,)`` corner of the ``pool2`` block (side ``size2``) holding every change.
    blocks, bounds
        The distinct ``pool2`` corners ``(row, col)`` in order; block ``k``'s windows
        are positions ``bounds[k]:bounds[k + 1]``.
    """

    order: torch.Tensor
    top: torch.Tensor
    left: torch.Tensor
    row1: torch.Tensor
    col1: torch.Tensor
    row2: torch.Tensor
    col2: torch.Tensor
    blocks: list[tuple[int, int]]
    bounds: list[int]
    size1: int
    size2: int


def _plan_blocks(starts: torch.Tensor, patch: int) -> _BlockPlan:
    """The ``_BlockPlan`` of the windows with corners ``starts x starts``."""
    n = len(starts)
    pool1_lo, pool1_hi, pool2_lo, pool2_hi = _changed_spans(starts, patch)
    size1 = int((pool1_hi - pool1_lo).max())
    size2 = int((pool2_hi - pool2_lo).max())
    block2 = pool2_lo.clamp(max=_POOL2_SIZE - size2)
    # the pool1 block lies in block2's receptive field: pool1 rows [2b - 1, 2b + 2 size2 + 1)
    block1 = torch.minimum(pool1_lo, (2 * block2 + 2 * size2 + 1).clamp(max=_POOL1_SIZE) - size1)
    key = block2.repeat_interleave(n) * _POOL2_SIZE + block2.repeat(n)
    order = torch.argsort(key, stable=True)
    keys, counts = torch.unique_consecutive(key[order], return_counts=True)
    return _BlockPlan(
        order=order,
        top=starts.repeat_interleave(n)[order],
        left=starts.repeat(n)[order],
        row1=block1.repeat_interleave(n)[order],
        col1=block1.repeat(n)[order],
        row2=key[order] // _POOL2_SIZE,
        col2=key[order] % _POOL2_SIZE,
        blocks=[divmod(k, _POOL2_SIZE) for k in keys.tolist()],
        bounds=[0, *counts.cumsum(0).tolist()],
        size1=size1,
        size2=size2,
    )


@dataclass(frozen=True)
class _Unoccluded:
    """The unoccluded image's maps, channels last, as :func:`occluded_logits` needs them.

    ``pool1`` ``(14, 14, C)``; ``conv2`` ``(18, 18, C)`` before ``conv2_bn``, with two
    rows and columns of zeros around it; ``pool2`` ``(7, 7, C)``; ``hidden`` ``(1, 500)``
    before ``fc1_bn``; ``fc1_rows`` ``(7, 7 * C, 500)``: ``fc1``'s weight, one
    ``(column x channel, unit)`` matrix per ``pool2`` row (``C``: conv2's 32 channels).
    """

    pool1: torch.Tensor
    conv2: torch.Tensor
    pool2: torch.Tensor
    hidden: torch.Tensor
    fc1_rows: torch.Tensor


def _unoccluded_maps(model: CNN, image: torch.Tensor) -> _Unoccluded:
    """One forward pass of ``image`` ``(1, 28, 28)``, keeping what occlusion reuses."""
    pool1 = model.relu1(model.pool1(model.conv1(image[None])))
    conv2 = model.conv2(pool1)
    pool2 = model.relu2(model.pool2(model.conv2_bn(conv2)))
    channels = model.conv2.out_channels
    weight = model.fc1.weight.reshape(-1, channels, _POOL2_SIZE, _POOL2_SIZE).permute(2, 3, 1, 0)
    return _Unoccluded(
        pool1=pool1[0].permute(1, 2, 0),
        conv2=F.pad(conv2[0], (2, 2, 2, 2)).permute(1, 2, 0),
        pool2=pool2[0].permute(1, 2, 0),
        hidden=model.fc1(pool2.reshape(1, -1)),
        fc1_rows=weight.reshape(_POOL2_SIZE, _POOL2_SIZE * channels, -1),
    )


def _covered(pixels: torch.Tensor, starts: torch.Tensor, patch: int) -> torch.Tensor:
    """``(b, m)`` bool: pixel ``pixels[i, j]`` is in the image and in window ``i``'s patch."""
    in_patch = (pixels >= starts[:, None]) & (pixels < starts[:, None] + patch)
    return in_patch & (pixels >= 0) & (pixels < IMAGE_SIZE)


def _occluded_pool1(
    model: CNN, image: torch.Tensor, plan: _BlockPlan, here: slice, patch: int, value: float
) -> torch.Tensor:
    """The recomputed ``pool1`` blocks of windows ``here`` (positions in ``plan``).

    Returns
    -------
    torch.Tensor
        ``(b, size1, size1, C)``, channels last; block row ``r`` needs image rows
        ``[2r - 1, 2r + 2 size1 + 1)``, zero outside the image as ``conv1`` pads.
    """
    top, left = plan.top[here], plan.left[here]
    pixels = torch.arange(2 * plan.size1 + 2, device=image.device)
    rows = 2 * plan.row1[here, None] - 1 + pixels
    cols = 2 * plan.col1[here, None] - 1 + pixels
    crops = F.pad(image[0], (1, 1, 1, 1))[(rows + 1)[:, :, None], (cols + 1)[:, None, :]]
    covered = _covered(rows, top, patch)[:, :, None] & _covered(cols, left, patch)[:, None, :]
    crops = torch.where(covered, value, crops)
    windows3x3 = crops.unfold(1, 3, 1).unfold(2, 3, 1).reshape(-1, 9)
    conv1 = torch.addmm(model.conv1.bias, windows3x3, model.conv1.weight.reshape(-1, 9).T)
    conv1 = conv1.reshape(len(top), 2 * plan.size1, 2 * plan.size1, -1)
    return model.relu1(_max_pool_channels_last(conv1))  # ReLU and max commute


def _occluded_pool2(
    model: CNN, base: _Unoccluded, plan: _BlockPlan, first: int, last: int, new_pool1: torch.Tensor
) -> torch.Tensor:
    """The ``pool2`` blocks of the windows of blocks ``first:last``, channels last.

    ``conv2`` is linear, so its change is ``conv2`` of the ``pool1`` change: for a
    ``pool1`` block at row ``a``, conv2 rows ``[a - 1, a + size1 + 1)`` (a padding-2
    convolution of the block). That is added to the unoccluded ``conv2`` around the
    ``pool2`` block (rows ``[2b - 2, 2b + 2 size2 + 2)``), which is then pooled.

    Returns
    -------
    torch.Tensor
        ``(b, size2, size2, C)``.
    """
    size1, size2 = plan.size1, plan.size2
    lo, hi = plan.bounds[first], plan.bounds[last]
    here = slice(lo, hi)
    device = new_pool1.device
    within = torch.arange(size1, device=device)
    old_pool1 = base.pool1[
        plan.row1[here, None, None] + within[:, None], plan.col1[here, None, None] + within
    ]
    change = F.conv2d((new_pool1 - old_pool1).permute(0, 3, 1, 2), model.conv2.weight, padding=2)
    side = 2 * size2 + 4
    bounds = torch.tensor(plan.bounds[first : last + 1], device=device)
    canvas = torch.stack(
        [base.conv2[2 * r : 2 * r + side, 2 * c : 2 * c + side] for r, c in plan.blocks[first:last]]
    ).repeat_interleave(bounds.diff(), dim=0, output_size=hi - lo)
    spread = torch.arange(size1 + 2, device=device)
    cells = (
        torch.arange(hi - lo, device=device)[:, None, None],
        (plan.row1[here] + 1 - 2 * plan.row2[here])[:, None, None] + spread[:, None],
        (plan.col1[here] + 1 - 2 * plan.col2[here])[:, None, None] + spread,
    )  # distinct cells, so a gather and a put (index_put_'s accumulate is serial)
    canvas[cells] = canvas[cells] + change.permute(0, 2, 3, 1)
    conv2 = canvas[:, 2 : 2 + 2 * size2, 2 : 2 + 2 * size2]
    conv2 = model.conv2_bn(conv2.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    return model.relu2(_max_pool_channels_last(conv2))


@torch.no_grad()
def occluded_logits(
    model: CNN,
    images: torch.Tensor,
    *,
    starts: torch.Tensor,
    patch: int,
    value: float,
    chunk: int = 256,
) -> torch.Tensor:
    """Logits ``(n * n, K)`` of ``images`` ``(1, 1, 28, 28)`` occluded at every window.

    Window ``i * n + j`` has its top-left corner at ``(starts[i], starts[j])`` and is
    ``patch`` pixels square, filled with ``value``. A patch changes only a small block of
    each feature map (``_changed_spans``), so the unoccluded maps are computed once
    (``_unoccluded_maps``) and per window only:

    1. the changed ``pool1`` block, from a small crop of the occluded image
       (``_occluded_pool1``);
    2. a ``pool2`` block holding every change, from the change of ``conv2``
       (``_occluded_pool2``);
    3. ``fc1``'s input changes only in that block and ``fc1`` is linear, so the block's
       change times its rows of the weight is added to the unoccluded hidden layer.

    Windows are grouped by ``pool2`` block (``_plan_blocks``), so step 3 is one
    batched product per block, and processed in chunks of whole blocks of at most
    ``chunk`` windows (or one block, if it has more) to bound memory. Same arithmetic
    as full forward passes up to float summation order, with about a fifth of their
    work for 5x5 patches.

    Parameters
    ----------
    model
        The report's CNN (eval mode for batch norm's running statistics).
    images
        ``(1, 1, 28, 28)`` floating-point image in the model's space (see :func:`supports`).
    starts
        ``(n,)`` int64 window starts along each axis (the same on both).
    patch
        Side of the square window in pixels.
    value
        What the window is filled with.
    chunk
        At most this many windows are recomputed at once (bounds memory, not the result).

    Returns
    -------
    torch.Tensor
        ``(n * n, K)`` logits, row-major over the windows.

    Examples
    --------
    >>> model, digit = CNN().eval(), torch.rand(1, 1, 28, 28) * 2 - 1
    >>> starts = torch.arange(0, 24, 4)
    >>> ours = occluded_logits(model, digit, starts=starts, patch=5, value=0.0)
    >>> occluded = digit.repeat(36, 1, 1, 1)
    >>> for index, (top, left) in enumerate(torch.cartesian_prod(starts, starts).tolist()):
    ...     occluded[index, :, top : top + 5, left : left + 5] = 0.0
    >>> ours.shape, torch.allclose(ours, model.logits(occluded), atol=1e-5)
    (torch.Size([36, 10]), True)
    """
    image = images[0]
    plan = _plan_blocks(starts, patch)
    base = _unoccluded_maps(model, image)
    hidden = base.hidden.repeat(len(plan.order), 1)
    size2, bounds = plan.size2, plan.bounds
    channels = base.pool2.shape[-1]
    first = 0
    while first < len(plan.blocks):  # chunks of whole blocks
        last = first + 1
        while last < len(plan.blocks) and bounds[last + 1] - bounds[first] <= chunk:
            last += 1
        new_pool1 = _occluded_pool1(
            model, image, plan, slice(bounds[first], bounds[last]), patch, value
        )
        new_pool2 = _occluded_pool2(model, base, plan, first, last, new_pool1)
        for k in range(first, last):
            (r, c), lo, hi = plan.blocks[k], bounds[k], bounds[k + 1]
            delta = new_pool2[lo - bounds[first] : hi - bounds[first]]
            delta = delta - base.pool2[r : r + size2, c : c + size2]
            products = torch.bmm(
                delta.reshape(hi - lo, size2, -1).transpose(0, 1),
                base.fc1_rows[r : r + size2, channels * c : channels * (c + size2)],
            )
            hidden[lo:hi] += products.sum(0)
        first = last
    logits = model.fc2(model.relu3(model.fc1_bn(hidden)))
    return logits[torch.argsort(plan.order)]
