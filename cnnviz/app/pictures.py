"""Arrays to pictures a browser shows: upscaled digits, colour maps with labelled bars,
rendered figures and PNG data URIs.

No gradio and no model here. Pictures are ``uint8 (H, W, 3)`` arrays unless said
otherwise; values to colour are float arrays.
"""

from __future__ import annotations

import base64
import html
import io
import math

import matplotlib
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from cnnviz import plots
from cnnviz.core.classifier import to_pixels
from cnnviz.models.cnn import CNN

SCALE = 8  # 28 px -> 224 px on screen
FONT = ImageFont.load_default(size=13)
LABEL_FONT = ImageFont.load_default(size=16)  # names in a picture shown smaller than drawn
LABEL_PX = 22
TOP_PX = 32


def upscale(rgb: np.ndarray, height: int = 28 * SCALE) -> np.ndarray:
    """``(h, w, 3)`` floats in [0, 1] -> uint8 ``height`` px high, same aspect ratio."""
    picture = Image.fromarray((rgb * 255).round().astype(np.uint8))
    width = round(rgb.shape[1] * height / rgb.shape[0])
    return np.asarray(picture.resize((width, height), Image.Resampling.NEAREST))


def digit_image(x: torch.Tensor, height: int = 28 * SCALE, ink: bool = False) -> np.ndarray:
    """A model-space digit (any shape with 784 values) as a square grey RGB image.

    White on black as MNIST stores it, or with ``ink`` black on white as drawn.
    """
    pixels = to_pixels(x.detach().reshape(28, 28), CNN.input_bounds).clamp(0, 1).numpy()
    return upscale(np.repeat((1.0 - pixels if ink else pixels)[:, :, None], 3, axis=2), height)


def outlined(picture: np.ndarray, field: tuple[int, int, int, int]) -> np.ndarray:
    """A 28x28 digit ``picture`` with the pixels ``(top, bottom, left, right)`` outlined."""
    top, bottom, left, right = field
    scale = picture.shape[0] / 28
    canvas = Image.fromarray(picture)
    box = [left * scale, top * scale, right * scale - 1, bottom * scale - 1]
    ImageDraw.Draw(canvas).rectangle(box, outline=(255, 176, 0), width=2)
    return np.asarray(canvas)


def colour(values: np.ndarray, cmap: str, low: float, high: float) -> np.ndarray:
    """Map ``values`` to RGB in [0, 1] with a matplotlib colour map over ``[low, high]``."""
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return matplotlib.colormaps[cmap](np.clip(scaled, 0, 1))[..., :3]


