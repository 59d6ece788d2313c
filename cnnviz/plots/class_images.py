"""Images grown from noise for chosen classes, and how their scores rose on the way.

Draws a :class:`~cnnviz.attacks.result.AttackResult` of
:func:`cnnviz.visualise.class_images.class_visualisation`: the images, in its bounds
(Fig 13), and each class's logit and probability per iteration (Fig 14, 15).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from cnnviz.attacks.result import AttackResult
from cnnviz.plots.images import show_digit


def plot_class_visualisations(result: AttackResult) -> Figure:
    """The images grown from noise for each class, with probability and steps (Fig 13).

    ``result`` comes from :func:`cnnviz.visualise.class_images.class_visualisation`
    (images of any shape, drawn in ``result.bounds``); images that did not reach the
    threshold within the step cap are titled in red.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.visualise.class_images import class_visualisation
    >>> result = class_visualisation(cnnviz.pretrained(), [1, 7], steps=3)
    >>> fig = plot_class_visualisations(result)
    >>> [ax.get_title().split(":")[0] for ax in fig.axes]
    ['class 1', 'class 7']
    """
    n = len(result.targets)
    cols = min(5, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(1.8 * cols, 2.1 * rows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes[n:]:
        ax.axis("off")
    for ax, image, target, prob, steps, ok in zip(
        axes,
        result.images,
        result.targets,
        result.probabilities,
        result.steps,
        result.success,
        strict=False,
    ):
        show_digit(ax, image, bounds=result.bounds)
        verdict = "" if ok else " (cap)"
        ax.set_title(
            f"class {int(target)}: p = {prob:.3f}\n{int(steps)} steps{verdict}",
            fontsize=9,
            color="black" if ok else "red",
        )
    fig.suptitle("Class-model visualisation: noise the network calls each digit")
    return fig


def plot_logit_history(result: AttackResult, classes: tuple[int, ...] = (1, 7)) -> Figure:
    """Target logit (the report's "cost") against iteration for chosen classes (Fig 14, 15).

    ``result`` comes from :func:`cnnviz.visualise.class_images.class_visualisation` and
    must include every class of ``classes``; each gets one panel, its probability on a
    twin axis.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.visualise.class_images import class_visualisation
    >>> result = class_visualisation(cnnviz.pretrained(), [1, 7], steps=3)
    >>> fig = plot_logit_history(result, classes=(1, 7))
    >>> [ax.get_ylabel() for ax in fig.axes]  # two panels, then their twin axes
    ['logit of class 1', 'logit of class 7', 'probability', 'probability']
    """
    fig = Figure(figsize=(4.2 * len(classes), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(classes)))
    for ax, target in zip(axes, classes, strict=True):
        column = int((result.targets == target).nonzero()[0, 0])
        steps = int(result.steps[column])
        logits = result.logit_history[: steps + 1, column].numpy()
        ax.plot(np.arange(steps + 1), logits, "o-", ms=2, color="C0", label="logit")
        twin = ax.twinx()
        twin.plot(
            np.arange(steps + 1),
            result.probability_history[: steps + 1, column].numpy(),
            color="C1",
            lw=1,
            label="probability",
        )
        twin.set_ylim(0, 1.02)
        twin.set_ylabel("probability", color="C1")
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"logit of class {target}", color="C0")
        ax.set_title(f"Class {target}", fontsize=10)
        ax.grid(alpha=0.3)
    fig.suptitle("Cost (target logit) during gradient ascent")
    return fig
