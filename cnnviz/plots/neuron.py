"""Pictures of one neuron of the report's CNN: its computation, receptive fields, top patches.

As CNN Explainer draws them, on the report CNN's geometry
(:mod:`cnnviz.models.cnn`); the input is drawn in the CNN's bounds unless ``bounds``
says otherwise.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnviz.core.classifier import Bounds
from cnnviz.inspect.neuron import UnitComputation, receptive_field
from cnnviz.models.cnn import CNN, IMAGE_SIZE, MAP_SIZE
from cnnviz.plots.colours import DIVERGING
from cnnviz.plots.images import show_digit
from cnnviz.visualise.patches import TopPatches

#: Figure margins of :func:`~cnnviz.plots.plot_unit_computation` (a layout engine costs a click 0.1
#: s).
_SPACING = {"left": 0.01, "right": 0.99, "top": 0.93, "bottom": 0.04, "wspace": 0.08}
#: Names of the inputs of each layer's units, for labels.
SOURCE_NAMES = {"image": "pixel", "pool1": "pool1 channel", "pool2": "pool2 value", "relu3": "fc1"}


def _grid(ax, values: np.ndarray, title: str, mask: np.ndarray | None = None) -> None:
    """A small matrix drawn as a diverging heat map with its numbers written in."""
    limit = max(float(np.abs(values).max()), 1e-12)
    ax.imshow(values, cmap=DIVERGING, vmin=-limit, vmax=limit)
    for (row, col), value in np.ndenumerate(values):
        padded = mask is not None and mask[row, col]
        text = "pad\n0" if padded else f"{value:.2f}"
        ink = "white" if abs(value) > 0.6 * limit else "black"  # readable on dark cells
        ax.text(col, row, text, ha="center", va="center", fontsize=9, color=ink)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def _field(ax, image: torch.Tensor, terms: UnitComputation, bounds: Bounds) -> None:
    """The digit with the unit's receptive field outlined."""
    top, bottom, left, right = terms.receptive_field
    if terms.position is not None:
        title = f"{terms.layer}[{terms.unit}, {terms.position[0]}, {terms.position[1]}] sees"
    else:
        title = (
            f"class {terms.unit} (fc2) sees" if terms.layer == "fc2" else f"fc1 unit {terms.unit}"
        )
    show_digit(ax, image, title, bounds=bounds)
    ax.add_patch(
        Rectangle(
            (left - 0.5, top - 0.5),
            right - left,
            bottom - top,
            fill=False,
            edgecolor="#ffb000",
            linewidth=2,
        )
    )
    ax.set_xlabel(f"rows {top}-{bottom - 1}, columns {left}-{right - 1}", fontsize=8)


