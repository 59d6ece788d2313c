"""What the app's widgets call: plain functions from UI values to UI values.

No gradio here (so they are tested directly) and no model logic: everything is a call
into :mod:`cnnviz` plus conversion to images a browser can show. Models are loaded once
and only read; each call works on its own tensors, so concurrent requests share nothing
mutable.

Images are ``uint8 (H, W, 3)`` arrays; a value the user gave that cannot be used raises
:class:`InputError` with a sentence for the user.
"""

from __future__ import annotations

import io
import math
from functools import cache

import matplotlib
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from cnnviz import plots
from cnnviz.attacks import (
    PIXEL_TO_MODEL,
    class_visualisation,
    fgsm,
    noise_attack,
    perturbation_size,
    pgd,
    targeted_attack,
)
from cnnviz.checkpoint import pretrained
from cnnviz.data import to_pixel_space
from cnnviz.digits import load_test_digits
from cnnviz.drawing import DrawingError, prepare_drawing
from cnnviz.figures import sample_indices
from cnnviz.layers import ACTIVATION_LAYERS, activations, conv_filters
from cnnviz.model import CNN
from cnnviz.occlusion_maps import occlusion
from cnnviz.saliency_maps import saliency

MODELS = {"batch norm": True, "no batch norm": False}
EMPTY_HINT = "Draw a digit in the box, big and centred."
SCALE = 8  # 28 px -> 224 px on screen
MAX_ATTACK_STEPS = 300
TRANSFER_DIGITS = 10  # other test digits the learned noise is added to
STALE = "*Cleared: the drawing or the model changed. Press the button to attack the new one.*"
FONT = ImageFont.load_default(size=13)


class InputError(ValueError):
    """A value from the user that the app cannot use; ``str(error)`` is for the user."""


def number(value, name: str, low: float, high: float) -> float:
    """``value`` as a float in ``[low, high]``, or :class:`InputError` saying why not."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, not {value!r}.") from None
    if not (math.isfinite(result) and low <= result <= high):
        raise InputError(f"{name} must be between {low:g} and {high:g}, not {value!r}.")
    return result


@cache
def model(name: str) -> CNN:
    """The shipped model for a switch value (loaded once, eval mode, read-only)."""
    if name not in MODELS:
        raise InputError(f"Unknown model {name!r}; choose one of {list(MODELS)}.")
    return pretrained(batchnorm=MODELS[name])


def layer_choices(model_name: str) -> list[str]:
    """The layers whose feature maps this model has (no ``conv2_bn`` without batch norm)."""
    has_bn = model(model_name).batchnorm
    return [layer for layer in ACTIVATION_LAYERS if has_bn or not layer.endswith("_bn")]


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


def digit_image(x: torch.Tensor, height: int = 28 * SCALE) -> np.ndarray:
    """A model-space digit (any shape with 784 values) as a square grey RGB image."""
    pixels = to_pixel_space(x.detach().reshape(28, 28)).clamp(0, 1).numpy()
    return upscale(np.repeat(pixels[:, :, None], 3, axis=2), height)


def upscale(rgb: np.ndarray, height: int = 28 * SCALE) -> np.ndarray:
    """``(h, w, 3)`` floats in [0, 1] -> uint8 ``height`` px high, same aspect ratio."""
    picture = Image.fromarray((rgb * 255).round().astype(np.uint8))
    width = round(rgb.shape[1] * height / rgb.shape[0])
    return np.asarray(picture.resize((width, height), Image.Resampling.NEAREST))


def colour(values: np.ndarray, cmap: str, low: float, high: float) -> np.ndarray:
    """Map ``values`` to RGB in [0, 1] with a matplotlib colour map over ``[low, high]``."""
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return matplotlib.colormaps[cmap](np.clip(scaled, 0, 1))[..., :3]


def with_colour_bar(
    values: np.ndarray, cmap: str, low: float, high: float, ticks: list[str]
) -> np.ndarray:
    """A ``(h, w)`` map coloured over ``[low, high]``, 224 px high, with a labelled bar.

    ``ticks`` label the bar's top, middle and bottom (``high``, middle, ``low``), so
    the numbers a reader sees are the real range of the colours.
    """
    picture = upscale(colour(values, cmap, low, high))
    height = picture.shape[0]
    bar = colour(np.linspace(high, low, height)[:, None].repeat(14, axis=1), cmap, low, high)
    canvas = Image.new("RGB", (picture.shape[1] + 96, height + 16), "white")
    canvas.paste(Image.fromarray(picture), (0, 8))
    canvas.paste(Image.fromarray(upscale(bar, height)), (picture.shape[1] + 8, 8))
    pen = ImageDraw.Draw(canvas)
    for tick, y in zip(ticks, (8, 8 + height // 2, 8 + height - 1), strict=True):
        pen.text((picture.shape[1] + 26, y), tick, fill="black", font=FONT, anchor="lm")
    return np.asarray(canvas)


def probabilities(net: CNN, x: torch.Tensor) -> dict[str, float]:
    """Class probabilities of one input, as a ``gr.Label`` value."""
    probs = net.predict_proba(x)[0]
    return {str(k): float(p) for k, p in enumerate(probs)}


def figure_image(fig) -> np.ndarray:
    """A matplotlib figure rendered to an RGB array."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return np.asarray(Image.open(buffer).convert("RGB"))


