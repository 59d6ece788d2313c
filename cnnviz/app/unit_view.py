"""One unit's computation as HTML: the app's view of a click, built in about a millisecond.

The gallery draws the same terms with :func:`cnnviz.plots.plot_unit_computation`
(matplotlib), for the report's CNN. A click in the app cannot wait for that figure (about
0.2 s to lay out and render on the 2-core CPU), so the app writes the terms (of any model's
conv or linear unit) as small HTML tables and bars that the browser lays out itself. No
gradio here; the styles are in :data:`cnnviz.app.page.CSS` (class ``unit``).
"""

from __future__ import annotations

import html

import matplotlib
import numpy as np
import torch
from PIL import Image

from cnnviz.app.pictures import colour, png_data_uri, upscale
from cnnviz.core.classifier import to_pixels
from cnnviz.inspect.neuron import UnitComputation
from cnnviz.plots import DIVERGING
from cnnviz.plots.neuron import SOURCE_NAMES

UP, DOWN = "#b2182b", "#2166ac"  # the diverging map's ends: pushes up (red), down (blue)
BAR_PX = 90  # the longest bar of a side
FIELD_PX = 168  # the drawing, 6 px a pixel
#: Convolutions with at most this many input channels (per group) and kernels at most
#: this wide show their windows, kernels and products as tables; others as bars.
TABLE_CHANNELS, TABLE_KERNEL = 3, 5
REPORT_BOUNDS = (-1.0, 1.0)
COLOURS = ("red", "green", "blue")  # the channels of a colour image


def _cells(values: np.ndarray) -> list[tuple[str, str]]:
    """Each value's background and ink on a diverging scale symmetric around 0."""
    limit = max(float(np.abs(values).max()), 1e-12)
    rgb = colour(values.ravel(), DIVERGING, -limit, limit)
    backgrounds = [matplotlib.colors.to_hex(shade) for shade in rgb]
    inks = ["#fff" if abs(v) > 0.6 * limit else "#000" for v in values.ravel()]
    return list(zip(backgrounds, inks, strict=True))


def _grid(
    values: np.ndarray,
    title: str,
    classes: dict[tuple[int, int], str] | None = None,
    padded: np.ndarray | None = None,
) -> str:
    """A small matrix as a table of coloured cells with their numbers, under a title.

    ``classes`` gives some cells a CSS class (the kept value, the clicked unit);
    ``padded`` marks cells that lie outside the map (the convolution's zero padding).
    """
    cells = iter(_cells(values))
    rows = []
    for row in range(values.shape[0]):
        tds = []
        for col in range(values.shape[1]):
            background, ink = next(cells)
            text = f"{values[row, col]:.2f}"
            if padded is not None and padded[row, col]:
                text = "pad 0" if values[row, col] == 0 else f"pad {text}"
            kind = (classes or {}).get((row, col), "")
            tds.append(
                f'<td class="{kind}" style="background:{background};color:{ink}">{text}</td>'
            )
        rows.append(f"<tr>{''.join(tds)}</tr>")
    return f"<figure><figcaption>{title}</figcaption><table>{''.join(rows)}</table></figure>"


def input_picture(image: torch.Tensor, bounds=REPORT_BOUNDS, height: int = 0) -> np.ndarray:
    """A model-space image ``(C, H, W)`` (C = 1 or 3) as ``uint8 (H, W, 3)``, upscaled.

    ``bounds`` are the model's black and white; ``height`` 0 keeps the image's size.

    Examples
    --------
    >>> input_picture(torch.zeros(3, 4, 4), (0.0, 1.0), height=8).shape
    (8, 8, 3)
    """
    pixels = to_pixels(image.detach().cpu().float(), bounds).clamp(0, 1).numpy()
    rgb = np.repeat(pixels[0][:, :, None], 3, axis=2) if len(pixels) == 1 else pixels[:3]
    rgb = rgb if len(pixels) == 1 else rgb.transpose(1, 2, 0)
    return upscale(rgb, height or rgb.shape[0])


def _field(terms: UnitComputation, image: torch.Tensor, bounds, title: str | None) -> str:
    """The drawing with the unit's receptive field outlined, and its rows and columns."""
    top, bottom, left, right = terms.receptive_field
    height, width = image.shape[-2:]
    box = (
        f"top:{top / height:.2%};left:{left / width:.2%};"
        f"height:{(bottom - top) / height:.2%};width:{(right - left) / width:.2%}"
    )
    if title is not None:
        name = title
    elif terms.position is not None:
        name = f"{terms.layer}[{terms.unit}, {terms.position[0]}, {terms.position[1]}]"
    elif terms.layer in ("fc1", "fc2"):
        name = f"class {terms.unit} (fc2)" if terms.layer == "fc2" else f"fc1 unit {terms.unit}"
    else:
        name = f"{terms.layer} unit {terms.unit}"
    picture = png_data_uri(Image.fromarray(input_picture(image.reshape(-1, height, width), bounds)))
    return (
        f"<figure><figcaption>{html.escape(name)} sees</figcaption>"
        f'<div class="field"><img alt="the input image" src="{picture}">'
        f'<div style="{box}"></div></div>'
        f"<figcaption>rows {top}-{bottom - 1}, columns {left}-{right - 1}</figcaption></figure>"
    )


