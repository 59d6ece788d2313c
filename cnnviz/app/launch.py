"""Serve the app on a teacher's own model: :func:`launch` (Python, a notebook) and
``cnnviz demo --model MODULE:FACTORY`` (:func:`cnnviz.cli.run_demo`)."""

from __future__ import annotations

import copy
import logging
from os import PathLike

import gradio as gr
import torch
from torch import nn

from cnnviz.app import server
from cnnviz.app.own.inside import CSS as INSIDE_CSS
from cnnviz.app.own.page import CSS as OWN_CSS
from cnnviz.app.own.page import build, tab_labels
from cnnviz.app.page import CSS, head
from cnnviz.data.image_folder import ImageSet, load_image_folder
from cnnviz.models.user_model import UserModel, user_model


def launch(
    model: nn.Module | UserModel,
    *,
    images: str | PathLike | ImageSet | None = None,
    class_names=None,
    bounds=None,
    input_shape=None,
    host: str = "127.0.0.1",
    port: int | None = None,
    block: bool = True,
) -> gr.Blocks:
    """Serve the app's tabs on ``model``: draw for it or pick your pictures, see what it
    sees, attack it, grow its class images.

    Parameters
    ----------
    model : torch.nn.Module or cnnviz.models.user_model.UserModel
        A classifier ``(N, C, H, W) -> (N, K)`` scores, checked as
        :func:`cnnviz.models.user_model.user_model` checks it (one dry run), or one already
        loaded (:func:`cnnviz.models.user_model.load_user_model`). The app serves a copy of a
        module, in eval mode: yours keeps its mode (training goes on as before) and its
        weights as they were; training it further does not change what the app shows.
    images : path or ImageSet, optional
        A folder of pictures (one subfolder per class, named as a class, if you like),
        resized to the model's input (:func:`cnnviz.data.image_folder.load_image_folder`).
    class_names, bounds, input_shape : optional
        The model's class names (one per score), input range ``(black, white)`` and
        ``(C, H, W)``; by default the model's own attributes, else digits, ``(0, 1)``
        and ``(1, 28, 28)``.
    host, port
        Where to listen: this machine only by default; the port by default
        ``$GRADIO_SERVER_PORT``, else the first free one from 7860.
    block
        Serve until interrupted; ``False`` returns at once (a notebook), the server running.

    Returns
    -------
    gradio.Blocks
        The app, launched (``app.close()`` stops it).

    Raises
    ------
    ValueError
        A model, pictures or option that does not fit (one clear sentence), before any
        server starts.

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    >>> launch(net, input_shape=(3, 8, 8), class_names=["cat", "dog", "car"])
    Traceback (most recent call last):
    ...
    cnnviz.models.user_model.ModelLoadError: ...
    """
    given = any(option is not None for option in (class_names, bounds, input_shape))
    if not isinstance(model, UserModel) or given:
        base = copy.deepcopy(model.model if isinstance(model, UserModel) else model)
        model = user_model(base, input_shape=input_shape, class_names=class_names, bounds=bounds)
    if images is not None and not isinstance(images, ImageSet):
        images = load_image_folder(
            images, shape=model.input_shape, bounds=model.bounds, classes=model.classes
        )
    if images is not None and tuple(images.images.shape[1:]) != model.input_shape:
        shape = tuple(images.images.shape[1:])
        raise ValueError(f"the pictures are {shape}, but the model takes {model.input_shape}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)  # one per request: on a busy machine, 2 threads were 80x slower
    labels = tab_labels(model)
    app = build(model, images).queue(max_size=server.MAX_QUEUE)
    app.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        head=head({label: tab for tab, label in labels.items()}, {}, {}),
        css=CSS + INSIDE_CSS + OWN_CSS,
        max_file_size="5mb",
        footer_links=["api"],
    )
    server.mount_docs(app)
    if block:
        app.block_thread()
    return app
