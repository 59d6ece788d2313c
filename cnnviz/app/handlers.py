"""What the app's widgets call: plain functions from UI values to UI values.

No gradio here (so they are tested directly) and no model logic: everything is a call
into :mod:`cnnviz` plus conversion to pictures (:mod:`cnnviz.app.pictures`). Models are
loaded once and only read; each call works on its own tensors, so concurrent requests
share nothing mutable.

Images are ``uint8 (H, W, 3)`` arrays; a value the user gave that cannot be used raises
:class:`~cnnviz.app.inputs.InputError` with a sentence for the user.
"""

from __future__ import annotations

import hashlib
import random
from functools import cache

import numpy as np
import torch

from cnnviz import plots
from cnnviz.app import session_models
from cnnviz.app.inputs import InputError, number, read_sketch, sketch_image
from cnnviz.app.pictures import (
    channel_strip,
    digit_image,
    feature_map_picture,
    figure_image,
    kernel_picture,
    with_colour_bar,
)
from cnnviz.app.words import not_a_digit_hint
from cnnviz.attacks.registry import get_attack
from cnnviz.attacks.result import AttackResult
from cnnviz.attacks.targeted import targeted_attack
from cnnviz.attacks.transfer import noise_attack
from cnnviz.data.sample_digits import load_test_digits, sample_indices
from cnnviz.inspect.layers import activations, conv_filters
from cnnviz.inspect.occlusion import occlusion
from cnnviz.inspect.saliency import saliency
from cnnviz.models.checkpoint import pretrained
from cnnviz.models.cnn import ACTIVATION_LAYERS, CNN
from cnnviz.visualise.class_images import class_visualisation

#: The model switch: shown name -> shipped variant
#: (:data:`cnnviz.models.checkpoint.PRETRAINED_FILES`).
MODELS = {"batch norm": "bn", "no batch norm": "nobn", "robust": "robust"}
MAX_ATTACK_STEPS = 300
TRANSFER_DIGITS = 10  # other test digits the learned noise is added to
STALE = "*Cleared: the drawing or the model changed. Press the button to attack the new one.*"


def model(name: str) -> CNN:
    """The model for a switch value: a shipped one, or the session's own (read-only).

    A session's model (trained in the Train tab) is named by a token only its page
    knows; once freed, asking for it says so.
    """
    if session_models.is_session_model(name):
        found = session_models.find(name)
        if found is None:
            raise InputError(
                "Your model was freed (its session ended or it was unused for 30 minutes). "
                "Train it again in the Train tab, or pick another model."
            )
        return found
    return _shipped(name)


@cache
def _shipped(name: str) -> CNN:
    if name not in MODELS:
        raise InputError(f"Unknown model {name!r}; choose one of {list(MODELS)}.")
    return pretrained(variant=MODELS[name])


def layer_choices(model_name: str) -> list[str]:
    """The layers whose feature maps this model has (no ``conv2_bn`` without batch norm)."""
    has_bn = model(model_name).batchnorm
    return [layer for layer in ACTIVATION_LAYERS if has_bn or not layer.endswith("_bn")]


def probabilities(net: CNN, x: torch.Tensor) -> dict[str, float]:
    """Class probabilities of one input, as a ``gr.Label`` value."""
    probs = net.predict_proba(x)[0]
    return {str(k): float(p) for k, p in enumerate(probs)}


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
    hint = not_a_digit_hint(sketch_image(sketch))
    message = f"{message}\n\n{hint}" if hint else message
    return (
        probs,
        digit_image(x, height=28),  # the page shows it 8x larger with sharp pixels
        with_colour_bar(heat, "magma", 0.0, 1.0, ["100 %", "50 %", "0 %"]),
        with_colour_bar(salient, "hot", 0.0, top, [f"{top:.3g}", f"{top / 2:.3g}", "0"]),
        message,
    )


def random_test_digit(seed: int | None = None):
    """A random MNIST test digit as a sketchpad canvas, and a sentence with its label.

    The digit is drawn as the library samples test digits; ``seed`` fixes it (tests).
    """
    digits = load_test_digits()
    seed = random.randrange(2**32) if seed is None else seed
    return _loaded(digits, int(sample_indices(len(digits.y), 1, seed=seed)[0]))


def test_digit(index) -> tuple[np.ndarray | None, str]:
    """The MNIST test digit number ``index`` (0-9999, as a link names it) as a canvas and
    its sentence, or ``(None, why not)`` when the digits here do not include it."""
    wanted = int(number(index, "The test digit", 0, 9999))
    digits = load_test_digits()
    found = torch.nonzero(digits.indices == wanted).flatten()
    if not len(found):
        return None, (
            f"Test digit #{wanted} is not among {digits.description} on this server; "
            "press Random for one that is."
        )
    return _loaded(digits, int(found[0]))


