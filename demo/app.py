"""cnnviz: draw a digit and see what the CNN sees. A thin Gradio layer over the library.

Run with ``cnnviz demo`` or ``python demo/app.py`` (also the Hugging Face Spaces entry).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file (Spaces, python demo/app.py): find cnnviz
    sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402
import torch  # noqa: E402

from cnnviz.runtime import retain_freed_memory  # noqa: E402
from demo import handlers  # noqa: E402

TITLE = "cnnviz: see what a CNN sees"
INTRO = """# cnnviz: see what a convolutional network sees
Draw a digit. The network of the classic MNIST assignment (two convolutions, two fully
connected layers, trained to 99.4 %) reads it, shows which strokes matter, what its filters
fire on, and how an invisible change makes it read something else."""
MAX_QUEUE = 64
CONCURRENCY = 2  # one handler per core; torch uses one thread per handler


def model_switch() -> gr.Radio:
    return gr.Radio(list(handlers.MODELS), value="batch norm", label="Model")


def build() -> gr.Blocks:
    """The app's Blocks (not launched)."""
    with gr.Blocks(title=TITLE) as app:
        gr.Markdown(INTRO)
        with gr.Row():
            sketch = gr.Sketchpad(
                label="Draw a digit",
                type="numpy",
                image_mode="RGB",
                canvas_size=(392, 392),
                brush=gr.Brush(default_size=26, colors=["#000000"], color_mode="fixed"),
                layers=False,
                elem_id="sketchpad",
            )
            with gr.Column():
                chosen = model_switch()
                label = gr.Label(num_top_classes=3, label="Prediction", elem_id="prediction")
                message = gr.Markdown(handlers.EMPTY_HINT, elem_id="message")
                with gr.Row():
                    random_digit = gr.Button("Random MNIST test digit")
                    truth = gr.Markdown()
        with gr.Tabs():
            with gr.Tab("Draw", id="draw"):
                with gr.Row():
                    patch = gr.Slider(2, 14, value=5, step=1, label="Occlusion patch (px)")
                    stride = gr.Slider(1, 7, value=1, step=1, label="Occlusion stride (px)")
                with gr.Row():
                    seen = gr.Image(label="What the model sees (28x28)", height=230)
                    occluded = gr.Image(label="p(class) with the patch at each place", height=230)
                    salient = gr.Image(label="Saliency |d logit / d pixel|", height=230)
            with gr.Tab("Inside", id="inside") as inside:
                layer = gr.Dropdown(
                    list(handlers.ACTIVATION_LAYERS), value="conv1", label="Activations of layer"
                )
                activation_note = gr.Markdown()
                maps = gr.Gallery(
                    label="Feature maps of your drawing",
                    columns=8,
                    height=420,
                    elem_id="feature-maps",
                )
                conv1 = gr.Gallery(
                    label="conv1 filters (shared colour scale)", columns=8, object_fit="contain"
                )
                conv2 = gr.Gallery(
                    label="conv2 filters: the 32 input kernels of each output channel",
                    columns=4,
                    object_fit="contain",
                )
            with gr.Tab("Class images", id="classvis"):
                with gr.Row():
                    target_class = gr.Dropdown(
                        ["all", *map(str, range(10))], value="all", label="Class"
                    )
                    class_steps = gr.Slider(
                        10, handlers.MAX_ATTACK_STEPS, value=200, step=10, label="Step cap"
                    )
                    grow = gr.Button("Grow from noise", variant="primary")
                class_status = gr.Markdown()
                class_images = gr.Gallery(label="Images the network is sure about", columns=5)
                class_curve = gr.Image(label="Target logit per step")
            with gr.Tab("Targeted attack", id="targeted"):
                with gr.Row():
                    target = gr.Dropdown(list(range(10)), value=8, label="Make it read as")
                    beta = gr.Slider(0, 50, value=5, step=0.5, label="beta (stay close)")
                    target_steps = gr.Slider(
                        10, handlers.MAX_ATTACK_STEPS, value=200, step=10, label="Step cap"
                    )
                    attack = gr.Button("Attack my drawing", variant="primary")
                targeted_outputs = attack_panel()
            with gr.Tab("FGSM / PGD", id="gradient"):
                with gr.Row():
                    method = gr.Radio(["FGSM", "PGD-40"], value="FGSM", label="Method")
                    eps = gr.Slider(0, 0.4, value=0.15, step=0.01, label="epsilon (pixels)")
                    run_gradient = gr.Button("Attack my drawing", variant="primary")
                gradient_outputs = attack_panel()
            with gr.Tab("Noise transfer", id="transfer"):
                with gr.Row():
                    noise_target = gr.Dropdown(list(range(10)), value=2, label="Noise target")
                    learn = gr.Button("Learn noise and transfer it", variant="primary")
                transfer_note = gr.Markdown()
                transfer = gr.Image(label="Predictions after adding the noise")

        draw_inputs = [sketch, chosen, patch, stride]
        draw_outputs = [label, seen, occluded, salient, message]
        maps_inputs, maps_outputs = [sketch, chosen, layer], [maps, activation_note]
        sketch.change(
            handlers.draw_update, draw_inputs, draw_outputs, api_name="draw", show_progress="hidden"
        ).then(handlers.activation_gallery, maps_inputs, maps_outputs, api_name=False)
        chosen.change(handlers.draw_update, draw_inputs, draw_outputs, api_name=False).then(
            handlers.activation_gallery, maps_inputs, maps_outputs, api_name=False
        )
        for trigger in (patch.release, stride.release):
            trigger(handlers.draw_update, draw_inputs, draw_outputs, api_name=False)
        for trigger in (layer.change, inside.select):
            trigger(handlers.activation_gallery, maps_inputs, maps_outputs, api_name=False)
        random_digit.click(handlers.random_test_digit, None, [sketch, truth], api_name=False)
        for trigger in (app.load, chosen.change):
            trigger(handlers.filter_galleries, chosen, [conv1, conv2], api_name=False)
        grow.click(
            handlers.grow_class_images,
            [chosen, target_class, class_steps],
            [class_images, class_curve, class_status],
            api_name="class_images",
        )
        attack.click(
            handlers.targeted_on_drawing,
            [sketch, chosen, target, beta, target_steps],
            targeted_outputs,
            api_name="targeted",
        )
        run_gradient.click(
            handlers.gradient_attack_on_drawing,
            [sketch, chosen, method, eps],
            gradient_outputs,
            api_name="gradient_attack",
        )
        learn.click(
            handlers.transfer_table,
            [chosen, noise_target],
            [transfer, transfer_note],
            api_name="transfer",
        )
    return app


def attack_panel() -> list:
    """Adversarial image, perturbation, before/after probabilities and a summary."""
    with gr.Row():
        adversarial = gr.Image(label="Adversarial drawing", height=230)
        perturbation = gr.Image(label="Perturbation (amplified)", height=230)
        before = gr.Label(num_top_classes=3, label="Before")
        after = gr.Label(num_top_classes=3, label="After")
    summary = gr.Markdown()
    return [adversarial, perturbation, before, after, summary]


def prepare() -> gr.Blocks:
    """Set torch threads and malloc once, load both models, build and queue the app."""
    torch.set_num_threads(1)
    retain_freed_memory()
    for name in handlers.MODELS:
        handlers.model(name)
    return build().queue(max_size=MAX_QUEUE, default_concurrency_limit=CONCURRENCY)


def main() -> None:
    """Launch on ``$GRADIO_SERVER_NAME`` (default 127.0.0.1) and ``$GRADIO_SERVER_PORT``."""
    prepare().launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        max_file_size="5mb",
        footer_links=["api"],
    )


if __name__ == "__main__":
    main()
