"""Gradio pieces the tabs are made of: checked inputs, served outputs, picture widgets.

A value the app cannot use becomes a message for the client (a ``gr.Error``) and one
line in the server log, never a traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from collections.abc import Callable, Iterator

import gradio as gr
import numpy as np
from PIL import Image

from cnnviz.app import words
from cnnviz.app.inputs import InputError

log = logging.getLogger("cnnviz.app")


class InputFailed(gr.Error):
    """A clear message for the client, and one log line instead of a traceback."""

    def __init__(self, message: str) -> None:
        log.warning("rejected input: %s", message)
        super().__init__(message, print_exception=False)


def guarded(component: gr.components.Component, read: Callable | None = None):
    """``component`` whose payload goes through ``read(component, payload)`` first.

    ``read`` raises :class:`~cnnviz.app.inputs.InputError` (or, for files, ``OSError``
    or ``ValueError``) for a value the app cannot use; the client gets its message.
    """
    preprocess = component.preprocess

    @functools.wraps(preprocess)
    def checked(payload):
        try:
            return preprocess(payload if read is None else read(component, payload))
        except InputError as error:
            raise InputFailed(f"{component.label}: {error}") from None
        except (OSError, ValueError, Image.DecompressionBombError):
            raise InputFailed(f"{component.label}: the upload is not a readable image.") from None

    component.preprocess = checked
    return component


def lenient(component: gr.components.Component) -> gr.components.Component:
    """``component`` whose typed value reaches the handler as sent, unchecked by Gradio.

    Gradio's own check raises for a value out of range (a red "Error" badge on every
    output) and a traceback for text; the handlers check values themselves
    (:func:`~cnnviz.app.inputs.number`: one clear message), and the page corrects a
    typed value before sending it (``page.js``).
    """
    component.preprocess = lambda payload: payload
    return component


def slider(*args, **options) -> gr.Slider:
    return lenient(gr.Slider(*args, **options))


def explained(*controls: str, words_for: dict[str, str] | None = None) -> gr.Markdown:
    """One line for a beginner per control, with its gallery page (:mod:`cnnviz.app.words`);
    ``words_for`` replaces words (``{"digit": "class"}`` for a model that does not read
    digits)."""
    lines = "\n\n".join(words.explanation(control) for control in controls)
    for word, replacement in (words_for or {}).items():
        lines = lines.replace(word, replacement)
    return gr.Markdown(lines, elem_classes="explained")


def served(value):
    """Handler output ready to send: images become PNGs unique to this response.

    Gradio caches output images under their content hash and rewrites the file each
    time; identical images sent to two clients at once were truncated while being
    served ("Too little data for declared Content-Length"). A per-response text chunk
    gives every response its own file.
    """
    if isinstance(value, np.ndarray):
        picture = Image.fromarray(value)
        picture.info["cnnviz-response"] = uuid.uuid4().hex
        return picture
    if isinstance(value, list):
        return [(served(image), caption) for image, caption in value]
    return value


def endpoint(handler: Callable) -> Callable:
    """``handler`` with served outputs and :class:`~cnnviz.app.inputs.InputError` as a message."""

    @functools.wraps(handler)
    def run(*args):
        try:
            result = handler(*args)
        except InputError as error:
            raise InputFailed(str(error)) from None
        if inspect.isgenerator(result):
            return _streamed(result)
        return tuple(map(served, result)) if isinstance(result, tuple) else served(result)

    return run


def _streamed(updates: Iterator):
    """A handler's stream of updates, with its :class:`~cnnviz.app.inputs.InputError` (raised
    once iterated: the settings are read then) as a message."""
    try:
        yield from updates
    except InputError as error:
        raise InputFailed(str(error)) from None


def picture(label: str, **options) -> gr.Image:
    return gr.Image(label=label, format="png", height=240, buttons=["download"], **options)


def inline_picture(label: str, elem_id: str) -> gr.HTML:
    """A picture sent inside the response, as a PNG data URI in an ``<img>``.

    The Draw tab's pictures change with every stroke. Sent as files, each cost the
    server a write to Gradio's cache, path checks and a download of its own: most of a
    drawing's server time under load (8 clients: /draw p95 0.78 s; inline: 0.44 s,
    measured by ``benchmarks/app_latency.py``).
    """
    return gr.HTML(
        label=label,
        show_label=True,
        container=True,
        min_height=240,
        min_width=240,
        elem_id=elem_id,
        elem_classes="inline-picture",
    )


def gallery(label: str, **options) -> gr.Gallery:
    return gr.Gallery(label=label, format="png", object_fit="contain", **options)


def attack_panel(prefix: str, subject: str = "drawing") -> list:
    """Adversarial image, perturbation, before/after probabilities and a summary."""
    with gr.Row():
        adversarial = picture(f"Attacked {subject}", elem_id=f"{prefix}-image")
        perturbation = picture("Change (pixel units)", elem_id=f"{prefix}-change")
        before = gr.Label(num_top_classes=3, label="Before")
        after = gr.Label(num_top_classes=3, label="After")
    summary = gr.Markdown(elem_id=f"{prefix}-summary")
    return [adversarial, perturbation, before, after, summary]
