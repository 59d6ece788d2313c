"""The Inside tab's neuron handlers, called directly: the unit under a click, its numbers."""

from __future__ import annotations

import re

import pytest
import torch

from cnnviz.app import inside_handlers
from cnnviz.app.handlers import model
from cnnviz.app.inputs import InputError, read_sketch
from cnnviz.data.sample_digits import load_test_digits
from cnnviz.inspect.layers import activations
from cnnviz.visualise.transforms import PLAIN, Regularisers
from tests.app.test_app import SEVEN, sketch


def drawn() -> torch.Tensor:
    return read_sketch(sketch(SEVEN))[0]


def test_the_opened_map_is_280_px_and_says_its_range():
    picture, note, figure = inside_handlers.channel_map(drawn(), "batch norm", "pool2", 5)
    assert picture.shape[:2] == (280, 280) and figure is None  # the old unit is cleared
    maps = activations(model("batch norm"), drawn(), "pool2")["pool2"][0, 5]
    assert f"from {float(maps.min()):.3f} to {float(maps.max()):.3f}" in note
    assert inside_handlers.channel_map(None, "batch norm", "conv1", 0) == (
        None,
        "Draw a digit in the box, big and centred.",
        None,
    )


@pytest.mark.parametrize(
    ("layer", "x", "y", "unit"),
    [("conv1", 100, 60, "conv1[3, 6, 10]"), ("relu2", 100, 60, "conv2[3, 3, 5]")],
)
def test_a_click_opens_the_unit_under_it(layer, x, y, unit):
    view, note = inside_handlers.open_unit(drawn(), "batch norm", layer, 3, x, y)
    assert f"{unit} sees" in view and "(forward pass:" in view
    assert unit in note
    total, forward = map(
        float, re.search(r"= <b>(-?[0-9.]+)</b> \(the forward pass: (-?[0-9.]+)", note).groups()
    )
    assert total == pytest.approx(forward, abs=1e-4)


def test_a_click_on_a_pooled_map_opens_the_unit_that_pooling_kept():
    _, note = inside_handlers.open_unit(drawn(), "no batch norm", "pool1", 7, 150, 120)
    row, col = 120 // 20, 150 // 20  # the pooled unit clicked
    conv_row, conv_col = map(int, re.search(r"conv1\[7, (\d+), (\d+)\]", note).groups())
    assert (conv_row // 2, conv_col // 2) == (row, col)
    assert "max pooling kept" in note
    pooled = activations(model("no batch norm"), drawn(), "pool1")["pool1"][0, 7, row, col]
    assert f"it keeps {float(pooled):.4f}" in note


def test_a_click_on_a_class_opens_its_logit():
    x = drawn()
    _, note = inside_handlers.class_terms(x, "robust", "7")
    logit = float(model("robust").logits(x)[0, 7].detach())
    assert f"<b>{logit:.3f}</b>" in note
    with pytest.raises(InputError, match="Draw a digit"):
        inside_handlers.class_terms(None, "robust", "7")
    with pytest.raises(InputError, match="class"):
        inside_handlers.class_terms(x, "robust", "seven")


def test_what_a_channel_looks_for(without_data):
    inside_handlers._top_patches.cache_clear()  # found with or without data: recompute
    examples, plain, regular, note = inside_handlers.what_channel_looks_for(
        "batch norm", "relu2", 4, ["jitter", "blur"]
    )
    assert len(examples) == inside_handlers.TOP_PATCHES
    values = [float(caption.split(": ")[1]) for _, caption in examples]
    assert values == sorted(values, reverse=True)
    assert "a bundled sample of 1,000" in note and "with jitter, blur" in note
    assert plain.shape == regular.shape == (224, 224, 3)  # 28x28 at 8 px a pixel
    assert not (plain == regular).all()


def test_readable_class_images_and_the_toggles():
    items, status = inside_handlers.readable_class_images(
        "no batch norm", inside_handlers.DEFAULT_TOGGLES
    )
    assert len(items) == 10
    shown = [float(re.search(r"p = ([0-9.]+)", caption).group(1)) for _, caption in items]
    assert f"{sum(p >= 0.9 for p in shown)} of 10 read as their class" in status
    assert inside_handlers.regularisers([]) == PLAIN
    both = inside_handlers.regularisers(["rotation and scale", "Fourier basis"])
    assert both == Regularisers(rotate=10.0, scale=0.1, fourier=True)
    with pytest.raises(InputError, match="Unknown regulariser"):
        inside_handlers.regularisers(["sharpen"])
    load_test_digits.cache_clear()
