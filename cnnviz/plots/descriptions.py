"""The words a figure carries: alt text, a caption, and the report figure it re-creates.

:func:`~cnnviz.plots.describe` attaches them to a figure and :func:`~cnnviz.plots.description` reads
them back; the documentation's gallery shows them with the image and fails for a figure without
them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

#: The report's numbered figures (Fig 1 to 17).
REPORT_FIGURES = range(1, 18)
#: Attribute of a :class:`~matplotlib.figure.Figure` that holds its description.
DESCRIPTION_ATTRIBUTE = "cnnviz_description"


class FigureDescriptionError(ValueError):
    """A figure description without words, or naming a figure the report does not have.

    Examples
    --------
    >>> describe(Figure(), alt="a", caption="b", report_figure=18)
    Traceback (most recent call last):
    ...
    cnnviz.plots.descriptions.FigureDescriptionError: the report has Fig 1 to 17, not 18
    """


@dataclass(frozen=True)
class FigureDescription:
    """What a figure shows (``alt``), what to notice in it (``caption``), and which of
    the report's figures (Fig 1 to 17) it re-creates: ``report_figures``, empty for a
    figure beyond the report.

    Examples
    --------
    >>> FigureDescription("Two curves.", "They meet.", ()).full_caption
    'Beyond the report. They meet.'
    """

    alt: str
    caption: str
    report_figures: tuple[int, ...]

    @property
    def source(self) -> str:
        """``"Report Fig 8"``, ``"Report Fig 14 and 15"`` or ``"Beyond the report"``.

        Examples
        --------
        >>> FigureDescription("a", "b", (14, 15)).source
        'Report Fig 14 and 15'
        """
        if not self.report_figures:
            return "Beyond the report"
        numbers = [str(number) for number in self.report_figures]
        if len(numbers) == 1:
            return f"Report Fig {numbers[0]}"
        return f"Report Fig {', '.join(numbers[:-1])} and {numbers[-1]}"

    @property
    def full_caption(self) -> str:
        """The caption as shown under the image, its source then the caption.

        Examples
        --------
        >>> FigureDescription("a", "Blue is negative.", (8,)).full_caption
        'Report Fig 8. Blue is negative.'
        """
        return f"{self.source}. {self.caption}"


def describe(
    fig: Figure, *, alt: str, caption: str, report_figure: int | tuple[int, ...] | None
) -> None:
    """Attach alt text, a caption and the report figure it re-creates to ``fig``.

    The documentation shows ``alt`` as the image's alternative text (what the figure
    shows, for a reader who cannot see it) and ``caption`` under the image, after the
    report figure it re-creates; the docs build fails for a gallery figure without them.

    Parameters
    ----------
    fig
        The figure to describe; :func:`~cnnviz.plots.description` returns what it was given.
    alt
        What the figure shows: its panels, axes and colours, in one or two sentences.
    caption
        What to notice in it; true on every run (the printed numbers say the rest).
    report_figure
        The report's figure number (1 to 17), several for a figure that re-creates
        several (``(14, 15)``), or ``None`` for a figure beyond the report.

    Raises
    ------
    FigureDescriptionError
        If ``alt`` or ``caption`` is blank, or a number is not one of Fig 1 to 17.

    Examples
    --------
    >>> fig = Figure()
    >>> describe(fig, alt="An empty canvas.", caption="Nothing.", report_figure=3)
    >>> description(fig).full_caption
    'Report Fig 3. Nothing.'
    """
    if not alt.strip() or not caption.strip():
        raise FigureDescriptionError("a figure needs both alt text and a caption")
    numbers = () if report_figure is None else tuple(np.atleast_1d(report_figure).tolist())
    if any(number not in REPORT_FIGURES for number in numbers):
        raise FigureDescriptionError(f"the report has Fig 1 to 17, not {report_figure}")
    setattr(fig, DESCRIPTION_ATTRIBUTE, FigureDescription(alt.strip(), caption.strip(), numbers))


def description(fig: Figure) -> FigureDescription | None:
    """The description :func:`~cnnviz.plots.describe` attached to ``fig``, or ``None``.

    Examples
    --------
    >>> description(Figure()) is None
    True
    """
    return getattr(fig, DESCRIPTION_ATTRIBUTE, None)
