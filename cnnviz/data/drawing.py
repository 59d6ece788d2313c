"""Turning a drawing into an input that looks like an MNIST digit.

MNIST digits were made by cropping the ink, scaling its longer side to 20 px (keeping
the aspect ratio, anti-aliased), and placing the result in a 28x28 field so that its
centre of mass is at the centre (pixel (14, 14) in index coordinates; measured on the
MNIST test set: 13.99, 14.01). A drawing that skips these steps (a big canvas simply
resized to 28x28) gives a small, off-centre, faint digit the network never saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

DIGIT_BOX = 20  # longer side of the ink after scaling, px
FIELD = 28
CENTRE = 14.0  # where MNIST's centre of mass sits (index coordinates)
INK_THRESHOLD = 0.1  # ink level (0..1) that counts as drawn
MIN_INK_PIXELS = 8  # fewer inked pixels than this: the canvas is empty
MAX_SIDE = 4096  # larger canvases are refused


class DrawingError(ValueError):
    """The image cannot be read as a drawing (wrong shape, type, size or values).

    A ``ValueError``, so a caller can treat it as bad input.

    Examples
    --------
    >>> ink_map(np.zeros((8, 8, 2), dtype=np.uint8))
    Traceback (most recent call last):
    ...
    cnnviz.data.drawing.DrawingError: expected an (H, W), (H, W, 3) or (H, W, 4) image, got (8, ...
    """


@dataclass(frozen=True)
class PreparedDrawing:
    """A drawing made MNIST-like.

    Attributes
    ----------
    x
        ``(1, 1, 28, 28)`` model input in [-1, 1], or ``None`` when ``empty``.
    pixels
        ``(28, 28)`` white-on-black intensities in [0, 1] (what the model sees), zeros
        when empty.
    empty
        Fewer than ``MIN_INK_PIXELS`` pixels carry ink: no digit to classify.

    Examples
    --------
    >>> blank = prepare_drawing(np.full((100, 100), 255, dtype=np.uint8))
    >>> blank.empty, blank.x, blank.pixels.shape
    (True, None, (28, 28))
    """

    x: torch.Tensor | None
    pixels: np.ndarray
    empty: bool


def ink_map(image: np.ndarray | Image.Image) -> np.ndarray:
    """Ink intensity in [0, 1] per pixel: ``(H, W)`` float32.

    Accepts ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` arrays (``uint8``
    0..255, or floats in [0, 1]) and PIL images. Dark strokes on a light background
    give ink where it is dark; transparent pixels (alpha 0) carry no ink; a light-on-dark
    image (detected from its border) is read the other way round.

    Raises
    ------
    DrawingError
        Wrong shape or dtype, a side over 4096 px, or non-finite values.

    Examples
    --------
    Black ink on white paper, and the same stroke white on black, give the same map:

    >>> paper = np.full((3, 3), 255, dtype=np.uint8)
    >>> paper[1, 1] = 0
    >>> ink_map(paper).tolist()
    [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    >>> bool((ink_map(255 - paper) == ink_map(paper)).all())
    True
    """
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGBA") if image.mode in ("P", "LA") else image)
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise DrawingError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got {array.shape}")
    if min(array.shape[:2]) < 1 or max(array.shape[:2]) > MAX_SIDE:
        raise DrawingError(f"image sides must be 1 to {MAX_SIDE} px, got {array.shape[:2]}")
    if array.dtype == np.uint8:
        values = array.astype(np.float32) / 255.0
    elif np.issubdtype(array.dtype, np.floating) or array.dtype == np.bool_:
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise DrawingError("image contains NaN or infinite values")
        if values.min() < 0.0 or values.max() > 1.0:
            raise DrawingError("float images must have values in [0, 1]")
    else:
        raise DrawingError(f"unsupported pixel type {array.dtype}; use uint8 or float")
    if values.ndim == 2:
        grey, alpha = values, np.ones_like(values)
    else:
        grey = values[:, :, :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        alpha = values[:, :, 3] if values.shape[2] == 4 else np.ones_like(grey)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    border_alpha = np.concatenate([alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]])
    opaque = border_alpha > 0.5
    light_on_dark = bool(opaque.any()) and float(np.median(border[opaque])) < 0.5
    return ((grey if light_on_dark else 1.0 - grey) * alpha).astype(np.float32)


def prepare_drawing(image: np.ndarray | Image.Image) -> PreparedDrawing:
    """Make a drawing look like an MNIST digit: crop, scale to 20 px, centre by mass.

    Parameters
    ----------
    image
        A canvas of any size up to 4096 px a side (see :func:`ink_map` for the
        accepted formats), e.g. Gradio's sketchpad composite (opaque white, black
        strokes).

    Returns
    -------
    PreparedDrawing
        ``empty=True`` (and ``x=None``) when there is (almost) no ink.

    Examples
    --------
    A thick bar in the corner of a big white canvas becomes a 20 px tall stroke whose
    centre of mass is at the field's centre:

    >>> canvas = np.full((280, 280), 255, dtype=np.uint8)
    >>> canvas[10:110, 10:30] = 0
    >>> drawing = prepare_drawing(canvas)
    >>> drawing.x.shape, float(drawing.x.min()), float(drawing.x.max())
    (torch.Size([1, 1, 28, 28]), -1.0, 1.0)
    >>> rows = np.nonzero(drawing.pixels.max(1) > 0.5)[0]
    >>> int(rows.max() - rows.min() + 1)
    20
    """
    ink = ink_map(image)
    inked = ink > INK_THRESHOLD
    if inked.sum() < MIN_INK_PIXELS:
        return PreparedDrawing(x=None, pixels=np.zeros((FIELD, FIELD), np.float32), empty=True)
    rows, cols = np.nonzero(inked.any(1))[0], np.nonzero(inked.any(0))[0]
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = DIGIT_BOX / max(crop.shape)
    height = max(1, round(crop.shape[0] * scale))
    width = max(1, round(crop.shape[1] * scale))
    digit = F.interpolate(
        torch.from_numpy(np.ascontiguousarray(crop))[None, None],
        size=(height, width),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )[0, 0].clamp(0.0, 1.0)
    digit = digit / digit.max()
    mass = digit.sum()
    centre_y = (digit.sum(1) * torch.arange(height)).sum() / mass
    centre_x = (digit.sum(0) * torch.arange(width)).sum() / mass
    top = int(np.clip(round(CENTRE - centre_y.item()), 0, FIELD - height))
    left = int(np.clip(round(CENTRE - centre_x.item()), 0, FIELD - width))
    pixels = torch.zeros(FIELD, FIELD)
    pixels[top : top + height, left : left + width] = digit
    x = (pixels * 2.0 - 1.0).reshape(1, 1, FIELD, FIELD)
    return PreparedDrawing(x=x, pixels=pixels.numpy(), empty=False)


def naive_resize(image: np.ndarray | Image.Image) -> torch.Tensor:
    """The shortcut :func:`prepare_drawing` replaces: resize the canvas to 28x28.

    Returns a ``(1, 1, 28, 28)`` input in [-1, 1]; for comparisons only.

    Examples
    --------
    The same bar as in :func:`prepare_drawing`'s example stays small and off-centre:

    >>> canvas = np.full((280, 280), 255, dtype=np.uint8)
    >>> canvas[10:110, 10:30] = 0
    >>> x = naive_resize(canvas)
    >>> rows = torch.nonzero(x[0, 0].amax(1) > 0).flatten()
    >>> x.shape, int(rows.min()), int(rows.max())
    (torch.Size([1, 1, 28, 28]), 1, 10)
    """
    ink = torch.from_numpy(ink_map(image))[None, None]
    small = F.interpolate(ink, size=(FIELD, FIELD), mode="bilinear", antialias=True)
    return small.clamp(0.0, 1.0) * 2.0 - 1.0
