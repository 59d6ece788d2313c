"""cnnviz: draw a digit and see what the CNN sees. A thin Gradio layer over the library.

Run with ``cnnviz demo`` or ``python demo/app.py`` (also the Hugging Face Spaces entry).
"""

from __future__ import annotations

import base64
import functools
import html
import io
import logging
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file (Spaces, python demo/app.py): find cnnviz
    sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from cnnviz.runtime import retain_freed_memory  # noqa: E402
from demo import handlers  # noqa: E402

log = logging.getLogger("cnnviz.app")
TITLE = "cnnviz: see what a CNN sees"
INTRO = """# cnnviz: see what a convolutional network sees
Draw a digit. The network of the classic MNIST assignment (two convolutions, two fully
connected layers, 99.4 % test accuracy) reads it, shows which strokes matter and what its
filters fire on, and how a small, targeted change of the pixels makes it read another digit."""
MAX_QUEUE = 64
PATCH, STRIDE = 5, 2  # occlusion defaults: 12x12 windows (stride 1: 24x24, ~3x the time)
DRAW_WORKERS = 2  # one handler per core; torch uses one thread per handler
LONG_WORKERS = 1  # attacks and class images queue on their own, so drawing stays quick
CACHE_CLEANUP = (600, 1800)  # every 10 min, delete served files older than 30 min

# Gradio 6 opens the sketchpad with no tool and resets it on "Clear": pick the brush
# on load and after every clear, so the first stroke draws.
PICK_BRUSH = """
<script>
function cnnvizPickBrush(tries) {
  const brush = document.querySelector('#sketchpad button[aria-label="Brush"]');
  if (brush && brush.classList.contains('highlight')) return;
  if (brush) brush.click();
  if (tries > 0) setTimeout(() => cnnvizPickBrush(tries - 1), 150);
}
document.addEventListener('click', (event) => {
  if (event.target.closest('#sketchpad button[aria-label="Clear canvas"]')) {
    setTimeout(() => cnnvizPickBrush(20), 150);
  }
}, true);
cnnvizPickBrush(200);
</script>
"""
CSS = """
#verdict { min-height: 1.6em; }
.grid-wrap.fixed-height { max-height: none !important; height: auto !important; }
.class-images .grid-container { --grid-cols: 5 !important; }  /* one image: not full width */
.inline-picture img { display: block; margin: 0 auto; max-width: 100%; }
.inline-picture img.pixels { width: 224px; margin: 8px auto; image-rendering: pixelated; }
#verdict p { font-size: 1.25rem; margin: 0; }
@media (max-width: 640px) {
  #intro p { display: none; }
  #tabs .tab-container button { padding: 4px 5px; font-size: 13px; }
  .class-images .grid-container { --grid-cols: 2 !important; }
}
"""


class InputFailed(gr.Error):
    """A clear message for the client, and one log line instead of a traceback."""

    def __init__(self, message: str) -> None:
        log.warning("rejected input: %s", message)
        super().__init__(message, print_exception=False)


def guarded(component: gr.components.Component, read: Callable | None = None):
    """``component`` whose payload goes through ``read(component, payload)`` first.

    ``read`` raises :class:`handlers.InputError` (or, for files, ``OSError`` or
    ``ValueError``) for a value the app cannot use; the client gets its message.
    """
    preprocess = component.preprocess

    @functools.wraps(preprocess)
    def checked(payload):
        try:
            return preprocess(payload if read is None else read(component, payload))
        except handlers.InputError as error:
            raise InputFailed(f"{component.label}: {error}") from None
        except (OSError, ValueError, Image.DecompressionBombError):
            raise InputFailed(f"{component.label}: the upload is not a readable image.") from None

    component.preprocess = checked
    return component


def setting(component: gr.Slider, payload) -> float:
    """A typed slider value as a number in the slider's range."""
    return handlers.number(payload, "The value", component.minimum, component.maximum)


def slider(*args, **options) -> gr.Slider:
    return guarded(gr.Slider(*args, **options), setting)


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
    """``handler`` with served outputs and :class:`handlers.InputError` as a message."""

    @functools.wraps(handler)
    def run(*args):
        try:
            result = handler(*args)
        except handlers.InputError as error:
            raise InputFailed(str(error)) from None
        return tuple(map(served, result)) if isinstance(result, tuple) else served(result)

    return run


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
        elem_id=elem_id,
        elem_classes="inline-picture",
    )


