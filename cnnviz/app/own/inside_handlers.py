"""The Inside tab on a teacher's model: feature maps, a unit's computation, filters, and what
a channel looks for (no gradio).

Every handler takes the :class:`~cnnviz.models.user_model.UserModel` and the page's image (numpy
``float32 (1, C, H, W)`` in the model's space, or ``None`` before there is one) and returns
UI values: pictures are ``uint8 (H, W, 3)`` arrays, galleries lists of ``(picture,
caption)``, notes Markdown or HTML. Layers are listed from the model itself
(:func:`cnnviz.inspect.layers.feature_layers`, :func:`cnnviz.inspect.neuron.unit_layers`).
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from cnnviz import plots
from cnnviz.app.inputs import InputError, number
from cnnviz.app.own.handlers import counted, model_input, no_image_hint
from cnnviz.app.pictures import colour, feature_map_picture, kernel_picture, upscale
from cnnviz.app.unit_view import input_picture, unit_html
from cnnviz.inspect.layers import NoFeatureMaps, activations, conv_filters, feature_layers
from cnnviz.inspect.neuron import unit_computation, unit_layers
from cnnviz.visualise.features import visualise
from cnnviz.visualise.transforms import READABLE

if TYPE_CHECKING:
    from cnnviz.models.user_model import UserModel

#: Feature maps and filters shown of one layer (the first ones; a layer may have hundreds).
MAX_MAPS = 64
THUMB_PX = 96  # a feature map in the gallery
MAP_PX = 280  # the opened map, clicked to pick a unit (shown at its size or smaller)
FILTER_PX = 96  # one filter's kernels in the gallery
GROWN_PX = 224  # a grown image
#: Steps of "what a channel looks for" (each a forward and backward pass of one image).
MIN_STEPS, DEFAULT_STEPS, MAX_STEPS = 8, 64, 512


def first_hint(spec: UserModel) -> str:
    """What to do before the Inside tab can show anything: get an image first.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> net = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    >>> first_hint(user_model(net, input_shape=(3, 4, 4)))
    'No image yet. Pick one of the pictures, upload one or take one with the webcam (Look tab).'
    """
    where = "Draw tab" if spec.drawable else "Look tab"
    return f"No image yet. {no_image_hint(spec)[:-1]} ({where})."


@lru_cache(maxsize=8)
def _layers(spec: UserModel) -> dict[str, tuple[int, int, int]]:
    """The model's layers with feature maps; none for a model without (an MLP)."""
    try:
        return feature_layers(spec.model, spec.input_shape)
    except NoFeatureMaps:
        return {}


def layer_choices(spec: UserModel) -> list[tuple[str, str]]:
    """The layers with feature maps, in forward order, as ``(label, name)`` dropdown choices.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> net = nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    >>> layer_choices(user_model(net, input_shape=(3, 4, 4)))
    [('0 (Conv2d): 2 maps of 2x2', '0'), ('1 (ReLU): 2 maps of 2x2', '1')]
    """
    modules = dict(spec.model.named_modules())
    return [
        (f"{name} ({type(modules[name]).__name__}): {c} maps of {h}x{w}", name)
        for name, (c, h, w) in _layers(spec).items()
    ]


def _shape(spec: UserModel, layer) -> tuple[int, int, int]:
    layers = _layers(spec)
    if layer not in layers:
        raise InputError(
            f"The model has no feature-map layer {layer!r}; choose from {list(layers)}."
        )
    return layers[layer]


def channel_count(spec: UserModel, layer: str) -> int:
    """How many channels (feature maps) ``layer`` has: the Channel box's range is 0 to one less.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> spec = user_model(nn.Sequential(nn.Conv2d(1, 6, 3), nn.Flatten(), nn.LazyLinear(2)))
    >>> channel_count(spec, "0")
    6
    """
    return _shape(spec, layer)[0]


def _channel(spec: UserModel, layer: str, channel) -> int:
    count = _shape(spec, layer)[0]
    return int(number(channel, f"The channel of {layer}", 0, count - 1))


