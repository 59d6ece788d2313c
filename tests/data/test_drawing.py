"""Drawings made MNIST-like: formats, empty canvases, and accuracy on rendered real digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from cnnviz.data.drawing import DrawingError, naive_resize, prepare_drawing
from cnnviz.models.checkpoint import pretrained
from cnnviz.training.evaluation import evaluate

N_DIGITS = 1000


def canvas_with_stroke(height=300, width=200, rgba=False) -> np.ndarray:
    canvas = np.full((height, width, 4 if rgba else 3), 255, np.uint8)
    canvas[50:250, 90:110, :3] = 0  # a vertical bar: a "1"
    return canvas


def render_as_drawing(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 28x28 MNIST digit (uint8, white on black) drawn big, somewhere on a white canvas.

    The digit's ink box is scaled to 25-70 % of a 250-600 px canvas, placed at a random
    position, black strokes on white, as RGB or RGBA (as a sketchpad gives).
    """
    ink = pixels.astype(np.float32) / 255.0
    rows, cols = np.nonzero(ink.any(1))[0], np.nonzero(ink.any(0))[0]
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    side = int(rng.integers(250, 601))
    scale = side * rng.uniform(0.25, 0.7) / max(crop.shape)
    size = (max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale)))
    big = F.interpolate(torch.from_numpy(crop)[None, None], size=size, mode="bilinear")[0, 0]
    canvas = np.zeros((side, side), np.float32)
    top = int(rng.integers(0, side - size[0] + 1))
    left = int(rng.integers(0, side - size[1] + 1))
    canvas[top : top + size[0], left : left + size[1]] = big.clamp(0, 1).numpy()
    rgb = np.repeat((255 * (1 - canvas)).round().astype(np.uint8)[:, :, None], 3, axis=2)
    if rng.random() < 0.5:
        return np.dstack([rgb, np.full((side, side), 255, np.uint8)])
    return rgb


def test_rendered_real_digits_are_read_almost_as_well_as_mnist(mnist):
    model = pretrained(batchnorm=True)
    images, labels = mnist.test_x[:N_DIGITS], mnist.test_y[:N_DIGITS]
    mnist_accuracy = evaluate(model, images, labels)[1]
    rng = np.random.default_rng(0)
    raw = ((images[:, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    drawings = [render_as_drawing(pixels, rng) for pixels in raw]
    prepared = torch.cat([prepare_drawing(canvas).x for canvas in drawings])
    naive = torch.cat([naive_resize(canvas) for canvas in drawings])
    drawn_accuracy = evaluate(model, prepared, labels)[1]
    naive_accuracy = evaluate(model, naive, labels)[1]
    assert drawn_accuracy >= mnist_accuracy - 1.5, (drawn_accuracy, mnist_accuracy)
    assert naive_accuracy < mnist_accuracy - 30, naive_accuracy


def test_output_looks_like_mnist():
    result = prepare_drawing(canvas_with_stroke())
    assert not result.empty and result.x.shape == (1, 1, 28, 28)
    assert result.x.min() >= -1 and result.x.max() == 1.0
    assert torch.allclose(result.x[0, 0], torch.from_numpy(result.pixels) * 2 - 1)
    rows = np.nonzero(result.pixels.any(1))[0]
    assert rows[-1] - rows[0] + 1 in (20, 21)  # longer side scaled to 20 px (+ anti-alias)
    ys, xs = np.indices((28, 28))
    mass = result.pixels.sum()
    centre = ((ys * result.pixels).sum() / mass, (xs * result.pixels).sum() / mass)
    assert np.allclose(centre, (14, 14), atol=0.6)


def test_formats_agree():
    reference = prepare_drawing(canvas_with_stroke()).pixels
    rgba = prepare_drawing(canvas_with_stroke(rgba=True)).pixels
    grey = prepare_drawing(canvas_with_stroke()[:, :, 0]).pixels
    floats = prepare_drawing(canvas_with_stroke()[:, :, 0] / 255.0).pixels
    pil = prepare_drawing(Image.fromarray(canvas_with_stroke())).pixels
    inverted = prepare_drawing(255 - canvas_with_stroke()).pixels  # white on black
    for other in (rgba, grey, floats, pil, inverted):
        assert np.allclose(other, reference, atol=1e-5)


def test_transparent_background_with_dark_strokes():
    transparent = np.zeros((100, 100, 4), np.uint8)
    transparent[20:80, 45:55] = (0, 0, 0, 255)
    opaque = np.full((100, 100, 3), 255, np.uint8)
    opaque[20:80, 45:55] = 0
    assert np.allclose(prepare_drawing(transparent).pixels, prepare_drawing(opaque).pixels)


@pytest.mark.parametrize(
    "canvas",
    [
        np.full((400, 400, 3), 255, np.uint8),
        np.zeros((400, 400, 4), np.uint8),
        np.pad(
            np.zeros((2, 2, 3), np.uint8), ((100, 100), (100, 100), (0, 0)), constant_values=255
        ),
    ],
    ids=["white", "transparent", "a few specks"],
)
def test_empty_canvases_are_reported_not_classified(canvas):
    result = prepare_drawing(canvas)
    assert result.empty and result.x is None and not result.pixels.any()


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((10, 10, 2), np.uint8), "expected an"),
        (np.zeros((5000, 10), np.uint8), "sides"),
        (np.full((10, 10), np.nan, np.float32), "NaN"),
        (np.full((10, 10), 2.0), r"\[0, 1\]"),
        (np.zeros((10, 10), np.int64), "unsupported pixel type"),
        (np.zeros((0, 10), np.uint8), "sides"),
    ],
)
def test_bad_images_raise_a_clear_error(image, message):
    with pytest.raises(DrawingError, match=message):
        prepare_drawing(image)
