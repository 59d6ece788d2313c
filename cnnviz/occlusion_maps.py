"""Occlusion (R11): slide a grey patch over the digit and watch the class score.

One batched computation gives two views:

* the report's **map**: the probability of the class with the patch at each position
  (Fig 12), indexed by the patch's top-left corner;
* a per-pixel **attribution** with exactly the semantics of Captum's
  ``Occlusion(forward).attribute(x, sliding_window_shapes=(1, k, k), strides=(1, s, s),
  baselines=value, target=t)``: for each window, the score drop
  ``score(x) - score(x occluded)``, averaged over all windows that cover each pixel.

Windows are placed as Captum places them: top-left corners at ``0, s, 2s, ...``,
``ceil((28 - k) / s) + 1`` per axis; when ``s`` does not divide ``28 - k`` the last
window hangs over the edge and only its part inside the image is occluded. Hence the
stride may not exceed the patch size (every pixel is covered).

Windows are evaluated in batches (a few hundred at a time, to bound memory), and only
the part of each feature map that a window can change is recomputed (see
:func:`occluded_logits`), so a full 5x5, stride-1 map (576 windows) costs about as much
as forty single-image forward passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from cnnviz.data import GREY
from cnnviz.model import CNN, eval_mode

SCORES = ("probability", "log_probability", "logit")


@dataclass(frozen=True)
class OcclusionResult:
    """Occlusion of one image for one class.

    Attributes
    ----------
    probability
        ``(ny, nx)`` probability of ``target`` (in [0, 1]) with the patch at window
        ``(i, j)``, whose top-left corner is ``(starts[i], starts[j])``.
    starts
        ``(n,)`` window start rows (= columns: the image and patch are square).
    base_probability
        Probability of ``target`` for the unoccluded image.
    attribution
        ``(28, 28)`` Captum-style attribution of ``score``: mean score drop over the
        windows covering each pixel (positive: occluding there lowers the score).
    """

    target: int
    patch: int
    stride: int
    score: str
    probability: torch.Tensor
    starts: torch.Tensor
    base_probability: float
    attribution: torch.Tensor


def window_starts(size: int, patch: int, stride: int) -> torch.Tensor:
    """Captum's window start positions along one axis of length ``size``."""
    if not 1 <= patch <= size:
        raise ValueError(f"patch must be between 1 and {size}, not {patch}")
    if stride < 1 or (stride > patch and patch < size):
        raise ValueError(f"stride must be between 1 and the patch size {patch}, not {stride}")
    count = math.ceil((size - patch) / stride) + 1
    return torch.arange(count) * stride


def window_cover(starts: torch.Tensor, patch: int, size: int) -> torch.Tensor:
    """``(n, size)`` float: 1 where window ``i`` (along one axis) covers pixel ``j``.

    Windows are squares, so window ``(i, j)`` covers pixel ``(r, c)`` exactly when
    ``cover[i, r] * cover[j, c]`` is 1.
    """
    pixels = torch.arange(size)
    return ((pixels >= starts[:, None]) & (pixels < starts[:, None] + patch)).float()


