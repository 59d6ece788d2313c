"""Figures render, carry titles and labels, and survive edge inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from cnnviz import plots
from cnnviz.cli import main
from cnnviz.inspect.layers import activations, conv_filters
from cnnviz.inspect.occlusion import occlusion
from cnnviz.inspect.saliency import saliency
from cnnviz.models.cnn import CNN
from cnnviz.training.history import History

#: The report CNN's input range: the bounds its images are drawn with.
CNN_BOUNDS = CNN.input_bounds


def rendered(fig: Figure) -> Image.Image:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    return Image.open(io.BytesIO(buffer.getvalue()))


def titles(fig: Figure) -> list[str]:
    found = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    return found + [ax.get_title() for ax in fig.axes if ax.get_title()]


def history(variant="nobn", n_val=5) -> History:
    steps = list(range(1, 101))
    return History(
        variant=variant,
        recipe={"name": "tiny"},
        seed=0,
        step=steps,
        train_loss=list(np.linspace(2.0, 0.1, 100)),
        train_acc=list(np.linspace(10, 99, 100)),
        val_step=steps[:: 100 // n_val][:n_val],
        val_loss=list(np.linspace(1.0, 0.05, n_val)),
        val_acc=list(np.linspace(50, 98, n_val)),
        val_seconds=[0.0] * n_val,
        epoch_steps=[50, 100],
        test_acc=98.0,
        test_loss=0.05,
    )


@pytest.fixture(scope="module")
def model() -> CNN:
    torch.manual_seed(0)
    return CNN(batchnorm=False).eval()


@pytest.mark.parametrize("metric", ["accuracy", "loss"])
@pytest.mark.parametrize("n_val", [1, 5])
def test_training_curves(metric, n_val):
    fig = plots.plot_training_curves(history(n_val=n_val), metric)
    assert rendered(fig).size[0] > 200
    ax = fig.axes[0]
    assert metric in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 2


def test_bn_comparison_has_one_line_per_variant():
    fig = plots.plot_bn_comparison([history("nobn"), history("bn")], "accuracy")
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert labels == ["without batch norm, test 98.00 %", "with batch norm, test 98.00 %"]
    rendered(fig)


def test_predictions_mark_wrong_ones_in_red():
    images = torch.zeros(2, 1, 28, 28)
    probabilities = torch.eye(10)[[3, 5]]
    fig = plots.plot_predictions(images, torch.tensor([3, 4]), probabilities, bounds=CNN_BOUNDS)
    colours = [ax.title.get_color() for ax in fig.axes]
    assert colours == ["black", "red"]
    assert "predicted 5" in fig.axes[1].get_title()
    rendered(
        plots.plot_predictions(images[:1], torch.tensor([3]), probabilities[:1], bounds=CNN_BOUNDS)
    )


def test_predictions_name_their_source_and_panels():
    images = torch.zeros(7, 1, 28, 28)
    probabilities = torch.eye(10)[[3] * 7]
    fig = plots.plot_predictions(
        images,
        torch.full((7,), 3),
        probabilities,
        title="Training digits",
        captions=list("abcdefg"),
        bounds=CNN_BOUNDS,
    )
    assert titles(fig)[0] == "Training digits"
    assert [t.split("\n")[0] for t in titles(fig)[1:]] == list("abcdefg")
    assert fig.get_size_inches()[0] <= 9.5  # rows of at most five: fits the page


@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_filter_grids(model, layer):
    fig = plots.plot_filters(conv_filters(model, layer))
    assert layer in titles(fig)[0]
    image = fig.axes[0].images[0]
    assert image.get_clim()[0] == -image.get_clim()[1]  # symmetric shared scale
    side = 4 * 4 - 1 if layer == "conv1" else 32 * 4 - 1
    assert image.get_array().shape[0] == side
    rendered(fig)


def test_activation_grid_labels_every_channel(model):
    digit = torch.full((1, 28, 28), -1.0)  # blank: all-zero maps after ReLU
    maps = activations(model, digit[None], ("relu2",))["relu2"][0]
    fig = plots.plot_activations(maps, "relu2", digit, bounds=CNN_BOUNDS)
    channel_titles = [t for t in titles(fig) if t.startswith("ch ")]
    assert len(channel_titles) == 32
    rendered(fig)


def maps_shown(fig: Figure) -> list:
    return [ax.images[0] for ax in fig.axes if ax.get_title().startswith("ch ")]


def test_activation_maps_share_one_scale_with_a_colour_bar():
    maps = torch.zeros(32, 14, 14)
    maps[0, 3, 3] = 4.0  # one strong channel, one weak, the rest silent
    maps[1, 5, 5] = 0.5
    fig = plots.plot_activations(maps, "relu2")
    assert {image.get_clim() for image in maps_shown(fig)} == {(0.0, 4.0)}
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    assert "ch 1: max 0.5" in titles(fig)
    signed = plots.plot_activations(maps - 1.0, "conv2")  # before the ReLU: negative values
    assert {image.get_clim() for image in maps_shown(signed)} == {(-3.0, 3.0)}
    rendered(fig)


def test_perturbed_digits_mark_misread_ones_in_red():
    images = torch.zeros(2, 3, 1, 28, 28)
    predictions = torch.tensor([[1, 2, 3], [1, 0, 0]])
    fig = plots.plot_perturbed_digits(
        [0.0, 0.3], images, torch.tensor([1, 2, 3]), predictions, bounds=CNN_BOUNDS
    )
    colours = [ax.title.get_color() for ax in fig.axes]
    assert colours == ["black"] * 4 + ["red"] * 2
    assert fig.axes[3].get_ylabel() == "eps = 0.30"
    rendered(fig)


@pytest.mark.parametrize(("patch", "stride"), [(5, 1), (7, 7)])
def test_occlusion_panels(model, patch, stride):
    digit = torch.rand(1, 28, 28) * 2 - 1
    fig = plots.plot_occlusion(
        digit, occlusion(model, digit, 1, patch=patch, stride=stride), bounds=CNN_BOUNDS
    )
    assert len(fig.axes) == 5  # three panels and two colour bars
    assert any("grey patch" in t for t in titles(fig))
    rendered(fig)


def test_occlusion_panels_with_zero_attribution(model):
    blank = torch.zeros(1, 28, 28)  # mid-grey image: a grey patch changes nothing
    rendered(plots.plot_occlusion(blank, occlusion(model, blank, 0), bounds=CNN_BOUNDS))


def test_saliency_rows(model):
    images = torch.rand(2, 1, 28, 28) * 2 - 1
    labels = torch.tensor([1, 2])
    fig = plots.plot_saliency(images, saliency(model, images, labels), labels, bounds=CNN_BOUNDS)
    assert "input, class 2" in titles(fig)
    rendered(fig)


def test_smooth_is_a_trailing_mean():
    from cnnviz.plots.training import _smooth

    assert np.allclose(_smooth([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    assert np.allclose(_smooth([5.0], 10), [5.0])


def test_cli_writes_every_report_figure(tmp_path, mnist_dir, capsys):
    argv = ["figures", "--out", str(tmp_path), "--data-dir", str(mnist_dir), "--dpi", "50"]
    assert main([*argv, "--attack-samples", "20"]) == 0
    written = sorted(p.name for p in tmp_path.glob("*.png"))
    stems = {path.stem.split("_")[0] for path in tmp_path.glob("*.png")}
    expected = {f"fig{n:02d}" for n in range(1, 18) if n != 15}  # Fig 14 and 15 share a file
    assert stems == expected | {"saliency", "table", "robustness"}
    assert "fig14_15_class_cost.png" in written and "table_noise_transfer.png" in written
    for path in tmp_path.glob("*.png"):
        assert min(Image.open(path).size) > 100
    assert len(capsys.readouterr().out.splitlines()) == len(written)


@pytest.fixture(scope="module")
def attacked(model):
    from cnnviz.attacks.targeted import all_pairs, targeted_attack
    from cnnviz.attacks.transfer import noise_attack
    from cnnviz.visualise.class_images import class_visualisation

    images = torch.rand(2, 1, 28, 28) * 2 - 1
    return {
        "visualisation": class_visualisation(model, steps=3),
        "targeted": targeted_attack(model, *all_pairs(images), steps=3),
        "noise": noise_attack(
            model, images, [1, 2], others=images, other_labels=torch.tensor([1, 5]), steps=3
        ),
    }


def test_attack_figures_render_and_mark_failures(attacked):
    fig = plots.plot_class_visualisations(attacked["visualisation"])
    failed = [ax for ax in fig.axes if "(cap)" in ax.get_title()]
    assert failed and all(ax.title.get_color() == "red" for ax in failed)
    rendered(fig)
    fig = plots.plot_logit_history(attacked["visualisation"], (1, 7))
    assert [ax.get_xlabel() for ax in fig.axes[:1]] == ["iteration"]
    rendered(fig)
    fig = plots.plot_targeted_grid(attacked["targeted"])
    assert fig.axes[0].images[0].get_array().shape == (2 * 30 - 2, 10 * 30 - 2)
    assert len(fig.axes[0].texts) == 20
    rendered(fig)
    rendered(plots.plot_noise_attack(attacked["noise"]))


def test_transfer_table_colours_and_labels(attacked):
    fig = plots.plot_transfer_table(attacked["noise"], torch.tensor([1, 5]))
    ax = fig.axes[0]
    assert ax.get_yticklabels()[0].get_text().startswith("noise -> 1")
    outcome = ax.images[0].get_array()
    assert outcome[0, 0] == 3  # image 0 is a 1: not counted for the "-> 1" noise
    rendered(fig)


def test_robustness_curves_figure():
    curves = {"a, FGSM": torch.tensor([99.0, 50.0]), "a, PGD-40": torch.tensor([99.0, 10.0])}
    fig = plots.plot_robustness([0.0, 0.3], curves)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == list(curves)
    rendered(fig)


# Readable figures: every text inside the canvas, none too small, one colour per network.

#: The article's width at a 1280 px window (docs/_static/cnnviz.css: 62rem less padding);
#: a wider figure is shown scaled down to it.
ARTICLE_PX = 912
MIN_TEXT_PX = 9.0
DPI = 96


def figure_makers(model) -> dict:
    """A figure of every public plot function of the library, from small generated inputs."""
    from cnnviz.attacks.targeted import all_pairs, targeted_attack
    from cnnviz.attacks.transfer import noise_attack
    from cnnviz.inspect.neuron import unit_computation
    from cnnviz.training.progress import Progress
    from cnnviz.visualise.class_images import class_visualisation
    from cnnviz.visualise.patches import top_patches

    torch.manual_seed(1)
    normed = CNN(batchnorm=True).eval()  # batch norm's arithmetic is the longest text
    digits = torch.rand(3, 1, 28, 28) * 2 - 1
    labels = torch.tensor([1, 2, 7])
    digit = digits[0]
    visualisation = class_visualisation(model, steps=3)
    noise = noise_attack(model, digits[:2], [1, 2], others=digits, other_labels=labels, steps=3)
    reports = [Progress(s, 4, 1, 1, 1.0 / s, 85.0 + s, None, None, 32 * s, 0.1 * s) for s in (1, 2)]
    table = (noise.predictions, noise.attack.targets, labels, noise.fooling_rate)
    return {
        "training_curves": lambda: plots.plot_training_curves(history(), "accuracy"),
        "bn_comparison": lambda: plots.plot_bn_comparison([history("nobn"), history("bn")]),
        "predictions": lambda: plots.plot_predictions(
            digits, labels, torch.softmax(torch.randn(3, 10), 1), bounds=CNN_BOUNDS
        ),
        "filters_conv1": lambda: plots.plot_filters(conv_filters(model, "conv1")),
        "filters_conv2": lambda: plots.plot_filters(conv_filters(model, "conv2")),
        "activations": lambda: plots.plot_activations(
            activations(model, digit[None], ("relu2",))["relu2"][0],
            "relu2",
            digit,
            bounds=CNN_BOUNDS,
        ),
        "occlusion": lambda: plots.plot_occlusion(
            digit, occlusion(model, digit, 1), bounds=CNN_BOUNDS
        ),
        "saliency": lambda: plots.plot_saliency(
            digits, saliency(model, digits, labels), labels, bounds=CNN_BOUNDS
        ),
        "class_visualisations": lambda: plots.plot_class_visualisations(visualisation),
        "logit_history": lambda: plots.plot_logit_history(visualisation, (1, 7)),
        "targeted_grid": lambda: plots.plot_targeted_grid(
            targeted_attack(model, *all_pairs(digits[:2]), steps=2)
        ),
        "perturbed_digits": lambda: plots.plot_perturbed_digits(
            [0.0, 0.3],
            torch.stack([digits, digits]),
            labels,
            torch.tensor([[1, 2, 7], [1, 0, 0]]),
            bounds=CNN_BOUNDS,
        ),
        "noise_attack": lambda: plots.plot_noise_attack(noise),
        "transfer_table": lambda: plots.plot_transfer_table(noise, labels),
        "transfer_comparison": lambda: plots.plot_transfer_comparison({"a": table, "b": table}),
        "robustness": lambda: plots.plot_robustness(
            [0.0, 0.3], {"batch norm, FGSM": torch.tensor([99.0, 9.0])}
        ),
        "universal": lambda: plots.plot_universal_perturbation(
            digits[:1] * 0.1, digits, labels, labels.flip(0), "fools 2 of 3", bounds=CNN_BOUNDS
        ),
        "unit_conv1": lambda: plots.plot_unit_computation(
            unit_computation(model, digit, "conv1", 3, (12, 14)), digit
        ),
        "unit_conv2": lambda: plots.plot_unit_computation(
            unit_computation(normed, digit, "conv2", 5, (6, 7)), digit
        ),
        "unit_fc1": lambda: plots.plot_unit_computation(
            unit_computation(normed, digit, "fc1", 3, None), digit
        ),
        "unit_fc2": lambda: plots.plot_unit_computation(
            unit_computation(model, digit, "fc2", 7, None), digit
        ),
        "receptive_fields": lambda: plots.plot_receptive_fields(digit, (12, 14)),
        "top_patches": lambda: plots.plot_top_patches(
            top_patches(model, digits, "relu2", count=3), [0, 5], count=3
        ),
        "image_rows": lambda: plots.plot_image_rows(
            {"plain": digits, "regularised": digits}, {"plain": ["a", "b", "c"]}, bounds=CNN_BOUNDS
        ),
        "progress": lambda: plots.plot_progress(
            {"batch norm": reports, "no batch norm": reports}, threshold=98.45
        ),
    }


FIGURES = [
    "training_curves", "bn_comparison", "predictions", "filters_conv1", "filters_conv2",
    "activations", "occlusion", "saliency", "class_visualisations", "logit_history",
    "targeted_grid", "perturbed_digits", "noise_attack", "transfer_table",
    "transfer_comparison", "robustness", "universal", "unit_conv1", "unit_conv2", "unit_fc1",
    "unit_fc2",
    "receptive_fields", "top_patches", "image_rows", "progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def makers(model) -> dict:
    found = figure_makers(model)
    assert sorted(found) == sorted(FIGURES)
    return found


def visible_texts(fig: Figure) -> tuple[list, object]:
    """The figure's non-empty visible texts after drawing it at 96 dpi, and the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    fig.set_dpi(DPI)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return texts, renderer


