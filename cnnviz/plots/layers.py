"""What a layer holds and what it computes: its kernels, and its feature maps for one input.

:func:`~cnnviz.plots.plot_filters` draws a convolution's kernels on one shared signed scale;
:func:`~cnnviz.plots.plot_activations` draws one input's feature maps on one shared scale
(:func:`~cnnviz.plots.activation_scale`), so a weak channel looks weak.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from cnnviz.core.classifier import Bounds
from cnnviz.inspect.layers import Filters
from cnnviz.plots.colours import DIVERGING
from cnnviz.plots.images import show_digit

#: Kernels per row of :func:`~cnnviz.plots.plot_filters` for a layer that reads one channel.
KERNELS_PER_ROW = 8


def kernel_mosaic(kernels: np.ndarray) -> np.ndarray:
    """Tile ``(rows, cols, kh, kw)`` kernels into one ``float32`` image with 1-px NaN gaps.

    The result has shape ``(rows * (kh + 1) - 1, cols * (kw + 1) - 1)``; kernel
    ``(r, c)`` starts at pixel ``(r * (kh + 1), c * (kw + 1))``.

    Examples
    --------
    >>> mosaic = kernel_mosaic(np.ones((2, 3, 5, 5)))
    >>> mosaic.shape, int(np.isnan(mosaic).sum()), float(np.nansum(mosaic))
    ((11, 17), 37, 150.0)
    """
    rows, cols, kh, kw = kernels.shape
    mosaic = np.full((rows * (kh + 1) - 1, cols * (kw + 1) - 1), np.nan, dtype=np.float32)
    for row in range(rows):
        for col in range(cols):
            top, left = row * (kh + 1), col * (kw + 1)
            mosaic[top : top + kh, left : left + kw] = kernels[row, col]
    return mosaic


def plot_filters(filters: Filters) -> Figure:
    """Kernels of one layer on a shared symmetric colour scale (Fig 8, 9).

    A layer reading one channel (conv1): its kernels in rows of
    :data:`~cnnviz.plots.layers.KERNELS_PER_ROW` (32 kernels: a 4x8 grid). A layer reading several
    (conv2): one mosaic, row = output channel, column = input channel. Blue is negative, red
    positive, white zero; grey fills the gaps.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.inspect.layers import conv_filters
    >>> fig = plot_filters(conv_filters(cnnviz.pretrained(), "conv1"))
    >>> fig.axes[0].get_title(), fig.axes[1].get_label()  # the grid and its colour bar
    ('Filters of conv1: 32x1 kernels of 3x3', '<colorbar>')
    """
    weights = filters.weights
    out_channels, in_channels, kh, kw = weights.shape
    if in_channels == 1:
        cols = min(KERNELS_PER_ROW, out_channels)
        rows = -(-out_channels // cols)
        grid = np.full((rows * cols, kh, kw), np.nan, dtype=np.float32)
        grid[:out_channels] = weights[:, 0]
        grid = grid.reshape(rows, cols, kh, kw)
        fig = Figure(figsize=(8, 4.4), layout="constrained")
    else:
        grid = weights
        fig = Figure(figsize=(9.5, 8.6), layout="constrained")
    ax = fig.subplots()
    colours = matplotlib.colormaps[DIVERGING].with_extremes(bad="0.25")
    image = ax.imshow(kernel_mosaic(grid), cmap=colours, vmin=-filters.limit, vmax=filters.limit)
    rows, cols = grid.shape[:2]
    step = 1 if in_channels == 1 else 4
    ax.set_xticks(np.arange(0, cols, step) * (kw + 1) + (kw - 1) / 2, np.arange(0, cols, step))
    ax.set_yticks(np.arange(0, rows, step) * (kh + 1) + (kh - 1) / 2, np.arange(0, rows, step))
    if in_channels == 1:
        ax.set_xlabel(f"kernel index (row r, column c: kernel {cols}r + c)")
        ax.set_yticks(
            np.arange(rows) * (kh + 1) + (kh - 1) / 2, [f"{cols * r}+" for r in range(rows)]
        )
    else:
        ax.set_xlabel("input channel")
        ax.set_ylabel("output channel")
    fig.colorbar(image, ax=ax, shrink=0.8, label=f"weight (shared scale +-{filters.limit:.2f})")
    ax.set_title(f"Filters of {filters.layer}: {out_channels}x{in_channels} kernels of {kh}x{kw}")
    return fig


def activation_scale(maps: torch.Tensor) -> tuple[str, float, float]:
    """Colour map and limits shared by all ``maps``: ``(cmap, vmin, vmax)``.

    Maps with no negative value (after a ReLU) run from 0 (dark) to their largest
    value; otherwise the scale is symmetric around 0 (blue negative, red positive).
    All-zero maps get the scale ``(0, 1)``.

    Examples
    --------
    >>> activation_scale(torch.tensor([0.0, 2.0]))
    ('viridis', 0.0, 2.0)
    >>> activation_scale(torch.tensor([-3.0, 1.0]))
    ('RdBu_r', -3.0, 3.0)
    """
    high = float(maps.abs().max()) or 1.0
    if float(maps.min()) >= 0:
        return "viridis", 0.0, high
    return DIVERGING, -high, high


def plot_activations(
    maps: torch.Tensor,
    layer: str,
    image: torch.Tensor | None = None,
    *,
    bounds: Bounds | None = None,
) -> Figure:
    """Feature maps ``(C, H, W)`` of one input as a labelled grid (Fig 10, 11).

    All maps share one colour scale, given by the colour bar (see
    :func:`~cnnviz.plots.activation_scale`), so a weak channel looks weak and a silent one (all
    zero after a ReLU) looks dark; each title gives the channel and its maximum. The
    input image ``(C, H, W)`` is shown first when given, with the model's ``bounds``
    (its input range, needed with an image). ``layer`` names the maps in the title.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.inspect.layers import activations
    >>> digit = -torch.ones(1, 28, 28)  # a blank (black) digit
    >>> maps = activations(cnnviz.pretrained(), digit[None], ("relu1",))["relu1"][0]
    >>> fig = plot_activations(maps, "relu1", digit, bounds=(-1.0, 1.0))
    >>> fig.get_suptitle(), sum(ax.get_title().startswith("ch ") for ax in fig.axes)
    ('Activations of relu1: 32 maps of 28x28', 32)
    """
    channels = len(maps)
    cols = 8
    rows = -(-channels // cols) + (1 if image is not None else 0)
    fig = Figure(figsize=(9.0, rows * 1.25 + 0.5), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, cols))  # one row: still (1, cols)
    for ax in axes.flat:
        ax.axis("off")
    offset = 0
    if image is not None:
        if bounds is None:
            raise ValueError(
                "plot_activations needs bounds= (the model's input range) to draw image"
            )
        show_digit(axes[0, 0], image, "input", bounds=bounds)
        axes[0, 0].axis("on")
        offset = cols
    cmap, low, high = activation_scale(maps)
    for channel in range(channels):
        ax = axes.flat[offset + channel]
        values = maps[channel].numpy()
        shown = ax.imshow(values, cmap=cmap, vmin=low, vmax=high)
        ax.set_title(f"ch {channel}: max {values.max():.1f}", fontsize=8)
    fig.colorbar(shown, ax=axes[offset // cols :, -1], label="activation (one scale for all)")
    size = "x".join(map(str, maps.shape[1:]))
    fig.suptitle(f"Activations of {layer}: {channels} maps of {size}")
    return fig
