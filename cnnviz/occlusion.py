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


def window_masks(size: int, patch: int, stride: int) -> torch.Tensor:
    """``(ny, nx, size, size)`` boolean masks, True inside each (edge-cropped) window."""
    starts = window_starts(size, patch, stride)
    pixels = torch.arange(size)
    inside = (pixels >= starts[:, None]) & (pixels < starts[:, None] + patch)  # (n, size)
    return inside[:, None, :, None] & inside[None, :, None, :]


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
    chunk_size: int = 1024,
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
    chunk_size
        Occluded images per forward pass; bounds memory (about 3 kB each).

    Returns
    -------
    OcclusionResult
    """
    if tuple(image.shape) not in ((28, 28), (1, 28, 28)):
        raise ValueError(f"image must have shape (1, 28, 28) or (28, 28), not {tuple(image.shape)}")
    image = image.reshape(1, 28, 28)
    if not 0 <= target < model.fc2.out_features:
        raise ValueError(f"target must be a class index, not {target}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, not {chunk_size}")
    masks = window_masks(28, patch, stride)
    ny, nx = masks.shape[:2]
    flat_masks = masks.reshape(ny * nx, 1, 28, 28)
    with eval_mode(model):
        base_logits = model.logits(image[None])
        logits = torch.cat(
            [
                model.logits(torch.where(chunk, value, image))
                for chunk in flat_masks.split(chunk_size)
            ]
        )
    probability = F.softmax(logits, dim=1)[:, target].reshape(ny, nx)
    drops = select_score(base_logits, target, score) - select_score(logits, target, score)
    weighted = (drops[:, None, None] * flat_masks[:, 0]).sum(0)
    attribution = weighted / flat_masks[:, 0].sum(0)
    return OcclusionResult(
        target=target,
        patch=patch,
        stride=stride,
        score=score,
        probability=probability,
        starts=window_starts(28, patch, stride),
        base_probability=F.softmax(base_logits, dim=1)[0, target].item(),
        attribution=attribution,
    )
