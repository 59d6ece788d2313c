"""Which pixels a prediction rests on: occlusion maps and gradient saliency, over the input.

Both draw the input (``(C, H, W)`` in the model's ``bounds``, grey or colour) beside a
map of its size and laid under that map.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from cnnviz.core.classifier import Bounds
from cnnviz.inspect.occlusion import OcclusionResult
from cnnviz.plots.colours import DIVERGING
from cnnviz.plots.images import show_digit


def plot_occlusion(image: torch.Tensor, result: OcclusionResult, *, bounds: Bounds) -> Figure:
    """The input, the probability map with a colour bar, and the attribution (Fig 12).

    The map's colours span its own range (dark: the lowest probability), so that small
    drops of a confident class stay visible; the colour bar gives the values.
    ``image`` ``(C, H, W)`` in ``bounds``; ``result`` from
    :func:`cnnviz.inspect.occlusion.occlusion` on it.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.inspect.occlusion import occlusion
    >>> digit = torch.zeros(1, 28, 28)
    >>> result = occlusion(cnnviz.pretrained(), digit, 1, patch=7, stride=7)
    >>> fig = plot_occlusion(digit, result, bounds=(-1.0, 1.0))
    >>> len(fig.axes), fig.axes[1].get_title().splitlines()[0]  # 3 panels, 2 colour bars
    (5, 'p[1] with a 7x7 grey patch')
    """
    fig = Figure(figsize=(9.5, 3.4), layout="constrained")
    digit_ax, map_ax, attr_ax = fig.subplots(1, 3)
    probability = f"input (p[{result.target}] = {result.base_probability:.3f})"
    show_digit(digit_ax, image, probability, bounds=bounds)
    (patch_h, patch_w), (step_h, step_w) = result.patch, result.stride
    rows = result.starts[0].cpu().numpy() + (patch_h - 1) / 2  # window centres
    cols = result.starts[1].cpu().numpy() + (patch_w - 1) / 2
    extent = (
        cols[0] - step_w / 2,
        cols[-1] + step_w / 2,
        rows[-1] + step_h / 2,
        rows[0] - step_h / 2,
    )
    height, width = result.attribution.shape
    low, high = float(result.probability.min()), float(result.probability.max())
    if high - low < 1e-4:  # nothing changes: show it on the full scale
        low, high = 0.0, 1.0
    heat = map_ax.imshow(
        result.probability.cpu().numpy(), cmap="magma", vmin=low, vmax=high, extent=extent
    )
    map_ax.set_xlim(-0.5, width - 0.5)
    map_ax.set_ylim(height - 0.5, -0.5)
    map_ax.set_title(
        f"p[{result.target}] with a {patch_h}x{patch_w} grey patch\n"
        f"centred at each pixel (min {result.probability.min():.3f})",
        fontsize=9,
    )
    fig.colorbar(heat, ax=map_ax, label="probability of the class (this map's range)")
    limit = float(result.attribution.abs().max()) or 1.0
    show_digit(attr_ax, image, bounds=bounds)
    overlay = attr_ax.imshow(
        result.attribution.cpu().numpy(), cmap=DIVERGING, vmin=-limit, vmax=limit, alpha=0.75
    )
    attr_ax.set_title(f"occlusion attribution (Captum semantics,\n{result.score} drop)", fontsize=9)
    fig.colorbar(overlay, ax=attr_ax, label=f"{result.score} drop")
    fig.suptitle("Occlusion: where does covering the digit hurt?")
    return fig


def plot_saliency(
    images: torch.Tensor,
    maps: torch.Tensor,
    labels: torch.Tensor,
    title: str = "Gradient saliency: pixels the class score is most sensitive to",
    *,
    bounds: Bounds,
) -> Figure:
    """Each input beside its saliency map and the map laid over the input.

    ``images`` ``(N, C, H, W)`` in ``bounds``, ``maps`` ``(N, H, W)`` or
    ``(N, C, H, W)`` (absolute saliency; channels are shown by their maximum),
    ``labels`` ``(N,)``: the class whose logit was differentiated. ``title`` heads the
    figure (e.g. name the method).

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.inspect.saliency import saliency
    >>> images, labels = torch.zeros(2, 1, 28, 28), torch.tensor([1, 7])
    >>> maps = saliency(cnnviz.pretrained(), images, labels)
    >>> fig = plot_saliency(images, maps, labels, bounds=(-1.0, 1.0))
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['input, class 1', '|d logit / d pixel|', 'overlay']
    >>> len(fig.axes)  # one row of three panels per digit
    6
    """
    n = len(images)
    fig = Figure(figsize=(6.5, 2.2 * n), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n, 3))
    for row, (image, saliency_map, label) in enumerate(zip(images, maps, labels, strict=True)):
        show_digit(axes[row, 0], image, f"input, class {int(label)}", bounds=bounds)
        values = saliency_map.reshape(-1, *saliency_map.shape[-2:]).amax(0).cpu().numpy()
        axes[row, 1].imshow(values, cmap="hot", vmin=0.0)
        axes[row, 1].set_title("|d logit / d pixel|", fontsize=9)
        show_digit(axes[row, 2], image, "overlay", bounds=bounds)
        axes[row, 2].imshow(values, cmap="hot", alpha=0.6, vmin=0.0)
        for ax in axes[row, 1:]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title)
    return fig
