"""Inside tab, one neuron at a time: open a unit, see what a channel looks for (no gradio).

A click on a feature map opens that unit's computation; a click on a pooled map opens
the unit that max pooling kept; a click on a class of the prediction opens fc2's terms
for that class. Pictures are ``uint8 (H, W, 3)`` arrays, as in
:mod:`cnnviz.app.handlers`. These handlers take the drawing as the model input the Draw
tab already prepared (``(1, 1, 28, 28)``, or ``None`` before anything is drawn): a
click then sends no picture to the server.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from cnnviz.app.handlers import layer_choices, model
from cnnviz.app.inputs import EMPTY_HINT, InputError, number
from cnnviz.app.pictures import digit_image, feature_map_picture, outlined
from cnnviz.app.unit_view import unit_html
from cnnviz.data.sample_digits import load_test_digits
from cnnviz.inspect.layers import activations
from cnnviz.inspect.neuron import UnitComputation, receptive_field, unit_computation
from cnnviz.models.cnn import MAP_SIZE
from cnnviz.visualise.features import visualise
from cnnviz.visualise.patches import top_patches
from cnnviz.visualise.transforms import PLAIN, Regularisers

#: The opened feature map's picture, px (10, 20 or 40 per unit). Larger than the 240 px it
#: is shown at: Gradio maps a click to picture pixels correctly only for pictures shown
#: at their size or smaller.
MAP_HEIGHT = 280
#: The convolution whose units a feature-map layer shows (after it: the same unit).
UNIT_OF_LAYER = {
    "conv1": "conv1",
    "relu1": "conv1",
    "pool1": "conv1",
    "conv2": "conv2",
    "conv2_bn": "conv2",
    "relu2": "conv2",
    "pool2": "conv2",
}
#: The app's regulariser toggles: shown name -> the :class:`Regularisers` settings it turns on.
TOGGLES = {
    "jitter": {"jitter": 2},
    "rotation and scale": {"rotate": 10.0, "scale": 0.1},
    "blur": {"blur": 0.3},
    "total variation": {"total_variation": 0.05},
    "Fourier basis": {"fourier": True},
}
DEFAULT_TOGGLES = ["jitter", "rotation and scale", "blur"]
TOP_PATCHES = 8
VISUALISATION_STEPS = 128


def _drawing(drawing: torch.Tensor | None) -> torch.Tensor:
    """The drawing's model input, or the hint to draw one."""
    if drawing is None:
        raise InputError(EMPTY_HINT)
    return drawing


def _channel(channel) -> int:
    return int(number(channel, "The channel", 0, 31))


def _layer(model_name: str, layer: str) -> str:
    if layer not in layer_choices(model_name):
        raise InputError(f"The {model_name} model has no layer {layer!r}.")
    return layer


def regularisers(toggles: list[str] | None) -> Regularisers:
    """The :class:`~cnnviz.visualise.transforms.Regularisers` ticked (none: plain ascent)."""
    settings: dict[str, object] = {}
    for name in toggles or []:
        if name not in TOGGLES:
            raise InputError(f"Unknown regulariser {name!r}; choose from {list(TOGGLES)}.")
        settings.update(TOGGLES[name])
    return Regularisers(**settings)


def channel_map(drawing: torch.Tensor | None, model_name: str, layer: str, channel):
    """The chosen channel's feature map, 280 px high, to click on; a sentence; no figure.

    The unit computation shown before belongs to another map, drawing or model, so the
    third output clears it. Without a drawing: no map, and the hint to draw.
    """
    channel, layer = _channel(channel), _layer(model_name, layer)
    if drawing is None:
        return None, EMPTY_HINT, None
    maps = activations(model(model_name), drawing, layer)[layer][0, channel]
    note = (
        f"{layer} channel {channel}: {maps.shape[0]}x{maps.shape[1]} values, from "
        f"{float(maps.min()):.3f} to {float(maps.max()):.3f}. Click a pixel to open that unit."
    )
    return feature_map_picture(maps, MAP_HEIGHT), note, None


def _unit_at(net, x: torch.Tensor, layer: str, channel: int, row: int, col: int) -> UnitComputation:
    """The convolution unit behind ``(row, col)`` of ``layer``'s map (pools: the kept one)."""
    unit_layer = UNIT_OF_LAYER[layer]
    if not layer.startswith("pool"):
        return unit_computation(net, x[0], unit_layer, channel, (row, col))
    corner = unit_computation(net, x[0], unit_layer, channel, (2 * row, 2 * col))
    kept_row, kept_col = corner.pool.kept
    return unit_computation(
        net, x[0], unit_layer, channel, (2 * row + kept_row, 2 * col + kept_col)
    )


