"""One builder per part of the page; each lays out its widgets and returns them.

Builders are called inside the app's ``gr.Blocks`` (the tabs inside its ``gr.Tabs``),
in page order; :mod:`cnnviz.app.events` connects what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from cnnviz.app import handlers, inside_handlers, lab_site, train_handlers
from cnnviz.app.components import (
    attack_panel,
    explained,
    gallery,
    guarded,
    inline_picture,
    lenient,
    picture,
    slider,
)
from cnnviz.app.inputs import EMPTY_HINT

#: The tabs: id (the address's ``?tab=``) -> label, in page order.
TABS = {
    "draw": "Draw",
    "inside": "Inside",
    "classvis": "Classes",
    "targeted": "Targeted",
    "gradient": "FGSM/PGD",
    "transfer": "Transfer",
    "train": "Train",
}
PATCH, STRIDE = 5, 2  # occlusion defaults: 12x12 windows (stride 1: 24x24, ~3x the time)
#: The Draw widget (lab mode): the lab's Draw view, embedded; ``widget.js`` wires it.
LAB_FRAME = (  # the note first: on a phone, below the widget it was a screen away
    '<p class="lab-own-model" role="note" hidden><strong>Your model lives on the server:'
    "</strong> this Draw view runs the shipped networks in your browser and keeps the last "
    "one chosen. The other tabs use your model.</p>"
    '<iframe id="lab-frame" src=".{mount}/index.html?view=draw&embed=1&app=1" '
    'title="Draw a digit: the network answers in your browser" '
    'style="width: 100%; height: 760px; border: 0; display: block;"></iframe>'
)
WIDGET_JS = (Path(__file__).parent / "widget.js").read_text()
LAB_NOTE = (
    "The Draw view runs in your browser: every stroke is answered on your device. "
    "The other tabs run on the server, on the drawing made here, when you press their buttons."
)


@dataclass(frozen=True)
class Header:
    """The sketchpad with the short verdict, and the model switch with the prediction."""

    verdict: gr.Markdown
    sketch: gr.Sketchpad
    chosen: gr.Radio
    label: gr.Label
    message: gr.Markdown
    random_digit: gr.Button
    truth: gr.Markdown


def header(*, lab: bool = False) -> Header:
    """The sketchpad and its answers, or (``lab``: the Draw tab's widget answers strokes)
    only the model switch, with the rest hidden (their events stay the app's API)."""
    shown = not lab
    with gr.Row():
        with gr.Column(scale=1, min_width=300, visible=shown):
            verdict = gr.Markdown(elem_id="verdict")
            sketch = gr.Sketchpad(
                label="Draw a digit",
                type="numpy",
                image_mode="RGB",
                canvas_size=(392, 392),
                height=330,  # laptops: the Draw pictures start above the fold
                brush=gr.Brush(default_size=26, colors=["#000000"], color_mode="fixed"),
                layers=False,
                elem_id="sketchpad",
            )
            guarded(sketch)
        with gr.Column(scale=1, min_width=300):
            chosen = gr.Radio(
                list(handlers.MODELS), value="batch norm", label="Model", elem_id="model"
            )
            label = gr.Label(
                num_top_classes=3, label="Prediction", elem_id="prediction", visible=shown
            )
            message = gr.Markdown(EMPTY_HINT, elem_id="message", visible=shown)
            random_digit = gr.Button(
                "Random MNIST test digit", elem_id="random-digit", visible=shown
            )
            truth = gr.Markdown(elem_id="truth", visible=shown)
    return Header(verdict, sketch, chosen, label, message, random_digit, truth)


@dataclass(frozen=True)
class DrawTab:
    """The server's pictures of the drawing, or (lab mode) the widget, with them hidden."""

    patch: gr.Slider
    stride: gr.Slider
    seen: gr.HTML
    occluded: gr.HTML
    salient: gr.HTML
    widget: gr.HTML | None


def lab_widget() -> gr.HTML:
    """The in-browser lab's Draw view; its value is the lab's drawing (JSON text, see
    :func:`cnnviz.app.inputs.lab_value`), set in the browser, read by the server tabs."""
    gr.Markdown(LAB_NOTE, elem_id="lab-note")
    return gr.HTML(
        "",
        html_template=LAB_FRAME.format(mount=lab_site.MOUNT),
        js_on_load=WIDGET_JS,
        elem_id="lab-widget",
        padding=False,
    )


def draw_tab(*, lab: bool = False) -> DrawTab:
    shown = not lab
    with gr.Tab(TABS["draw"], id="draw"):
        widget = lab_widget() if lab else None
        with gr.Row(elem_id="draw-pictures", visible=shown):  # stacked on phones
            seen = inline_picture("What the model sees (28x28)", "seen")
            occluded = inline_picture("p(read digit) with the patch there", "occluded")
            salient = inline_picture("Saliency |d logit / d pixel|", "salient")
        with gr.Row(visible=shown):
            patch = slider(2, 14, value=PATCH, step=1, label="Occlusion patch (px)")
            stride = slider(1, 7, value=STRIDE, step=1, label="Occlusion stride (px)")
        if shown:
            explained("occlusion", "saliency")
    return DrawTab(patch, stride, seen, occluded, salient, widget)


@dataclass(frozen=True)
class InsideTab:
    tab: gr.Tab
    layer: gr.Dropdown
    note: gr.Markdown
    maps: gr.Gallery
    neuron: NeuronPanel
    conv1: gr.Gallery
    conv2: gr.Gallery


@dataclass(frozen=True)
class NeuronPanel:
    """One channel opened: its map to click, a unit's computation, what it looks for."""

    channel: gr.Slider
    unit_map: gr.Image
    unit_figure: gr.HTML
    unit_note: gr.HTML
    toggles: gr.CheckboxGroup
    look: gr.Button
    examples: gr.Gallery
    plain: gr.Image
    readable: gr.Image
    look_note: gr.Markdown


def neuron_panel(*, lab: bool = False) -> NeuronPanel:
    classes = "" if lab else "Click a class in the prediction for the output layer's terms. "
    gr.Markdown(
        "### Inside a neuron\nClick a feature map above (or pick its channel), then click "
        f"a pixel of it: its computation appears. {classes}Keyboard: Tab to the map, move "
        "with the arrow keys, Enter opens the unit."
    )
    channel = slider(0, 31, value=0, step=1, label="Channel", elem_id="unit-channel")
    with gr.Row():
        unit_map = gr.Image(
            label="Click a unit of this channel",
            format="png",
            height=240,
            interactive=False,
            buttons=[],  # a click target; on a phone its toolbar covered the label
            scale=1,
            elem_id="unit-map",
        )
        unit_note = gr.HTML(elem_id="unit-note")
    unit_figure = inline_picture("Its computation", "unit-figure")
    with gr.Row():
        toggles = gr.CheckboxGroup(
            list(inside_handlers.TOGGLES),
            value=inside_handlers.DEFAULT_TOGGLES,
            label="Regularisers",
        )
        look = gr.Button("What does this channel look for?", elem_id="channel-look")
    examples = gallery(
        "Test digits that excite it most (the unit's receptive field outlined)",
        columns=8,
        height="auto",
        elem_id="channel-examples",
    )
    with gr.Row():
        plain = picture("Grown from noise: plain ascent", elem_id="channel-plain")
        readable = picture("Grown with the regularisers", elem_id="channel-readable")
    look_note = gr.Markdown(elem_id="channel-note")
    return NeuronPanel(
        channel,
        unit_map,
        unit_figure,
        unit_note,
        toggles,
        look,
        examples,
        plain,
        readable,
        look_note,
    )


def inside_tab(*, lab: bool = False) -> InsideTab:
    with gr.Tab(TABS["inside"], id="inside") as tab:
        layer = gr.Dropdown(handlers.layer_choices("batch norm"), value="conv1", label="Layer")
        note = gr.Markdown(elem_id="maps-note")
        maps = gallery(
            "Feature maps of your drawing (click one to open it below)",
            columns=8,
            allow_preview=False,
            elem_id="feature-maps",
        )
        neuron = neuron_panel(lab=lab)
        conv1 = gallery("conv1 filters (shared colour scale)", columns=8, elem_id="conv1-filters")
        conv2 = gallery(
            "conv2: the 32 input kernels of each output channel",
            columns=6,
            elem_id="conv2-filters",
        )
    return InsideTab(tab, layer, note, maps, neuron, conv1, conv2)


@dataclass(frozen=True)
class ClassesTab:
    target: gr.Dropdown
    grow: gr.Button
    status: gr.Markdown
    sure: gr.Gallery
    failed: gr.Gallery
    curves: gr.Image
    toggles: gr.CheckboxGroup
    grow_readable: gr.Button
    readable_status: gr.Markdown
    readable: gr.Gallery


def classes_tab() -> ClassesTab:
    with gr.Tab(TABS["classvis"], id="classvis"):
        with gr.Row():
            target = gr.Dropdown(["all", *map(str, range(10))], value="all", label="Class")
            grow = gr.Button("Grow from noise", variant="primary")
        explained("classes")
        status = gr.Markdown(elem_id="class-status")
        sure = gallery("Reached p >= 0.99", elem_id="class-sure", elem_classes="class-images")
        failed = gallery(
            "Did NOT reach p >= 0.99",
            visible=False,
            elem_id="class-failed",
            elem_classes="class-images",
        )
        curves = picture("Target logit and probability per step", elem_id="class-curve")
        gr.Markdown(
            "### Readable class images\nThe same ascent, but each step sees the image "
            "shifted, turned and scaled a little, and blurred: only patterns that survive "
            "that count (Olah et al. 2017). Untick everything for plain ascent."
        )
        with gr.Row():
            toggles = gr.CheckboxGroup(
                list(inside_handlers.TOGGLES),
                value=inside_handlers.DEFAULT_TOGGLES,
                label="Regularisers",
            )
            grow_readable = gr.Button("Grow readable images", elem_id="grow-readable")
        readable_status = gr.Markdown(elem_id="readable-status")
        readable = gallery(
            "All ten classes", elem_id="readable-images", elem_classes="class-images"
        )
    return ClassesTab(
        target,
        grow,
        status,
        sure,
        failed,
        curves,
        toggles,
        grow_readable,
        readable_status,
        readable,
    )


@dataclass(frozen=True)
class TargetedTab:
    target: gr.Dropdown
    beta: gr.Slider
    steps: gr.Slider
    attack: gr.Button
    outputs: list


def targeted_tab() -> TargetedTab:
    with gr.Tab(TABS["targeted"], id="targeted"):
        with gr.Row():
            target = gr.Dropdown(list(range(10)), value=8, label="Make it read as")
            beta = slider(0, 200, value=20, step=2, label="beta (stay close)")
            steps = slider(10, handlers.MAX_ATTACK_STEPS, value=200, step=10, label="Step cap")
            attack = gr.Button("Attack my drawing", variant="primary", elem_id="targeted")
        explained("targeted")
        outputs = attack_panel("targeted")
    return TargetedTab(target, beta, steps, attack, outputs)


@dataclass(frozen=True)
class GradientTab:
    method: gr.Radio
    eps: gr.Slider
    attack: gr.Button
    outputs: list


def gradient_tab() -> GradientTab:
    with gr.Tab(TABS["gradient"], id="gradient"):
        with gr.Row():
            method = gr.Radio(["FGSM", "PGD-40"], value="FGSM", label="Method")
            eps = slider(0, 0.4, value=0.15, step=0.01, label="epsilon (pixels)")
            attack = gr.Button("Attack my drawing", variant="primary", elem_id="gradient")
        explained("gradient")
        outputs = attack_panel("gradient")
    return GradientTab(method, eps, attack, outputs)


@dataclass(frozen=True)
class TransferTab:
    target: gr.Dropdown
    learn: gr.Button
    note: gr.Markdown
    table: gr.Image


def transfer_tab() -> TransferTab:
    with gr.Tab(TABS["transfer"], id="transfer"):
        with gr.Row():
            target = gr.Dropdown(list(range(10)), value=2, label="Noise target")
            learn = gr.Button("Learn noise and transfer it", variant="primary")
        explained("transfer")
        note = gr.Markdown(elem_id="transfer-note")
        table = picture("Predictions after adding the noise", elem_id="transfer")
    return TransferTab(target, learn, note, table)


@dataclass(frozen=True)
class TrainTab:
    """Train the report's CNN live, or race batch norm against none."""

    recipe: gr.Radio
    batchnorm: gr.Checkbox
    epochs: gr.Slider
    lr: gr.Number
    batch_size: gr.Slider
    train: gr.Button
    race: gr.Button
    stop: gr.Button
    status: gr.Markdown
    curves: gr.HTML
    filters: gr.HTML
    summary: gr.JSON
    yours: gr.State  # the token of this session's model, once trained


def train_tab() -> TrainTab:
    with gr.Tab(TABS["train"], id="train"):
        gr.Markdown(
            "Train the network yourself and watch it learn: loss and accuracy after every "
            "step, validation every few seconds, the 32 conv1 filters as they change. "
            "**Race** trains it with and without batch normalisation at once, on the same "
            "batches (the report's Fig. 6 and 7, live). Your model then appears in the "
            "model switch, for this page only: it is not saved, and a reload frees it."
        )
        explained("train")
        with gr.Row():
            recipe = gr.Radio(
                list(train_handlers.RECIPES), value="fast", label="Recipe", elem_id="train-recipe"
            )
            batchnorm = gr.Checkbox(value=True, label="Batch norm")
            epochs = slider(
                1,
                train_handlers.MAX_EPOCHS,
                value=1,
                step=1,
                label="Epochs",
                elem_id="train-epochs",
            )
            lr = lenient(
                gr.Number(
                    0.1,
                    label="Learning rate",
                    minimum=0.001,
                    maximum=0.5,
                    step=0.001,
                    elem_id="train-lr",
                )
            )
            batch_size = slider(
                16, 512, value=128, step=16, label="Batch size", elem_id="train-batch"
            )
        with gr.Row():
            train = gr.Button("Train", variant="primary", elem_id="train")
            race = gr.Button("Race: batch norm vs none", elem_id="race")
            stop = gr.Button("Stop", variant="stop", elem_id="stop-training")
        status = gr.Markdown(elem_id="train-status")
        curves = inline_picture("Loss and accuracy", "train-curves")
        with gr.Row():
            filters = inline_picture("conv1 filters, now", "train-filters")
            summary = gr.JSON(label="Summary", visible=False, elem_id="train-summary")
    return TrainTab(
        recipe, batchnorm, epochs, lr, batch_size, train, race, stop, status, curves, filters,
        summary, gr.State(None),
    )  # fmt: skip


@dataclass(frozen=True)
class Page:
    """Every part of the page, for :func:`cnnviz.app.events.connect`."""

    header: Header
    drawing: gr.components.Component  # what the server tabs read: sketchpad or lab widget
    tabs: gr.Tabs
    inside_open: gr.State
    draw: DrawTab
    inside: InsideTab
    classes: ClassesTab
    targeted: TargetedTab
    gradient: GradientTab
    transfer: TransferTab
    train: TrainTab


def page(*, lab: bool = False) -> Page:
    """The header and the seven tabs, in page order; ``lab``: the Draw tab runs the
    in-browser lab (served at :data:`cnnviz.app.lab_site.MOUNT`)."""
    top = header(lab=lab)
    inside_open = gr.State(False)
    with gr.Tabs(elem_id="tabs", overflow_behavior="wrap") as tabs:  # phones: no hidden tab
        draw = draw_tab(lab=lab)
        return Page(
            top,
            draw.widget or top.sketch,
            tabs,
            inside_open,
            draw,
            inside_tab(lab=lab),
            classes_tab(),
            targeted_tab(),
            gradient_tab(),
            transfer_tab(),
            train_tab(),
        )
