"""Occlusion (R11): slide a grey patch over an image and watch the class score.

Works on any classifier (:mod:`cnnviz.core.classifier`). One batched computation gives two
views:

* the report's **map**: the probability of the class with the patch at each position
  (Fig 12), indexed by the patch's top-left corner;
* a per-pixel **attribution** with exactly the semantics of Captum's
  ``Occlusion(forward).attribute(x, sliding_window_shapes=(C, ph, pw),
  strides=(C, sh, sw), baselines=value, target=t)``: for each window, the score drop
  ``score(x) - score(x occluded)``, averaged over all windows that cover each pixel
  (Captum repeats that ``(H, W)`` map on every channel).

Windows are placed as Captum places them: top-left corners at ``0, s, 2s, ...``,
``ceil((size - patch) / s) + 1`` per axis; when ``s`` does not divide ``size - patch``
the last window hangs over the edge and only its part inside the image is occluded.
Hence the stride may not exceed the patch (every pixel is covered), unless the patch
spans the whole axis (one window). A window covers every channel.

Two paths give the same numbers:

* the **generic** path: occluded copies of the image through full forward passes,
  ``batch_size`` copies at a time (Captum's ``perturbations_per_eval``);
* the **incremental** path, chosen automatically for the report's
  :class:`~cnnviz.models.cnn.CNN` on ``1x28x28`` images with square windows: only the part
  of each feature map that a window can change is recomputed
  (:func:`_occluded_logits`), so a full 5x5, stride-1 map (576 windows) costs about as
  much as forty single-image forward passes.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.core.classifier import check_images, class_scores, input_bounds
from cnnviz.core.hooks import eval_mode
from cnnviz.models.cnn import CNN

SCORES = ("probability", "log_probability", "logit")

Pair = tuple[int, int]


@dataclass(frozen=True)
class OcclusionResult:
    """Occlusion of one image for one class.

    Attributes
    ----------
    target
        The class watched.
    patch, stride
        ``(height, width)`` of the window and of its step, in pixels.
    score
        What ``attribution`` measures: ``"probability"``, ``"log_probability"`` or
        ``"logit"``.
    probability
        ``(ny, nx)`` probability of ``target`` (in [0, 1]) with the patch at window
        ``(i, j)``, whose top-left corner is ``(starts[0][i], starts[1][j])``.
    starts
        ``(row_starts, column_starts)``: ``(ny,)`` and ``(nx,)`` int64 window starts.
    base_probability
        Probability of ``target`` for the unoccluded image, in [0, 1].
    attribution
        ``(H, W)`` Captum-style attribution of ``score``: mean score drop over the
        windows covering each pixel (positive: occluding there lowers the score).

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(36, 3))
    >>> result = occlusion(net, torch.rand(1, 6, 6), 2, patch=2, stride=2, bounds=(0, 1))
    >>> result.probability.shape, result.starts[0].tolist(), result.attribution.shape
    (torch.Size([3, 3]), [0, 2, 4], torch.Size([6, 6]))
    """

    target: int
    patch: Pair
    stride: Pair
    score: str
    probability: torch.Tensor
    starts: tuple[torch.Tensor, torch.Tensor]
    base_probability: float
    attribution: torch.Tensor


def _pair(value: int | Sequence[int], name: str) -> Pair:
    """``value`` as ``(height, width)``: one int for both, or a pair of ints."""
    try:
        values = (operator.index(value),) * 2
    except TypeError:
        values = tuple(operator.index(v) for v in value)
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a (height, width) pair, not {value!r}")
    return values


def _window_starts(size: int, patch: int, stride: int, device: torch.device) -> torch.Tensor:
    """Captum's window start positions ``(n,)`` along one axis of length ``size``."""
    if not 1 <= patch <= size:
        raise ValueError(f"patch must be between 1 and the image size {size}, not {patch}")
    if stride < 1 or (stride > patch and patch < size):
        raise ValueError(f"stride must be between 1 and the patch size {patch}, not {stride}")
    count = -(-(size - patch) // stride) + 1  # ceil division
    return torch.arange(count, device=device) * stride


def _window_cover(starts: torch.Tensor, patch: int, size: int) -> torch.Tensor:
    """``(n, size)`` bool: True where window ``i`` (along one axis) covers pixel ``j``.

    Window ``(i, j)`` covers pixel ``(r, c)`` exactly when ``rows[i, r] & cols[j, c]``.
    """
    pixels = torch.arange(size, device=starts.device)
    return (pixels >= starts[:, None]) & (pixels < starts[:, None] + patch)


def _occluded_scores(
    model: nn.Module,
    image: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    value: float,
    batch_size: int,
) -> torch.Tensor:
    """Class scores ``(ny * nx, K)`` of ``image`` ``(1, C, H, W)`` occluded at every window.

    ``rows`` ``(ny, H)`` and ``cols`` ``(nx, W)`` are the windows' covers
    (:func:`_window_cover`); window ``i * nx + j`` is ``rows[i] x cols[j]`` on every
    channel. At most ``batch_size`` occluded copies go through one forward pass.
    """
    nx = len(cols)
    count = len(rows) * nx
    scores = []
    for first in range(0, count, batch_size):
        index = torch.arange(first, min(first + batch_size, count), device=image.device)
        covered = rows[index // nx, :, None] & cols[index % nx, None, :]
        scores.append(class_scores(model, torch.where(covered[:, None], value, image)))
    return torch.cat(scores)


# --- The incremental path: the report's CNN on 1x28x28 images, square windows ---------


def _uses_incremental_path(
    model: nn.Module, image: torch.Tensor, patch: Pair, stride: Pair
) -> bool:
    """Whether ``model`` is the report's CNN (its own ``logits``) on one 1x28x28 image."""
    logits = getattr(getattr(model, "logits", None), "__func__", None)
    return (
        isinstance(model, CNN)
        and logits is CNN.logits
        and tuple(image.shape) == (1, 1, 28, 28)
        and patch[0] == patch[1]
        and stride[0] == stride[1]
    )


def _changed_spans(
    starts: torch.Tensor, patch: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows of ``pool1`` and ``pool2`` a window can change, along one axis.

    A patch over image rows ``[s, s + patch)`` changes conv1 rows one further on each
    side, the pool1 rows holding those, conv2 rows one further again, and the pool2 rows
    holding those (all clipped to the maps).

    Returns
    -------
    tuple of torch.Tensor
        ``(pool1_lo, pool1_hi, pool2_lo, pool2_hi)``, each ``(n,)`` int64: half-open
        spans ``[lo, hi)`` per window start.
    """
    ends = (starts + patch).clamp(max=28)
    conv1_lo, conv1_hi = (starts - 1).clamp(min=0), (ends + 1).clamp(max=28)
    pool1_lo, pool1_hi = conv1_lo // 2, (conv1_hi - 1) // 2 + 1
    conv2_lo, conv2_hi = (pool1_lo - 1).clamp(min=0), (pool1_hi + 1).clamp(max=14)
    return pool1_lo, pool1_hi, conv2_lo // 2, (conv2_hi - 1) // 2 + 1


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
    """The :class:`_BlockPlan` of the windows with corners ``starts x starts``."""
    n = len(starts)
    pool1_lo, pool1_hi, pool2_lo, pool2_hi = _changed_spans(starts, patch)
    size1 = int((pool1_hi - pool1_lo).max())
    size2 = int((pool2_hi - pool2_lo).max())
    block2 = pool2_lo.clamp(max=7 - size2)
    # the pool1 block lies in block2's receptive field: pool1 rows [2b - 1, 2b + 2 size2 + 1)
    block1 = torch.minimum(pool1_lo, (2 * block2 + 2 * size2 + 1).clamp(max=14) - size1)
    key = block2.repeat_interleave(n) * 7 + block2.repeat(n)
    order = torch.argsort(key, stable=True)
    keys, counts = torch.unique_consecutive(key[order], return_counts=True)
    return _BlockPlan(
        order=order,
        top=starts.repeat_interleave(n)[order],
        left=starts.repeat(n)[order],
        row1=block1.repeat_interleave(n)[order],
        col1=block1.repeat(n)[order],
        row2=key[order] // 7,
        col2=key[order] % 7,
        blocks=[divmod(k, 7) for k in keys.tolist()],
        bounds=[0, *counts.cumsum(0).tolist()],
        size1=size1,
        size2=size2,
    )


@dataclass(frozen=True)
class _Unoccluded:
    """The unoccluded image's maps, channels last, as :func:`_occluded_logits` needs them.

    ``pool1`` ``(14, 14, 32)``; ``conv2`` ``(18, 18, 32)`` before ``conv2_bn``, with two
    rows and columns of zeros around it; ``pool2`` ``(7, 7, 32)``; ``hidden`` ``(1, 500)``
    before ``fc1_bn``; ``fc1_rows`` ``(7, 7 * 32, 500)``: ``fc1``'s weight, one
    ``(column x channel, unit)`` matrix per ``pool2`` row.
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
    weight = model.fc1.weight.reshape(-1, 32, 7, 7).permute(2, 3, 1, 0)
    return _Unoccluded(
        pool1=pool1[0].permute(1, 2, 0),
        conv2=F.pad(conv2[0], (2, 2, 2, 2)).permute(1, 2, 0),
        pool2=pool2[0].permute(1, 2, 0),
        hidden=model.fc1(pool2.reshape(1, -1)),
        fc1_rows=weight.reshape(7, 7 * 32, -1),
    )


def _occluded_pool1(
    model: CNN, image: torch.Tensor, plan: _BlockPlan, here: slice, patch: int, value: float
) -> torch.Tensor:
    """The recomputed ``pool1`` blocks of windows ``here`` (positions in ``plan``).

    Returns
    -------
    torch.Tensor
        ``(b, size1, size1, 32)``, channels last; block row ``r`` needs image rows
        ``[2r - 1, 2r + 2 size1 + 1)``, zero outside the image as ``conv1`` pads.
    """
    top, left = plan.top[here], plan.left[here]
    pixels = torch.arange(2 * plan.size1 + 2, device=image.device)
    rows = 2 * plan.row1[here, None] - 1 + pixels
    cols = 2 * plan.col1[here, None] - 1 + pixels
    crops = F.pad(image[0], (1, 1, 1, 1))[(rows + 1)[:, :, None], (cols + 1)[:, None, :]]
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + patch) & (rows >= 0) & (rows < 28)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + patch) & (cols >= 0) & (cols < 28)
    crops = torch.where(in_rows[:, :, None] & in_cols[:, None, :], value, crops)
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
        ``(b, size2, size2, 32)``.
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


def _occluded_logits(
    model: CNN,
    image: torch.Tensor,
    starts: torch.Tensor,
    patch: int,
    value: float,
    chunk: int = 256,
) -> torch.Tensor:
    """Logits ``(n * n, K)`` of ``image`` ``(1, 28, 28)`` occluded at every window.

    Window ``i * n + j`` has its top-left corner at ``(starts[i], starts[j])``. A patch
    changes only a small block of each feature map (:func:`_changed_spans`), so the
    unoccluded maps are computed once (:func:`_unoccluded_maps`) and per window only:

    1. the changed ``pool1`` block, from a small crop of the occluded image
       (:func:`_occluded_pool1`);
    2. a ``pool2`` block holding every change, from the change of ``conv2``
       (:func:`_occluded_pool2`);
    3. ``fc1``'s input changes only in that block and ``fc1`` is linear, so the block's
       change times its rows of the weight is added to the unoccluded hidden layer.

    Windows are grouped by ``pool2`` block (:func:`_plan_blocks`), so step 3 is one
    batched product per block, and processed in chunks of whole blocks of at most
    ``chunk`` windows (or one block, if it has more) to bound memory. Same arithmetic
    as full forward passes up to float summation order, with about a fifth of their
    work for 5x5 patches.
    """
    plan = _plan_blocks(starts, patch)
    base = _unoccluded_maps(model, image)
    hidden = base.hidden.repeat(len(plan.order), 1)
    size2, bounds = plan.size2, plan.bounds
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
                base.fc1_rows[r : r + size2, 32 * c : 32 * (c + size2)],
            )
            hidden[lo:hi] += products.sum(0)
        first = last
    logits = model.fc2(model.relu3(model.fc1_bn(hidden)))
    return logits[torch.argsort(plan.order)]


