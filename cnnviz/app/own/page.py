"""The page on a teacher's model: the image above the tabs, the report app's tabs.

The same tab ids as the report's app (:data:`cnnviz.app.tabs.TABS`). Above them, the
input: the sketchpad with MNIST's preparation for a ``1x28x28`` model, else the teacher's
pictures to pick from plus an upload (or webcam) box, resized to the model's input; and
the prediction with the class names. The page's current image is one ``gr.State``
(:mod:`cnnviz.app.own.handlers`), the input of every tab. Transfer and Train belong to
the report's CNN: they say so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gradio as gr

from cnnviz.app.components import (
    InputFailed,
    attack_panel,
    endpoint,
    explained,
    gallery,
    guarded,
    inline_picture,
    slider,
)
from cnnviz.app.events import QUICK, SLOW
from cnnviz.app.inputs import InputError
from cnnviz.app.own import handlers
from cnnviz.app.own.inside import inside_tab
from cnnviz.app.pictures import inline_img
from cnnviz.app.tabs import TABS
from cnnviz.data.image_folder import ImageSet
from cnnviz.models.user_model import UserModel

#: The page's own style, after the report app's: the teacher's pictures fit their box
#: (six columns hung off its edge on a laptop), three on a phone; captions under them.
CSS = """
#pictures .thumbnail-item img { box-sizing: border-box; padding-bottom: 1.9em; }
#pictures .grid-container { grid-template-columns: repeat(6, minmax(0, 1fr)) !important; }
@media (max-width: 640px) {
  #pictures .grid-container { grid-template-columns: repeat(3, minmax(0, 1fr)) !important; }
}
"""
REPORT_ONLY = (
    "**{tab} is for the report's CNN.** It needs the report's network and MNIST, so it is not "
    "offered for your model. Run `cnnviz demo` without `--model` to use it."
)


def wording(spec: UserModel) -> dict[str, str]:
    """The report's explanations speak of drawn digits; other models read images of classes."""
    return {} if spec.drawable else {"your drawing": "the image", "digit": "class"}


def tab_labels(spec: UserModel) -> dict[str, str]:
    """The tabs: id -> label; the first tab is "Look" for a model one cannot draw for."""
    return TABS | ({} if spec.drawable else {"draw": "Look"})


def intro(spec: UserModel, images: ImageSet | None) -> str:
    """The page's title and one line about the model (and its pictures)."""
    channels, height, width = spec.input_shape
    low, high = spec.bounds
    names = ", ".join(spec.classes[:12]) + (", ..." if len(spec.classes) > 12 else "")
    source = "Draw" if spec.drawable else "Pick, upload or take"
    count = 0 if images is None else len(images)
    pictures = f" {handlers.counted(count, 'picture')} of yours to pick from." if count else ""
    return (
        f"# cnnviz: your model {spec.origin}\n"
        f"{source} an image: your network reads it ({channels}x{height}x{width} inputs from "
        f"{low:.4g} for black to {high:.4g} for white; {len(spec.classes)} classes: "
        f"{names}).{pictures}"
    )


@dataclass(frozen=True)
class Header:
    """What the tabs read (``image``) and the prediction, above the tabs."""

    image: gr.State
    verdict: gr.Markdown
    label: gr.Label
    message: gr.Markdown
    truth: gr.Markdown  # the picked picture's name and true label


def header(spec: UserModel, images: ImageSet | None) -> tuple[Header, list]:
    """The input widgets and the prediction; returns them and the input events to wire
    (``(event, handler, inputs)``: each handler gives the new image and its true label)."""
    inputs = []
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            if spec.drawable:
                sketch = gr.Sketchpad(
                    label="Draw a digit",
                    type="numpy",
                    image_mode="RGB",
                    canvas_size=(392, 392),
                    height=330,
                    brush=gr.Brush(default_size=26, colors=["#000000"], color_mode="fixed"),
                    layers=False,
                    elem_id="sketchpad",
                )
                guarded(sketch)
                inputs.append((sketch.change, drawn(spec), sketch))
            if images is not None:
                pictures = gallery(
                    "Your pictures (click one)",
                    value=handlers.folder_gallery(spec, images),
                    columns=6,
                    height=300,
                    allow_preview=False,
                    elem_id="pictures",
                )
                inputs.append((pictures.select, picked(spec, images), None))
            if not spec.drawable:
                upload = gr.Image(
                    label="Or your own picture (upload or webcam)",
                    sources=["upload", "webcam"],
                    type="numpy",
                    image_mode="RGBA",  # the library puts a cut-out on white, not black
                    height=220,
                    elem_id="upload",
                )
                guarded(upload)
                inputs.append((upload.input, uploaded(spec), upload))
                if images is not None:  # the image is no longer the picked picture
                    upload.input(unselected, None, pictures, api_name=False, queue=False)
        with gr.Column(scale=1, min_width=300):
            verdict = gr.Markdown(elem_id="verdict")
            label = gr.Label(num_top_classes=3, label="Prediction", elem_id="prediction")
            message = gr.Markdown(handlers.no_image_hint(spec), elem_id="message")
            truth = gr.Markdown(elem_id="truth")
    return Header(gr.State(None), verdict, label, message, truth), inputs


