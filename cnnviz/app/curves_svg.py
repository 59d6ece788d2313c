"""Live training curves as inline SVG: what the Train tab redraws several times a second.

The library draws the same curves with :func:`cnnviz.plots.plot_progress`
(matplotlib); both draw the series of :func:`cnnviz.plots.series.progress_series`, so
only the drawing differs. In the app they are redrawn while training runs in the same
process, and a matplotlib figure costs about 0.15 s of the interpreter per update, time
the training threads wait for; an SVG string costs about a millisecond and the browser
draws it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from cnnviz.plots.series import progress_series
from cnnviz.training.progress import Progress

WIDTH, HEIGHT = 900, 300
PANEL = 380  # width of each panel's plotting area
TOP, BOTTOM = 30, 250  # plotting area, px from the top
LEFTS = (60, 510)  # each panel's left edge
MAX_POINTS = 300  # training points drawn per run (every k-th step beyond)
LOSS_RANGE = (0.01, 3.0)
ACCURACY_RANGE = (80.0, 100.0)


def _x(step: float, steps: int, left: int) -> float:
    return left + PANEL * step / max(steps, 1)


def _loss_y(loss: float) -> float:
    low, high = (math.log10(v) for v in LOSS_RANGE)
    share = (math.log10(min(max(loss, LOSS_RANGE[0]), LOSS_RANGE[1])) - low) / (high - low)
    return BOTTOM - (BOTTOM - TOP) * share


def _accuracy_y(accuracy: float) -> float:
    low, high = ACCURACY_RANGE
    share = (min(max(accuracy, low), high) - low) / (high - low)
    return BOTTOM - (BOTTOM - TOP) * share


def _line(points: list[tuple[float, float]], colour: str, width: float, opacity: float) -> str:
    if not points:
        return ""
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return (
        f'<polyline points="{path}" fill="none" stroke="{colour}" '
        f'stroke-width="{width}" stroke-opacity="{opacity}"/>'
    )


def _frame(left: int, title: str, ticks: list[tuple[float, str]], steps: int) -> str:
    """A panel's box, title, y ticks (``(y px, label)``) and step ticks."""
    parts = [
        f'<rect x="{left}" y="{TOP}" width="{PANEL}" height="{BOTTOM - TOP}" fill="none" '
        f'stroke="#999"/>',
        f'<text x="{left + PANEL / 2}" y="{TOP - 10}" text-anchor="middle" '
        f'font-size="14">{title}</text>',
    ]
    for y, label in ticks:
        parts.append(
            f'<line x1="{left}" x2="{left + PANEL}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12">{label}</text>'
        )
    for k in range(5):
        step = round(steps * k / 4)
        parts.append(
            f'<text x="{_x(step, steps, left):.1f}" y="{BOTTOM + 16}" text-anchor="middle" '
            f'font-size="12">{step}</text>'
        )
    parts.append(
        f'<text x="{left + PANEL / 2}" y="{BOTTOM + 34}" text-anchor="middle" '
        f'font-size="12">step</text>'
    )
    return "".join(parts)


def progress_svg(runs: Mapping[str, Sequence[Progress]], threshold: float | None = None) -> str:
    """Loss (log scale) and accuracy (80-100 %) per step, as an ``<svg>`` element.

    Parameters
    ----------
    runs
        Name -> the :class:`~cnnviz.training.progress.Progress` reports so far (may be empty).
    threshold
        A validation accuracy (%) drawn as a dashed line.

    Returns
    -------
    str
        A 900x300 SVG scaled to its container: training batches as thin lines,
        validation as dots joined, each run in its network's colour, a legend with each
        run's last validation accuracy.

    Examples
    --------
    >>> reports = [Progress(s, 4, 1, 1, 1.0 / s, 85.0 + s, 0.1, 97.0 + s / 4 if s % 2 else None,
    ...                     32 * s, 0.1 * s) for s in range(1, 5)]
    >>> svg = progress_svg({"batch norm": reports}, threshold=98.0)
    >>> svg.count("<polyline"), svg.count("<circle"), "batch norm: validation 97.75 %" in svg
    (3, 2, True)
    """
    series = progress_series(runs, max_points=MAX_POINTS)
    steps = max((run.total_steps for run in series if run.steps), default=1)
    loss_left, accuracy_left = LEFTS
    parts = [
        _frame(
            loss_left,
            "loss (training batches)",
            [(_loss_y(v), f"{v:g}") for v in (0.01, 0.1, 1)],
            steps,
        ),
        _frame(
            accuracy_left,
            "accuracy (%)",
            [(_accuracy_y(v), f"{v:g}") for v in range(80, 101, 5)],
            steps,
        ),
    ]
    if threshold is not None:
        y = _accuracy_y(threshold)
        parts.append(
            f'<line x1="{accuracy_left}" x2="{accuracy_left + PANEL}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#000" stroke-dasharray="5 4"/>'
        )
    for row, run in enumerate(series):
        losses = zip(run.steps, run.losses, strict=True)
        accuracies = zip(run.steps, run.accuracies, strict=True)
        parts.append(
            _line(
                [(_x(step, steps, loss_left), _loss_y(loss)) for step, loss in losses],
                run.colour,
                1.2,
                0.9,
            )
        )
        parts.append(
            _line(
                [(_x(step, steps, accuracy_left), _accuracy_y(acc)) for step, acc in accuracies],
                run.colour,
                1.0,
                0.35,
            )
        )
        measured = [
            (_x(step, steps, accuracy_left), _accuracy_y(acc))
            for step, acc in zip(run.val_steps, run.val_accuracies, strict=True)
        ]
        parts.append(_line(measured, run.colour, 2.0, 1.0))
        parts += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{run.colour}"/>' for x, y in measured
        ]
        last = run.last_validation
        label = (
            f"{run.name}: validation {last:.2f} %" if last is not None else f"{run.name}: training"
        )
        parts.append(
            f'<text x="{accuracy_left + PANEL - 8}" y="{BOTTOM - 12 - 18 * row}" '
            f'text-anchor="end" font-size="13" fill="{run.colour}">{label}</text>'
        )
    return (
        f'<svg class="curves" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Loss and accuracy curves" font-family="sans-serif">{"".join(parts)}</svg>'
    )
