"""Figures of any classifier: colour images of any size drawn in colour, in the model's bounds.

The generic plots never assume the report's CNN: a (0, 1)-bounded model's images are
drawn with their own bounds (from the result, or the ``bounds`` given), a 3x32x32 model's
in colour at 32x32, and the live curves draw one series in both their drawings.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from cnnviz import plots
from cnnviz.app.curves_svg import progress_svg
from cnnviz.attacks.targeted import all_pairs, targeted_attack
from cnnviz.attacks.transfer import noise_attack
from cnnviz.inspect.layers import activations, conv_filters
from cnnviz.inspect.occlusion import occlusion
from cnnviz.inspect.saliency import saliency
from cnnviz.plots.series import progress_series
from cnnviz.training.progress import Progress
from cnnviz.visualise.class_images import class_visualisation
from tests.foreign_models import ColourNet

#: ColourNet's input range: no ``input_bounds``, so the library's default (0, 1).
UNIT = (0.0, 1.0)


class GreyNet(torch.nn.Module):
    """``(N, 1, 20, 20)`` grey images in [0, 1] (declared) -> 4 scores."""

    input_bounds = UNIT

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 6, 5, padding=2)
        self.head = torch.nn.Linear(6 * 20 * 20, 4)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(images)).flatten(1))


@pytest.fixture(scope="module")
def colour() -> ColourNet:
    return ColourNet().eval()


@pytest.fixture(scope="module")
def pictures() -> torch.Tensor:
    return torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def drawn(ax) -> np.ndarray:
    return np.asarray(ax.images[0].get_array())


def test_a_colour_picture_is_drawn_in_colour_at_its_size_in_its_bounds(pictures):
    ax = Figure().subplots()
    plots.show_digit(ax, pictures[0], bounds=UNIT)
    assert np.allclose(drawn(ax), pictures[0].permute(1, 2, 0).numpy())
    grey = Figure().subplots()
    plots.show_digit(grey, torch.full((1, 20, 20), 0.5), bounds=UNIT)
    assert drawn(grey).shape == (20, 20) and np.allclose(drawn(grey), 0.5)  # mid-grey


def test_an_image_of_another_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"not \(2, 5, 5\)"):
        plots.show_digit(Figure().subplots(), torch.zeros(2, 5, 5), bounds=UNIT)


def test_an_input_image_is_never_drawn_in_guessed_bounds():
    maps = torch.rand(4, 5, 5)
    with pytest.raises(ValueError, match="bounds"):
        plots.plot_activations(maps, "conv", torch.zeros(1, 20, 20))
    with pytest.raises(TypeError, match="bounds"):
        plots.plot_predictions(torch.zeros(1, 1, 5, 5), torch.tensor([0]), torch.eye(2)[:1])
    assert len(plots.plot_activations(maps, "conv").axes) == 9  # no image: no bounds needed


def test_colour_class_images_and_targeted_grid_use_the_results_bounds(colour, pictures):
    grown = class_visualisation(colour, [0, 3], shape=(3, 32, 32), steps=2)
    assert grown.bounds == UNIT
    fig = plots.plot_class_visualisations(grown)
    assert np.allclose(drawn(fig.axes[0]), grown.images[0].permute(1, 2, 0).numpy())
    result = targeted_attack(colour, *all_pairs(pictures[:2], num_classes=7), steps=2)
    grid = plots.plot_targeted_grid(result, num_classes=7)
    mosaic = drawn(grid.axes[0])
    assert mosaic.shape == (2 * 34 - 2, 7 * 34 - 2, 3)  # 32-px tiles, 2-px gaps
    assert np.allclose(mosaic[34 : 34 + 32, 68 : 68 + 32], result.images[9].permute(1, 2, 0))
    assert len(grid.axes[0].texts) == 14
    first = grid.axes[0].texts[0].get_position()
    assert first == (31, 31)  # the probability sits in its tile's corner


def test_colour_noise_attack_shows_every_channel_of_the_noise(colour, pictures):
    transfer = noise_attack(colour, pictures[:1], [1, 2], others=pictures, steps=3)
    fig = plots.plot_noise_attack(transfer)
    noise_panel = fig.axes[2]  # row 2: the noises
    shown = drawn(noise_panel)
    assert shown.shape == (32, 32, 3)
    assert noise_panel.get_ylabel() == "noise (mid-grey: 0)"  # no colour bar for 3 channels
    change = transfer.noises[0].permute(1, 2, 0).numpy()
    limit = float(transfer.noises.abs().max())
    assert np.allclose(shown, np.clip(0.5 + change / (2 * limit), 0, 1), atol=1e-6)
    assert np.allclose(drawn(fig.axes[0]), transfer.attack.images[0].permute(1, 2, 0))


def test_a_unit_bounded_grey_model_is_drawn_in_its_bounds():
    net = GreyNet().eval()
    images = torch.rand(2, 1, 20, 20, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([1, 3])
    fig = plots.plot_predictions(images, labels, torch.softmax(net(images), 1), bounds=UNIT)
    assert np.allclose(drawn(fig.axes[0]), images[0, 0].numpy())
    result = occlusion(net, images[0], 1, patch=5, stride=5)
    fig = plots.plot_occlusion(images[0], result, bounds=UNIT)
    assert np.allclose(drawn(fig.axes[0]), images[0, 0].numpy())
    fig = plots.plot_saliency(images, saliency(net, images, labels), labels, bounds=UNIT)
    assert np.allclose(drawn(fig.axes[3]), images[1, 0].numpy())
    maps = activations(net, images[:1], ("conv",))["conv"][0]
    fig = plots.plot_activations(maps, "conv", images[0], bounds=UNIT)
    assert fig.get_suptitle() == "Activations of conv: 6 maps of 20x20"
    assert np.allclose(drawn(fig.axes[0]), images[0, 0].numpy())
    attacked = torch.stack([images, images.flip(0)])
    read = torch.stack([labels, labels])
    fig = plots.plot_perturbed_digits([0.0, 0.1], attacked, labels, read, bounds=UNIT)
    assert np.allclose(drawn(fig.axes[2]), images[1, 0].numpy())


def test_a_unit_bounded_perturbation_is_shown_in_pixel_units():
    perturbation = torch.full((1, 1, 20, 20), 0.1)
    images = torch.full((2, 1, 20, 20), 0.95)
    fig = plots.plot_universal_perturbation(
        perturbation, images, torch.tensor([1, 2]), torch.tensor([1, 3]), "t", bounds=UNIT
    )
    change = next(ax for ax in fig.axes if ax.get_title() == "the perturbation")
    assert np.allclose(drawn(change), 0.1) and np.allclose(change.images[0].get_clim(), (-0.1, 0.1))
    added = next(ax for ax in fig.axes if ax.get_title() == "2 -> 3")
    assert np.allclose(drawn(added), 1.0)  # 0.95 + 0.1, clipped to white


def test_filters_of_any_count_and_size_fill_rows_of_eight(colour):
    six = torch.nn.Conv2d(1, 6, 5)
    fig = plots.plot_filters(conv_filters(torch.nn.Sequential(six), "0"))
    assert drawn(fig.axes[0]).shape == (5, 6 * 6 - 1)  # one row of six 5x5 kernels
    assert fig.axes[0].get_title() == "Filters of 0: 6x1 kernels of 5x5"
    fig = plots.plot_filters(conv_filters(colour, "block.0"))
    assert drawn(fig.axes[0]).shape == (8 * 4 - 1, 3 * 4 - 1)  # out x in kernels


def reports(count: int, every: int) -> list[Progress]:
    return [
        Progress(s, count, 1, 1, 2.0 / s, 80.0 + s / 2, 0.1, 90.0 + s if s % every == 0 else None,
                 32 * s, 0.1 * s)
        for s in range(1, count + 1)
    ]  # fmt: skip


def test_both_drawings_of_live_curves_draw_the_same_series():
    runs = {"batch norm": reports(12, 4), "no batch norm": reports(10, 5)}
    series = progress_series(runs)
    assert [run.val_steps for run in series] == [(4, 8, 12), (5, 10)]
    fig = plots.plot_progress(runs)
    lines = fig.axes[1].get_lines()
    for run, (train, val) in zip(series, zip(lines[::2], lines[1::2], strict=True), strict=True):
        assert tuple(val.get_xdata()) == run.val_steps and train.get_color() == run.colour
        assert tuple(train.get_ydata()) == run.accuracies
    svg = progress_svg(runs)
    for run in series:
        dots = re.findall(rf'<circle [^>]*fill="{run.colour}"', svg)
        assert len(dots) == len(run.val_steps)
        assert f'fill="{run.colour}">{run.name}: validation {run.last_validation:.2f} %' in svg


def test_a_lone_run_has_its_networks_colour_in_the_app_too():
    """The Train tab's single run without batch norm is blue as everywhere, not orange."""
    svg = progress_svg({"no batch norm": reports(4, 2)})
    assert plots.NETWORK_COLOURS["standard"] in svg
    assert plots.NETWORK_COLOURS["batch norm"] not in svg


def test_the_app_draws_at_most_its_points_per_run_and_every_validation():
    from cnnviz.app.curves_svg import MAX_POINTS

    long = reports(3 * MAX_POINTS + 1, 50)  # too many: every 4th step is drawn
    svg = progress_svg({"batch norm": long})
    training = re.findall(r'<polyline points="([^"]*)"', svg)[0].split()
    assert len(training) == len(progress_series({"x": long}, max_points=MAX_POINTS)[0].steps)
    assert len(training) <= MAX_POINTS + 1 and svg.count("<circle") == len(long) // 50