def checked(handler):
    """``handler`` (which gives the new image) with a bad value said to the user."""

    @functools.wraps(handler)
    def run(*args):
        try:
            return handler(*args)
        except InputError as error:
            raise InputFailed(str(error)) from None

    return run


def drawn(spec: UserModel):
    """The handler of a stroke: the drawing prepared as MNIST's digits, as the image."""

    def draw(sketch):
        return handlers.from_sketch(spec, sketch), ""

    return draw


def picked(spec: UserModel, images: ImageSet):
    """The handler of a click in the teacher's gallery: that picture, as the image, and
    its name and true label."""

    def pick(event: gr.SelectData):
        index = event.index
        return handlers.from_folder(images, index), handlers.folder_truth(spec, images, index)

    return pick


def uploaded(spec: UserModel):
    """The handler of an upload or webcam frame (transparent pixels over white); clearing
    the box clears the image, so nothing on the page shows the removed picture."""

    def upload(picture):
        return handlers.from_picture(spec, picture), ""

    return upload


def unselected() -> gr.Gallery:
    """The teacher's gallery with no picture highlighted (an upload or a webcam shot is the
    image now)."""
    return gr.Gallery(selected_index=None)


@dataclass(frozen=True)
class LookTab:
    patch: gr.Slider
    stride: gr.Slider
    seen: gr.HTML
    occluded: gr.HTML
    salient: gr.HTML


def look_tab(spec: UserModel, label: str) -> LookTab:
    largest, patch, stride = handlers.occlusion_defaults(spec)
    _, height, width = spec.input_shape
    with gr.Tab(label, id="draw"):
        with gr.Row(elem_id="draw-pictures"):
            seen = inline_picture(f"What the model sees ({height}x{width})", "seen")
            occluded = inline_picture("p(read class) with the patch there", "occluded")
            salient = inline_picture("Saliency |d score / d pixel|", "salient")
        with gr.Row():
            patch = slider(2, largest, value=patch, step=1, label="Occlusion patch (px)")
            stride = slider(1, largest, value=stride, step=1, label="Occlusion stride (px)")
        explained("occlusion", "saliency", words_for=wording(spec))
    return LookTab(patch, stride, seen, occluded, salient)


def shown(spec: UserModel, image, patch, stride):
    """The Draw / Look tab's outputs and the short verdict above the input."""
    probabilities, seen, occluded, salient, message = endpoint(
        functools.partial(handlers.look, spec)
    )(image, patch, stride)
    guess = max(probabilities, key=probabilities.get) if probabilities else None
    short = f"Prediction: **{guess}** ({probabilities[guess]:.1%})" if guess else ""
    size = "x".join(map(str, spec.input_shape[1:]))
    pictures = (
        inline_img(seen, f"The image as the model sees it, {size} pixels"),
        inline_img(occluded, "Occlusion map with a colour bar from 0 % to 100 %"),
        inline_img(salient, "Saliency map with a colour bar"),
    )
    return probabilities, *pictures, message, short


def stale() -> tuple:
    """Both attack panels, cleared: the image they attacked changed."""
    cleared = (
        None,
        None,
        None,
        None,
        "*Cleared: the image changed. Press the button to attack it.*",
    )
    return cleared + cleared


def classes_tab(spec: UserModel) -> None:
    with gr.Tab(TABS["classvis"], id="classvis"):
        with gr.Row():
            target = gr.Dropdown(handlers.class_choices(spec), value=handlers.ALL, label="Class")
            grow = gr.Button("Grow from noise", variant="primary", elem_id="grow")
        explained("classes", words_for=wording(spec))
        status = gr.Markdown(elem_id="class-status")
        images = gallery(
            "Grown from noise until the model is sure",
            height="auto",
            elem_id="class-images",
            elem_classes="class-images",
        )
    grow.click(
        endpoint(functools.partial(handlers.grow_class_images, spec)),
        target,
        [images, status],
        api_name="class_images",
        **SLOW,
    )


