"""What each widget does: the handlers wired to the page's events.

Drawing updates run two at a time (one per core); attacks, class images and the noise
transfer queue on their own, one at a time, so drawing stays quick while others attack.
Attack results are cleared as soon as the drawing or the model changes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import gradio as gr
from PIL import Image

from cnnviz.app import handlers, inside_handlers, lab_site, session_models, train_handlers
from cnnviz.app.components import endpoint
from cnnviz.app.inputs import InputError, read_sketch
from cnnviz.app.pictures import inline_img
from cnnviz.app.tabs import TABS, Page
from cnnviz.data.sample_digits import read_test_sample
from cnnviz.training.recipe import get_recipe

DRAW_WORKERS = 2  # one handler per core; torch uses one thread per handler
TRAIN_SLOTS = 2  # trainings (or races) at once; others wait in a queue they can see
LONG_WORKERS = 1  # attacks and class images queue on their own, so drawing stays quick
QUICK = {"concurrency_id": "draw", "concurrency_limit": DRAW_WORKERS}
SLOW = {"concurrency_id": "long", "concurrency_limit": LONG_WORKERS}
# Clicks that open a unit: a few milliseconds of work, answered off the queue (one HTTP
# request instead of a queue join and an event stream: 0.8 -> 0.15 s in the browser for
# a do-nothing handler, measured with benchmarks/neuron_click.py) and with no progress
# overlay, which delays the update on screen.
INSTANT = {"queue": False, "show_progress": "hidden"}

feature_maps = endpoint(handlers.activation_gallery)
filter_galleries = endpoint(handlers.filter_galleries)


def draw(sketch, model_name: str, patch, stride) -> tuple:
    """The Draw tab's outputs, the prediction in short for above the sketchpad, and the
    drawing as the model's input, kept for the Inside tab's clicks (a ``gr.State``)."""
    probabilities, seen, occluded, salient, message = endpoint(handlers.draw_update)(
        sketch, model_name, patch, stride
    )
    guess = max(probabilities, key=probabilities.get) if probabilities else None
    short = f"Prediction: **{guess}** ({probabilities[guess]:.1%})" if guess else ""
    pictures = (
        inline_img(seen, "The drawing as the model sees it, 28x28 pixels"),
        inline_img(occluded, "Occlusion map with a colour bar from 0 % to 100 %"),
        inline_img(salient, "Saliency map with a colour bar"),
    )
    return probabilities, *pictures, message, short, read_sketch(sketch)[0]


def empty_canvas() -> None:
    """The sketchpad emptied (its own reset), before a digit is put on it."""
    return None


def forget_truth(sketch):
    """The loaded digit's true label goes when the canvas is emptied ("Clear")."""
    return "" if read_sketch(sketch)[0] is None else gr.skip()


#: The address's ``?model=`` values: the shipped variants' keys <-> the switch's names.
MODEL_KEYS = {variant: name for name, variant in handlers.MODELS.items()}
MODEL_KEYS_BY_NAME = dict(handlers.MODELS)
#: The switch's names -> the in-browser lab's network ids (``widget.js`` tells the lab).
LAB_MODELS_BY_NAME = {name: lab_site.LAB_MODELS[key] for name, key in handlers.MODELS.items()}
#: Client-side only (no server request): the lab follows the model switch, and a new
#: drawing in the lab clears both attack panels (their results were for the last one).
TELL_LAB_MODEL = "(name) => { window.cnnvizWidget?.model(name); return []; }"
# (an empty label is {}: null for a gr.Label stops the update of every output)
STALE_IN_BROWSER = "() => Array(2).fill([null, null, {{}}, {{}}, {stale}]).flat()"


def remember_drawing(drawing):
    """The drawing as the model's input, for the Inside tab's clicks (a ``gr.State``)."""
    return read_sketch(drawing)[0]


