"""Words for a beginner: one line beside each technical control, with a link to the
gallery page that explains it, and a hint when a drawing does not look like a digit.

No gradio here. The docs site's address is :data:`DOCS_URL`, the one place to change it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnviz.data.drawing import INK_THRESHOLD, ink_map, prepare_drawing

#: The documentation built in a checkout (``make docs``); the app serves it at ``/docs/``.
BUILT_DOCS = Path(__file__).resolve().parents[2] / "docs" / "_build" / "html"


def docs_url() -> str | None:
    """Where the documentation site (its gallery of examples) is, for the app's links.

    ``$CNNVIZ_DOCS_URL`` where set (a Space, a course site), else ``/docs/`` when this
    checkout's docs are built (the app serves them there), else ``None``: no links.

    Examples
    --------
    >>> import os
    >>> os.environ["CNNVIZ_DOCS_URL"] = "https://example.org/cnnviz"
    >>> docs_url()
    'https://example.org/cnnviz/'
    >>> del os.environ["CNNVIZ_DOCS_URL"]
    """
    if os.environ.get("CNNVIZ_DOCS_URL"):
        return os.environ["CNNVIZ_DOCS_URL"].rstrip("/") + "/"
    return "/docs/" if (BUILT_DOCS / "index.html").is_file() else None


#: Every link of the app starts here (``None``: no documentation to link to).
DOCS_URL = docs_url()

#: control -> (one line for a beginner, gallery page that explains it)
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "occlusion": (
        "**Occlusion**: a grey square hides part of your drawing; the map shows how sure "
        "the network stays with the square at each place (dark = that part mattered).",
        "plot_06_occlusion_saliency",
    ),
    "saliency": (
        "**Saliency**: how much the score of the read digit changes when one pixel "
        "changes a little (bright = sensitive pixel).",
        "plot_06_occlusion_saliency",
    ),
    "classes": (
        "**Class images**: start from random noise and change the pixels until the "
        "network is sure it sees a given digit: what the network 'looks for'.",
        "plot_07_class_visualisation",
    ),
    "targeted": (
        "**Targeted attack**: change your drawing step by step until the network reads "
        "the digit you choose. **beta** punishes moving away from your drawing: larger "
        "beta, a smaller change.",
        "plot_08_targeted_attack",
    ),
    "gradient": (
        "**FGSM** (one step) and **PGD** (40 small steps) push every pixel in the "
        "direction that hurts the network most. **epsilon** is the largest change of "
        "any pixel (L-inf: 0.1 = a tenth of black to white); **L2** adds all changes up.",
        "plot_10_robustness",
    ),
    "transfer": (
        "**Noise transfer**: learn one noise pattern that makes a digit read as the "
        "target, then add the same noise to other digits: does it fool them too?",
        "plot_09_noise_transfer",
    ),
    "train": (
        "**Training**: the network sees batches of digits and nudges its weights "
        "(learning rate = how big a nudge); **batch norm** rescales each layer's "
        "outputs while training.",
        "plot_03_batch_norm",
    ),
}


def gallery_link(page: str) -> str | None:
    """The address of a gallery page on the docs site (``None`` without docs).

    Examples
    --------
    >>> link = gallery_link("plot_06_occlusion_saliency")
    >>> link is None or link.endswith("auto_examples/plot_06_occlusion_saliency.html")
    True
    """
    return None if DOCS_URL is None else f"{DOCS_URL}auto_examples/{page}.html"


def explanation(control: str) -> str:
    """One line of Markdown for ``control`` (a key of :data:`EXPLANATIONS`), with a link
    to its gallery page where the docs are (:func:`docs_url`).

    Examples
    --------
    >>> explanation("saliency").startswith("**Saliency**")
    True
    """
    line, page = EXPLANATIONS[control]
    link = gallery_link(page)
    return line if link is None else f'{line} <a href="{link}" target="_blank">The gallery page</a>'


TOO_SMALL = 0.2  # ink extent / canvas side; MNIST digits on the canvas: 0.71
TOO_FULL = 0.30  # share of the 28x28 input that is ink (> 0.5); MNIST test sample: <= 0.292

NOT_A_DIGIT = (
    "*This does not look like a digit ({why}). The network must answer one of 0-9 "
    "whatever it is shown, so its answer means little here.*"
)


@dataclass(frozen=True)
class InkShape:
    """How a drawing's ink is spread: ``extent`` (longer side of the ink's box over the
    canvas side, 0-1) and ``fill`` (share of the model's 28x28 input that is ink)."""

    extent: float
    fill: float


def ink_shape(canvas: np.ndarray) -> InkShape | None:
    """The :class:`InkShape` of a sketchpad image, or ``None`` when it has no ink.

    Examples
    --------
    >>> canvas = np.full((100, 100), 255, dtype=np.uint8)
    >>> canvas[40:50, 40:50] = 0  # a dot
    >>> shape = ink_shape(canvas)
    >>> round(shape.extent, 2), shape.fill > TOO_FULL
    (0.1, True)
    """
    ink = ink_map(canvas) > INK_THRESHOLD
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if not len(rows):
        return None
    side = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    pixels = prepare_drawing(canvas).pixels
    return InkShape(extent=float(side / max(ink.shape)), fill=float((pixels > 0.5).mean()))


def not_a_digit_hint(canvas: np.ndarray | None) -> str:
    """A sentence when the drawing does not look like a digit, else ``""``.

    A dot (ink spanning less than :data:`TOO_SMALL` of the canvas) or a scribble (more
    than :data:`TOO_FULL` of the model's input inked, more than any digit of the
    bundled MNIST sample) gets the hint; real MNIST digits never do (tested).

    Examples
    --------
    >>> canvas = np.full((100, 100), 255, dtype=np.uint8)
    >>> canvas[45:52, 45:52] = 0
    >>> "does not look like a digit" in not_a_digit_hint(canvas)
    True
    """
    shape = None if canvas is None else ink_shape(np.asarray(canvas))
    if shape is None:
        return ""
    if shape.extent < TOO_SMALL:
        return NOT_A_DIGIT.format(why="a dot: draw it big, filling most of the box")
    if shape.fill > TOO_FULL:
        return NOT_A_DIGIT.format(why="too much ink for a digit: a scribble?")
    return ""