def targeted_tab(spec: UserModel, image: gr.State, subject: str) -> list:
    with gr.Tab(TABS["targeted"], id="targeted"):
        with gr.Row():
            choices = handlers.class_choices(spec)[1:]
            target = gr.Dropdown(
                choices, value=choices[min(1, len(choices) - 1)][1], label="Make it read as"
            )
            beta = slider(0, 200, value=20, step=2, label="beta (stay close)")
            steps = slider(10, handlers.MAX_ATTACK_STEPS, value=200, step=10, label="Step cap")
            attack = gr.Button(f"Attack the {subject}", variant="primary", elem_id="targeted")
        explained("targeted", words_for=wording(spec))
        outputs = attack_panel("targeted", subject)
    attack.click(
        endpoint(functools.partial(handlers.targeted, spec)),
        [image, target, beta, steps],
        outputs,
        api_name="targeted",
        **SLOW,
    )
    return outputs


def gradient_tab(spec: UserModel, image: gr.State, subject: str) -> list:
    with gr.Tab(TABS["gradient"], id="gradient"):
        with gr.Row():
            method = gr.Radio(list(handlers.METHODS), value="FGSM", label="Method")
            eps = slider(0, 0.4, value=0.15, step=0.01, label="epsilon (pixels)")
            attack = gr.Button(f"Attack the {subject}", variant="primary", elem_id="gradient")
        explained("gradient", words_for=wording(spec))
        outputs = attack_panel("gradient", subject)
    attack.click(
        endpoint(functools.partial(handlers.gradient_attack, spec)),
        [image, method, eps],
        outputs,
        api_name="gradient_attack",
        **SLOW,
    )
    return outputs


def report_only_tab(tab: str) -> None:
    """A tab of the report's app that needs the report's CNN: a note saying so."""
    with gr.Tab(TABS[tab], id=tab):
        gr.Markdown(REPORT_ONLY.format(tab=TABS[tab]), elem_id=f"{tab}-note")


def opened(request: gr.Request):
    """The tab an address names (``?tab=classvis``), as the report's app opens it."""
    tab = request.query_params.get("tab") if request is not None else None
    return gr.Tabs(selected=tab) if tab in TABS else gr.skip()


def page(spec: UserModel, images: ImageSet | None, app: gr.Blocks) -> None:
    """Lay out and wire the page inside ``app``'s context."""
    labels = tab_labels(spec)
    subject = "drawing" if spec.drawable else "image"
    gr.Markdown(intro(spec, images), elem_id="intro")
    top, inputs = header(spec, images)
    with gr.Tabs(elem_id="tabs", overflow_behavior="wrap") as tabs:
        look = look_tab(spec, labels["draw"])
        with gr.Tab(TABS["inside"], id="inside"):
            inside_tab(spec, top.image)
        classes_tab(spec)
        attacks = targeted_tab(spec, top.image, subject) + gradient_tab(spec, top.image, subject)
        report_only_tab("transfer")
        report_only_tab("train")
    look_inputs = [top.image, look.patch, look.stride]
    look_outputs = [top.label, look.seen, look.occluded, look.salient, top.message, top.verdict]
    show = functools.partial(shown, spec)
    for event, handler, source in inputs:
        event(checked(handler), source, [top.image, top.truth], api_name=False, **QUICK).then(
            show, look_inputs, look_outputs, api_name=False, **QUICK
        )
    # a State's change fires only for a new value: a repeated sketchpad event keeps results
    top.image.change(stale, None, attacks, api_name=False, queue=False)
    for setting in (look.patch, look.stride):
        for trigger in (setting.release, setting.input):
            trigger(show, look_inputs, look_outputs, api_name=False, **QUICK)
    app.load(opened, None, tabs, api_name=False, queue=False)


def build(spec: UserModel, images: ImageSet | None = None) -> gr.Blocks:
    """The page on ``spec``'s model (and the teacher's ``images``), not queued or launched.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    >>> app = build(user_model(net, input_shape=(3, 8, 8), class_names=["cat", "dog"]))
    >>> events = app.config["dependencies"]
    >>> sorted(e["api_name"] for e in events if e["api_visibility"] == "public")
    ['class_images', 'gradient_attack', 'targeted']
    """
    with gr.Blocks(title=f"cnnviz: {spec.name}") as app:
        page(spec, images, app)
    return app