def unit_layer_of(spec: UserModel, layer: str) -> str | None:
    """The convolution whose units ``layer``'s maps show, or ``None``.

    The layer itself when it is a ``Conv2d``; for a later layer of the same shape (batch
    norm, ReLU, a block), the last convolution before it with that shape; ``None`` after
    a change of shape (pooling), where a map value is no single unit's.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    ...                     nn.Flatten(), nn.Linear(8, 2))
    >>> spec = user_model(net, input_shape=(1, 4, 4))
    >>> [unit_layer_of(spec, layer) for layer in ("0", "1", "2")]
    ['0', '0', None]
    """
    shape = _shape(spec, layer)
    modules = dict(spec.model.named_modules())
    found = None
    for name, other in _layers(spec).items():
        if isinstance(modules[name], nn.Conv2d):
            found = name if other == shape else None
        elif other != shape:
            found = None
        if name == layer:
            return found
    return None


def feature_maps(spec: UserModel, image, layer: str):
    """The layer's feature maps of the image, labelled by channel, and a note.

    Returns
    -------
    tuple
        ``[(picture, "channel k"), ...]`` (at most :data:`MAX_MAPS`, each on its own
        colour scale) and a sentence; without an image ``[]`` and :func:`first_hint`.
    """
    channels, height, width = _shape(spec, layer)
    x = model_input(spec, image)
    if x is None:
        return [], first_hint(spec)
    maps = activations(spec.model, x, layer)[layer][0]
    shown = min(channels, MAX_MAPS)
    more = f" (the first {shown} shown)" if shown < channels else ""
    if height * width == 1:
        items = [
            (_value_picture(maps, c, THUMB_PX), f"{c}: {float(maps[c, 0, 0]):.3g}")
            for c in range(shown)
        ]
        _, low, high = plots.activation_scale(maps)
        return items, (
            f"**{layer}**: {counted(channels, 'map')} of 1x1{more}, one value each, all on one "
            f"colour scale ({low:.3g} to {high:.3g}); each caption says its channel and value. "
            "Click a map to open it."
        )
    items = [(feature_map_picture(maps[c], THUMB_PX), f"channel {c}") for c in range(shown)]
    return items, (
        f"**{layer}**: {counted(channels, 'feature map')} of {height}x{width}{more}, each on "
        "its own colour scale. Click a map to open it."
    )


def _value_picture(maps: torch.Tensor, channel: int, height: int) -> np.ndarray:
    """Channel ``channel`` of ``(C, 1, 1)`` maps as a square on the scale all ``C`` share."""
    cmap, low, high = plots.activation_scale(maps)
    return upscale(colour(maps[channel].numpy(), cmap, low, high), height)


def _map_size(height: int, width: int) -> tuple[int, int]:
    """``(rows, cols)`` of pixels of an opened ``height x width`` map."""
    return MAP_PX, max(1, round(width * MAP_PX / height))


def channel_map(spec: UserModel, image, layer: str, channel):
    """One channel's map, :data:`MAP_PX` high, to click on, and a sentence; the unit view
    cleared and its note saying what to do (the unit shown before was of another map or
    image)."""
    channel = _channel(spec, layer, channel)
    x = model_input(spec, image)
    if x is None:
        return None, first_hint(spec), "", first_hint(spec)
    values = activations(spec.model, x, layer)[layer][0, channel]
    unit_layer = unit_layer_of(spec, layer)
    action = (
        f"Click a pixel to open that unit of {unit_layer}."
        if unit_layer is not None
        else f"{layer} comes after a change of size (pooling): its values are no single "
        "unit's sum. Open a convolution's map (or a layer of the same size after it) to "
        "see a unit's computation."
    )
    if values.numel() == 1:
        maps = activations(spec.model, x, layer)[layer][0]
        picture = _value_picture(maps, channel, MAP_PX)
        value = f"one value, {float(values[0, 0]):.3f} (colour on the scale all channels share)"
    else:
        picture = feature_map_picture(values, MAP_PX)
        value = (
            f"{values.shape[0]}x{values.shape[1]} values from {float(values.min()):.3f} to "
            f"{float(values.max()):.3f}"
        )
    note = f"**{layer} channel {channel}**: {value}. {action}"
    prompt = "Click a pixel of the opened map to see that unit's computation."
    return picture, note, "", prompt if unit_layer else ""