def draw_update(sketch, model_name: str, patch, stride):
    """Draw tab: probabilities, what the model sees (28x28), occlusion map, saliency, message.

    The occlusion map is on a fixed 0-100 % scale (a drop from 100 % to 97 % stays
    faint); the saliency map on ``[0, max |gradient|]``; both with labelled colour bars.
    """
    patch = int(number(patch, "The occlusion patch", 2, 14))
    stride = min(int(number(stride, "The occlusion stride", 1, 7)), patch)
    x, problem = read_sketch(sketch)
    if x is None:
        return None, None, None, None, problem
    net = model(model_name)
    probs = probabilities(net, x)
    guess = int(max(probs, key=probs.get))
    heat = occlusion(net, x[0], guess, patch=patch, stride=stride).probability.numpy()
    salient = saliency(net, x, guess)[0].reshape(28, 28).numpy()
    top = float(salient.max())
    message = (
        f"The network reads **{guess}** ({probs[str(guess)]:.1%}). A {patch}x{patch} grey "
        f"patch anywhere leaves p({guess}) at {float(heat.min()):.1%} or more (map: colour "
        f"scale 0-100 %). Saliency: |d logit({guess}) / d pixel|, largest {top:.3g}."
    )
    return (
        probs,
        digit_image(x, height=28),  # the page shows it 8x larger with sharp pixels
        with_colour_bar(heat, "magma", 0.0, 1.0, ["100 %", "50 %", "0 %"]),
        with_colour_bar(salient, "hot", 0.0, top, [f"{top:.3g}", f"{top / 2:.3g}", "0"]),
        message,
    )


def random_test_digit(seed: int | None = None):
    """A random MNIST test digit as a sketchpad canvas, and a sentence with its label."""
    digits = load_test_digits()
    pick = int(np.random.default_rng(seed).integers(len(digits.y)))
    ink = to_pixel_space(digits.x[pick, 0]).clamp(0, 1).numpy()
    canvas = upscale(np.repeat(1.0 - ink[:, :, None], 3, axis=2), height=28 * 14)
    truth = (
        f"Loaded test digit #{int(digits.indices[pick])} from {digits.description}. "
        f"Its true label: **{int(digits.y[pick])}** (the label of the loaded digit, "
        "also after you draw over it)."
    )
    return canvas, truth


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
    if layer not in layer_choices(model_name):
        raise InputError(f"The {model_name} model has no layer {layer!r}.")
    x, problem = read_sketch(sketch)
    if x is None:
        return [], problem
    maps = activations(model(model_name), x, (layer,))[layer][0].numpy()
    items = [
        (upscale(colour(m, "viridis", float(m.min()), float(m.max())), 112), f"ch {c}")
        for c, m in enumerate(maps)
    ]
    return items, f"{layer}: 32 maps of {maps.shape[1]}x{maps.shape[2]} (each on its own scale)"


def grow_class_images(model_name: str, target: str):
    """Class images tab: images grown from noise (library defaults), split by success.

    Returns the images that reached the library's threshold, those that did not (each
    captioned with its class, final probability and steps), the logit and probability
    curves (the chosen class, or the two slowest of all ten) and a status sentence.
    """
    if target not in ("all", *map(str, range(10))):
        raise InputError(f"Class must be 'all' or a digit 0-9, not {target!r}.")
    targets = list(range(10)) if target == "all" else [int(target)]
    result = class_visualisation(model(model_name), targets)
    sure, failed = [], []
    for image, k, p, steps, ok in zip(
        result.images, targets, result.probabilities, result.steps, result.success, strict=True
    ):
        caption = f"class {k}: p = {float(p):.3f} after {int(steps)} steps"
        (sure if ok else failed).append((digit_image(image), caption))
    slowest = torch.argsort(result.steps, descending=True, stable=True)[:2]
    shown = tuple(sorted(targets[i] for i in slowest.tolist()))
    curves = figure_image(plots.plot_logit_history(result, classes=shown))
    status = (
        f"{len(sure)} of {len(targets)} reached p >= 0.99 (max {int(result.steps.max())} steps)."
        if not failed
        else f"**{len(failed)} of {len(targets)} did not reach p >= 0.99** within the step cap."
    )
    return sure, failed, curves, status


