"""The app built, queued and launched."""

from __future__ import annotations

import gc
import logging
import os
import threading

import gradio as gr
import torch
from starlette.staticfiles import StaticFiles

from cnnviz.app import events, handlers, lab_site, mnist_fetch, tabs, train_handlers, words
from cnnviz.app.page import CSS, INTRO, TITLE, head
from cnnviz.core.runtime import retain_freed_memory
from cnnviz.fast.conv1_pool import compile_kernels

log = logging.getLogger("cnnviz.app")
MAX_QUEUE = 64
CACHE_CLEANUP = (600, 1800)  # every 10 min, delete served files older than 30 min
LAUNCH_OPTIONS = {
    "head": head(
        {label: tab for tab, label in tabs.TABS.items()},
        events.MODEL_KEYS_BY_NAME,
        events.LAB_MODELS_BY_NAME,
    ),
    "css": CSS,
    "max_file_size": "5mb",
    "footer_links": ["api"],
}


def build(*, lab: bool = False) -> gr.Blocks:
    """The app's Blocks, not queued or launched (:func:`main` does both).

    Parameters
    ----------
    lab : bool
        The Draw tab runs the in-browser lab (served at ``/lab``: :mod:`cnnviz.app.lab_site`)
        and answers strokes in the browser; otherwise the server answers the sketchpad's.
        The API is the same either way.

    Returns
    -------
    gradio.Blocks
        The page: the sketchpad, the model switch and seven tabs, with their events. Its
        HTTP API (``gradio_client``) offers ``/draw``, ``/random_digit``,
        ``/class_images``, ``/readable_class_images``, ``/channel``, ``/targeted``,
        ``/gradient_attack``, ``/transfer``, and the streaming ``/train`` and ``/race``.

    Examples
    --------
    >>> from cnnviz.app import build
    >>> app = build()
    >>> events = app.config["dependencies"]
    >>> for name in sorted(e["api_name"] for e in events if e["api_visibility"] == "public"):
    ...     print(name)
    channel
    class_images
    draw
    gradient_attack
    race
    random_digit
    readable_class_images
    targeted
    train
    transfer
    """
    with gr.Blocks(title=TITLE, delete_cache=CACHE_CLEANUP) as app:
        gr.Markdown(INTRO, elem_id="intro")
        events.connect(app, tabs.page(lab=lab))
    return app


def prepare(*, lab: bool = False) -> gr.Blocks:
    """Set torch threads and malloc once, load the models, warm up training and the
    attack kernels and fetch MNIST if it is missing (:mod:`cnnviz.app.mnist_fetch`; all in
    the background: the app serves meanwhile), build and queue the app.

    What is loaded by then (torch, gradio, the models: hundreds of thousands of objects)
    lives as long as the server, so it is moved out of the garbage collector's sight
    (``gc.freeze``): a full collection during a request then walks only the request's
    own objects (a unit's computation drawn on a click: 235 -> 205 ms).
    """
    torch.set_num_threads(1)
    retain_freed_memory()
    for name in handlers.MODELS:
        handlers.model(name)
    threading.Thread(target=train_handlers.warm_up, name="cnnviz-warm-up", daemon=True).start()
    threading.Thread(target=compile_kernels, name="cnnviz-kernels", daemon=True).start()
    mnist_fetch.start(on_done=train_handlers.live_data.cache_clear)
    app = build(lab=lab).queue(max_size=MAX_QUEUE)
    gc.collect()
    gc.freeze()
    return app


def mount_docs(app: gr.Blocks) -> None:
    """Serve this checkout's built docs at ``/docs``, for the explanations' links."""
    if words.DOCS_URL == "/docs/":
        app.server_app.mount("/docs", StaticFiles(directory=words.BUILT_DOCS, html=True))


def main(host: str | None = None, port: int | None = None) -> None:
    """Serve the app until interrupted.

    Parameters
    ----------
    host : str, optional
        Where to listen: by default ``$GRADIO_SERVER_NAME``, else ``127.0.0.1`` (this
        machine only).
    port : int, optional
        By default ``$GRADIO_SERVER_PORT`` (Hugging Face Spaces set both), else the first
        free port from 7860 (Gradio's choice).
    """
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    site = lab_site.lab_site()
    app = prepare(lab=site is not None)
    app.launch(
        server_name=host or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=port,
        prevent_thread_lock=True,
        **LAUNCH_OPTIONS,
    )
    mount_docs(app)
    if site is not None:
        app.server_app.mount(lab_site.MOUNT, StaticFiles(directory=site, html=True))
        log.warning("the Draw view runs in the browser (the lab at %s)", lab_site.MOUNT)
    app.block_thread()
