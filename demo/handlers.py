"""What the app's widgets call: plain functions from UI values to UI values.

No gradio here (so they are tested directly) and no model logic: everything is a call
into :mod:`cnnviz` plus conversion to images a browser can show. Models are loaded once
and only read; each call works on its own tensors, so concurrent requests share nothing
mutable.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import cache, lru_cache

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from cnnviz import plots
from cnnviz.activations import ACTIVATION_LAYERS, activations, conv_filters
from cnnviz.attacks import class_visualisation, fgsm, noise_attack, pgd, targeted_attack
from cnnviz.checkpoint import pretrained
from cnnviz.data import DatasetNotFoundError, Splits, load_splits, to_pixel_space
from cnnviz.drawing import DrawingError, prepare_drawing
from cnnviz.idx import IDXError
from cnnviz.model import CNN
from cnnviz.occlusion import occlusion
from cnnviz.saliency import saliency

MODELS = {"batch norm": True, "no batch norm": False}
EMPTY_HINT = "Pick the brush (left of the box) and draw a digit, big and centred."
SCALE = 8  # 28 px -> 224 px on screen
MAX_ATTACK_STEPS = 300
CLASS_VIS_CHUNK = 10  # steps between two pictures while a class visualisation grows


@cache
def model(name: str) -> CNN:
    """The shipped model for a switch value (loaded once, eval mode, read-only)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose {list(MODELS)}")
    return pretrained(batchnorm=MODELS[name])


@lru_cache(maxsize=1)
def test_data() -> Splits | None:
    """The MNIST splits if they are on this machine (never downloads), else ``None``."""
    try:
        return load_splits(download=False)
    except (DatasetNotFoundError, IDXError):
        return None


def sketch_input(sketch: dict | np.ndarray | None) -> torch.Tensor | None:
    """The model input ``(1, 1, 28, 28)`` of a sketchpad value, or ``None`` when empty.

    Accepts Gradio's sketchpad dict (``composite``; all ``None`` after "Clear") or an
    image array. Raises :class:`cnnviz.drawing.DrawingError` for unreadable images.
    """
    image = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if image is None:
        return None
    return prepare_drawing(np.asarray(image)).x


def read_sketch(sketch) -> tuple[torch.Tensor | None, str]:
    """``(input, "")`` for a drawing, or ``(None, message)`` when empty or unreadable."""
    try:
        x = sketch_input(sketch)
    except DrawingError as error:
        return None, f"Could not read the drawing: {error}"
    return (x, "") if x is not None else (None, EMPTY_HINT)


def digit_image(x: torch.Tensor) -> np.ndarray:
    """A model-space digit (any shape with 784 values) as a ``224x224`` grey RGB image."""
    pixels = to_pixel_space(x.detach().reshape(28, 28)).clamp(0, 1).numpy()
    return upscale(np.repeat(pixels[:, :, None], 3, axis=2))


def upscale(rgb: np.ndarray, height: int = 28 * SCALE) -> np.ndarray:
    """``(h, w, 3)`` floats in [0, 1] -> uint8 ``height`` px high, same aspect ratio."""
    picture = Image.fromarray((rgb * 255).round().astype(np.uint8))
    width = round(rgb.shape[1] * height / rgb.shape[0])
    return np.asarray(picture.resize((width, height), Image.Resampling.NEAREST))


def colour(values: np.ndarray, cmap: str, low: float, high: float) -> np.ndarray:
    """Map ``values`` to RGB in [0, 1] with a matplotlib colour map over ``[low, high]``."""
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return matplotlib.colormaps[cmap](np.clip(scaled, 0, 1))[..., :3]


def probabilities(net: CNN, x: torch.Tensor) -> dict[str, float]:
    """Class probabilities of one input, as a ``gr.Label`` value."""
    probs = net.predict_proba(x)[0]
    return {str(k): float(p) for k, p in enumerate(probs)}