def _loaded(digits, pick: int) -> tuple[np.ndarray, str]:
    canvas = digit_image(digits.x[pick, 0], height=28 * 14, ink=True)
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
    maps = activations(model(model_name), x, (layer,))[layer][0]
    items = [(feature_map_picture(m), f"ch {c}") for c, m in enumerate(maps)]
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
        if int(steps) == 0:
            caption += " (the noise already read as it)"
        (sure if ok else failed).append((digit_image(image), caption))
    slowest = torch.argsort(result.steps, descending=True, stable=True)[:2]
    shown = tuple(sorted(targets[i] for i in slowest.tolist()))
    curves = figure_image(plots.plot_logit_history(result, classes=shown))
    status = (
        f"{len(sure)} of {len(targets)} reached p >= 0.99 (max {int(result.steps.max())} steps)."
        if not failed
        else f"**{len(failed)} of {len(targets)} did not reach p >= 0.99** within the step cap."
    )
    at_once = [targets[i] for i, n in enumerate(result.steps.tolist()) if n == 0]
    if at_once:
        status += (
            f" Class {', '.join(map(str, at_once))} needed 0 steps: the random noise it "
            "starts from already read as it with p >= 0.99. A network must answer one "
            "of ten digits for any input, and can be very sure about noise."
        )
    return sure, failed, curves, status


def perturbation_image(result: AttackResult) -> tuple[np.ndarray, str]:
    """The perturbation on a symmetric colour scale with a bar (several channels side by
    side), and its L-inf and L2 size.

    Sizes are in pixel units (intensities in [0, 1]; the model's [-1, 1] is twice as wide).
    """
    values = channel_strip(result.perturbation[0].detach().cpu().numpy())
    linf, l2 = (float(size[0]) for size in result.perturbation_size())
    limit = linf or 1.0
    picture = with_colour_bar(
        values, plots.DIVERGING, -limit, limit, [f"+{limit:.3f}", "0", f"-{limit:.3f}"]
    )
    size = (
        f"Change in pixel units of [0, 1]: largest |change| (L-inf) {linf:.3f}, "
        f"L2 size {l2:.3f} (the colour bar shows the real values)."
    )
    return picture, size


def attack_outputs(net: CNN, result: AttackResult, summary: str):
    """Shared outputs of attacks on a drawing: image, perturbation, before/after, text."""
    picture, size = perturbation_image(result)
    before, after = probabilities(net, result.originals), probabilities(net, result.images)
    return digit_image(result.images), picture, before, after, f"{summary} {size}"


def drawing_key(sketch) -> str:
    """A digest of what the model would see of ``sketch`` (``""`` for no readable drawing)."""
    x, _ = read_sketch(sketch)
    return "" if x is None else hashlib.sha1(x.numpy().tobytes()).hexdigest()


def stale_attack():
    """Attack outputs for a drawing or model that changed since the attack ran."""
    return None, None, None, None, STALE


def targeted_on_drawing(sketch, model_name: str, target, beta, max_steps):
    """Targeted tab: make the drawing read as ``target`` while staying close to it."""
    target = int(number(target, "The target class", 0, 9))
    beta = number(beta, "beta", 0, 200)
    steps = int(number(max_steps, "The step cap", 1, MAX_ATTACK_STEPS))
    x, problem = read_sketch(sketch)
    if x is None:
        return None, None, None, None, problem
    net = model(model_name)
    result = targeted_attack(net, x, [target], beta=beta, steps=steps)
    verdict = "Success" if bool(result.success[0]) else "Not reached within the step cap"
    summary = (
        f"{verdict}: p({target}) = {float(result.probabilities[0]):.3f} after "
        f"{int(result.steps[0])} steps."
    )
    return attack_outputs(net, result, summary)


def gradient_attack_on_drawing(sketch, model_name: str, method: str, eps):
    """FGSM / PGD tab: untargeted attack on the drawing, budget ``eps`` pixels (L-inf)."""
    attacks = {"FGSM": "fgsm", "PGD-40": "pgd"}
    if method not in attacks:
        raise InputError(f"Method must be one of {list(attacks)}, not {method!r}.")
    eps = number(eps, "epsilon", 0, 0.4)
    x, problem = read_sketch(sketch)
    if x is None:
        return None, None, None, None, problem
    net = model(model_name)
    label = net.predict_proba(x).argmax(1)
    result = get_attack(attacks[method])(net, x, label, eps=eps)
    now = int(result.predictions[0])
    summary = f"{method} with budget eps = {eps:.2f}: read as {int(label[0])} -> {now}."
    return attack_outputs(net, result, summary)


def transfer_table(model_name: str, target):
    """Transfer tab: noise learned on one test digit, added to ten others (R14)."""
    target = int(number(target, "The noise target", 0, 9))
    digits = load_test_digits()
    picks = sample_indices(len(digits.y), TRANSFER_DIGITS + 1, seed=0)
    others, labels = digits.x[picks[1:]], digits.y[picks[1:]]
    transfer = noise_attack(
        model(model_name), digits.x[picks[:1]], [target], others=others, other_labels=labels
    )
    table = figure_image(plots.plot_transfer_table(transfer, labels))
    rate = float(transfer.fooling_rate[0])
    note = (
        f"Noise learned on test digit #{int(digits.indices[picks[0]])} (label "
        f"{int(digits.y[picks[0]])}) from {digits.description}, then added to "
        f"{TRANSFER_DIGITS} other test digits: it makes {rate:.0%} of them (those not "
        f"already a {target}) read as {target}."
    )
    return table, note