def _bars(terms: UnitComputation) -> str:
    """The strongest pushes up (red, right) and down (blue, left), as bars with values."""
    chosen, values = terms.pushes(8)
    longest = max(float(np.abs(values).max()), 1e-12) if len(values) else 1.0
    label = _input_name(terms)
    rows = []
    for index, value in zip(chosen.tolist(), values.tolist(), strict=True):
        width = round(BAR_PX * abs(value) / longest)
        bar = f'<span style="width:{width}px;background:{UP if value > 0 else DOWN}"></span>'
        down, up = ("", bar) if value > 0 else (bar, "")
        rows.append(
            f"<div><span>{html.escape(label)} {index}</span><span class=down>{down}</span>"
            f"<span class=up>{up}</span><span>{value:+.3f}</span></div>"
        )
    caption = f"largest pushes up (red) and down (blue): {terms.push_meaning()}"
    bars = "".join(rows)
    return f'<figure><figcaption>{caption}</figcaption><div class="pushes">{bars}</div></figure>'


def _input_name(terms: UnitComputation) -> str:
    """What one bar stands for: the report's names, else a channel or an input value."""
    if terms.source != "image" and terms.source in SOURCE_NAMES:
        return SOURCE_NAMES[terms.source]
    return "input" if terms.position is None else "channel"


def _channel_name(terms: UnitComputation, channel: int) -> str:
    """An input channel's name: its colour for a colour image, else its index."""
    if terms.source == "image" and len(terms.inputs) == 3:
        return COLOURS[channel]
    return f"channel {channel}"


def _tables(terms: UnitComputation) -> list[str]:
    """Window, kernel and products of each input channel as tables (one channel: no name)."""
    parts = []
    named = len(terms.inputs) > 1
    window = "input window" if terms.source == "image" else f"input window ({terms.layer} receives)"
    for channel, (inputs, weights, padded) in enumerate(
        zip(terms.inputs, terms.weights, terms.padding, strict=True)
    ):
        prefix = f"{_channel_name(terms, channel)}: " if named else ""
        parts += [
            _grid(inputs, f"{prefix}{window}", padded=padded),
            _grid(weights, "x kernel"),
            _grid(inputs * weights, "= products", padded=padded),
        ]
    return parts


def _pool(terms: UnitComputation) -> str:
    """The 2x2 max-pooling window: the kept value outlined, the unit marked."""
    here = (terms.position[0] % 2, terms.position[1] % 2)
    classes = {tuple(terms.pool.kept): "kept"}
    classes[here] = (classes.get(here, "") + " here").strip()
    return _grid(terms.pool.window, f"max pool keeps {terms.pool.value:.2f}", classes)


def unit_html(
    terms: UnitComputation,
    image: torch.Tensor,
    *,
    bounds: tuple[float, float] = REPORT_BOUNDS,
    title: str | None = None,
) -> str:
    """One unit's computation, laid out as CNN Explainer does, as an HTML fragment.

    Parameters
    ----------
    terms
        From :func:`cnnviz.inspect.neuron.unit_computation` (any model's Conv2d or Linear unit).
    image
        The ``(C, H, W)`` image it was computed on, in model space (the report's digit
        ``(1, 28, 28)`` in [-1, 1]).
    bounds
        The model's black and white, to draw ``image``: the report's ``(-1, 1)`` by default.
    title
        What to call the unit (``"class cat (fc2)"``); by default its layer and index.

    Returns
    -------
    str
        ``<div class="unit">``: the image with the receptive field outlined; for a
        convolution with at most 3 input channels (per group) and kernels at most 5 wide
        (the report's conv1) the input window, kernel and products of each channel as
        coloured tables with their numbers (padding cells say ``pad``), otherwise the 16
        strongest pushes up and down as bars; the max-pooling window of the report's
        units (the kept value outlined, the unit marked with a triangle); and the
        arithmetic, term by term.

    Examples
    --------
    >>> from cnnviz import load_test_digits, pretrained
    >>> from cnnviz.inspect.neuron import unit_computation
    >>> seven = load_test_digits().x[0]
    >>> view = unit_html(unit_computation(pretrained(), seven, "conv2", 5, (7, 6)), seven)
    >>> view.count("<table>"), view.count("pool1 channel"), "forward pass" in view
    (1, 16, True)
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    >>> picture = torch.rand(3, 4, 4)
    >>> view = unit_html(unit_computation(net, picture, "0", 1, (0, 1)), picture, bounds=(0, 1))
    >>> view.count("<table>"), view.count("blue: input window")
    (9, 1)
    """
    parts = [_field(terms, image, bounds, title)]
    kernel = max(terms.inputs.shape[1:], default=0)
    if terms.position is not None and (
        len(terms.inputs) <= TABLE_CHANNELS and kernel <= TABLE_KERNEL
    ):
        parts += _tables(terms)
    else:
        parts.append(_bars(terms))
    if terms.pool is not None:
        parts.append(_pool(terms))
    parts.append(f"<pre>{html.escape(terms.arithmetic())}</pre>")
    return f'<div class="unit">{"".join(parts)}</div>'