def figure_image(fig) -> np.ndarray:
    """A matplotlib figure rendered to an RGB array."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return np.asarray(Image.open(buffer).convert("RGB"))


def draw_update(sketch, model_name: str, patch: int, stride: int):
    """Draw tab: probabilities, what the model sees, occlusion map, saliency, message."""
    x, problem = read_sketch(sketch)
    if x is None:
        return None, None, None, None, problem
    stride = min(int(stride), int(patch))
    net = model(model_name)
    probs = probabilities(net, x)
    guess = int(max(probs, key=probs.get))
    occluded = occlusion(net, x[0], guess, patch=int(patch), stride=stride)
    heat = occluded.probability.numpy()
    saliency_map = saliency(net, x, guess)[0].numpy()
    grey = to_pixel_space(x[0, 0]).numpy()[:, :, None]
    hot = colour(saliency_map, "hot", 0.0, float(saliency_map.max()))
    low, high = float(heat.min()), float(heat.max())
    message = (
        f"The network reads **{guess}** ({probs[str(guess)]:.1%}). Covering the digit with a "
        f"{int(patch)}x{int(patch)} grey patch lowers that to {low:.1%} at worst "
        f"(occlusion map: dark = {low:.1%}, light = {high:.1%})."
    )
    return (
        probs,
        digit_image(x),
        upscale(
            colour(heat, "magma", low, high) if high - low > 1e-4 else colour(heat, "magma", 0, 1)
        ),
        upscale(0.45 * grey + 0.55 * hot),
        message,
    )


def random_test_digit(seed: int | None = None):
    """A random MNIST test digit as a canvas for the sketchpad, and its true label."""
    data = test_data()
    if data is None:
        return None, "MNIST is not on this machine: set CNNVIZ_DATA to use test digits."
    index = int(np.random.default_rng(seed).integers(len(data.test_x)))
    ink = to_pixel_space(data.test_x[index, 0]).numpy()
    canvas = upscale(np.repeat(1.0 - ink[:, :, None], 3, axis=2), height=28 * 14)
    return canvas, f"True label of test digit #{index}: **{int(data.test_y[index])}**"


def filter_galleries(model_name: str):
    """Inside tab: conv1 kernels and, per conv2 output channel, its 32 input kernels."""
    net = model(model_name)
    first, second = conv_filters(net, "conv1"), conv_filters(net, "conv2")

    def kernel_picture(kernels: np.ndarray, limit: float) -> np.ndarray:
        mosaic = plots.kernel_mosaic(kernels)
        rgb = colour(np.nan_to_num(mosaic), plots.DIVERGING, -limit, limit)
        rgb[np.isnan(mosaic)] = 0.25
        return upscale(rgb, height=120)

    conv1 = [
        (kernel_picture(first.weights[k, 0][None, None], first.limit), f"conv1 #{k}")
        for k in range(len(first.weights))
    ]
    conv2 = [
        (kernel_picture(second.weights[k].reshape(4, 8, 3, 3), second.limit), f"conv2 out {k}")
        for k in range(len(second.weights))
    ]
    return conv1, conv2


def activation_gallery(sketch, model_name: str, layer: str):
    """Inside tab: the 32 feature maps of ``layer`` for the current drawing, labelled."""
    if layer not in ACTIVATION_LAYERS:
        raise ValueError(f"unknown layer {layer!r}")
    x, problem = read_sketch(sketch)
    if x is None:
        return [], problem
    maps = activations(model(model_name), x, (layer,))[layer][0].numpy()
    items = [
        (upscale(colour(m, "viridis", float(m.min()), float(m.max())), 140), f"ch {c}")
        for c, m in enumerate(maps)
    ]
    return items, f"{layer}: 32 maps of {maps.shape[1]}x{maps.shape[2]} (each on its own scale)"


def grow_class_images(model_name: str, target: str, max_steps: int) -> Iterator[tuple]:
    """Attack tab (a): class visualisation from noise, yielding pictures as it grows."""
    net = model(model_name)
    targets = list(range(10)) if target == "all" else [int(target)]
    max_steps = max(1, min(int(max_steps), MAX_ATTACK_STEPS))
    start, done = None, 0
    steps = torch.zeros(len(targets), dtype=torch.int64)
    histories = []
    while done < max_steps:
        chunk = min(CLASS_VIS_CHUNK, max_steps - done)
        result = class_visualisation(net, targets, start=start, max_steps=chunk)
        histories.append(result.logit_history if not histories else result.logit_history[1:])
        steps += result.steps
        done += chunk
        start = result.images
        gallery = [
            (digit_image(image), f"{t}: p = {p:.3f}")
            for image, t, p in zip(result.images, targets, result.probabilities, strict=True)
        ]
        finished = bool(result.success.all())
        status = f"step {int(steps.max())}: " + ("all reached p >= 0.99" if finished else "growing")
        yield gallery, logit_curve(torch.cat(histories), targets), status
        if finished:
            return
    yield gallery, logit_curve(torch.cat(histories), targets), status + " (step cap reached)"


def logit_curve(history: torch.Tensor, targets: list[int]) -> np.ndarray:
    """Target logit against step for each visualised class, as an image."""
    fig = Figure(figsize=(5, 3), layout="constrained")
    ax = fig.subplots()
    for column, target in enumerate(targets):
        ax.plot(history[:, column].numpy(), label=str(target))
    ax.set_xlabel("step")
    ax.set_ylabel("target logit")
    ax.legend(ncol=5, fontsize=7)
    ax.grid(alpha=0.3)
    return figure_image(fig)


def perturbation_image(delta: torch.Tensor) -> tuple[np.ndarray, str]:
    """A perturbation amplified to the full colour range, and a sentence with its scale."""
    values = delta.detach().reshape(28, 28).numpy()
    limit = float(np.abs(values).max()) or 1.0
    text = f"Perturbation shown amplified: red +{limit / 2:.3f}, blue -{limit / 2:.3f} pixels."
    return upscale(colour(values, plots.DIVERGING, -limit, limit)), text


def attack_outputs(net: CNN, x: torch.Tensor, adversarial: torch.Tensor, summary: str):
    """Shared outputs of attacks on a drawing: image, perturbation, before/after, text."""
    picture, scale = perturbation_image(adversarial - x)
    before, after = probabilities(net, x), probabilities(net, adversarial)
    return digit_image(adversarial), picture, before, after, f"{summary} {scale}"


def targeted_on_drawing(sketch, model_name: str, target: int, beta: float, max_steps: int):
    """Attack tab (b): make the drawing read as ``target`` while staying close to it."""
    x, problem = read_sketch(sketch)
    if x is None:
        return None, None, None, None, problem
    net = model(model_name)
    steps = max(1, min(int(max_steps), MAX_ATTACK_STEPS))
    result = targeted_attack(net, x, torch.tensor([int(target)]), beta=float(beta), max_steps=steps)
    verdict = "Success" if bool(result.success[0]) else "Not reached within the step cap"
    summary = (
        f"{verdict}: p({int(target)}) = {float(result.probabilities[0]):.3f} after "
        f"{int(result.steps[0])} steps."
    )
    return attack_outputs(net, x, result.images, summary)


def gradient_attack_on_drawing(sketch, model_name: str, method: str, eps: float):
    """Attack tab (c): untargeted FGSM or PGD-40 on the drawing, budget ``eps`` pixels."""
    x, problem = read_sketch(sketch)
    if x is None:
        return None, None, None, None, problem
    net = model(model_name)
    label = net.predict_proba(x).argmax(1)
    attack = {"FGSM": fgsm, "PGD-40": pgd}[method]
    adversarial = attack(net, x, label, float(eps))
    now = int(net.predict_proba(adversarial).argmax(1)[0])
    summary = f"{method} at eps {float(eps):.2f}: {int(label[0])} -> {now}."
    return attack_outputs(net, x, adversarial, summary)


def transfer_table(model_name: str, target: int):
    """Attack tab (d): the report's noise-transfer table for one noise target."""
    data = test_data()
    if data is None:
        return None, "The transfer table needs MNIST test digits: set CNNVIZ_DATA."
    net = model(model_name)
    picks = torch.randperm(len(data.test_x), generator=torch.Generator().manual_seed(0))[:11]
    base, others = data.test_x[picks[:1]], data.test_x[picks[1:]]
    transfer = noise_attack(
        net, base, [int(target)], others, data.test_y[picks[1:]], max_steps=MAX_ATTACK_STEPS
    )
    table = figure_image(plots.plot_transfer_table(transfer, data.test_y[picks[1:]]))
    rate = float(transfer.fooling_rate[0])
    return table, f"Noise learned on one digit fools {rate:.0%} of the other digits."