def opened(request: gr.Request):
    """The page's state from its address: ``?tab=inside&model=robust&digit=17``.

    Returns the tab, the model switch, the sketchpad (the MNIST test digit of that index,
    if these digits include it), the true-label sentence, whether the Inside tab is open
    and the Train tab's epochs and batch size for the data used now.
    """
    query = request.query_params if request is not None else {}
    tab = query.get("tab")
    model_name = MODEL_KEYS.get(query.get("model", ""), gr.skip())
    canvas, truth = gr.skip(), gr.skip()
    if "digit" in query:
        try:
            canvas, truth = handlers.test_digit(query["digit"])
        except InputError as error:
            truth = str(error)
        canvas = gr.skip() if canvas is None else canvas
    epochs, batch = train_handlers.defaults()
    return (
        gr.Tabs(selected=tab) if tab in TABS else gr.skip(),  # a click meanwhile stays
        model_name,
        canvas,
        truth,
        tab == "inside" if tab in TABS else gr.skip(),
        gr.Slider(maximum=train_handlers.max_epochs(), value=epochs),
        batch,
    )


@functools.cache
def lab_digits() -> frozenset[int]:
    """The MNIST test indices the in-browser lab bundles (its ``?digit=`` can load only these)."""
    return frozenset(int(i) for i in read_test_sample().indices)


def opened_in_lab(request: gr.Request):
    """:func:`opened` in lab mode: a test digit the widget does not bundle is not put on the
    (hidden) sketchpad either, so the Inside tab and the widget show the same drawing."""
    state = opened(request)
    digit = request.query_params.get("digit", "") if request is not None else ""
    if digit.isdigit() and int(digit) in lab_digits():
        return state
    return (*state[:2], gr.skip(), gr.skip(), *state[4:])


def recipe_rate(recipe: str):
    """The learning rate of the chosen recipe (the report's: 0.01)."""
    try:
        return get_recipe(recipe).lr
    except ValueError:
        return gr.skip()


def class_images(model_name: str, target: str):
    """Class images; the box for failures shows only when a class failed."""
    sure, failed, curves, status = endpoint(handlers.grow_class_images)(model_name, target)
    return sure, gr.Gallery(value=failed, visible=bool(failed)), curves, status


def stale(*_) -> tuple:
    """Both attack panels, cleared."""
    return handlers.stale_attack() + handlers.stale_attack()


def stale_if_redrawn(
    sketch, model_name: str, attacked: tuple[str, str] | None, seen: str | None
) -> tuple:
    """Both attack panels cleared, unless the drawing is the one seen last or attacked;
    and the key of the drawing now seen (the ``seen`` state's new value).

    The sketchpad can report a change without a new stroke (a repeated event after the
    last one, seconds later on a busy server, even after an attack started): results that
    still belong to what is on the canvas stay.
    """
    key = handlers.drawing_key(sketch)
    if key == seen or (attacked is not None and attacked == (key, model_name)):
        return (gr.skip(),) * (2 * len(handlers.stale_attack())) + (key,)
    return (*stale(), key)


def remembered(attack: Callable) -> Callable:
    """``attack``'s outputs plus the key of the drawing and model it ran on."""

    @functools.wraps(attack)
    def run(sketch, model_name: str, *settings):
        return *attack(sketch, model_name, *settings), (handlers.drawing_key(sketch), model_name)

    return run


def layer_menu(model_name: str, current: str) -> gr.Dropdown:
    """The layer menu of ``model_name``, keeping ``current`` where that model has it."""
    choices = handlers.layer_choices(model_name)
    return gr.Dropdown(choices=choices, value=current if current in choices else "conv1")


def maps_if_open(inside_is_open: bool, *args):
    """Feature maps, computed only while the Inside tab is open."""
    return feature_maps(*args) if inside_is_open else (gr.skip(), gr.skip())


def is_inside(event: gr.SelectData) -> bool:
    return event.value == "Inside"