def _sentence(terms, layer: str, after: float | None) -> str:
    """A conv unit's value term by term, in one line of HTML."""
    row, col = terms.position
    count = terms.products.size - int(terms.padding.sum())
    parts = [
        f"<b>{terms.layer}[{terms.unit}, {row}, {col}]</b> = {count} products + bias = "
        f"<b>{terms.total:.4f}</b> (the forward pass: {terms.forward_value:.4f})"
    ]
    if after is not None:
        parts.append(f"{layer} then makes it {after:.4f}")
    top, bottom, left, right = terms.receptive_field
    parts.append(f"it sees rows {top}-{bottom - 1}, columns {left}-{right - 1} of the image")
    return "; ".join(parts) + "."


def open_unit(spec: UserModel, image, layer: str, channel, x_click, y_click):
    """The unit under a click at picture pixel ``(x_click, y_click)`` of the opened map.

    Returns
    -------
    tuple
        The unit's computation (:func:`~cnnviz.app.unit_view.unit_html`) and a sentence;
        without an image ``""`` and :func:`first_hint`.
    """
    channel = _channel(spec, layer, channel)
    _, height, width = _shape(spec, layer)
    x = model_input(spec, image)
    if x is None:
        return "", first_hint(spec)
    unit_layer = unit_layer_of(spec, layer)
    if unit_layer is None:
        return "", f"{layer} comes after pooling: open a convolution's map to see a unit."
    rows, cols = _map_size(height, width)
    row = min(int(number(y_click, "The clicked y", 0, rows - 1) * height // rows), height - 1)
    col = min(int(number(x_click, "The clicked x", 0, cols - 1) * width // cols), width - 1)
    terms = unit_computation(spec.model, x[0], unit_layer, channel, (row, col))
    after = None
    if layer != unit_layer:
        after = float(activations(spec.model, x, layer)[layer][0, channel, row, col])
    return unit_html(terms, x[0], bounds=spec.bounds), _sentence(terms, layer, after)


def linear_layers(spec: UserModel) -> list[str]:
    """The model's ``Linear`` layers, by nested name (the last gives the class scores)."""
    modules = dict(spec.model.named_modules())
    return [name for name in unit_layers(spec.model) if isinstance(modules[name], nn.Linear)]


def linear_unit_choices(spec: UserModel, layer: str) -> list[tuple[str, int]]:
    """``(label, unit)`` of a linear layer: class names for the model's scores.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> spec = user_model(net, input_shape=(1, 2, 2), class_names=["cat", "dog"])
    >>> linear_unit_choices(spec, "1"), linear_unit_choices(spec, "3")
    ([('unit 0', 0), ('unit 1', 1), ('unit 2', 2)], [('class cat', 0), ('class dog', 1)])
    """
    if layer not in linear_layers(spec):
        raise InputError(f"{layer!r} is not a linear layer; choose from {linear_layers(spec)}.")
    count = dict(spec.model.named_modules())[layer].out_features
    if _gives_classes(spec, layer):
        return [(f"class {name}", k) for k, name in enumerate(spec.classes)]
    return [(f"unit {k}", k) for k in range(count)]


def _gives_classes(spec: UserModel, layer: str) -> bool:
    """Whether ``layer`` is the last linear layer with one output per class."""
    module = dict(spec.model.named_modules())[layer]
    return layer == linear_layers(spec)[-1] and module.out_features == len(spec.classes)


def linear_unit(spec: UserModel, image, layer: str, unit):
    """A fully connected unit's computation (a class score by the class's name), a sentence."""
    choices = linear_unit_choices(spec, layer)
    unit = int(number(unit, f"The unit of {layer}", 0, len(choices) - 1))
    x = model_input(spec, image)
    if x is None:
        return "", first_hint(spec)
    terms = unit_computation(spec.model, x[0], layer, unit)
    name = choices[unit][0]
    title = f"{name} ({layer})" if _gives_classes(spec, layer) else None
    up, down = terms.strongest(3)
    sentence = (
        f"<b>{layer} {name}</b> = {terms.inputs.size} inputs x weights + bias = "
        f"<b>{terms.total:.4f}</b> (the forward pass: {terms.forward_value:.4f}). Pushed up "
        f"most by inputs {up.tolist()}, down by {down.tolist()}."
    )
    return unit_html(terms, x[0], bounds=spec.bounds, title=title), sentence


def near_square(count: int) -> tuple[int, int]:
    """``(rows, cols)`` of the most nearly square grid of at least ``count`` tiles.

    Examples
    --------
    >>> [near_square(n) for n in (1, 3, 16, 32)]
    [(1, 1), (2, 2), (4, 4), (6, 6)]
    """
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols), cols


def layer_filters(spec: UserModel, layer: str):
    """The filters of the convolution behind ``layer``: one picture per output channel."""
    conv = unit_layer_of(spec, layer)
    if conv is None:
        return [], f"{layer} comes after pooling: it has no filters of its own."
    filters = conv_filters(spec.model, conv)
    count, per, kh, kw = filters.weights.shape
    if kh != kw:
        return [], f"{conv} has {kh}x{kw} kernels; only square kernels are drawn."
    rows, cols = near_square(per)
    items = []
    for k in range(min(count, MAX_MAPS)):
        tiles = np.full((rows * cols, kh, kw), np.nan, dtype=np.float32)
        tiles[:per] = filters.weights[k]
        picture = kernel_picture(tiles.reshape(rows, cols, kh, kw), filters.limit, FILTER_PX)
        items.append((picture, f"filter {k}"))
    note = (
        f"**{conv}**: {counted(count, 'filter')}, each {counted(per, 'input channel')} of "
        f"{kh}x{kw} (one tile per "
        f"input channel, {rows}x{cols}, row by row), all on one scale: blue negative, red "
        "positive, up to "
        f"{filters.limit:.3f}."
    )
    return items, note


@lru_cache(maxsize=8)
def _seconds_per_step(spec: UserModel) -> float:
    """One forward and backward pass of one image, timed once per model."""
    images = torch.zeros(1, *spec.input_shape, requires_grad=True)
    start = time.perf_counter()
    torch.autograd.grad(spec.model(images).sum(), images)  # the image's gradient only
    return time.perf_counter() - start


def visualisation_cost(spec: UserModel, steps) -> str:
    """What growing an image costs: steps, and the time one step takes on this machine."""
    steps = int(number(steps, "The steps", MIN_STEPS, MAX_STEPS))
    seconds = steps * _seconds_per_step(spec)
    return (
        f"{steps} steps, each a forward and backward pass of one "
        f"{'x'.join(map(str, spec.input_shape))} image: about {max(seconds, 0.1):.1f} s here."
    )


FLAT_NOTE = (
    " Most of the image is one flat colour: this channel answers to a colour (or a "
    "brightness) everywhere more than to a shape."
)


def mostly_flat(image: torch.Tensor, bounds: tuple[float, float]) -> bool:
    """Whether at least 80 % of a ``(C, H, W)`` image's pixels are within 5 % of the input
    range of its median colour (a grown image that shows a colour, not a shape).

    Examples
    --------
    >>> flat = torch.full((3, 8, 8), 0.7)
    >>> flat[:, :, -1] = 0.0  # a strip at one edge
    >>> mostly_flat(flat, (0, 1)), mostly_flat(torch.rand(3, 8, 8), (0, 1))
    (True, False)
    """
    low, high = bounds
    median = image.flatten(1).median(dim=1).values[:, None, None]
    near = ((image - median).abs() <= 0.05 * (high - low)).all(dim=0)
    return float(near.float().mean()) >= 0.8


def what_channel_looks_for(spec: UserModel, layer: str, channel, steps):
    """An image grown from noise to excite the channel's mean activation, and a note.

    Uses :func:`cnnviz.visualise.features.visualise` with the readable regularisers and the
    model's bounds and input shape; ``steps`` is bounded by :data:`MAX_STEPS`.
    """
    channel = _channel(spec, layer, channel)
    steps = int(number(steps, "The steps", MIN_STEPS, MAX_STEPS))
    start = time.perf_counter()
    grown = visualise(
        spec.model,
        [channel],
        layer=layer,
        regularisers=READABLE,
        steps=steps,
        shape=spec.input_shape,
        bounds=spec.bounds,
    )
    history = grown.objective_history[:, 0]
    note = (
        f"**{layer} channel {channel}** looks for this: its mean activation went from "
        f"{float(history[0]):.3f} to {float(grown.objective[0]):.3f} in {steps} steps "
        f"({time.perf_counter() - start:.1f} s; jitter, rotation, scale and blur keep it "
        "readable)."
    )
    if mostly_flat(grown.images[0], spec.bounds):
        note += FLAT_NOTE
    return input_picture(grown.images[0], spec.bounds, GROWN_PX), note