@pytest.mark.parametrize("name", FIGURES)
def test_figure_text_is_inside_the_canvas_and_at_least_9_px_on_a_1280_px_page(makers, name):
    """Every text lies inside the canvas as saved (no cropping needed), and the smallest
    is 9 px or more as shown: font size in points x 96 / 72, times the scale of a figure
    wider than the article."""
    fig = makers[name]()
    texts, renderer = visible_texts(fig)
    scale = min(1.0, ARTICLE_PX / fig.bbox.width)
    smallest = min(texts, key=lambda t: t.get_fontsize())
    shown = smallest.get_fontsize() * DPI / 72 * scale
    assert shown >= MIN_TEXT_PX, f"{smallest.get_text()!r}: {shown:.1f} px"
    axes = [axis for ax in fig.axes if ax.axison for axis in (ax.xaxis, ax.yaxis)]
    ticks = {
        id(label)
        for ax in fig.axes
        for axis in (ax.xaxis, ax.yaxis)
        for tick in axis.get_major_ticks() + axis.get_minor_ticks()
        for label in (tick.label1, tick.label2)
    }
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts if id(t) not in ticks]
    # Tick labels: only those drawn (inside the view limits) count, as the axis measures them.
    boxes += [
        (f"ticks of {axis.axes.get_label() or 'axes'}", axis.get_tightbbox(renderer))
        for axis in axes
    ]
    canvas = fig.bbox
    outside = []
    for text, box in boxes:
        if box is None:
            continue
        if box.x0 < -1 or box.y0 < -1 or box.x1 > canvas.x1 + 1 or box.y1 > canvas.y1 + 1:
            outside.append((text[:40], [round(v) for v in box.extents]))
    assert outside == [], f"canvas {canvas.width:.0f}x{canvas.height:.0f} px: {outside}"