def channel_map(*args) -> tuple:
    """The opened channel's map and sentence, and the unit figure cleared."""
    picture, note, _ = endpoint(inside_handlers.channel_map)(*args)
    return picture, note, ""


def channel_map_if_open(inside_is_open: bool, *args):
    """The opened channel's map, computed only while the Inside tab is open."""
    return channel_map(*args) if inside_is_open else (gr.skip(),) * 3


def picked_channel(event: gr.SelectData) -> int:
    """The channel of the feature map clicked in the gallery."""
    return event.index


def unit_clicked(drawing, model_name: str, layer: str, channel, event: gr.SelectData):
    """The computation of the unit under the click on the opened map."""
    x, y = event.index
    return endpoint(inside_handlers.open_unit)(drawing, model_name, layer, channel, x, y)


def class_clicked(drawing, model_name: str, event: gr.SelectData):
    """fc2's terms for the class clicked in the prediction, shown in the Inside tab."""
    view, note = endpoint(inside_handlers.class_terms)(drawing, model_name, event.value)
    return view, note, gr.Tabs(selected="inside"), True


def connect(app: gr.Blocks, page: Page) -> None:
    """Wire every event of ``page`` (inside ``app``'s context)."""
    attacked = gr.State(None)  # (drawing key, model) the attack panels show results for
    drawn = gr.State(None)  # the drawing as the model's input, for the Inside tab's clicks
    connect_drawing(app, page, attacked, drawn)
    connect_address(app, page, drawn)
    connect_neurons(page, drawn)
    connect_long_jobs(page, attacked)
    connect_training(app, page)


def connect_drawing(app: gr.Blocks, page: Page, attacked: gr.State, drawn: gr.State) -> None:
    """Drawing, the model switch, the sliders, the random digit and the Inside tab."""
    top, inside = page.header, page.inside
    draw_inputs = [top.sketch, top.chosen, page.draw.patch, page.draw.stride]
    draw_outputs = [
        top.label,
        page.draw.seen,
        page.draw.occluded,
        page.draw.salient,
        top.message,
        top.verdict,
        drawn,
    ]
    maps_inputs = [page.drawing, top.chosen, inside.layer]
    maps_outputs = [inside.maps, inside.note]
    open_maps = [page.inside_open, *maps_inputs]
    neuron = inside.neuron
    open_channel = [page.inside_open, drawn, top.chosen, inside.layer, neuron.channel]
    channel_outputs = [neuron.unit_map, neuron.unit_note, neuron.unit_figure]
    attack_outputs = page.targeted.outputs + page.gradient.outputs

    page.tabs.select(is_inside, None, page.inside_open, api_name=False, queue=False)
    top.sketch.change(
        draw, draw_inputs, draw_outputs, api_name="draw", show_progress="hidden", **QUICK
    ).then(maps_if_open, open_maps, maps_outputs, api_name=False, **QUICK).then(
        channel_map_if_open, open_channel, channel_outputs, api_name=False, **QUICK
    )
    seen = gr.State(None)  # the key of the drawing the last change event saw
    top.sketch.change(
        stale_if_redrawn,
        [top.sketch, top.chosen, attacked, seen],
        [*attack_outputs, seen],
        api_name=False,
        queue=False,
    )
    top.chosen.change(
        layer_menu, [top.chosen, inside.layer], inside.layer, api_name=False, queue=False
    ).then(draw, draw_inputs, draw_outputs, api_name=False, **QUICK).then(
        maps_if_open, open_maps, maps_outputs, api_name=False, **QUICK
    ).then(channel_map_if_open, open_channel, channel_outputs, api_name=False, **QUICK)
    for changed in (top.chosen.change, top.random_digit.click):
        changed(stale, None, attack_outputs, api_name=False, queue=False)
    filters = [inside.conv1, inside.conv2]
    top.chosen.change(filter_galleries, top.chosen, filters, api_name=False)
    app.load(filter_galleries, top.chosen, filters, api_name=False)
    for setting in (page.draw.patch, page.draw.stride):
        for trigger in (setting.release, setting.input):
            trigger(draw, draw_inputs, draw_outputs, api_name=False, **QUICK)
    inside.layer.change(feature_maps, maps_inputs, maps_outputs, api_name=False, **QUICK).then(
        channel_map, open_channel[1:], channel_outputs, api_name=False, **QUICK
    )
    inside.tab.select(remember_drawing, page.drawing, drawn, api_name=False, queue=False).then(
        feature_maps, maps_inputs, maps_outputs, api_name=False, **QUICK
    ).then(channel_map, open_channel[1:], channel_outputs, api_name=False, **QUICK)
    widget = page.draw.widget
    if widget is not None:  # lab mode: strokes are answered in the browser
        top.chosen.change(None, top.chosen, None, js=TELL_LAB_MODEL, api_name=False)
        stale_js = STALE_IN_BROWSER.format(stale=json.dumps(handlers.STALE))
        widget.change(None, None, attack_outputs, js=stale_js, api_name=False)
    top.sketch.change(
        forget_truth, top.sketch, top.truth, api_name=False, queue=False, show_progress="hidden"
    )
    # Gradio's sketchpad sends every change of its canvas to each listening event; a new
    # value from the server while strokes are on it often left it blank under a spinner
    # (issue 28: 3 of 6 pages here). Emptied first, it always loads the digit.
    top.random_digit.click(
        empty_canvas, None, top.sketch, api_name=False, queue=False, show_progress="hidden"
    ).then(
        endpoint(handlers.random_test_digit),
        None,
        [top.sketch, top.truth],
        api_name="random_digit",
    ).then(draw, draw_inputs, draw_outputs, api_name=False, **QUICK)


