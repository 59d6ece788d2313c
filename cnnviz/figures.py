"""The report's figures from the shipped weights: what ``cnnviz figures`` writes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from matplotlib.figure import Figure

from cnnviz import plots
from cnnviz.activations import activations, conv_filters
from cnnviz.checkpoint import pretrained, pretrained_history
from cnnviz.data import Splits
from cnnviz.occlusion import occlusion
from cnnviz.saliency import saliency

SAMPLE_SEED = 2019  # picks the test digits shown (the report's year)


def sample_indices(n_available: int, count: int, seed: int = SAMPLE_SEED) -> torch.Tensor:
    """``count`` distinct, seeded random indices into a split of ``n_available``."""
    return torch.randperm(n_available, generator=torch.Generator().manual_seed(seed))[:count]


def report_figures(data: Splits) -> Iterator[tuple[str, Callable[[], Figure]]]:
    """``(file stem, figure maker)`` for every report figure the library can make.

    The makers are lazy so a caller can make, save and close one figure at a time.
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
    maps = activations(nobn, digit[None], ("conv1", "conv2"))
    yield (
        "fig10_activations_conv1",
        lambda: plots.plot_activations(maps["conv1"][0], "conv1", digit),
    )
    yield (
        "fig11_activations_conv2",
        lambda: plots.plot_activations(maps["conv2"][0], "conv2", digit),
    )
    yield (
        "fig12_occlusion",
        lambda: plots.plot_occlusion(digit, occlusion(nobn, digit, int(labels[0]))),
    )
    yield (
        "saliency",
        lambda: plots.plot_saliency(images[:3], saliency(nobn, images[:3], labels[:3]), labels[:3]),
    )


def write_figures(data: Splits, out_dir: str | Path, dpi: int = 110) -> list[Path]:
    """Make every report figure and save it as ``out_dir/<stem>.png``; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, make in report_figures(data):
        path = out_dir / f"{stem}.png"
        make().savefig(path, dpi=dpi)
        written.append(path)
    return written
