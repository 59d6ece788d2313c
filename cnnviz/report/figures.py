"""The report's figures from the shipped weights (what ``cnnviz figures`` writes), and
the words that go with a figure: its alt text and its caption."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from matplotlib.figure import Figure

from cnnviz import plots
from cnnviz.attacks.evaluation import robustness_curves
from cnnviz.attacks.targeted import all_pairs, targeted_attack
from cnnviz.attacks.transfer import noise_attack
from cnnviz.data.mnist import Splits, first_per_class
from cnnviz.data.sample_digits import PICK_SEED, sample_indices
from cnnviz.inspect.layers import activations, conv_filters
from cnnviz.inspect.occlusion import occlusion
from cnnviz.inspect.saliency import saliency
from cnnviz.models.checkpoint import pretrained, pretrained_history
from cnnviz.plots import FigureDescription as FigureDescription
from cnnviz.plots import describe as describe
from cnnviz.plots import description as description
from cnnviz.visualise.class_images import class_visualisation

EPSILONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


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
    >>> from cnnviz.data.mnist import Splits
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
        lambda: plots.plot_predictions(
            images, labels, nobn.predict_proba(images), bounds=nobn.input_bounds
        ),
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
        lambda: plots.plot_activations(
            maps["conv1"][0], "conv1 (before its ReLU)", digit, bounds=nobn.input_bounds
        ),
    )
    yield (
        "fig11_activations_conv2",
        lambda: plots.plot_activations(
            maps["relu2"][0], "conv2 after its ReLU", digit, bounds=nobn.input_bounds
        ),
    )
    yield (
        "fig12_occlusion",
        lambda: plots.plot_occlusion(
            digit, occlusion(nobn, digit, int(labels[0])), bounds=nobn.input_bounds
        ),
    )
    yield (
        "saliency",
        lambda: plots.plot_saliency(
            images[:3],
            saliency(nobn, images[:3], labels[:3]),
            labels[:3],
            bounds=nobn.input_bounds,
        ),
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