def perturbation_image(delta: torch.Tensor) -> tuple[np.ndarray, str]:
    """The perturbation on a symmetric colour scale with a bar, and its L-inf and L2 size.

    Sizes are in pixel units (intensities in [0, 1]; the model's [-1, 1] is twice as wide).
    """
    values = delta.detach().reshape(28, 28).numpy() / PIXEL_TO_MODEL
    linf, l2 = (float(size[0]) for size in perturbation_size(delta))
    limit = linf or 1.0
    picture = with_colour_bar(
        values, plots.DIVERGING, -limit, limit, [f"+{limit:.3f}", "0", f"-{limit:.3f}"]
    )
    size = (
        f"Change in pixel units of [0, 1]: largest |change| (L-inf) {linf:.3f}, "
        f"L2 size {l2:.3f} (the colour bar shows the real values)."
    )
    return picture, size


def attack_outputs(net: CNN, x: torch.Tensor, adversarial: torch.Tensor, summary: str):
    """Shared outputs of attacks on a drawing: image, perturbation, before/after, text."""
    picture, size = perturbation_image(adversarial - x)
    before, after = probabilities(net, x), probabilities(net, adversarial)
    return digit_image(adversarial), picture, before, after, f"{summary} {size}"


def stale_attack():
    """Attack outputs for a drawing or model that changed since the attack ran."""
    return None, None, None, None, STALE


def targeted_on_drawing(sketch, model_name: str, target, beta, max_steps):
    """Targeted tab: make the drawing read as ``target`` while staying close to it."""
    target = int(number(target, "The target class", 0, 9))
    beta = number(beta, "beta", 0, 50)
    steps = int(number(max_steps, "The step cap", 1, MAX_ATTACK_STEPS))
    x, problem = read_sketch(sketch)
    if x is None:
        return None, None, None, None, problem
    net = model(model_name)
    result = targeted_attack(net, x, torch.tensor([target]), beta=beta, max_steps=steps)
    verdict = "Success" if bool(result.success[0]) else "Not reached within the step cap"
    summary = (
        f"{verdict}: p({target}) = {float(result.probabilities[0]):.3f} after "
        f"{int(result.steps[0])} steps."
    )
    return attack_outputs(net, x, result.images, summary)


def gradient_attack_on_drawing(sketch, model_name: str, method: str, eps):
    """FGSM / PGD tab: untargeted attack on the drawing, budget ``eps`` pixels (L-inf)."""
    attacks = {"FGSM": fgsm, "PGD-40": pgd}
    if method not in attacks:
        raise InputError(f"Method must be one of {list(attacks)}, not {method!r}.")
    eps = number(eps, "epsilon", 0, 0.4)
    x, problem = read_sketch(sketch)
    if x is None:
        return None, None, None, None, problem
    net = model(model_name)
    label = net.predict_proba(x).argmax(1)
    adversarial = attacks[method](net, x, label, eps)
    now = int(net.predict_proba(adversarial).argmax(1)[0])
    summary = f"{method} with budget eps = {eps:.2f}: read as {int(label[0])} -> {now}."
    return attack_outputs(net, x, adversarial, summary)


def transfer_table(model_name: str, target):
    """Transfer tab: noise learned on one test digit, added to ten others (R14)."""
    target = int(number(target, "The noise target", 0, 9))
    digits = load_test_digits()
    picks = sample_indices(len(digits.y), TRANSFER_DIGITS + 1, seed=0)
    others, labels = digits.x[picks[1:]], digits.y[picks[1:]]
    transfer = noise_attack(model(model_name), digits.x[picks[:1]], [target], others, labels)
    table = figure_image(plots.plot_transfer_table(transfer, labels))
    rate = float(transfer.fooling_rate[0])
    note = (
        f"Noise learned on test digit #{int(digits.indices[picks[0]])} (label "
        f"{int(digits.y[picks[0]])}) from {digits.description}, then added to "
        f"{TRANSFER_DIGITS} other test digits: it makes {rate:.0%} of them (those not "
        f"already a {target}) read as {target}."
    )
    return table, note