def _sentence(terms: UnitComputation) -> str:
    """The unit's value in one line of HTML."""
    where = f"[{terms.unit}, {terms.position[0]}, {terms.position[1]}]"
    parts = [
        f"<b>{terms.layer}{where}</b> = {terms.products.size - int(terms.padding.sum())} "
        f"products + bias = <b>{terms.total:.4f}</b> (the forward pass: {terms.forward_value:.4f})"
    ]
    if terms.batch_norm is not None:
        parts.append(f"batch norm -> {terms.normalised:.4f}")
    parts.append(f"ReLU -> {terms.output:.4f}")
    offset = (terms.position[0] % 2, terms.position[1] % 2)
    kept = "kept" if terms.pool.unit_was_kept(offset) else "not kept"
    parts.append(f"max pooling {kept} (it keeps {terms.pool.value:.4f})")
    top, bottom, left, right = terms.receptive_field
    parts.append(f"it sees rows {top}-{bottom - 1}, columns {left}-{right - 1} of the drawing")
    return "; ".join(parts) + "."


def open_unit(drawing: torch.Tensor | None, model_name: str, layer: str, channel, x_click, y_click):
    """The unit clicked at pixel ``(x_click, y_click)`` of the opened map: HTML, sentence.

    The view is :func:`~cnnviz.app.unit_view.unit_html`; the sentence gives the unit's
    value term by term in one line of HTML (rendered sooner than Markdown after a click).
    """
    x, channel = _drawing(drawing), _channel(channel)
    layer = _layer(model_name, layer)
    net = model(model_name)
    scale = MAP_HEIGHT / MAP_SIZE[layer]
    col = int(number(x_click, "The clicked x", 0, MAP_HEIGHT - 1) // scale)
    row = int(number(y_click, "The clicked y", 0, MAP_HEIGHT - 1) // scale)
    terms = _unit_at(net, x, layer, channel, row, col)
    return unit_html(terms, x[0]), _sentence(terms)


def class_terms(drawing: torch.Tensor | None, model_name: str, label: str):
    """fc2's computation for the class ``label`` clicked in the prediction: HTML, sentence."""
    x = _drawing(drawing)
    target = int(number(label, "The class", 0, 9))
    terms = unit_computation(model(model_name), x[0], "fc2", target)
    up, down = terms.strongest(3)
    sentence = (
        f"<b>Logit of class {target}</b> = 500 products of fc1 units (after ReLU) x weights + "
        f"bias = <b>{terms.total:.3f}</b>. Pushed up most by fc1 units {up.tolist()}, down by "
        f"{down.tolist()}."
    )
    return unit_html(terms, x[0]), sentence


@lru_cache(maxsize=8)
def _top_patches(model_name: str, layer: str):
    digits = load_test_digits()
    return top_patches(model(model_name), digits.x, layer, count=TOP_PATCHES), digits


def channel_examples(model_name: str, layer: str, channel):
    """The test digits whose patches excite the channel most (cached per model and layer)."""
    layer, channel = _layer(model_name, layer), _channel(channel)
    found, digits = _top_patches(model_name, layer)
    items = []
    for rank in range(found.indices.shape[1]):
        index = int(found.indices[channel, rank])
        row, col = (int(value) for value in found.positions[channel, rank])
        picture = outlined(
            digit_image(digits.x[index], height=112), receptive_field(layer, row, col)
        )
        caption = f"test #{int(digits.indices[index])}: {float(found.values[channel, rank]):.2f}"
        items.append((picture, caption))
    note = f"The {len(items)} most exciting patches in {digits.description}."
    return items, note


def channel_visualisation(model_name: str, layer: str, channel, toggles):
    """What the channel looks for, grown from noise: plain ascent and with the toggles."""
    layer, channel = _layer(model_name, layer), _channel(channel)
    net = model(model_name)
    chosen = regularisers(toggles)
    images = []
    for setting in (PLAIN, chosen):
        grown = visualise(
            net, [channel], layer=layer, regularisers=setting, steps=VISUALISATION_STEPS
        )
        images.append((digit_image(grown.images[0]), float(grown.objective[0])))
    (plain, plain_value), (regular, regular_value) = images
    note = (
        f"Mean activation of {layer} channel {channel}: plain ascent {plain_value:.2f}, with "
        f"{', '.join(toggles) if toggles else 'no regulariser'} {regular_value:.2f} "
        f"({VISUALISATION_STEPS} steps each)."
    )
    return plain, regular, note


def readable_class_images(model_name: str, toggles):
    """Class images grown with the ticked regularisers, captioned with the model's p."""
    grown = visualise(model(model_name), range(10), regularisers=regularisers(toggles))
    items = [
        (digit_image(image), f"class {k}: p = {float(p):.3f}")
        for k, (image, p) in enumerate(zip(grown.images, grown.probabilities, strict=True))
    ]
    sure = int((grown.probabilities >= 0.9).sum())
    status = (
        f"With {', '.join(toggles) if toggles else 'no regulariser'}: {sure} of 10 read as "
        f"their class at p >= 0.9."
    )
    return items, status


def what_channel_looks_for(model_name: str, layer: str, channel, toggles):
    """Top test patches, and images grown plainly and with the toggles, with a sentence."""
    examples, where = channel_examples(model_name, layer, channel)
    plain, regular, note = channel_visualisation(model_name, layer, channel, toggles)
    return examples, plain, regular, f"{where} {note}"
