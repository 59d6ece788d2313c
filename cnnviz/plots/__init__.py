"""Figures, one function per figure, each returning a :class:`matplotlib.figure.Figure`.

Figures are built without pyplot's global state, so they are safe to make from several
threads and never pop up windows; save them with ``fig.savefig(path)``. Images are drawn
in the model's input range (``bounds``, from a result or given), of any size, in grey or
colour. ``from cnnviz import plots; plots.plot_filters(...)``: every figure function is
re-exported here from its module:

* :mod:`cnnviz.plots.colours`: one colour per network, the signed colour map;
* :mod:`cnnviz.plots.descriptions`: a figure's alt text, caption and report figure;
* :mod:`cnnviz.plots.images`: input images, mosaics, predictions, rows of images;
* :mod:`cnnviz.plots.layers`: a layer's kernels and feature maps;
* :mod:`cnnviz.plots.attribution`: occlusion and saliency maps;
* :mod:`cnnviz.plots.class_images`: images grown for a class, and their scores;
* :mod:`cnnviz.plots.attacks`: adversarial images, learned noise, robustness curves;
* :mod:`cnnviz.plots.transfer`: transfer tables of learned noise;
* :mod:`cnnviz.plots.series`: the numbers live training curves show;
* :mod:`cnnviz.plots.training`: training curves, finished and live;
* :mod:`cnnviz.plots.neuron`: one neuron of the report's CNN.
"""

from cnnviz.plots.attacks import (
    plot_noise_attack,
    plot_perturbed_digits,
    plot_robustness,
    plot_targeted_grid,
    plot_universal_perturbation,
)
from cnnviz.plots.attribution import plot_occlusion, plot_saliency
from cnnviz.plots.class_images import plot_class_visualisations, plot_logit_history
from cnnviz.plots.colours import DIVERGING, NETWORK_ALIASES, NETWORK_COLOURS, network_colour
from cnnviz.plots.descriptions import (
    FigureDescription,
    FigureDescriptionError,
    describe,
    description,
)
from cnnviz.plots.images import image_mosaic, plot_image_rows, plot_predictions, show_digit
from cnnviz.plots.layers import activation_scale, kernel_mosaic, plot_activations, plot_filters
from cnnviz.plots.neuron import plot_receptive_fields, plot_top_patches, plot_unit_computation
from cnnviz.plots.training import plot_bn_comparison, plot_progress, plot_training_curves
from cnnviz.plots.transfer import TRANSFER_OUTCOMES, plot_transfer_comparison, plot_transfer_table

__all__ = [
    "DIVERGING",
    "NETWORK_ALIASES",
    "NETWORK_COLOURS",
    "TRANSFER_OUTCOMES",
    "FigureDescription",
    "FigureDescriptionError",
    "activation_scale",
    "describe",
    "description",
    "image_mosaic",
    "kernel_mosaic",
    "network_colour",
    "plot_activations",
    "plot_bn_comparison",
    "plot_class_visualisations",
    "plot_filters",
    "plot_image_rows",
    "plot_logit_history",
    "plot_noise_attack",
    "plot_occlusion",
    "plot_perturbed_digits",
    "plot_predictions",
    "plot_progress",
    "plot_receptive_fields",
    "plot_robustness",
    "plot_saliency",
    "plot_targeted_grid",
    "plot_top_patches",
    "plot_training_curves",
    "plot_transfer_comparison",
    "plot_transfer_table",
    "plot_unit_computation",
    "plot_universal_perturbation",
    "show_digit",
]
