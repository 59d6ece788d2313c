"""The Inside tab on a teacher's model: its layers, feature maps, units, filters, and what a
channel looks for; laid out and wired by :func:`inside_tab` (the work is in
:mod:`cnnviz.app.own.inside_handlers`)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import gradio as gr

from cnnviz.app.components import endpoint, gallery, slider
from cnnviz.app.own import inside_handlers as handlers

if TYPE_CHECKING:
    from cnnviz.models.user_model import UserModel

#: The tab's styles, for the page's ``css`` after :data:`cnnviz.app.page.CSS`: on a phone,
#: galleries of 4 columns within the box (8 would hang off its edge). A map's or a filter's
#: caption sits under its picture, not on it.
CSS = """
#own-inside-maps .thumbnail-item img, #own-inside-filters .thumbnail-item img {
  box-sizing: border-box; padding-bottom: 1.9em; }
@media (max-width: 640px) {
  #own-inside-maps .grid-container, #own-inside-filters .grid-container {
    grid-template-columns: repeat(4, minmax(0, 1fr)) !important; }
}
"""
#: Every event of the tab, off the page's other work; none is a public API.
EVENT = {"api_name": False, "concurrency_id": "own-inside", "concurrency_limit": 2}


def _linear_units(spec: UserModel, layer: str) -> gr.Dropdown:
    choices = handlers.linear_unit_choices(spec, layer)
    return gr.Dropdown(choices=choices, value=choices[0][1])


def _maps(spec: UserModel, image: gr.State, unit_view: gr.HTML, unit_note: gr.HTML):
    """Layer, feature maps, the opened map and its units; returns the layer and channel."""
    choices = handlers.layer_choices(spec)
    hint = handlers.first_hint(spec)
    layer = gr.Dropdown(choices, value=choices[0][1], label="Layer", elem_id="own-inside-layer")
    maps_note = gr.Markdown(hint, elem_id="own-inside-maps-note")
    maps = gallery(
        "Feature maps (click one)",
        columns=8,
        height=300,
        elem_id="own-inside-maps",
        allow_preview=False,
    )
    channel = gr.Number(
        0,
        label="Channel",
        precision=0,
        minimum=0,
        maximum=handlers.channel_count(spec, choices[0][1]) - 1 if choices else 0,
        elem_id="own-inside-channel",
    )
    map_note = gr.Markdown(hint, elem_id="own-inside-map-note")
    unit_map = gr.Image(
        label="The opened map: click a unit",
        format="png",
        height=handlers.MAP_PX,
        interactive=False,
        elem_id="own-inside-map",
    )
    maps_io = ([image, layer], [maps, maps_note])
    map_io = ([image, layer, channel], [unit_map, map_note, unit_view, unit_note])
    refresh_maps = endpoint(partial(handlers.feature_maps, spec))
    open_map = endpoint(partial(handlers.channel_map, spec))
    image.change(refresh_maps, *maps_io, **EVENT).then(open_map, *map_io, **EVENT)

    def first_channel(name: str) -> gr.Number:
        """Channel 0 of the chosen layer, the box's range that layer's channels."""
        return gr.Number(0, maximum=handlers.channel_count(spec, name) - 1)

    layer.change(first_channel, layer, channel, api_name=False, queue=False).then(
        refresh_maps, *maps_io, **EVENT
    ).then(open_map, *map_io, **EVENT)

    def picked(picture, name: str, event: gr.SelectData):
        """The map clicked in the gallery: its channel, opened."""
        return event.index, *open_map(picture, name, event.index)

    def clicked(picture, name: str, number, event: gr.SelectData):
        """The unit under a click on the opened map."""
        x, y = event.index
        return endpoint(handlers.open_unit)(spec, picture, name, number, x, y)

    maps.select(picked, [image, layer], [channel, *map_io[1]], **EVENT)
    channel.submit(open_map, *map_io, **EVENT)
    unit_map.select(clicked, [image, layer, channel], [unit_view, unit_note], **EVENT)
    return layer, channel


def _linear(spec: UserModel, image: gr.State, unit_view: gr.HTML, unit_note: gr.HTML) -> None:
    """Pick a fully connected unit (a class by its name) and open it."""
    linear = handlers.linear_layers(spec)
    with gr.Accordion("Fully connected units and class scores", open=False), gr.Row():
        fc_layer = gr.Dropdown(
            linear, value=linear[-1], label="Linear layer", elem_id="own-inside-fc-layer"
        )
        fc_unit = gr.Dropdown(
            handlers.linear_unit_choices(spec, linear[-1]),
            value=0,
            label="Unit",
            elem_id="own-inside-fc-unit",
        )
        fc_open = gr.Button("Open this unit", elem_id="own-inside-fc-open")
    fc_layer.change(partial(_linear_units, spec), fc_layer, fc_unit, api_name=False)
    fc_open.click(
        endpoint(partial(handlers.linear_unit, spec)),
        [image, fc_layer, fc_unit],
        [unit_view, unit_note],
        **EVENT,
    )


def _channels(spec: UserModel, layer: gr.Dropdown, channel: gr.Number) -> None:
    """The filters of the chosen layer, and an image grown for the chosen channel."""
    shown, about = handlers.layer_filters(spec, layer.value)
    filters_note = gr.Markdown(about, elem_id="own-inside-filters-note")
    filters = gallery(
        "Filters",
        value=shown,
        columns=8,
        height=260,
        elem_id="own-inside-filters",
        allow_preview=False,
    )
    with gr.Accordion("What this channel looks for", open=False):
        with gr.Row():
            steps = slider(
                handlers.MIN_STEPS,
                handlers.MAX_STEPS,
                value=handlers.DEFAULT_STEPS,
                step=8,
                label="Steps",
                elem_id="own-inside-steps",
            )
            grow = gr.Button("Grow an image for this channel", elem_id="own-inside-grow")
        cost = gr.Markdown(
            handlers.visualisation_cost(spec, handlers.DEFAULT_STEPS), elem_id="own-inside-cost"
        )
        with gr.Row(equal_height=False):
            grown = gr.Image(
                label="Grown image", format="png", interactive=False, elem_id="own-inside-grown"
            )
            grown_note = gr.Markdown(elem_id="own-inside-grown-note")
    filters_io = (layer, [filters, filters_note])
    layer.change(endpoint(partial(handlers.layer_filters, spec)), *filters_io, **EVENT)
    steps.release(endpoint(partial(handlers.visualisation_cost, spec)), steps, cost, **EVENT)
    grow.click(
        endpoint(partial(handlers.what_channel_looks_for, spec)),
        [layer, channel, steps],
        [grown, grown_note],
        **EVENT,
    )


def inside_tab(spec: UserModel, image: gr.State) -> None:
    """Lay out and wire the Inside tab, inside an open ``gr.Tab`` of a ``gr.Blocks``.

    Parameters
    ----------
    spec
        The teacher's model (:class:`~cnnviz.models.user_model.UserModel`).
    image
        The page's state: numpy ``float32 (1, C, H, W)`` in the model's space, or ``None``;
        every output refreshes when it changes. A model without feature maps (no
        convolution) shows only its fully connected units.
    """
    has_maps = bool(handlers.layer_choices(spec))
    gr.Markdown(
        "Pick a layer to see its feature maps of the image; click a map to open it, then a "
        "pixel of it to see that unit's computation, term by term."
        if has_maps
        else "This model has no layer whose output is a stack of feature maps (no "
        "convolution): open its fully connected units below."
    )
    unit_note = gr.HTML(
        f"<p>{handlers.first_hint(spec)}</p>", elem_id="own-inside-unit-note", render=False
    )
    unit_view = gr.HTML("", elem_id="own-inside-unit", render=False)
    if has_maps:
        layer, channel = _maps(spec, image, unit_view, unit_note)
    unit_note.render()
    unit_view.render()
    if handlers.linear_layers(spec):
        _linear(spec, image, unit_view, unit_note)
    if has_maps:
        _channels(spec, layer, channel)