def inline_img(picture: Image.Image | None, alt: str) -> str:
    """``picture`` as an ``<img>`` whose source is the PNG itself; empty for ``None``.

    Pictures smaller than 100 px (the 28x28 digit) are shown 8x larger with sharp pixels.
    """
    if picture is None:
        return ""
    buffer = io.BytesIO()
    picture.save(buffer, "png", compress_level=1)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    kind = "pixels" if max(picture.size) < 100 else "chart"
    return f'<img class="{kind}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def gallery(label: str, **options) -> gr.Gallery:
    return gr.Gallery(label=label, format="png", object_fit="contain", **options)


def attack_panel(prefix: str) -> list:
    """Adversarial image, perturbation, before/after probabilities and a summary."""
    with gr.Row():
        adversarial = picture("Attacked drawing", elem_id=f"{prefix}-image")
        perturbation = picture("Change (pixel units)", elem_id=f"{prefix}-change")
        before = gr.Label(num_top_classes=3, label="Before")
        after = gr.Label(num_top_classes=3, label="After")
    summary = gr.Markdown(elem_id=f"{prefix}-summary")
    return [adversarial, perturbation, before, after, summary]


def class_images(model_name: str, target: str):
    """Class images; the box for failures shows only when a class failed."""
    sure, failed, curves, status = endpoint(handlers.grow_class_images)(model_name, target)
    return sure, gr.Gallery(value=failed, visible=bool(failed)), curves, status


def draw(sketch, model_name: str, patch, stride) -> tuple:
    """The Draw tab's outputs and, for above the sketchpad, the prediction in short."""
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
    return probabilities, *pictures, message, short


