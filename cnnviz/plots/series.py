"""The numbers live training curves show, computed once for every drawing of them.

:func:`progress_series` turns each run's :class:`~cnnviz.training.progress.Progress`
reports into the series a curve draws (steps, training loss and accuracy, validation
accuracy where measured) with the run's colour; the library's figure
(:func:`cnnviz.plots.plot_progress`) and the app's SVG
(``cnnviz.app.curves_svg.progress_svg``) only draw them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cnnviz.plots.colours import network_colour
from cnnviz.training.progress import Progress


@dataclass(frozen=True)
class RunSeries:
    """One run's curves: per training step, and per validation measurement.

    Attributes
    ----------
    name
        The run's name (e.g. ``"batch norm"``).
    colour
        Its network's colour (:func:`cnnviz.plots.network_colour`).
    total_steps
        Steps planned (the last report's ``total_steps``; 0 before any report).
    steps, losses, accuracies
        Each reported step (every ``k``-th when thinned, see :func:`progress_series`), its
        batch's loss and accuracy (%), equally long.
    val_steps, val_accuracies
        The steps after which validation was measured, and its accuracy (%).

    Examples
    --------
    >>> run = RunSeries("batch norm", "#D55E00", 4, (1, 2), (0.5, 0.3), (90.0, 92.0), (2,), (97.0,))
    >>> run.last_validation
    97.0
    """

    name: str
    colour: str
    total_steps: int
    steps: tuple[int, ...]
    losses: tuple[float, ...]
    accuracies: tuple[float, ...]
    val_steps: tuple[int, ...]
    val_accuracies: tuple[float, ...]

    @property
    def last_validation(self) -> float | None:
        """The last validation accuracy (%), or ``None`` before the first measurement.

        Examples
        --------
        >>> RunSeries("a", "black", 4, (1,), (0.5,), (90.0,), (), ()).last_validation is None
        True
        """
        return self.val_accuracies[-1] if self.val_accuracies else None


def progress_series(
    runs: Mapping[str, Sequence[Progress]], *, max_points: int | None = None
) -> list[RunSeries]:
    """Each run's curves, in the order of ``runs``.

    Parameters
    ----------
    runs
        Name -> the :class:`~cnnviz.training.progress.Progress` reports so far (may be
        empty), in step order.
    max_points
        At most this many training points per run (every ``k``-th report beyond, the
        first included), for a drawing that need not show every step; ``None`` keeps
        all. Validation points are always all kept.

    Returns
    -------
    list of RunSeries
        One per run, coloured by its network (:func:`~cnnviz.plots.network_colour`).

    Examples
    --------
    >>> reports = [Progress(s, 4, 1, 1, 1.0 / s, 85.0 + s, 0.1, 97.0 if s == 2 else None,
    ...                     32 * s, 0.1 * s) for s in (1, 2, 3)]
    >>> run, = progress_series({"no batch norm": reports})
    >>> run.steps, run.accuracies, run.val_steps, run.last_validation
    ((1, 2, 3), (86.0, 87.0, 88.0), (2,), 97.0)
    >>> run.colour == network_colour("standard")
    True
    >>> progress_series({"no batch norm": reports}, max_points=2)[0].steps
    (1, 3)
    """
    series = []
    for name, reports in runs.items():
        every = 1 if max_points is None else max(1, math.ceil(len(reports) / max_points))
        shown = list(reports)[::every]
        measured = [p for p in reports if p.measured]
        series.append(
            RunSeries(
                name=name,
                colour=network_colour(name),
                total_steps=reports[-1].total_steps if reports else 0,
                steps=tuple(p.step for p in shown),
                losses=tuple(p.train_loss for p in shown),
                accuracies=tuple(p.train_acc for p in shown),
                val_steps=tuple(p.step for p in measured),
                val_accuracies=tuple(p.val_acc for p in measured),
            )
        )
    return series
