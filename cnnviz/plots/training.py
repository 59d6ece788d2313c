"""Training curves: one finished run, several runs compared, and runs still training.

:func:`~cnnviz.plots.plot_training_curves` and :func:`~cnnviz.plots.plot_bn_comparison` draw a
:class:`~cnnviz.training.history.History` (Fig 1, 2, 4 to 7); :func:`~cnnviz.plots.plot_progress`
draws the reports of runs as they train (the series of :mod:`cnnviz.plots.series`).
Every run has its network's colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from cnnviz.plots.colours import network_colour
from cnnviz.plots.series import progress_series
from cnnviz.training.history import History
from cnnviz.training.progress import Progress

#: Metric name -> (training attribute, validation attribute, axis label) of a History.
METRICS = {
    "accuracy": ("train_acc", "val_acc", "accuracy (%)"),
    "loss": ("train_loss", "val_loss", "NLL loss"),
}
#: Network -> how titles and legends name it.
VARIANT_NAMES = {
    "bn": "with batch norm",
    "nobn": "without batch norm",
    "robust": "robust (adversarially trained)",
}
#: Figure margins of :func:`~cnnviz.plots.plot_progress`, fixed (a layout engine would cost every
#: update 0.1 s).
_SPACING = {"left": 0.08, "right": 0.98, "top": 0.88, "bottom": 0.16, "wspace": 0.25}


def _network(history: History) -> str:
    """The network a run trained: its variant, or ``"robust"`` for the robust recipe."""
    return "robust" if history.recipe.get("name") == "robust" else history.variant


def _smooth(values: list[float], window: int) -> np.ndarray:
    """Trailing moving average (the first ``window - 1`` points average what exists)."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, len(values) + 1) - counts]) / counts


def plot_training_curves(history: History, metric: str = "accuracy", window: int = 50) -> Figure:
    """Training (per step, smoothed) and validation curves of one run (Fig 1, 2, 4, 5).

    ``metric``: ``"accuracy"`` or ``"loss"``; ``window``: training steps averaged by the
    smoothed training curve. The training curves have the network's colour
    (:func:`~cnnviz.plots.network_colour`); validation is dotted black through
    dots of that colour.

    Examples
    --------
    >>> from cnnviz.models.checkpoint import pretrained_history
    >>> fig = plot_training_curves(pretrained_history(batchnorm=False), "loss")
    >>> fig.axes[0].get_title().splitlines()[0], fig.axes[0].get_yscale()
    ('Training and validation loss, without batch norm', 'log')
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['training (moving average of 50 steps)', 'validation']
    """
    train_key, val_key, label = METRICS[metric]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    colour = network_colour(_network(history))
    ax.plot(history.step, getattr(history, train_key), color=colour, alpha=0.2, lw=0.8)
    ax.plot(
        history.step,
        _smooth(getattr(history, train_key), window),
        color=colour,
        label=f"training (moving average of {window} steps)",
    )
    ax.plot(
        history.val_step,
        getattr(history, val_key),
        "o:",
        color="black",
        markerfacecolor=colour,
        ms=4,
        label="validation",
    )
    for end in history.epoch_steps[:-1]:
        ax.axvline(end, color="0.85", lw=0.8, zorder=0)
    if metric == "accuracy":
        ax.set_ylim(max(0.0, min(getattr(history, val_key)) - 2), 100.5)
    else:
        ax.set_yscale("log")
    ax.set_xlabel("training step (grey lines: epochs)")
    ax.set_ylabel(label)
    test = f"; test {history.test_acc:.2f} %" if history.test_acc is not None else ""
    ax.set_title(
        f"Training and validation {metric}, {VARIANT_NAMES[_network(history)]}\n"
        f"({history.recipe['name']} recipe{test})"
    )
    ax.legend(loc="lower right" if metric == "accuracy" else "upper right")
    ax.grid(alpha=0.3)
    return fig


def plot_bn_comparison(histories: list[History], metric: str = "accuracy") -> Figure:
    """Validation curves of several runs on one plot: batch norm versus none (Fig 6, 7).

    ``histories``: runs of different networks, each drawn in its network's colour
    (:func:`~cnnviz.plots.network_colour`); ``metric``: ``"accuracy"`` or
    ``"loss"``.

    Examples
    --------
    >>> from cnnviz.models.checkpoint import pretrained_history
    >>> runs = [pretrained_history(batchnorm=False), pretrained_history(batchnorm=True)]
    >>> fig = plot_bn_comparison(runs)
    >>> [text.get_text().split(",")[0] for text in fig.axes[0].get_legend().get_texts()]
    ['without batch norm', 'with batch norm']
    >>> fig.axes[0].get_title()
    'Validation accuracy with and without batch norm'
    """
    _, val_key, label = METRICS[metric]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    for history in histories:
        test = f", test {history.test_acc:.2f} %" if history.test_acc is not None else ""
        ax.plot(
            history.val_step,
            getattr(history, val_key),
            "o-",
            ms=3,
            color=network_colour(_network(history)),
            label=f"{VARIANT_NAMES[_network(history)]}{test}",
        )
    if metric == "accuracy":
        ax.set_ylim(max(0.0, min(min(h.val_acc) for h in histories) - 1), 100.2)
    else:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"validation {label}")
    ax.set_title(f"Validation {metric} with and without batch norm")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_progress(runs: Mapping[str, Sequence[Progress]], threshold: float | None = None) -> Figure:
    """Training loss and accuracy per step, validation accuracy where measured.

    Parameters
    ----------
    runs
        Name -> the :class:`~cnnviz.training.progress.Progress` reports so far (may be
        empty); each run has its network's colour
        (:func:`~cnnviz.plots.network_colour`).
    threshold
        A validation accuracy (%) to draw as a dashed line, e.g. the report's 98.45.

    Returns
    -------
    Figure
        Two panels, 9 x 3.2 inches: loss (log scale), and accuracy from 80 to 100 %
        (train as a thin line, validation as dots joined).

    Examples
    --------
    >>> from cnnviz.plots.colours import NETWORK_COLOURS
    >>> reports = [Progress(s, 4, 1, 1, 1.0 / s, 85.0 + s, None, None, 32 * s, 0.1 * s)
    ...            for s in range(1, 5)]
    >>> fig = plot_progress({"batch norm": reports}, threshold=98.45)
    >>> [ax.get_title() for ax in fig.axes]
    ['loss (training batches)', 'accuracy (%)']
    >>> fig.axes[0].get_lines()[0].get_color() == NETWORK_COLOURS["batch norm"]
    True
    """
    fig = Figure(figsize=(9.0, 3.2))
    loss, accuracy = fig.subplots(1, 2, gridspec_kw=_SPACING)
    series = progress_series(runs)
    for run in series:
        loss.plot(run.steps, run.losses, color=run.colour, lw=0.8, label=run.name)
        accuracy.plot(run.steps, run.accuracies, color=run.colour, lw=0.6, alpha=0.5)
        accuracy.plot(
            run.val_steps,
            run.val_accuracies,
            "o-",
            color=run.colour,
            ms=3,
            label=f"{run.name}, validation",
        )
    if threshold is not None:
        accuracy.axhline(threshold, color="black", ls="--", lw=0.8, label=f"{threshold} %")
    loss.set_yscale("log")
    loss.set_title("loss (training batches)", fontsize=10)
    accuracy.set_title("accuracy (%)", fontsize=10)
    accuracy.set_ylim(80, 100)
    for ax in (loss, accuracy):
        ax.set_xlabel("step", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    if any(run.steps for run in series):
        accuracy.legend(fontsize=8, loc="lower right")
    return fig
