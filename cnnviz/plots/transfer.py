"""Transfer tables: what each learned noise makes the network read in other images.

One cell per (noise, image): the class read, coloured by its outcome
(:data:`~cnnviz.plots.transfer.TRANSFER_OUTCOMES`); :func:`~cnnviz.plots.plot_transfer_table` draws
one :class:`~cnnviz.attacks.transfer.NoiseTransfer`, :func:`~cnnviz.plots.plot_transfer_comparison`
several tables one above the other with one legend.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from cnnviz.attacks.transfer import NoiseTransfer

#: Outcome code -> (legend text, cell colour) of a transfer table cell. Okabe-Ito orange
#: and sky blue: told apart with protanopia and deuteranopia too (tested).
TRANSFER_OUTCOMES: dict[int, tuple[str, str]] = {
    0: ("still the true label", "#bdbdbd"),
    1: ("another wrong label", "#e69f00"),
    2: ("fooled: read as the noise's target", "#56b4e9"),
    3: ("already the target (not counted)", "#ffffff"),
}


def _transfer_outcomes(
    predictions: torch.Tensor, targets: torch.Tensor, image_labels: torch.Tensor
) -> np.ndarray:
    """``(K, M)`` outcome codes (keys of :data:`TRANSFER_OUTCOMES`) of a transfer table.

    ``predictions`` ``(K, M)``: class of image ``m`` plus noise ``k``; ``targets``
    ``(K,)``: each noise's target; ``image_labels`` ``(M,)``: the images' true labels.
    """
    predictions, targets, labels = (
        np.asarray(predictions),
        np.asarray(targets)[:, None],
        np.asarray(image_labels)[None, :],
    )
    outcome = np.where(predictions == targets, 2, np.where(predictions == labels, 0, 1))
    return np.where(labels == targets, 3, outcome)


def _draw_transfer_table(
    ax,
    predictions: torch.Tensor,
    targets: torch.Tensor,
    image_labels: torch.Tensor,
    rates: torch.Tensor,
) -> None:
    """One transfer table on ``ax``: coloured outcome cells annotated with predictions.

    Shapes as :func:`_transfer_outcomes`; ``rates`` ``(K,)`` fooling rate of each row,
    shown beside its target.
    """
    colours = matplotlib.colors.ListedColormap([c for _, c in TRANSFER_OUTCOMES.values()])
    outcome = _transfer_outcomes(predictions, targets, image_labels)
    ax.imshow(outcome, cmap=colours, vmin=-0.5, vmax=len(TRANSFER_OUTCOMES) - 0.5)
    for (row, col), value in np.ndenumerate(np.asarray(predictions)):
        ax.text(col, row, str(value), ha="center", va="center", fontsize=9)
    ax.set_xticks(range(outcome.shape[1]), [str(int(y)) for y in image_labels])
    ax.set_yticks(
        range(len(targets)),
        [f"noise -> {int(t)} ({float(r):.0%})" for t, r in zip(targets, rates, strict=True)],
    )
    ax.set_xticks(np.arange(outcome.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(outcome.shape[0] + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.6", lw=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("true label of the image the noise is added to")


def _add_outcome_legend(fig: Figure, outcomes: list[np.ndarray]) -> None:
    """A legend under ``fig``: each outcome colour, marked "(none)" if no cell has it."""
    seen = set(np.concatenate([o.ravel() for o in outcomes]).tolist())
    handles = [
        Patch(facecolor=colour, edgecolor="0.4", label=text if code in seen else f"{text} (none)")
        for code, (text, colour) in TRANSFER_OUTCOMES.items()
    ]
    columns = 2 if fig.get_figwidth() >= 5.5 else 1  # two columns need 5.5 inches
    fig.legend(handles=handles, loc="outside lower center", ncol=columns, fontsize=9, frameon=False)


def plot_transfer_table(transfer: NoiseTransfer, image_labels: torch.Tensor) -> Figure:
    """The report's table as an annotated heatmap: rows = noise targets, columns = images.

    Each cell is coloured by its outcome (:data:`~cnnviz.plots.transfer.TRANSFER_OUTCOMES`): blue,
    the prediction became the noise's target (fooled); grey, still the true label; orange, something
    else; white, the image already is of the target class (not counted in the fooling rate). The
    legend under the table says which colours no cell has. ``transfer`` comes from
    :func:`cnnviz.attacks.transfer.noise_attack`; ``image_labels`` ``(M,)`` are the true labels of
    the images its noises were added to.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.attacks.transfer import noise_attack
    >>> digit, others = torch.zeros(1, 1, 28, 28), torch.zeros(3, 1, 28, 28)
    >>> labels = torch.tensor([1, 5, 7])
    >>> transfer = noise_attack(
    ...     cnnviz.pretrained(), digit, [1, 2], others=others, other_labels=labels, steps=3
    ... )
    >>> fig = plot_transfer_table(transfer, labels)
    >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
    ['noise -> 1 (0%)', 'noise -> 2 (0%)']
    >>> int(fig.axes[0].images[0].get_array()[0, 0])  # image 0 already is a 1: not counted
    3
    """
    fig = Figure(
        figsize=(0.6 * transfer.predictions.shape[1] + 2.8, 0.5 * len(transfer.predictions) + 1.8),
        layout="constrained",
    )
    ax = fig.subplots()
    _draw_transfer_table(
        ax, transfer.predictions, transfer.attack.targets, image_labels, transfer.fooling_rate
    )
    ax.set_title("Predictions after adding each learned noise")
    outcomes = _transfer_outcomes(transfer.predictions, transfer.attack.targets, image_labels)
    _add_outcome_legend(fig, [outcomes])
    return fig


def plot_transfer_comparison(
    tables: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]],
) -> Figure:
    """Transfer tables one above the other (e.g. the report's, then ours), one legend.

    ``tables``: title -> ``(predictions (K, M), targets (K,), image_labels (M,),
    rates (K,))``: the class read in image ``m`` plus noise ``k``, each noise's target,
    the images' true labels and each noise's fooling rate in [0, 1] (as in
    :class:`cnnviz.attacks.transfer.NoiseTransfer`). Cells are coloured as in
    :func:`~cnnviz.plots.plot_transfer_table`. Stacked, so the figure stays narrow enough to show at
    full size on a page.

    Examples
    --------
    >>> predictions, targets = torch.tensor([[1, 1], [2, 3]]), torch.tensor([1, 2])
    >>> table = (predictions, targets, torch.tensor([1, 3]), torch.tensor([1.0, 0.5]))
    >>> fig = plot_transfer_comparison({"report": table, "ours": table})
    >>> [ax.get_title() for ax in fig.axes], fig.axes[1].get_yticklabels()[1].get_text()
    (['report', 'ours'], 'noise -> 2 (50%)')
    """
    columns = max(table[0].shape[1] for table in tables.values())
    rows = max(len(table[1]) for table in tables.values())
    fig = Figure(
        figsize=(0.5 * columns + 2.6, len(tables) * (0.42 * rows + 1.0) + 0.8),
        layout="constrained",
    )
    axes = np.atleast_1d(fig.subplots(len(tables), 1))
    for ax, (title, table) in zip(axes, tables.items(), strict=True):
        _draw_transfer_table(ax, *table)
        ax.set_title(title, fontsize=10)
    _add_outcome_legend(fig, [_transfer_outcomes(*table[:3]) for table in tables.values()])
    return fig