def with_colour_bar(
    values: np.ndarray, cmap: str, low: float, high: float, ticks: list[str]
) -> np.ndarray:
    """A ``(h, w)`` map coloured over ``[low, high]``, 224 px high, with a labelled bar.

    ``ticks`` label the bar's top, middle and bottom (``high``, middle, ``low``), so
    the numbers a reader sees are the real range of the colours.
    """
    picture = upscale(colour(values, cmap, low, high))
    height = picture.shape[0]
    bar = colour(np.linspace(high, low, height)[:, None].repeat(14, axis=1), cmap, low, high)
    canvas = Image.new("RGB", (picture.shape[1] + 96, height + 16), "white")
    canvas.paste(Image.fromarray(picture), (0, 8))
    canvas.paste(Image.fromarray(upscale(bar, height)), (picture.shape[1] + 8, 8))
    pen = ImageDraw.Draw(canvas)
    for tick, y in zip(ticks, (8, 8 + height // 2, 8 + height - 1), strict=True):
        pen.text((picture.shape[1] + 26, y), tick, fill="black", font=FONT, anchor="lm")
    return np.asarray(canvas)


def channel_strip(maps: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` maps side by side as one ``(H, C * (W + 1) - 1)`` map, one column of
    NaN (drawn black by :func:`colour`) between channels; one channel is itself.

    Examples
    --------
    >>> channel_strip(np.zeros((3, 2, 2))).shape
    (2, 8)
    """
    gap = np.full((maps.shape[1], 1), np.nan)
    parts = [part for channel in maps for part in (gap, channel)][1:]
    return np.concatenate(parts, axis=1)


def labelled_maps(maps: np.ndarray, names: list[str], limit: float, side: int = 96) -> np.ndarray:
    """``(C, h, w)`` maps on one scale ``[-limit, limit]`` (blue negative, red positive) in a
    near-square grid, each ``side`` px high under its name; the last cell is the scale's bar
    with its numbers. A white band of :data:`TOP_PX` on top leaves room for the label a
    browser's picture box puts over its corner.

    Examples
    --------
    >>> labelled_maps(np.zeros((3, 4, 4)), ["red", "green", "blue"], 1.0).shape
    (300, 264, 3)
    """
    cols = math.ceil(math.sqrt(len(maps) + 1))
    rows = math.ceil((len(maps) + 1) / cols)
    tiles = [upscale(colour(m, plots.DIVERGING, -limit, limit), side) for m in maps]
    cell_w, cell_h = max(tiles[0].shape[1], 80) + 36, side + LABEL_PX + 16
    canvas = Image.new("RGB", (cols * cell_w, TOP_PX + rows * cell_h), "white")
    pen = ImageDraw.Draw(canvas)
    bar = colour(
        np.linspace(limit, -limit, side)[:, None].repeat(14, axis=1), plots.DIVERGING, -limit, limit
    )
    cells = [*zip(tiles, names, strict=True), (upscale(bar, side), "")]
    for index, (tile, name) in enumerate(cells):
        row, col = divmod(index, cols)
        x, y = col * cell_w + 6, TOP_PX + row * cell_h + 4
        pen.text((x, y), name, fill="black", font=LABEL_FONT)
        canvas.paste(Image.fromarray(tile), (x, y + LABEL_PX))
    ticks = (f"+{limit:.3f}", "0", f"-{limit:.3f}")  # beside the bar, the last cell
    for tick, dy in zip(ticks, (0, side // 2, side - 1), strict=True):
        pen.text((x + 20, y + LABEL_PX + dy), tick, fill="black", font=LABEL_FONT, anchor="lm")
    return np.asarray(canvas)


def feature_map_picture(values: torch.Tensor, height: int = 112) -> np.ndarray:
    """One feature map ``(h, w)`` on its own scale, by the library's rule.

    :func:`cnnviz.plots.activation_scale` picks the colours: 0 to the largest value
    for a map with no negative value, else symmetric around 0.
    """
    cmap, low, high = plots.activation_scale(values)
    return upscale(colour(values.numpy(), cmap, low, high), height)


def kernel_picture(kernels: np.ndarray, limit: float, height: int = 120) -> np.ndarray:
    """``(rows, cols, k, k)`` kernels tiled with grey gaps, on the scale ``[-limit, limit]``."""
    mosaic = plots.kernel_mosaic(kernels)
    rgb = colour(np.nan_to_num(mosaic), plots.DIVERGING, -limit, limit)
    rgb[np.isnan(mosaic)] = 0.25
    return upscale(rgb, height)


def figure_image(fig: Figure, dpi: int = 80) -> np.ndarray:
    """A matplotlib figure rendered to an RGB array (drawn once, no PNG round trip)."""
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def inline_img(picture: Image.Image | None, alt: str) -> str:
    """``picture`` as an ``<img>`` whose source is the PNG itself; empty for ``None``.

    Pictures smaller than 100 px (the 28x28 digit) are shown 8x larger with sharp pixels.
    """
    if picture is None:
        return ""
    kind = "pixels" if max(picture.size) < 100 else "chart"
    return f'<img class="{kind}" alt="{html.escape(alt)}" src="{png_data_uri(picture)}">'


def png_data_uri(picture: Image.Image) -> str:
    """``picture`` as a ``data:image/png;base64,...`` URI (fast compression)."""
    buffer = io.BytesIO()
    picture.save(buffer, "png", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
