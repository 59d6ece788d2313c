"""The app's HTML view of one unit: every number shown is the unit's own term."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cnnviz
from cnnviz.app.unit_view import unit_html
from cnnviz.inspect.neuron import unit_computation


@pytest.fixture(scope="module")
def image():
    return cnnviz.load_test_digits().x[0]  # a 7


def tables(view: str) -> list[list[list[str]]]:
    """Each ``<table>`` of the view as rows of cell texts."""
    return [
        [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)]
        for table in re.findall(r"<table>(.*?)</table>", view)
    ]


def test_a_conv1_unit_shows_its_window_kernel_and_products(image):
    terms = unit_computation(cnnviz.pretrained(), image, "conv1", 3, (12, 14))
    view = unit_html(terms, image)
    window, kernel, products, pool = tables(view)
    assert window == [[f"{v:.2f}" for v in row] for row in terms.inputs[0]]
    assert kernel == [[f"{v:.2f}" for v in row] for row in terms.weights[0]]
    assert products == [[f"{v:.2f}" for v in row] for row in terms.products[0]]
    assert pool == [[f"{v:.2f}" for v in row] for row in terms.pool.window]
    assert "conv1[3, 12, 14] sees" in view and "rows 11-13, columns 13-15" in view
    assert f"(forward pass:       {terms.forward_value:+.4f})" in view


def test_a_unit_on_the_border_shows_the_padding(image):
    terms = unit_computation(cnnviz.pretrained(), image, "conv1", 3, (0, 0))
    window, kernel, products, _ = tables(unit_html(terms, image))
    assert window[0] == ["pad 0"] * 3 and [row[0] for row in window] == ["pad 0"] * 3
    assert window[1][1] != "pad 0" and all("pad 0" not in row for row in kernel)
    assert products[0] == ["pad 0"] * 3


def test_the_pooling_window_marks_the_kept_value_and_the_unit(image):
    terms = unit_computation(cnnviz.pretrained(), image, "conv1", 3, (13, 14))
    view = unit_html(terms, image)
    pool = re.findall(r"<table>(.*?)</table>", view)[-1]
    cells = re.findall(r'<td class="([^"]*)"', pool)
    kept_row, kept_col = terms.pool.kept
    assert "kept" in cells[2 * kept_row + kept_col] and sum("kept" in c for c in cells) == 1
    assert "here" in cells[2 * 1 + 0] and sum("here" in c for c in cells) == 1  # (13, 14)


def test_a_conv2_unit_shows_its_strongest_input_channels_in_order(image):
    terms = unit_computation(cnnviz.pretrained(), image, "conv2", 5, (7, 6))
    view = unit_html(terms, image)
    rows = re.findall(r"pool1 channel (\d+)</span>.*?<span>([+-][0-9.]+)</span></div>", view)
    chosen, values = terms.pushes(8)
    assert [int(index) for index, _ in rows] == chosen.tolist()
    shown = [float(value) for _, value in rows]
    assert shown == sorted(shown, reverse=True)
    assert np.allclose(shown, values, atol=5e-4)
    widths = [int(w) for w in re.findall(r"width:(\d+)px", view)]
    assert max(widths) == 90 and len(widths) == len(rows)
    assert ("batch norm, running statistics" in view) == (terms.batch_norm is not None)


def test_a_class_shows_the_fc1_units_that_pushed_its_logit(image):
    terms = unit_computation(cnnviz.pretrained(), image, "fc2", 7)
    view = unit_html(terms, image)
    assert "class 7 (fc2) sees" in view and "rows 0-27, columns 0-27" in view
    assert "<table>" not in view  # no pooling after fc2
    up, _ = terms.strongest(8)
    assert f"fc1 {up[0]}</span>" in view
