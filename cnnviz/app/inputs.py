"""Values from the user, checked: numbers in a range and the sketchpad's drawing.

A value the app cannot use raises :class:`InputError` with a sentence for the user.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from cnnviz.drawing import DrawingError, prepare_drawing

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


def sketch_image(sketch: dict | np.ndarray | None) -> np.ndarray | None:
    """The drawn image of a sketchpad value (its ``composite``), or ``None``."""
    image = sketch.get("composite") if isinstance(sketch, dict) else sketch
    return None if image is None else np.asarray(image)


def sketch_input(sketch: dict | np.ndarray | None) -> torch.Tensor | None:
    """The model input ``(1, 1, 28, 28)`` of a sketchpad value, or ``None`` when empty.

    Accepts Gradio's sketchpad dict (``composite``; all ``None`` after "Clear") or an
    image array. Raises :class:`cnnviz.drawing.DrawingError` for unreadable images.
    """
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
