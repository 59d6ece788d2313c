"""One unit's computation as HTML: the app's view of a click, built in about a millisecond.

The gallery draws the same terms with :func:`cnnviz.neuron_plots.plot_unit_computation`
(matplotlib). A click in the app cannot wait for that figure (about 0.2 s to lay out
and render on the 2-core CPU), so the app writes the terms as small HTML tables and
bars that the browser lays out itself. No gradio here; the styles are in
:data:`cnnviz.app.page.CSS` (class ``unit``).
"""

from __future__ import annotations

import html

import matplotlib
import numpy as np
import torch
from PIL import Image

from cnnviz.app.pictures import colour, digit_image, png_data_uri
from cnnviz.neuron import UnitComputation
from cnnviz.neuron_plots import SOURCE_NAMES
from cnnviz.plots import DIVERGING

UP, DOWN = "#b2182b", "#2166ac"  # the diverging map's ends: pushes up (red), down (blue)
BAR_PX = 90  # the longest bar of a side
FIELD_PX = 168  # the drawing, 6 px a pixel


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
            text = "pad 0" if padded is not None and padded[row, col] else f"{values[row, col]:.2f}"
            kind = (classes or {}).get((row, col), "")
            tds.append(
                f'<td class="{kind}" style="background:{background};color:{ink}">{text}</td>'
            )
        rows.append(f"<tr>{''.join(tds)}</tr>")
    return f"<figure><figcaption>{title}</figcaption><table>{''.join(rows)}</table></figure>"


def _field(terms: UnitComputation, image: torch.Tensor) -> str:
    """The drawing with the unit's receptive field outlined, and its rows and columns."""
    top, bottom, left, right = terms.receptive_field
    box = (
        f"top:{top / 28:.2%};left:{left / 28:.2%};"
        f"height:{(bottom - top) / 28:.2%};width:{(right - left) / 28:.2%}"
    )
    if terms.position is not None:
        name = f"{terms.layer}[{terms.unit}, {terms.position[0]}, {terms.position[1]}]"
    else:
        name = f"class {terms.unit} (fc2)" if terms.layer == "fc2" else f"fc1 unit {terms.unit}"
    picture = png_data_uri(Image.fromarray(digit_image(image, height=28)))
    return (
        f"<figure><figcaption>{name} sees</figcaption>"
        f'<div class="field"><img alt="the drawing" src="{picture}">'
        f'<div style="{box}"></div></div>'
        f"<figcaption>rows {top}-{bottom - 1}, columns {left}-{right - 1}</figcaption></figure>"
    )


def _bars(terms: UnitComputation) -> str:
    """The strongest pushes up (red, right) and down (blue, left), as bars with values."""
    chosen, values = terms.pushes(8)
    longest = max(float(np.abs(values).max()), 1e-12) if len(values) else 1.0
    label = SOURCE_NAMES[terms.source]
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


def _pool(terms: UnitComputation) -> str:
    """The 2x2 max-pooling window: the kept value outlined, the unit marked."""
    here = (terms.position[0] % 2, terms.position[1] % 2)
    classes = {tuple(terms.pool.kept): "kept"}
    classes[here] = (classes.get(here, "") + " here").strip()
    return _grid(terms.pool.window, f"max pool keeps {terms.pool.value:.2f}", classes)


def unit_html(terms: UnitComputation, image: torch.Tensor) -> str:
    """One unit's computation, laid out as CNN Explainer does, as an HTML fragment.

    Parameters
    ----------
    terms
        From :func:`cnnviz.neuron.unit_computation`.
    image
        The ``(1, 28, 28)`` digit it was computed on, in model space ([-1, 1]).

    Returns
    -------
    str
        ``<div class="unit">``: the drawing with the receptive field outlined; for a
        one-channel convolution (conv1) the input window, kernel and products as
        coloured 3x3 tables with their numbers, otherwise the 16 strongest pushes up
        and down as bars; the max-pooling window (the kept value outlined, the unit
        marked with a triangle); and the arithmetic, term by term.

    Examples
    --------
    >>> from cnnviz import load_test_digits, pretrained
    >>> from cnnviz.neuron import unit_computation
    >>> seven = load_test_digits().x[0]
    >>> view = unit_html(unit_computation(pretrained(), seven, "conv2", 5, (7, 6)), seven)
    >>> view.count("<table>"), view.count("pool1 channel"), "forward pass" in view
    (1, 16, True)
    """
    parts = [_field(terms, image)]
    if terms.position is not None and len(terms.inputs) == 1:
        padded = terms.padding[0]
        parts += [
            _grid(terms.inputs[0], "input window", padded=padded),
            _grid(terms.weights[0], "x kernel"),
            _grid(terms.products[0], "= products", padded=padded),
        ]
    else:
        parts.append(_bars(terms))
    if terms.pool is not None:
        parts.append(_pool(terms))
    parts.append(f"<pre>{html.escape(terms.arithmetic())}</pre>")
    return f'<div class="unit">{"".join(parts)}</div>'
