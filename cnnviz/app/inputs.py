"""Values from the user, checked: numbers in a range and the drawing (the sketchpad's,
or the in-browser lab's prepared 28x28 pixels).

A value the app cannot use raises :class:`InputError` with a sentence for the user.
"""

from __future__ import annotations

import json
import math

import numpy as np
import torch

from cnnviz.data.drawing import FIELD, DrawingError, prepare_drawing

EMPTY_HINT = "Draw a digit in the box, big and centred."


class InputError(ValueError):
    """A value from the user that the app cannot use; ``str(error)`` is for the user."""


def number(value, name: str, low: float, high: float) -> float:
    """``value`` as a float in ``[low, high]``, or :class:`InputError` saying why not."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, not {value!r}.") from None
    if not (math.isfinite(result) and low <= result <= high):
        raise InputError(f"{name} must be between {low:g} and {high:g}, not {value!r}.")
    return result


def lab_value(sketch) -> dict | None:
    """The in-browser lab's drawing as sent by the app's Draw widget, or ``None`` if
    ``sketch`` is not one (a sketchpad value or an image).

    The widget's value is JSON text: ``{"pixels": [784 intensities in [0, 1]] or null,
    ...}``, the lab's prepared 28x28 input row by row (what the model sees). An empty
    text is the widget before any drawing.

    Examples
    --------
    >>> lab_value('{"pixels": null}'), lab_value(""), lab_value({"composite": None})
    ({'pixels': None}, {'pixels': None}, None)
    """
    if isinstance(sketch, dict):
        return sketch if "pixels" in sketch else None
    if not isinstance(sketch, str):
        return None
    if not sketch.strip():
        return {"pixels": None}
    try:
        value = json.loads(sketch)
    except json.JSONDecodeError:
        raise DrawingError("the drawing from the lab is not JSON") from None
    if not isinstance(value, dict) or "pixels" not in value:
        raise DrawingError('the drawing from the lab has no "pixels"')
    return value


def lab_pixels(value: dict) -> np.ndarray | None:
    """The ``(28, 28)`` float32 intensities of a :func:`lab_value`, or ``None`` when empty.

    Raises :class:`cnnviz.data.drawing.DrawingError` unless they are 784 finite numbers in
    ``[0, 1]``.

    Examples
    --------
    >>> lab_pixels({"pixels": [0.5] * 784}).shape
    (28, 28)
    >>> lab_pixels({"pixels": [2.0] * 784})
    Traceback (most recent call last):
    ...
    cnnviz.data.drawing.DrawingError: the lab's pixels must be finite and in [0, 1]
    """
    pixels = value.get("pixels")
    if pixels is None:
        return None
    try:
        array = np.asarray(pixels, dtype=np.float32)
    except (TypeError, ValueError):
        raise DrawingError("the lab's pixels are not numbers") from None
    if array.shape != (FIELD * FIELD,):
        raise DrawingError(f"expected {FIELD * FIELD} pixel values from the lab, not {array.shape}")
    if not (np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0):
        raise DrawingError("the lab's pixels must be finite and in [0, 1]")
    return array.reshape(FIELD, FIELD) if array.any() else None


def sketch_image(sketch: dict | np.ndarray | None) -> np.ndarray | None:
    """The drawn image of a sketchpad value (its ``composite``), or ``None`` (also for
    the lab's drawing, which comes prepared)."""
    if isinstance(sketch, str) or (isinstance(sketch, dict) and "pixels" in sketch):
        return None
    image = sketch.get("composite") if isinstance(sketch, dict) else sketch
    return None if image is None else np.asarray(image)


def sketch_input(sketch: dict | str | np.ndarray | None) -> torch.Tensor | None:
    """The model input ``(1, 1, 28, 28)`` of a drawing, or ``None`` when empty.

    Accepts Gradio's sketchpad dict (``composite``; all ``None`` after "Clear"), an
    image array, or the lab's prepared pixels (:func:`lab_value`). Raises
    :class:`cnnviz.data.drawing.DrawingError` for unreadable drawings.
    """
    lab = lab_value(sketch)
    if lab is not None:
        pixels = lab_pixels(lab)
        return None if pixels is None else torch.from_numpy(pixels * 2.0 - 1.0)[None, None]
    image = sketch_image(sketch)
    if image is None:
        return None
    return prepare_drawing(np.asarray(image)).x


def read_sketch(sketch) -> tuple[torch.Tensor | None, str]:
    """``(input, "")`` for a drawing, or ``(None, message)`` when empty or unreadable."""
    try:
        x = sketch_input(sketch)
    except DrawingError as error:
        return None, f"Could not read the drawing: {error}"
    return (x, "") if x is not None else (None, EMPTY_HINT)