def changed_spans(
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


def max_pool_channels_last(maps: torch.Tensor) -> torch.Tensor:
    """2x2 max pooling of ``(N, H, W, C)`` maps (``H``, ``W`` even) -> ``(N, H/2, W/2, C)``.

    Same values as ``nn.MaxPool2d(2)``, without the argmax indices it computes.
    """
    return torch.maximum(
        torch.maximum(maps[:, 0::2, 0::2], maps[:, 0::2, 1::2]),
        torch.maximum(maps[:, 1::2, 0::2], maps[:, 1::2, 1::2]),
    )


@dataclass(frozen=True)
class BlockPlan:
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


def plan_blocks(starts: torch.Tensor, patch: int) -> BlockPlan:
    """The :class:`BlockPlan` of the windows with corners ``starts x starts``."""
    n = len(starts)
    pool1_lo, pool1_hi, pool2_lo, pool2_hi = changed_spans(starts, patch)
    size1 = int((pool1_hi - pool1_lo).max())
    size2 = int((pool2_hi - pool2_lo).max())
    block2 = pool2_lo.clamp(max=7 - size2)
    # the pool1 block lies in block2's receptive field: pool1 rows [2b - 1, 2b + 2 size2 + 1)
    block1 = torch.minimum(pool1_lo, (2 * block2 + 2 * size2 + 1).clamp(max=14) - size1)
    key = block2.repeat_interleave(n) * 7 + block2.repeat(n)
    order = torch.argsort(key, stable=True)
    keys, counts = torch.unique_consecutive(key[order], return_counts=True)
    return BlockPlan(
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
class Unoccluded:
    """The unoccluded image's maps, channels last, as :func:`occluded_logits` needs them.

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


def unoccluded_maps(model: CNN, image: torch.Tensor) -> Unoccluded:
    """One forward pass of ``image`` ``(1, 28, 28)``, keeping what occlusion reuses."""
    pool1 = model.relu1(model.pool1(model.conv1(image[None])))
    conv2 = model.conv2(pool1)
    pool2 = model.relu2(model.pool2(model.conv2_bn(conv2)))
    weight = model.fc1.weight.reshape(-1, 32, 7, 7).permute(2, 3, 1, 0)
    return Unoccluded(
        pool1=pool1[0].permute(1, 2, 0),
        conv2=F.pad(conv2[0], (2, 2, 2, 2)).permute(1, 2, 0),
        pool2=pool2[0].permute(1, 2, 0),
        hidden=model.fc1(pool2.reshape(1, -1)),
        fc1_rows=weight.reshape(7, 7 * 32, -1),
    )


def occluded_pool1(
    model: CNN, image: torch.Tensor, plan: BlockPlan, here: slice, patch: int, value: float
) -> torch.Tensor:
    """The recomputed ``pool1`` blocks of windows ``here`` (positions in ``plan``).

    Returns
    -------
    torch.Tensor
        ``(b, size1, size1, 32)``, channels last; block row ``r`` needs image rows
        ``[2r - 1, 2r + 2 size1 + 1)``, zero outside the image as ``conv1`` pads.
    """
    top, left = plan.top[here], plan.left[here]
    pixels = torch.arange(2 * plan.size1 + 2)
    rows = 2 * plan.row1[here, None] - 1 + pixels
    cols = 2 * plan.col1[here, None] - 1 + pixels
    crops = F.pad(image[0], (1, 1, 1, 1))[(rows + 1)[:, :, None], (cols + 1)[:, None, :]]
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + patch) & (rows >= 0) & (rows < 28)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + patch) & (cols >= 0) & (cols < 28)
    crops = torch.where(in_rows[:, :, None] & in_cols[:, None, :], value, crops)
    windows3x3 = crops.unfold(1, 3, 1).unfold(2, 3, 1).reshape(-1, 9)
    conv1 = torch.addmm(model.conv1.bias, windows3x3, model.conv1.weight.reshape(-1, 9).T)
    conv1 = conv1.reshape(len(top), 2 * plan.size1, 2 * plan.size1, -1)
    return model.relu1(max_pool_channels_last(conv1))  # ReLU and max commute


def occluded_pool2(
    model: CNN, base: Unoccluded, plan: BlockPlan, first: int, last: int, new_pool1: torch.Tensor
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
    within = torch.arange(size1)
    old_pool1 = base.pool1[
        plan.row1[here, None, None] + within[:, None], plan.col1[here, None, None] + within
    ]
    change = F.conv2d((new_pool1 - old_pool1).permute(0, 3, 1, 2), model.conv2.weight, padding=2)
    side = 2 * size2 + 4
    counts = torch.tensor(plan.bounds[first + 1 : last + 1]) - torch.tensor(plan.bounds[first:last])
    canvas = torch.stack(
        [base.conv2[2 * r : 2 * r + side, 2 * c : 2 * c + side] for r, c in plan.blocks[first:last]]
    ).repeat_interleave(counts, dim=0)
    spread = torch.arange(size1 + 2)
    cells = (
        torch.arange(hi - lo)[:, None, None],
        (plan.row1[here] + 1 - 2 * plan.row2[here])[:, None, None] + spread[:, None],
        (plan.col1[here] + 1 - 2 * plan.col2[here])[:, None, None] + spread,
    )  # distinct cells, so a gather and a put (index_put_'s accumulate is serial)
    canvas[cells] = canvas[cells] + change.permute(0, 2, 3, 1)
    conv2 = canvas[:, 2 : 2 + 2 * size2, 2 : 2 + 2 * size2]
    conv2 = model.conv2_bn(conv2.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    return model.relu2(max_pool_channels_last(conv2))


def occluded_logits(
    model: CNN,
    image: torch.Tensor,
    starts: torch.Tensor,
    patch: int,
    value: float,
    chunk: int = 256,
) -> torch.Tensor:
    """Logits ``(n * n, C)`` of ``image`` ``(1, 28, 28)`` occluded at every window.

    Window ``i * n + j`` has its top-left corner at ``(starts[i], starts[j])``. A patch
    changes only a small block of each feature map (``changed_spans``), so the
    unoccluded maps are computed once (``unoccluded_maps``) and per window only:

    1. the changed ``pool1`` block, from a small crop of the occluded image
       (``occluded_pool1``);
    2. a ``pool2`` block holding every change, from the change of ``conv2``
       (``occluded_pool2``);
    3. ``fc1``'s input changes only in that block and ``fc1`` is linear, so the block's
       change times its rows of the weight is added to the unoccluded hidden layer.

    Windows are grouped by ``pool2`` block (``plan_blocks``), so step 3 is one
    batched product per block, and processed about ``chunk`` at a time to bound
    memory. Same arithmetic as full forward passes up to float summation order, with
    about a fifth of their work for 5x5 patches.
    """
    plan = plan_blocks(starts, patch)
    base = unoccluded_maps(model, image)
    hidden = base.hidden.repeat(len(plan.order), 1)
    size2, bounds = plan.size2, plan.bounds
    first = 0
    while first < len(plan.blocks):  # chunks of whole blocks
        last = first + 1
        while last < len(plan.blocks) and bounds[last + 1] - bounds[first] <= chunk:
            last += 1
        new_pool1 = occluded_pool1(
            model, image, plan, slice(bounds[first], bounds[last]), patch, value
        )
        new_pool2 = occluded_pool2(model, base, plan, first, last, new_pool1)
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


def select_score(logits: torch.Tensor, target: int, score: str) -> torch.Tensor:
    """The score of ``target`` per row of ``(N, C)`` logits: logit, probability or log-prob."""
    if score == "logit":
        return logits[:, target]
    if score == "probability":
        return F.softmax(logits, dim=1)[:, target]
    if score == "log_probability":
        return F.log_softmax(logits, dim=1)[:, target]
    raise ValueError(f"score must be one of {SCORES}, not {score!r}")


@torch.no_grad()
def occlusion(
    model: CNN,
    image: torch.Tensor,
    target: int,
    *,
    patch: int = 5,
    stride: int = 1,
    value: float = GREY,
    score: str = "probability",
) -> OcclusionResult:
    """Occlude ``image`` with a ``patch x patch`` square at every window position.

    Parameters
    ----------
    model
        The CNN (run in eval mode, restored afterwards).
    image
        ``(1, 28, 28)`` or ``(28, 28)`` input in [-1, 1].
    target
        Class whose probability/score is watched.
    patch, stride
        Window size and step in pixels (``stride <= patch``).
    value
        What the patch is filled with, in the model's space; default mid-grey (0.0,
        i.e. pixel value 0.5), as the report.
    score
        What the attribution measures: ``"probability"``, ``"log_probability"`` (what
        Captum sees given the model itself, whose forward returns log-probabilities)
        or ``"logit"`` (Captum given ``model.logits``).

    Returns
    -------
    OcclusionResult
    """
    if tuple(image.shape) not in ((28, 28), (1, 28, 28)):
        raise ValueError(f"image must have shape (1, 28, 28) or (28, 28), not {tuple(image.shape)}")
    image = image.reshape(1, 28, 28)
    if not 0 <= target < model.fc2.out_features:
        raise ValueError(f"target must be a class index, not {target}")
    starts = window_starts(28, patch, stride)
    n = len(starts)
    with eval_mode(model):
        base_logits = model.logits(image[None])
        logits = occluded_logits(model, image, starts, patch, value)
    probability = F.softmax(logits, dim=1)[:, target].reshape(n, n)
    drops = select_score(base_logits, target, score) - select_score(logits, target, score)
    cover = window_cover(starts, patch, 28)  # per pixel: sum of drops and count of windows
    weighted = cover.T @ drops.reshape(n, n) @ cover
    attribution = weighted / torch.outer(cover.sum(0), cover.sum(0))
    return OcclusionResult(
        target=target,
        patch=patch,
        stride=stride,
        score=score,
        probability=probability,
        starts=starts,
        base_probability=F.softmax(base_logits, dim=1)[0, target].item(),
        attribution=attribution,
    )