def build() -> gr.Blocks:
    """The app's Blocks (not launched)."""
    with gr.Blocks(title=TITLE, delete_cache=CACHE_CLEANUP) as app:
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                verdict = gr.Markdown(elem_id="verdict")
                sketch = gr.Sketchpad(
                    label="Draw a digit",
                    type="numpy",
                    image_mode="RGB",
                    canvas_size=(392, 392),
                    brush=gr.Brush(default_size=26, colors=["#000000"], color_mode="fixed"),
                    layers=False,
                    elem_id="sketchpad",
                )
                guarded(sketch)
            with gr.Column(scale=1, min_width=300):
                chosen = gr.Radio(list(handlers.MODELS), value="batch norm", label="Model")
                label = gr.Label(num_top_classes=3, label="Prediction", elem_id="prediction")
                message = gr.Markdown(handlers.EMPTY_HINT, elem_id="message")
                random_digit = gr.Button("Random MNIST test digit", elem_id="random-digit")
                truth = gr.Markdown(elem_id="truth")
        inside_open = gr.State(False)
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Draw", id="draw"):
                with gr.Row():
                    patch = slider(2, 14, value=PATCH, step=1, label="Occlusion patch (px)")
                    stride = slider(1, 7, value=STRIDE, step=1, label="Occlusion stride (px)")
                with gr.Row():
                    seen = inline_picture("What the model sees (28x28)", "seen")
                    occluded = inline_picture("p(read digit) with the patch there", "occluded")
                    salient = inline_picture("Saliency |d logit / d pixel|", "salient")
            with gr.Tab("Inside", id="inside") as inside:
                layer = gr.Dropdown(
                    handlers.layer_choices("batch norm"), value="conv1", label="Layer"
                )
                activation_note = gr.Markdown(elem_id="maps-note")
                maps = gallery("Feature maps of your drawing", columns=8, elem_id="feature-maps")
                conv1 = gallery("conv1 filters (shared colour scale)", columns=8)
                conv2 = gallery("conv2: the 32 input kernels of each output channel", columns=6)
            with gr.Tab("Classes", id="classvis"):
                with gr.Row():
                    target_class = gr.Dropdown(
                        ["all", *map(str, range(10))], value="all", label="Class"
                    )
                    grow = gr.Button("Grow from noise", variant="primary")
                class_status = gr.Markdown(elem_id="class-status")
                sure = gallery(
                    "Reached p >= 0.99", elem_id="class-sure", elem_classes="class-images"
                )
                failed = gallery(
                    "Did NOT reach p >= 0.99",
                    visible=False,
                    elem_id="class-failed",
                    elem_classes="class-images",
                )
                curves = picture("Target logit and probability per step", elem_id="class-curve")
            with gr.Tab("Targeted", id="targeted"):
                with gr.Row():
                    target = gr.Dropdown(list(range(10)), value=8, label="Make it read as")
                    beta = slider(0, 50, value=5, step=0.5, label="beta (stay close)")
                    target_steps = slider(
                        10, handlers.MAX_ATTACK_STEPS, value=200, step=10, label="Step cap"
                    )
                    attack = gr.Button("Attack my drawing", variant="primary", elem_id="targeted")
                targeted_outputs = attack_panel("targeted")
            with gr.Tab("FGSM/PGD", id="gradient"):
                with gr.Row():
                    method = gr.Radio(["FGSM", "PGD-40"], value="FGSM", label="Method")
                    eps = slider(0, 0.4, value=0.15, step=0.01, label="epsilon (pixels)")
                    run_gradient = gr.Button(
                        "Attack my drawing", variant="primary", elem_id="gradient"
                    )
                gradient_outputs = attack_panel("gradient")
            with gr.Tab("Transfer", id="transfer"):
                with gr.Row():
                    noise_target = gr.Dropdown(list(range(10)), value=2, label="Noise target")
                    learn = gr.Button("Learn noise and transfer it", variant="primary")
                transfer_note = gr.Markdown(elem_id="transfer-note")
                transfer = picture("Predictions after adding the noise", elem_id="transfer")

        draw_inputs = [sketch, chosen, patch, stride]
        draw_outputs = [label, seen, occluded, salient, message, verdict]
        maps_inputs, maps_outputs = [sketch, chosen, layer], [maps, activation_note]
        feature_maps = endpoint(handlers.activation_gallery)
        quick = {"concurrency_id": "draw", "concurrency_limit": DRAW_WORKERS}
        slow = {"concurrency_id": "long", "concurrency_limit": LONG_WORKERS}

        def stale(*_) -> tuple:
            return handlers.stale_attack() + handlers.stale_attack()

        def layer_menu(model_name: str, current: str) -> gr.Dropdown:
            choices = handlers.layer_choices(model_name)
            return gr.Dropdown(choices=choices, value=current if current in choices else "conv1")

        attack_outputs = targeted_outputs + gradient_outputs

        def maps_if_open(inside_is_open: bool, *args):
            return feature_maps(*args) if inside_is_open else (gr.skip(), gr.skip())

        def is_inside(event: gr.SelectData) -> bool:
            return event.value == "Inside"

        tabs.select(is_inside, None, inside_open, api_name=False, queue=False)
        sketch.change(
            draw, draw_inputs, draw_outputs, api_name="draw", show_progress="hidden", **quick
        ).then(maps_if_open, [inside_open, *maps_inputs], maps_outputs, api_name=False, **quick)
        sketch.change(stale, None, attack_outputs, api_name=False, queue=False)
        chosen.change(layer_menu, [chosen, layer], layer, api_name=False, queue=False).then(
            draw, draw_inputs, draw_outputs, api_name=False, **quick
        ).then(maps_if_open, [inside_open, *maps_inputs], maps_outputs, api_name=False, **quick)
        for changed in (chosen.change, random_digit.click):
            changed(stale, None, attack_outputs, api_name=False, queue=False)
        chosen.change(endpoint(handlers.filter_galleries), chosen, [conv1, conv2], api_name=False)
        app.load(endpoint(handlers.filter_galleries), chosen, [conv1, conv2], api_name=False)
        for setting in (patch, stride):
            for trigger in (setting.release, setting.input):
                trigger(draw, draw_inputs, draw_outputs, api_name=False, **quick)
        for trigger in (layer.change, inside.select):
            trigger(feature_maps, maps_inputs, maps_outputs, api_name=False, **quick)
        random_digit.click(
            endpoint(handlers.random_test_digit), None, [sketch, truth], api_name="random_digit"
        ).then(draw, draw_inputs, draw_outputs, api_name=False, **quick)
        grow.click(
            class_images,
            [chosen, target_class],
            [sure, failed, curves, class_status],
            api_name="class_images",
            **slow,
        )
        attack.click(
            endpoint(handlers.targeted_on_drawing),
            [sketch, chosen, target, beta, target_steps],
            targeted_outputs,
            api_name="targeted",
            **slow,
        )
        run_gradient.click(
            endpoint(handlers.gradient_attack_on_drawing),
            [sketch, chosen, method, eps],
            gradient_outputs,
            api_name="gradient_attack",
            **slow,
        )
        learn.click(
            endpoint(handlers.transfer_table),
            [chosen, noise_target],
            [transfer, transfer_note],
            api_name="transfer",
            **slow,
        )
    return app


def prepare() -> gr.Blocks:
    """Set torch threads and malloc once, load both models, build and queue the app."""
    torch.set_num_threads(1)
    retain_freed_memory()
    for name in handlers.MODELS:
        handlers.model(name)
    return build().queue(max_size=MAX_QUEUE)


LAUNCH_OPTIONS = {"head": PICK_BRUSH, "css": CSS, "max_file_size": "5mb", "footer_links": ["api"]}


def main() -> None:
    """Launch on ``$GRADIO_SERVER_NAME`` (default 127.0.0.1) and ``$GRADIO_SERVER_PORT``."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    prepare().launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), **LAUNCH_OPTIONS
    )


if __name__ == "__main__":
    main()
