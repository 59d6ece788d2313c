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

All windows are evaluated at once, and only the part of each feature map that a
window can change is recomputed (see :func:`occluded_logits`), so a full 5x5,
stride-1 map (576 windows) costs about as much as a few dozen forward passes.
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


def floor_half(values: torch.Tensor) -> torch.Tensor:
    """``floor(values / 2)`` for integer tensors (also for negative values)."""
    return values.div(2, rounding_mode="floor")


def crop_2d(source: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int) -> torch.Tensor:
    """Per-sample square crops: ``source`` ``(..., H, W)`` -> ``(B, ..., size, size)``."""
    offsets = torch.arange(size)
    rows = (top[:, None] + offsets)[:, :, None]
    cols = (left[:, None] + offsets)[:, None, :]
    cropped = source[..., rows, cols]  # (..., B, size, size)
    return cropped.movedim(-3, 0)


def occluded_logits(
    model: CNN, image: torch.Tensor, starts: torch.Tensor, patch: int, value: float
) -> torch.Tensor:
    """Logits ``(n * n, C)`` of ``image`` occluded at every window, computed locally.

    Occluding a ``patch``-square changes only a small block of each feature map: with
    3x3 convolutions (padding 1) and 2x2 pooling, at most ``P1 = (patch + 2) // 2 + 1``
    rows/columns of ``pool1`` and ``P2 = (P1 + 2) // 2 + 1`` of ``pool2``. So the
    unoccluded maps are computed once; per window only those blocks are recomputed from
    small crops (zero-padded exactly where the layers pad with zeros), and ``fc1``, being
    linear, adds just the changed block's contribution to the unoccluded hidden layer.
    Same arithmetic as full forward passes, up to float summation order.
    """
    rows_top = starts.repeat_interleave(len(starts))
    cols_left = starts.repeat(len(starts))
    batch = len(rows_top)
    p1 = min(14, (patch + 2) // 2 + 1)
    p2 = min(7, (p1 + 2) // 2 + 1)
    # pool1 block [a, a + p1) and pool2 block [b, b + p2) that contain every change
    a_row = floor_half(rows_top - 1).clamp(0, 14 - p1)
    a_col = floor_half(cols_left - 1).clamp(0, 14 - p1)
    b_row = floor_half(a_row - 1).clamp(0, 7 - p2)
    b_col = floor_half(a_col - 1).clamp(0, 7 - p2)

    x = image[None]
    base_pool1 = model.pool1(model.relu1(model.conv1(x)))[0]  # (32, 14, 14)
    base_pool2 = model.pool2(model.relu2(model.conv2_bn(model.conv2(base_pool1[None]))))[0]
    base_hidden = model.fc1(base_pool2.reshape(1, -1))  # (1, 500), before fc1_bn

    # pool1 block from the occluded input: image rows [2a - 1, 2a + 2 p1 + 1)
    crop_size = 2 * p1 + 2
    crops = crop_2d(F.pad(x[0, 0], (1, 1, 1, 1)), 2 * a_row, 2 * a_col, crop_size)
    pixel_rows = 2 * a_row[:, None] - 1 + torch.arange(crop_size)  # image coordinates
    pixel_cols = 2 * a_col[:, None] - 1 + torch.arange(crop_size)
    in_rows = (pixel_rows >= rows_top[:, None]) & (pixel_rows < rows_top[:, None] + patch)
    in_cols = (pixel_cols >= cols_left[:, None]) & (pixel_cols < cols_left[:, None] + patch)
    in_rows &= (pixel_rows >= 0) & (pixel_rows < 28)  # the padding stays zero
    in_cols &= (pixel_cols >= 0) & (pixel_cols < 28)
    crops = torch.where(in_rows[:, :, None] & in_cols[:, None, :], value, crops)[:, None]
    conv1 = F.conv2d(crops, model.conv1.weight, model.conv1.bias)
    new_pool1 = model.relu1(model.pool1(conv1))  # (B, 32, p1, p1); ReLU and max commute

    # pool2 block: conv2 over pool1 rows [2b - 1, 2b + 2 p2 + 1), new pool1 block pasted in;
    # the unoccluded pool1 regions are cut once per block position (at most 49) and copied
    keys = b_row * 7 + b_col
    positions, position_of = keys.unique(return_inverse=True)
    size = 2 * p2 + 2
    padded_pool1 = F.pad(base_pool1, (1, 1, 1, 1)).permute(1, 2, 0)  # (16, 16, 32)
    regions = torch.stack(
        [
            padded_pool1[2 * top : 2 * top + size, 2 * left : 2 * left + size]
            for top, left in (divmod(key, 7) for key in positions.tolist())
        ]
    )
    region = regions.index_select(0, position_of)  # (B, s, s, 32)
    block = torch.arange(p1)
    index_r = (a_row + 1 - 2 * b_row)[:, None, None] + block[None, :, None]
    index_c = (a_col + 1 - 2 * b_col)[:, None, None] + block[None, None, :]
    region[torch.arange(batch)[:, None, None], index_r, index_c] = new_pool1.permute(0, 2, 3, 1)
    conv2 = F.conv2d(region.permute(0, 3, 1, 2), model.conv2.weight, model.conv2.bias)
    new_pool2 = model.relu2(model.pool2(model.conv2_bn(conv2)))  # (B, 32, p2, p2)

    # fc1 is linear: add the changed block's contribution, grouped by block position;
    # with the weight laid out (row, column, channel, unit), each block row is one view
    delta = (new_pool2 - crop_2d(base_pool2, b_row, b_col, p2)).permute(0, 2, 3, 1)
    delta = delta.reshape(batch, p2, p2 * 32)  # (B, block row, block column x channel)
    weight = model.fc1.weight.reshape(-1, 32, 7, 7).permute(2, 3, 1, 0).contiguous()
    hidden = base_hidden.expand(batch, -1).clone()
    for index, key in enumerate(positions.tolist()):
        members = (position_of == index).nonzero().squeeze(1)
        top, left = divmod(key, 7)
        for row in range(p2):
            rows_weight = weight[top + row, left : left + p2].reshape(p2 * 32, -1)
            hidden[members] += delta[members, row] @ rows_weight
    return model.fc2(model.relu3(model.fc1_bn(hidden)))


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