def connect_address(app: gr.Blocks, page: Page, drawn: gr.State) -> None:
    """Open the state a link names (tab, model, test digit); ``page.js`` keeps the
    address up to date as the student changes them."""
    top, t = page.header, page.train
    draw_inputs = [top.sketch, top.chosen, page.draw.patch, page.draw.stride]
    draw_outputs = [top.label, page.draw.seen, page.draw.occluded, page.draw.salient]
    app.load(
        opened if page.draw.widget is None else opened_in_lab,
        None,
        [page.tabs, top.chosen, top.sketch, top.truth, page.inside_open, t.epochs, t.batch_size],
        api_name=False,
        show_progress="hidden",
    ).then(
        draw,
        draw_inputs,
        [*draw_outputs, top.message, top.verdict, drawn],
        api_name=False,
        show_progress="hidden",
        **QUICK,
    )
    t.recipe.change(recipe_rate, t.recipe, t.lr, api_name=False, queue=False)


def connect_neurons(page: Page, drawn: gr.State) -> None:
    """Open a channel, click a unit or a class, ask what a channel looks for."""
    top, inside, classes = page.header, page.inside, page.classes
    neuron = inside.neuron
    channel_inputs = [drawn, top.chosen, inside.layer, neuron.channel]
    inside.maps.select(picked_channel, None, neuron.channel, api_name=False, queue=False)
    neuron.channel.change(
        channel_map,
        channel_inputs,
        [neuron.unit_map, neuron.unit_note, neuron.unit_figure],
        api_name=False,
        **QUICK,
    )
    neuron.unit_map.select(
        unit_clicked,
        channel_inputs,
        [neuron.unit_figure, neuron.unit_note],
        api_name=False,
        **INSTANT,
    )
    top.label.select(
        class_clicked,
        [drawn, top.chosen],
        [neuron.unit_figure, neuron.unit_note, page.tabs, page.inside_open],
        api_name=False,
        **INSTANT,
    )
    neuron.look.click(
        endpoint(inside_handlers.what_channel_looks_for),
        [top.chosen, inside.layer, neuron.channel, neuron.toggles],
        [neuron.examples, neuron.plain, neuron.readable, neuron.look_note],
        api_name="channel",
        **SLOW,
    )
    classes.grow_readable.click(
        endpoint(inside_handlers.readable_class_images),
        [top.chosen, classes.toggles],
        [classes.readable, classes.readable_status],
        api_name="readable_class_images",
        **SLOW,
    )