def _bars(ax, terms: UnitComputation, label: str, count: int = 8) -> None:
    """The largest positive and negative contributions as horizontal bars."""
    chosen, shown = terms.pushes(count)
    ax.barh(range(len(chosen)), shown, color=np.where(shown > 0, "#b2182b", "#2166ac"))
    ax.set_yticks(range(len(chosen)), [f"{label} {index}" for index in chosen], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title("largest pushes up (red) and down (blue)", fontsize=9)


def _pool_window(ax, terms: UnitComputation) -> None:
    """The 2x2 pooling window: the unit marked, the kept value outlined."""
    _grid(ax, terms.pool.window, f"max pool -> {terms.pool.value:.2f}")
    kept_row, kept_col = terms.pool.kept
    ax.add_patch(
        Rectangle((kept_col - 0.5, kept_row - 0.5), 1, 1, fill=False, edgecolor="black", lw=3)
    )
    row, col = terms.position[0] % 2, terms.position[1] % 2
    ax.plot(col, row + 0.35, marker="^", color="#ffb000", markersize=8)


def plot_unit_computation(
    terms: UnitComputation, image: torch.Tensor, *, bounds: Bounds = CNN.input_bounds
) -> Figure:
    """One unit's computation: receptive field, inputs x weights = products, bias, BN, ReLU, pool.

    Convolutions of one input channel (conv1) show the 3x3 input window, kernel and
    products with their numbers; conv2 (32 input channels) and the fully connected units
    show which inputs pushed the value up and down, then the whole sum term by term.

    Parameters
    ----------
    terms
        From :func:`cnnviz.inspect.neuron.unit_computation`.
    image
        The ``(1, 28, 28)`` digit it was computed on, in ``bounds``.
    bounds
        The model's input range ``(black, white)``; the report CNN's by default.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.inspect.neuron import unit_computation
    >>> image = cnnviz.load_test_digits().x[0]
    >>> terms = unit_computation(cnnviz.pretrained(), image, "conv1", 3, (12, 14))
    >>> len(plot_unit_computation(terms, image).axes)
    6
    """
    single = terms.position is not None and len(terms.inputs) == 1
    if single:
        layout = [["field", "input", "kernel", "products"], ["pool", "text", "text", "text"]]
        fig = Figure(figsize=(9.0, 5.0))  # fixed margins: drawn fast enough for a click
        axes = fig.subplot_mosaic(layout, gridspec_kw=_SPACING | {"hspace": 0.3})
        mask = terms.padding[0]
        _grid(axes["input"], terms.inputs[0], "input window", mask)
        _grid(axes["kernel"], terms.weights[0], "x kernel")
        _grid(axes["products"], terms.products[0], "= products", mask)
        _pool_window(axes["pool"], terms)
    else:
        fig = Figure(figsize=(9.5, 3.3))
        # The text panel is as wide as batch norm's arithmetic (~45 characters).
        spacing = _SPACING | {"left": 0.02, "bottom": 0.16, "wspace": 0.5}
        axes = fig.subplot_mosaic(
            [["field", "bars", "text"]], width_ratios=[1.0, 1.45, 1.75], gridspec_kw=spacing
        )
        _bars(axes["bars"], terms, SOURCE_NAMES[terms.source])
        axes["bars"].set_xlabel(terms.push_meaning(), fontsize=8)
    _field(axes["field"], image, terms, bounds)
    text = axes["text"]
    text.axis("off")
    text.text(0, 0.5, terms.arithmetic(), family="monospace", fontsize=9, va="center")
    return fig


def plot_receptive_fields(
    image: torch.Tensor,
    position: tuple[int, int],
    layers: tuple[str, ...] = (),
    *,
    bounds: Bounds = CNN.input_bounds,
) -> Figure:
    """The receptive fields of the units above one pixel, layer by layer, on a digit.

    Parameters
    ----------
    image
        ``(1, 28, 28)`` digit in ``bounds``.
    position
        ``(row, col)`` of a pixel; each layer's unit is the one whose field is centred
        nearest to it.
    layers
        Layers to draw (default conv1, pool1, conv2, pool2).
    bounds
        The model's input range ``(black, white)``; the report CNN's by default.

    Returns
    -------
    Figure

    Examples
    --------
    >>> fig = plot_receptive_fields(torch.zeros(1, 28, 28), (14, 14))
    >>> len(fig.axes[0].patches)
    4
    """
    layers = layers or ("conv1", "pool1", "conv2", "pool2")
    fig = Figure(figsize=(4.6, 4.2), layout="constrained")
    ax = fig.subplots()
    show_digit(ax, image, "what one unit of each layer sees", bounds=bounds)
    colours = ("#ffb000", "#fe6100", "#dc267f", "#785ef0", "#648fff")
    for layer, colour in zip(layers, colours, strict=False):
        top, bottom, left, right = _centred_field(layer, position)
        ax.add_patch(
            Rectangle(
                (left - 0.5, top - 0.5),
                right - left,
                bottom - top,
                fill=False,
                edgecolor=colour,
                linewidth=2,
                label=f"{layer}: {bottom - top}x{right - left} px",
            )
        )
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, frameon=False)
    return fig


def _centred_field(layer: str, position: tuple[int, int]) -> tuple[int, int, int, int]:
    """The field of ``layer``'s unit whose field centre is nearest ``position``."""
    size = MAP_SIZE.get(layer, IMAGE_SIZE)  # receptive_field names the layers it knows
    stride = IMAGE_SIZE // size
    row, col = (min(size - 1, max(0, value // stride)) for value in position)
    return receptive_field(layer, row, col)


def plot_top_patches(
    found: TopPatches,
    channels: list[int],
    count: int = 6,
    *,
    bounds: Bounds = CNN.input_bounds,
) -> Figure:
    """The receptive-field patches that excite each channel most, one row per channel.

    Parameters
    ----------
    found
        From :func:`cnnviz.visualise.patches.top_patches`.
    channels
        Channels to show, one row each.
    count
        Patches per row (at most those found).
    bounds
        The model's input range ``(black, white)``; the report CNN's by default.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.visualise.patches import top_patches
    >>> found = top_patches(cnnviz.pretrained(), cnnviz.load_test_digits().x[:50], "relu2", count=3)
    >>> len(plot_top_patches(found, [0, 5], count=3).axes)
    6
    """
    count = min(count, found.patches.shape[1])
    fig = Figure(figsize=(1.25 * count + 0.6, 1.35 * len(channels)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(channels), count))
    for row, channel in enumerate(channels):
        for rank in range(count):
            ax = axes[row, rank]
            value = f"{found.values[channel, rank]:.2f}"
            show_digit(ax, found.patches[channel, rank], value, bounds=bounds)
            if rank == 0:
                ax.set_ylabel(f"{found.layer}\nch {channel}", fontsize=9)
    return fig
