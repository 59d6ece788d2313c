"""Pictures of one neuron's computation, as CNN Explainer draws them (Figure, no pyplot)."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnviz.neuron import UnitComputation
from cnnviz.plots import DIVERGING, show_digit

#: Names of the inputs of each layer's units, for labels.
_SOURCE_NAMES = {"image": "pixel", "pool1": "pool1 channel", "pool2": "pool2 value", "relu3": "fc1"}


def _grid(ax, values: np.ndarray, title: str, mask: np.ndarray | None = None) -> None:
    """A small matrix drawn as a diverging heat map with its numbers written in."""
    limit = max(float(np.abs(values).max()), 1e-12)
    ax.imshow(values, cmap=DIVERGING, vmin=-limit, vmax=limit)
    for (row, col), value in np.ndenumerate(values):
        padded = mask is not None and mask[row, col]
        text = "pad\n0" if padded else f"{value:.2f}"
        ax.text(col, row, text, ha="center", va="center", fontsize=8, color="black")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def _field(ax, image: torch.Tensor, terms: UnitComputation) -> None:
    """The digit with the unit's receptive field outlined."""
    top, bottom, left, right = terms.receptive_field
    if terms.position is not None:
        title = f"{terms.layer}[{terms.unit}, {terms.position[0]}, {terms.position[1]}] sees"
    else:
        title = (
            f"class {terms.unit} (fc2) sees" if terms.layer == "fc2" else f"fc1 unit {terms.unit}"
        )
    show_digit(ax, image, title)
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


def _bars(ax, values: np.ndarray, label: str, count: int = 8) -> None:
    """The largest positive and negative contributions as horizontal bars."""
    order = np.argsort(values)
    chosen = np.concatenate([order[::-1][:count], order[:count][::-1]])
    chosen = chosen[np.abs(values[chosen]) > 0]
    chosen = list(dict.fromkeys(chosen.tolist()))  # once each, largest first
    shown = values[chosen]
    ax.barh(range(len(chosen)), shown, color=np.where(shown > 0, "#b2182b", "#2166ac"))
    ax.set_yticks(range(len(chosen)), [f"{label} {index}" for index in chosen], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title("largest pushes up (red) and down (blue)", fontsize=9)


def _equation(terms: UnitComputation) -> str:
    """The unit's value, term by term, as lines of text."""
    count = terms.products.size - int(terms.padding.sum())
    lines = [
        f"sum of {count} products {float(terms.products.sum()):+.4f}",
        f"+ bias                 {terms.bias:+.4f}",
        f"= {terms.layer:<20} {terms.total:+.4f}",
        f"  (forward pass:       {terms.forward_value:+.4f})",
    ]
    norm = terms.batch_norm
    if norm is not None:
        lines += [
            "batch norm, running statistics:",
            f"  ({terms.total:.3f} - {norm.mean:.3f}) / sqrt({norm.variance:.3f} + {norm.eps:g})",
            f"  x {norm.weight:.3f} + {norm.bias:.3f} = {terms.normalised:+.4f}",
        ]
    if terms.relu is not None:
        lines.append(f"ReLU: max(0, {terms.normalised:.4f}) = {terms.output:.4f}")
    if terms.pool is not None:
        offset = (terms.position[0] % 2, terms.position[1] % 2)
        kept = "this unit" if terms.pool.unit_was_kept(offset) else "another unit"
        lines.append(f"max pool keeps {terms.pool.value:.4f} ({kept})")
    return "\n".join(lines)


def _pool_window(ax, terms: UnitComputation) -> None:
    """The 2x2 pooling window: the unit marked, the kept value outlined."""
    _grid(ax, terms.pool.window, f"max pool -> {terms.pool.value:.2f}")
    kept_row, kept_col = terms.pool.kept
    ax.add_patch(
        Rectangle((kept_col - 0.5, kept_row - 0.5), 1, 1, fill=False, edgecolor="black", lw=3)
    )
    row, col = terms.position[0] % 2, terms.position[1] % 2
    ax.plot(col, row + 0.35, marker="^", color="#ffb000", markersize=8)


def plot_unit_computation(terms: UnitComputation, image: torch.Tensor) -> Figure:
    """One unit's computation: receptive field, inputs x weights = products, bias, BN, ReLU, pool.

    Convolutions of one input channel (conv1) show the 3x3 input window, kernel and
    products with their numbers; conv2 (32 input channels) and the fully connected units
    show which inputs pushed the value up and down, then the whole sum term by term.

    Parameters
    ----------
    terms
        From :func:`cnnviz.neuron.unit_computation`.
    image
        The ``(1, 28, 28)`` digit it was computed on, in [-1, 1].

    Returns
    -------
    Figure

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.neuron import unit_computation
    >>> image = cnnviz.load_test_digits().x[0]
    >>> terms = unit_computation(cnnviz.pretrained(), image, "conv1", 3, (12, 14))
    >>> len(plot_unit_computation(terms, image).axes)
    6
    """
    single = terms.position is not None and len(terms.inputs) == 1
    panels = 6 if single else 3
    widths = [1.2] * (panels - 1) + [2.6] if single else [1.2, 2.2, 2.6]
    fig = Figure(figsize=(2.0 * sum(widths) / 1.2, 2.9), layout="constrained")
    axes = fig.subplots(1, panels, gridspec_kw={"width_ratios": widths})
    _field(axes[0], image, terms)
    if single:
        mask = terms.padding[0]
        _grid(axes[1], terms.inputs[0], "input window", mask)
        _grid(axes[2], terms.weights[0], "x kernel")
        _grid(axes[3], terms.products[0], "= products", mask)
        if terms.pool is not None:
            _pool_window(axes[4], terms)
        else:
            axes[4].axis("off")
    else:
        by_channel = terms.position is not None
        values = terms.channel_sums() if by_channel else terms.products
        _bars(axes[1], values, _SOURCE_NAMES[terms.source])
        axes[1].set_xlabel(
            "sum of a channel's 9 products" if by_channel else "input x weight", fontsize=8
        )
    text = axes[-1]
    text.axis("off")
    text.text(0, 0.5, _equation(terms), family="monospace", fontsize=8, va="center")
    return fig