def connect_long_jobs(page: Page, attacked: gr.State) -> None:
    """The buttons of Classes, Targeted, FGSM/PGD and Transfer, in their own queue."""
    top, classes = page.header, page.classes
    targeted, gradient, transfer = page.targeted, page.gradient, page.transfer
    classes.grow.click(
        class_images,
        [top.chosen, classes.target],
        [classes.sure, classes.failed, classes.curves, classes.status],
        api_name="class_images",
        **SLOW,
    )
    targeted.attack.click(
        remembered(endpoint(handlers.targeted_on_drawing)),
        [page.drawing, top.chosen, targeted.target, targeted.beta, targeted.steps],
        [*targeted.outputs, attacked],
        api_name="targeted",
        **SLOW,
    )
    gradient.attack.click(
        remembered(endpoint(handlers.gradient_attack_on_drawing)),
        [page.drawing, top.chosen, gradient.method, gradient.eps],
        [*gradient.outputs, attacked],
        api_name="gradient_attack",
        **SLOW,
    )
    transfer.learn.click(
        endpoint(handlers.transfer_table),
        [top.chosen, transfer.target],
        [transfer.table, transfer.note],
        api_name="transfer",
        **SLOW,
    )


def _filters(filters) -> str:
    return inline_img(Image.fromarray(filters), "The 32 conv1 filters, now")


def train_stream(recipe, batchnorm, epochs, lr, batch_size, request: gr.Request):
    """The Train button: curves, filters and status as they come; at the end the
    summary and the token of the session's new model."""
    updates = endpoint(train_handlers.train_live)
    for curves, filters, status, summary, token in updates(
        recipe, batchnorm, epochs, lr, batch_size, request.session_hash
    ):
        yield curves, _filters(filters), status, summary or gr.skip(), token or gr.skip()


def your_model_choice(token: str | None):
    """The model switch with "your model" (this session's) among the choices."""
    if token is None:
        return gr.skip()
    return gr.Radio(choices=[*handlers.MODELS, ("your model", token)])


def race_stream(recipe, epochs, lr, batch_size, request: gr.Request):
    """The race: both variants' curves overlaid as they come, then their summary."""
    updates = endpoint(train_handlers.race_live)
    for curves, status, summary in updates(recipe, epochs, lr, batch_size, request.session_hash):
        yield curves, status, summary or gr.skip()


def stop_training(request: gr.Request):
    """The Stop button: the session's runs end after their current step. The status
    belongs to the run's stream, whose next update says so (an answer from here could
    arrive after the stream's last one and hide the result)."""
    train_handlers.stop(request.session_hash)
    return gr.skip()


def forget_session(request: gr.Request) -> None:
    """The page was closed: stop its training and free its model."""
    train_handlers.stop(request.session_hash)
    session_models.forget_session(request.session_hash)


def connect_training(app: gr.Blocks, page: Page) -> None:
    """Train, Race and Stop; a closed page frees its model."""
    t = page.train
    settings = [t.recipe, t.epochs, t.lr, t.batch_size]
    slot = {"concurrency_id": "train", "concurrency_limit": TRAIN_SLOTS}
    t.train.click(
        train_stream,
        [t.recipe, t.batchnorm, *settings[1:]],
        [t.curves, t.filters, t.status, t.summary, t.yours],
        api_name="train",
        **slot,
    ).then(your_model_choice, t.yours, page.header.chosen, api_name=False, **INSTANT)
    t.race.click(race_stream, settings, [t.curves, t.status, t.summary], api_name="race", **slot)
    t.stop.click(stop_training, None, t.status, api_name=False, queue=False)
    app.unload(forget_session)