def test_one_colour_per_network_on_every_plot():
    """The same network has the same colour in training curves, comparisons and attacks."""
    from cnnviz.training.progress import Progress

    colour = plots.NETWORK_COLOURS
    assert len(set(colour.values())) == len(colour)
    line_colours = lambda ax: [line.get_color() for line in ax.get_lines()]  # noqa: E731
    bn_curves = plots.plot_training_curves(history("bn"))
    assert line_colours(bn_curves.axes[0])[:2] == [colour["batch norm"]] * 2
    both = plots.plot_bn_comparison([history("nobn"), history("bn")])
    assert line_colours(both.axes[0]) == [colour["standard"], colour["batch norm"]]
    curves = {
        f"{net}, {attack}": torch.tensor([99.0, 5.0])
        for net in ("no batch norm", "batch norm", "robust", "my net")
        for attack in ("FGSM", "PGD-40")
    }
    robustness = line_colours(plots.plot_robustness([0.0, 0.3], curves).axes[0])
    expected = ["standard", "batch norm", "robust", "yours"]
    assert robustness == [colour[name] for name in expected for _ in range(2)]
    reports = [Progress(1, 4, 1, 1, 1.0, 85.0, None, None, 32, 0.1)]
    live = plots.plot_progress({"no batch norm": reports, "batch norm": reports})
    assert line_colours(live.axes[0]) == [colour["standard"], colour["batch norm"]]


