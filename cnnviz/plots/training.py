"""Training curves drawn while training runs: loss and accuracy of one or more live runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from cnnviz.plots import NETWORK_COLOURS, network_colour
from cnnviz.training.progress import Progress

#: One colour per run, in order (the first is the batch-norm run of a race): the
#: networks' colours of :data:`cnnviz.plots.NETWORK_COLOURS`.
COLOURS = tuple(NETWORK_COLOURS[name] for name in ("batch norm", "standard", "yours"))
#: Figure margins: fixed, as a layout engine would cost every update 0.1 s.
_SPACING = {"left": 0.08, "right": 0.98, "top": 0.88, "bottom": 0.16, "wspace": 0.25}


def plot_progress(runs: Mapping[str, Sequence[Progress]], threshold: float | None = None) -> Figure:
    """Training loss and accuracy per step, validation accuracy where measured.

    Parameters
    ----------
    runs
        Name -> the :class:`~cnnviz.training.progress.Progress` reports so far (may be empty);
        each run has its network's colour (``cnnviz.plots.network_colour``).
    threshold
        A validation accuracy (%) to draw as a dashed line, e.g. the report's 98.45.

    Returns
    -------
    Figure
        Two panels, 9 x 3.2 inches: loss (log scale), and accuracy from 80 to 100 %
        (train as a thin line, validation as dots joined).

    Examples
    --------
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
    for name, reports in runs.items():
        colour = network_colour(name)
        steps = [p.step for p in reports]
        loss.plot(steps, [p.train_loss for p in reports], color=colour, lw=0.8, label=name)
        accuracy.plot(steps, [p.train_acc for p in reports], color=colour, lw=0.6, alpha=0.5)
        measured = [p for p in reports if p.measured]
        accuracy.plot(
            [p.step for p in measured],
            [p.val_acc for p in measured],
            "o-",
            color=colour,
            ms=3,
            label=f"{name}, validation",
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
    if any(runs.values()):
        accuracy.legend(fontsize=8, loc="lower right")
    return fig
