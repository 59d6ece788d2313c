"""Occlusion (R11): slide a grey patch over an image and watch the class score.

Works on any classifier (:mod:`cnnviz.core.classifier`). As Captum's ``Occlusion`` is a
thin specialisation of its perturbation engine, the algorithm here is three steps:

1. **windows**: top-left corners at ``0, s, 2s, ...`` per axis, as Captum places them,
   ``ceil((size - patch) / s) + 1`` of them (``_window_starts``); when ``s`` does
   not divide ``size - patch`` the last window hangs over the edge and only its part
   inside the image is occluded. Hence the stride may not exceed the patch (every pixel
   is covered), unless the patch spans the whole axis (one window). A window covers
   every channel.
2. **the engine**: occluded copies of the image through full forward passes,
   ``batch_size`` copies at a time (Captum's ``perturbations_per_eval``;
   ``_occluded_scores``).
3. **two views** of the scores: the report's **map**, the probability of the class
   with the patch at each window (Fig 12), indexed by the window's top-left corner;
   and a per-pixel **attribution** with exactly the semantics of Captum's
   ``Occlusion(forward).attribute(x, sliding_window_shapes=(C, ph, pw),
   strides=(C, sh, sw), baselines=value, target=t)``: for each window, the score drop
   ``score(x) - score(x occluded)``, averaged over all windows that cover each pixel
   (Captum repeats that ``(H, W)`` map on every channel; ``_attribution``).

A model with a fast path for step 2 (:func:`cnnviz.fast.paths.for_model`: the report's
:class:`~cnnviz.models.cnn.CNN` on ``1x28x28`` digits, :mod:`cnnviz.fast.occlusion`)
computes it faster, with the same numbers.
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
from cnnviz.core.scores import target_scores
from cnnviz.fast.paths import for_model

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


# --- 1. Windows ------------------------------------------------------------------------


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


# --- 2. The engine: occluded copies through the model ----------------------------------


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
    (``_window_cover``); window ``i * nx + j`` is ``rows[i] x cols[j]`` on every
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


# --- 3. Scores and attribution ---------------------------------------------------------


def _attribution(drops: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``(H, W)`` mean of the ``(ny, nx)`` score ``drops`` over the windows covering each pixel.

    ``rows`` ``(ny, H)`` and ``cols`` ``(nx, W)`` are the windows' covers
    (``_window_cover``): the sum over windows is two matrix products.
    """
    rows, cols = rows.to(drops.dtype), cols.to(drops.dtype)
    return (rows.T @ drops @ cols) / torch.outer(rows.sum(0), cols.sum(0))


# --- The public function ---------------------------------------------------------------


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
    (:mod:`cnnviz.fast.occlusion`: the same numbers as full forward passes, several
    times faster).

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
        logits = for_model(model).occluded_logits(
            images,
            rows=rows,
            cols=cols,
            patch=(patch_h, patch_w),
            stride=(stride_h, stride_w),
            value=fill,
            chunk=batch_size,
        )
        if logits is None:
            logits = _occluded_scores(model, images, row_cover, col_cover, fill, batch_size)
    drops = target_scores(base_logits, target, kind=score) - target_scores(
        logits, target, kind=score
    )
    return OcclusionResult(
        target=target,
        patch=(patch_h, patch_w),
        stride=(stride_h, stride_w),
        score=score,
        probability=F.softmax(logits, dim=1)[:, target].reshape(len(rows), len(cols)),
        starts=(rows, cols),
        base_probability=F.softmax(base_logits, dim=1)[0, target].item(),
        attribution=_attribution(drops.reshape(len(rows), len(cols)), row_cover, col_cover),
    )