def simulate_colour_blindness(hex_colour: str, kind: str) -> np.ndarray:
    """Machado et al. (2009) full-severity simulation, in linear RGB."""
    matrices = {
        "protanopia": [[0.152, 1.053, -0.205], [0.115, 0.786, 0.099], [-0.004, -0.048, 1.052]],
        "deuteranopia": [[0.367, 0.861, -0.228], [0.280, 0.673, 0.047], [-0.012, 0.043, 0.969]],
        "tritanopia": [[1.256, -0.077, -0.179], [-0.078, 0.931, 0.148], [0.005, 0.691, 0.304]],
    }
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return np.clip(np.array(matrices[kind]) @ linear, 0, 1)


@pytest.mark.parametrize("kind", ["protanopia", "deuteranopia", "tritanopia"])
def test_network_colours_stay_apart_for_colour_blind_readers(kind):
    """Every pair of network colours differs clearly after simulating the deficiency."""
    names = list(plots.NETWORK_COLOURS)
    seen = {n: simulate_colour_blindness(plots.NETWORK_COLOURS[n], kind) for n in names}
    closest = min(
        (float(np.abs(seen[a] - seen[b]).sum()), a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    )
    assert closest[0] > 0.15, closest


def test_the_robust_run_has_the_robust_colour():
    """The robust recipe trains the batch-norm variant; its curves are the robust network's."""
    robust = history("bn")
    robust = History(**{**robust.__dict__, "recipe": {"name": "robust"}})
    fig = plots.plot_bn_comparison([history("bn"), robust])
    assert [line.get_color() for line in fig.axes[0].get_lines()] == [
        plots.NETWORK_COLOURS["batch norm"],
        plots.NETWORK_COLOURS["robust"],
    ]
    assert "robust" in plots.plot_training_curves(robust).axes[0].get_title()


@pytest.mark.parametrize(
    ("words", "figures"),
    [({"alt": " ", "caption": "c"}, 3), ({"alt": "a", "caption": ""}, 3), ({}, 0), ({}, (14, 18))],
)
def test_a_figure_description_needs_words_and_a_report_figure_that_exists(words, figures):
    with pytest.raises(plots.FigureDescriptionError):
        plots.describe(Figure(), **({"alt": "a", "caption": "c"} | words), report_figure=figures)


def test_a_figure_description_names_its_report_figures_in_the_caption():
    fig = Figure()
    assert plots.description(fig) is None
    plots.describe(fig, alt=" Two curves. ", caption="They cross.", report_figure=(14, 15))
    assert plots.description(fig) == plots.FigureDescription("Two curves.", "They cross.", (14, 15))
    assert plots.description(fig).full_caption == "Report Fig 14 and 15. They cross."
    plots.describe(fig, alt="a", caption="b", report_figure=None)
    assert plots.description(fig).full_caption == "Beyond the report. b"