# --- Scores and the public function ----------------------------------------------------


def _select_score(logits: torch.Tensor, target: int, score: str) -> torch.Tensor:
    """The score of ``target`` per row of ``(N, K)`` logits: logit, probability or log-prob."""
    if score == "logit":
        return logits[:, target]
    if score == "probability":
        return F.softmax(logits, dim=1)[:, target]
    if score == "log_probability":
        return F.log_softmax(logits, dim=1)[:, target]
    raise ValueError(f"score must be one of {SCORES}, not {score!r}")


def _single_image(image: torch.Tensor) -> torch.Tensor:
    """``image`` ``(C, H, W)`` or ``(1, C, H, W)`` as a floating ``(1, C, H, W)`` batch."""
    if not isinstance(image, torch.Tensor) or not (
        image.ndim == 3 or (image.ndim == 4 and image.shape[0] == 1)
    ):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must have shape (C, H, W) or (1, C, H, W), not {shape}")
    return check_images(image, "image")


@torch.no_grad()
def occlusion(
    model: nn.Module,
    image: torch.Tensor,
    target: int,
    *,
    patch: int | Sequence[int] = 5,
    stride: int | Sequence[int] = 1,
    value: float | None = None,
    score: str = "probability",
    bounds: Sequence[float] | None = None,
    batch_size: int = 256,
) -> OcclusionResult:
    """Occlude ``image`` with a ``patch`` window at every window position.

    Parameters
    ----------
    model
        Any classifier, ``(N, C, H, W) -> (N, K)`` scores (:mod:`cnnviz.core.classifier`);
        run in eval mode, restored afterwards; its weights are not changed.
    image
        ``(C, H, W)`` or ``(1, C, H, W)`` floating-point image in the model's input
        range. Everything the function creates lives on its device and dtype.
    target
        Class index in ``[0, K)`` whose score is watched.
    patch, stride
        Window size and step in pixels: an int (square) or a ``(height, width)`` pair;
        ``1 <= patch <= image side`` and ``1 <= stride <= patch`` per axis (any stride
        when the patch spans the axis). The window covers all channels.
    value
        What the window is filled with, in the model's input space; default mid-grey,
        the middle of ``bounds`` (0.0 for the report's CNN in [-1, 1], 0.5 in [0, 1]).
    score
        What the attribution measures: ``"probability"``, ``"log_probability"`` (what
        Captum sees given the report's CNN itself, whose forward returns
        log-probabilities) or ``"logit"`` (Captum given ``class_scores``).
    bounds
        ``(low, high)`` input range, for the default ``value``; ``None`` for the
        model's own (:func:`cnnviz.core.classifier.input_bounds`).
    batch_size
        At most this many occluded copies go through one forward pass (Captum's
        ``perturbations_per_eval``); bounds memory, not the result.

    Returns
    -------
    OcclusionResult
        ``probability`` ``(ny, nx)`` in [0, 1], ``attribution`` ``(H, W)``, window
        ``starts``, all on the image's device; float tensors in its dtype.

    Raises
    ------
    ValueError
        For a wrong image shape, a patch larger than the image, a stride below 1 or
        above the patch, a target outside ``[0, K)``, an unknown score or
        ``batch_size < 1``.

    Notes
    -----
    The report's :class:`~cnnviz.models.cnn.CNN` (or a subclass keeping its ``logits``) on a
    ``1x28x28`` image with a square patch and stride takes an exact incremental path
    (the same numbers as full forward passes, several times faster).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 5))
    >>> image = torch.rand(3, 8, 8)  # in [0, 1]: the patch is 0.5 grey
    >>> result = occlusion(net, image, target=2, patch=3, stride=(1, 2))
    >>> result.attribution.shape
    torch.Size([8, 8])
    >>> result.probability.shape  # window rows x window columns
    torch.Size([6, 4])
    >>> [starts.tolist() for starts in result.starts]  # the last column hangs over
    [[0, 1, 2, 3, 4, 5], [0, 2, 4, 6]]

    The report's CNN takes the fast path; 24 x 24 positions of a 5x5 patch:

    >>> from cnnviz.models.checkpoint import pretrained
    >>> occlusion(pretrained(), torch.zeros(1, 28, 28), target=3).probability.shape
    torch.Size([24, 24])
    """
    images = _single_image(image)
    _, _, height, width = images.shape
    (patch_h, patch_w), (stride_h, stride_w) = _pair(patch, "patch"), _pair(stride, "stride")
    rows = _window_starts(height, patch_h, stride_h, images.device)
    cols = _window_starts(width, patch_w, stride_w, images.device)
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, not {score!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    low, high = input_bounds(model, bounds)
    fill = (low + high) / 2 if value is None else float(value)
    target = operator.index(target)
    with eval_mode(model):
        base_logits = class_scores(model, images)
        if not 0 <= target < base_logits.shape[1]:
            classes = base_logits.shape[1]
            raise ValueError(f"target must be a class index in [0, {classes}), not {target}")
        row_cover = _window_cover(rows, patch_h, height)
        col_cover = _window_cover(cols, patch_w, width)
        if _uses_incremental_path(model, images, (patch_h, patch_w), (stride_h, stride_w)):
            logits = _occluded_logits(model, images[0], rows, patch_h, fill, batch_size)
        else:
            logits = _occluded_scores(model, images, row_cover, col_cover, fill, batch_size)
    drops = _select_score(base_logits, target, score) - _select_score(logits, target, score)
    row_cover, col_cover = row_cover.to(images.dtype), col_cover.to(images.dtype)
    weighted = row_cover.T @ drops.reshape(len(rows), len(cols)) @ col_cover
    attribution = weighted / torch.outer(row_cover.sum(0), col_cover.sum(0))
    return OcclusionResult(
        target=target,
        patch=(patch_h, patch_w),
        stride=(stride_h, stride_w),
        score=score,
        probability=F.softmax(logits, dim=1)[:, target].reshape(len(rows), len(cols)),
        starts=(rows, cols),
        base_probability=F.softmax(base_logits, dim=1)[0, target].item(),
        attribution=attribution,
    )
