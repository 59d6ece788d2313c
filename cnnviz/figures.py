"""The report's figures from the shipped weights (what ``cnnviz figures`` writes), and
the words that go with a figure: its alt text and its caption."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from cnnviz import plots
from cnnviz.attacks import (
    all_pairs,
    class_visualisation,
    noise_attack,
    robustness_curves,
    targeted_attack,
)
from cnnviz.checkpoint import pretrained, pretrained_history
from cnnviz.data import Splits, first_per_class
from cnnviz.digits import PICK_SEED, sample_indices
from cnnviz.layers import activations, conv_filters
from cnnviz.occlusion_maps import occlusion
from cnnviz.saliency_maps import saliency

EPSILONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
#: The report's numbered figures (Fig 1 to 17).
REPORT_FIGURES = range(1, 18)
#: Attribute of a :class:`~matplotlib.figure.Figure` that holds its description.
DESCRIPTION_ATTRIBUTE = "cnnviz_description"


class FigureDescriptionError(ValueError):
    """A figure description without words, or naming a figure the report does not have."""


@dataclass(frozen=True)
class FigureDescription:
    """What a figure shows (``alt``), what to notice in it (``caption``), and which of
    the report's figures (Fig 1 to 17) it re-creates: ``report_figures``, empty for a
    figure beyond the report."""

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
        """The caption as shown under the image: its source, then the caption.

        Examples
        --------
        >>> FigureDescription("a", "Blue is negative.", (8,)).full_caption
        'Report Fig 8. Blue is negative.'
        """
        return f"{self.source}. {self.caption}"


def describe(
    fig: Figure, *, alt: str, caption: str, report_figure: int | tuple[int, ...] | None
) -> Figure:
    """Attach alt text, a caption and the report figure it re-creates to ``fig``.

    The documentation shows ``alt`` as the image's alternative text (what the figure
    shows, for a reader who cannot see it) and ``caption`` under the image, after the
    report figure it re-creates; the docs build fails for a gallery figure without them.

    Parameters
    ----------
    fig
        The figure to describe (returned, so the call can wrap a plot call).
    alt
        What the figure shows: its panels, axes and colours, in one or two sentences.
    caption
        What to notice in it; true on every run (the printed numbers say the rest).
    report_figure
        The report's figure number (1 to 17), several for a figure that re-creates
        several (``(14, 15)``), or ``None`` for a figure beyond the report.

    Returns
    -------
    Figure
        ``fig``, its description in :func:`description`.

    Raises
    ------
    FigureDescriptionError
        If ``alt`` or ``caption`` is blank, or a number is not one of Fig 1 to 17.

    Examples
    --------
    >>> fig = describe(Figure(), alt="An empty canvas.", caption="Nothing.", report_figure=3)
    >>> description(fig).full_caption
    'Report Fig 3. Nothing.'
    """
    if not alt.strip() or not caption.strip():
        raise FigureDescriptionError("a figure needs both alt text and a caption")
    numbers = () if report_figure is None else tuple(np.atleast_1d(report_figure).tolist())
    if any(number not in REPORT_FIGURES for number in numbers):
        raise FigureDescriptionError(f"the report has Fig 1 to 17, not {report_figure}")
    setattr(fig, DESCRIPTION_ATTRIBUTE, FigureDescription(alt.strip(), caption.strip(), numbers))
    return fig


def description(fig: Figure) -> FigureDescription | None:
    """The description :func:`describe` attached to ``fig``, or ``None``.

    Examples
    --------
    >>> description(Figure()) is None
    True
    """
    return getattr(fig, DESCRIPTION_ATTRIBUTE, None)


def report_figures(
    data: Splits, attack_samples: int = 500
) -> Iterator[tuple[str, Callable[[], Figure]]]:
    """``(file stem, figure maker)`` for every report figure the library can make.

    The makers are lazy so a caller can make, save and close one figure at a time, and
    the work each figure needs is done only when the iteration reaches it.

    Parameters
    ----------
    data
        MNIST splits; the figures show test digits, with one digit of every class.
    attack_samples
        Test digits attacked for the robustness curves.

    Yields
    ------
    tuple
        ``(file stem, maker)``; ``maker()`` returns a matplotlib figure.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from cnnviz.data import Splits
    >>> x, y = torch.zeros(10, 1, 28, 28), torch.arange(10)
    >>> stem, make = next(report_figures(Splits(x, y, x, y, x, y)))
    >>> fig = make()
    >>> stem, len(fig.axes)
    ('fig01_accuracy_nobn', 1)
    >>> plt.close(fig)
    """
    nobn = pretrained(batchnorm=False)
    history_nobn, history_bn = pretrained_history(False), pretrained_history(True)
    picks = sample_indices(len(data.test_x), 5)
    images, labels = data.test_x[picks], data.test_y[picks]
    digit = images[0]
    yield "fig01_accuracy_nobn", lambda: plots.plot_training_curves(history_nobn, "accuracy")
    yield "fig02_loss_nobn", lambda: plots.plot_training_curves(history_nobn, "loss")
    yield (
        "fig03_predictions",
        lambda: plots.plot_predictions(images, labels, nobn.predict_proba(images)),
    )
    yield "fig04_accuracy_bn", lambda: plots.plot_training_curves(history_bn, "accuracy")
    yield "fig05_loss_bn", lambda: plots.plot_training_curves(history_bn, "loss")
    yield (
        "fig06_bn_vs_nobn_accuracy",
        lambda: plots.plot_bn_comparison([history_nobn, history_bn], "accuracy"),
    )
    yield (
        "fig07_bn_vs_nobn_loss",
        lambda: plots.plot_bn_comparison([history_nobn, history_bn], "loss"),
    )
    yield "fig08_filters_conv1", lambda: plots.plot_filters(conv_filters(nobn, "conv1"))
    yield "fig09_filters_conv2", lambda: plots.plot_filters(conv_filters(nobn, "conv2"))
    maps = activations(nobn, digit[None], ("conv1", "relu2"))
    yield (
        "fig10_activations_conv1",
        lambda: plots.plot_activations(maps["conv1"][0], "conv1 (before its ReLU)", digit),
    )
    yield (
        "fig11_activations_conv2",
        lambda: plots.plot_activations(maps["relu2"][0], "conv2 after its ReLU", digit),
    )
    yield (
        "fig12_occlusion",
        lambda: plots.plot_occlusion(digit, occlusion(nobn, digit, int(labels[0]))),
    )
    yield (
        "saliency",
        lambda: plots.plot_saliency(images[:3], saliency(nobn, images[:3], labels[:3]), labels[:3]),
    )
    visualisation = class_visualisation(nobn)
    yield "fig13_class_visualisations", lambda: plots.plot_class_visualisations(visualisation)
    yield "fig14_15_class_cost", lambda: plots.plot_logit_history(visualisation, (1, 7))
    examples = data.test_x[first_per_class(data.test_y)]
    yield (
        "fig16_targeted_grid",
        lambda: plots.plot_targeted_grid(targeted_attack(nobn, *all_pairs(examples))),
    )
    others = sample_indices(len(data.test_x), 10, seed=PICK_SEED + 1)
    transfer = noise_attack(
        nobn,
        examples,
        (torch.arange(10) + 1) % 10,
        others=data.test_x[others],
        other_labels=data.test_y[others],
    )
    yield "fig17_noise_attack", lambda: plots.plot_noise_attack(transfer)
    yield "table_noise_transfer", lambda: plots.plot_transfer_table(transfer, data.test_y[others])
    attacked = sample_indices(len(data.test_x), attack_samples, seed=PICK_SEED + 2)
    yield (
        "robustness",
        lambda: plots.plot_robustness(
            list(EPSILONS),
            robustness_curves(
                {"no batch norm": nobn, "batch norm": pretrained(batchnorm=True)},
                data.test_x[attacked],
                data.test_y[attacked],
                EPSILONS,
            ),
        ),
    )
