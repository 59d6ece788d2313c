"""The app: draw a digit and see what the CNN sees. A thin Gradio layer over the library.

Needs the ``app`` extra (``pip install "cnnviz[app]"``, which brings gradio); ``import
cnnviz`` never imports it. Run it with ``cnnviz demo`` or, in a checkout and on Hugging
Face Spaces, ``python demo/app.py``.

Modules, one job each: :mod:`~cnnviz.app.inputs` (user values checked),
:mod:`~cnnviz.app.pictures` (arrays to pictures), :mod:`~cnnviz.app.handlers` (UI values
to UI values through the library; no gradio), :mod:`~cnnviz.app.components` (gradio
widgets, checked inputs, served outputs), :mod:`~cnnviz.app.tabs` (one builder per tab),
:mod:`~cnnviz.app.events` (the wiring), :mod:`~cnnviz.app.page` (title, style, script)
and :mod:`~cnnviz.app.server` (build, queue, launch). :func:`launch` serves the same
tabs on a teacher's own model (:mod:`cnnviz.app.own`).
"""

from cnnviz.app.launch import launch
from cnnviz.app.server import build, main

__all__ = ["build", "launch", "main"]
