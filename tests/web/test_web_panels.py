"""The browser edition's Inside, Attack and Classes views, driven in Chromium.

The built site is served on 127.0.0.1 (``web_server``). Checked: every control of the three
views on a laptop and a phone, with a random test digit, a drawn digit and no digit, read
from the visible page (numbers present, images drawn, no map hidden on a phone), no console
error and no request leaving the site; and the browser's numbers equal the Python
library's on the same inputs: every term of a unit's computation
(:func:`cnnviz.inspect.neuron.unit_computation`), FGSM and one PGD step (:func:`cnnviz.pgd`) on
20 bundled digits, and class images that reach p >= 0.99 where
:func:`cnnviz.class_visualisation` does. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from playwright.sync_api import Page

from cnnviz.attacks.fgsm import fgsm
from cnnviz.attacks.pgd import pgd
from cnnviz.fast import cnn_gradient
from cnnviz.inspect.neuron import unit_computation
from cnnviz.models.checkpoint import pretrained
from cnnviz.visualise.class_images import class_visualisation

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
VIEWPORTS = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
VARIANTS = {"standard": "nobn", "batchnorm": "bn", "robust": "robust"}  # site id -> shipped
START = 30_000  # ms: ONNX Runtime and one network on a busy 2-core machine
DIGITS = 20
TOLERANCE = 1e-4
NUMBER = r"[-+]?\d+\.\d+"


class Watched:
    """A page with its console errors and the requests that left 127.0.0.1."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on(
            "request",
            lambda r: (
                r.url.startswith(("http://127.0.0.1:", "data:", "blob:"))
                or self.outside.append(r.url)
            ),
        )

    def clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.outside == [], self.outside


def open_lab(browser, url: str, viewport: dict) -> Watched:
    page = browser.new_page(viewport=viewport)
    watched = Watched(page)
    page.goto(url)
    page.evaluate("window.cnnvizLab.ready.then(() => true)")
    page.wait_for_function(
        "(b => b && !b.disabled)(document.querySelector('#random-digit'))",
        timeout=START,
    )
    return watched


@pytest.fixture(scope="module")
def lab_page(browser, web_server) -> Iterator[Page]:
    """One laptop page of the lab for the browser-versus-Python comparisons."""
    watched = open_lab(browser, web_server, VIEWPORTS["laptop"])
    yield watched.page
    watched.clean()
    watched.page.close()


def settle(page: Page) -> None:
    """Wait until the Draw view has answered the last input."""
    page.evaluate("window.cnnvizLab.idle ? window.cnnvizLab.idle() : null")
    page.wait_for_timeout(100)


COLOURS = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const seen = new Set();
  for (let i = 0; i < data.length; i += 4) {
    seen.add(data[i] * 65536 + data[i + 1] * 256 + data[i + 2]);
  }
  return seen.size;
}"""


def painted(page: Page, selector: str) -> int:
    """How many different colours the canvas at ``selector`` shows (1: blank or flat)."""
    return page.eval_on_selector(selector, COLOURS)


def maps_drawn(page: Page, selector: str) -> int:
    """How many of the canvases at ``selector`` show more than one colour."""
    return page.eval_on_selector_all(selector, f"cs => cs.filter(c => ({COLOURS})(c) > 1).length")


def set_slider(page: Page, selector: str, value: str) -> None:
    """Move a range input as a student's drag does (value, then an input event)."""
    page.eval_on_selector(
        selector,
        "(e, v) => { e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )


def fits(page: Page, selector: str, width: int) -> None:
    """Every shown element matching ``selector`` lies inside the viewport's width (none cut)."""
    elements = page.locator(selector)
    boxes = [elements.nth(i).bounding_box() for i in range(elements.count())]
    shown = [box for box in boxes if box is not None]
    assert shown, selector
    cut = [box for box in shown if box["x"] < 0 or box["x"] + box["width"] > width + 1]
    assert cut == [], (selector, cut)


def arithmetic_adds_up(page: Page) -> None:
    """The unit's total and the forward pass's value, as printed, are the same number."""
    text = page.text_content("#inside-arithmetic")
    total = re.search(rf"^= \w+\s+({NUMBER})$", text, re.M)
    forward = re.search(rf"\(forward pass:\s+({NUMBER})\)", text)
    assert total and forward, text
    assert abs(float(total.group(1)) - float(forward.group(1))) <= 1e-4, text


def draw_one(page: Page) -> None:
    """Draw a 1 on the sketchpad with the mouse."""
    page.click("#tab-draw")
    page.click("#clear")
    page.locator("#sketchpad").scroll_into_view_if_needed()
    box = page.locator("#sketchpad").bounding_box()
    scale = box["width"] / 392
    points = [(180, 95), (205, 70)] + [(205 - i * 0.6, 70 + i * 32) for i in range(9)]
    page.mouse.move(box["x"] + points[0][0] * scale, box["y"] + points[0][1] * scale)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=3)
    page.mouse.up()
    settle(page)


def check_inside(page: Page, width: int, name: str) -> None:
    page.click("#tab-inside")
    page.wait_for_selector("#inside-maps .map-cell")
    layers = page.eval_on_selector_all(
        "#inside-layer option", "options => options.map(o => o.value)"
    )
    assert layers[:3] == ["conv1", "relu1", "pool1"] and "pool2" in layers
    for layer in layers:
        page.select_option("#inside-layer", layer)
        assert page.locator("#inside-maps .map-cell").count() == 32
        assert page.text_content("#inside-map-caption").startswith(f"{layer} map")
        assert maps_drawn(page, "#inside-maps canvas") >= 8, layer
        arithmetic_adds_up(page)
    if width < 600:
        fits(page, "#inside-maps .map-cell", width)
    page.select_option("#inside-layer", "conv2")
    page.click("#inside-maps .map-cell:nth-child(6)")
    assert page.get_attribute("#inside-maps .map-cell:nth-child(6)", "aria-pressed") == "true"
    page.locator("#inside-map").scroll_into_view_if_needed()
    box = page.locator("#inside-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 7.5 / 14, box["y"] + box["height"] * 6.5 / 14)
    assert "unit at row 6, column 7" in page.text_content("#inside-map-caption")
    assert "conv2 channel 5 at row 6, column 7" in page.text_content("#inside-unit")
    arithmetic_adds_up(page)
    assert page.locator("#inside-unit .push-bars li").count() > 0
    assert page.locator("#inside-unit table.numbers td").count() == 3 * 9 + 4
    assert painted(page, "#inside-field") > 2  # the input and the red receptive field
    page.select_option("#inside-unit-channel", "3")
    assert "pool1 map 3" in page.text_content("#inside-unit")
    page.focus("#inside-map")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert "conv2 channel 5 at row 7, column 8" in page.text_content("#inside-unit")
    page.select_option("#inside-layer", "pool1")
    page.focus("#inside-map")
    page.keyboard.press("Enter")
    assert "conv1 channel" in page.text_content("#inside-unit")
    assert re.search(
        r"max pool keeps \d+\.\d{4} \(this unit\)", page.text_content("#inside-arithmetic")
    )
    page.select_option("#inside-fc-layer", "fc2")
    page.fill("#inside-fc-unit", "3")
    page.click("#inside-fc-show")
    assert "fc2 neuron 3 (the score of class 3)" in page.text_content("#inside-unit")
    arithmetic_adds_up(page)
    page.select_option("#inside-fc-layer", "fc1")
    page.fill("#inside-fc-unit", "700")
    page.click("#inside-fc-show")
    assert page.input_value("#inside-fc-unit") == "499"
    assert "fc1 neuron 499" in page.text_content("#inside-unit")
    assert page.locator("#inside-unit .push-bars li").count() > 0
    page.select_option("#inside-filter-layer", "conv1")
    assert page.locator("#inside-filters canvas").count() == 32
    assert not page.is_visible("#inside-filter-channel")
    page.select_option("#inside-filter-layer", "conv2")
    page.select_option("#inside-filter-channel", "5")
    assert "output channel 5" in page.text_content("#inside-filter-words")
    assert page.locator("#inside-filters canvas").count() == 32
    assert painted(page, "#inside-filters figure:nth-child(1) canvas") > 1
    if width < 600:
        fits(page, "#inside-filters figure", width)
        fits(page, "#inside-view select, #inside-view button, #inside-view input", width)
    page.screenshot(path=str(ARTIFACTS / f"panels-inside-{name}.png"), full_page=True)


def check_attack(page: Page, width: int, name: str) -> None:
    page.click("#tab-attack")
    page.wait_for_selector("#attack-run:not([disabled])")
    before = re.search(r"read as (\d)", page.text_content("#attack-before-caption"))
    assert before, page.text_content("#attack-before-caption")
    page.select_option("#attack-method", "fgsm")
    assert not page.is_visible("#attack-seed")
    set_slider(page, "#attack-eps", "0.25")
    assert page.text_content("#attack-eps-value") == "0.25"
    for method in ("fgsm", "pgd"):
        page.select_option("#attack-method", method)  # attacks again once a result is shown
        if method == "pgd":
            page.fill("#attack-seed", "3")
        page.wait_for_selector("#attack-run:not([disabled])", timeout=20_000)
        page.click("#attack-run")
        page.wait_for_selector("#attack-result:not(:empty)", timeout=20_000)
        verdict = page.text_content("#attack-result")
        assert verdict.startswith(("The attack worked", "The attack failed")), verdict
        size = page.text_content("#attack-size")
        linf = float(re.search(rf"\(L-inf\) ({NUMBER})", size).group(1))
        assert 0 < linf <= 0.25 + 1e-3 and re.search(rf"\(L2\) ({NUMBER})", size), size
        assert painted(page, "#attack-image") > 2 and painted(page, "#attack-perturbation") > 1
        assert painted(page, "#attack-curve") > 2
        steps = "40 step(s)" if method == "pgd" else "1 step(s)"
        assert steps in page.text_content("#attack-curve-caption")
        assert re.search(
            r"After (FGSM|PGD-40): read as \d", page.text_content("#attack-after-caption")
        )
        page.screenshot(path=str(ARTIFACTS / f"panels-attack-{method}-{name}.png"), full_page=True)
    fits(
        page,
        "#attack-view select, #attack-view button, #attack-view input, #attack-view canvas",
        width,
    )
    page.eval_on_selector(
        "#attack-eps", "e => { e.value = '0.02'; e.dispatchEvent(new Event('change')); }"
    )  # the slider released at a new eps attacks again
    page.wait_for_selector("#attack-size:not(:empty)", timeout=20_000)
    linf = float(re.search(rf"\(L-inf\) ({NUMBER})", page.text_content("#attack-size")).group(1))
    assert 0 < linf <= 0.02 + 1e-3, linf


def check_classes(page: Page, width: int, name: str) -> None:
    page.click("#tab-classes")
    page.fill("#classes-seed", "1")
    page.click("#classes-run")
    page.wait_for_selector("#classes-images figure", timeout=30_000)
    assert page.locator("#classes-images figure").count() == 10
    note = page.text_content("#classes-note")
    assert note.startswith("10 of 10 classes reached p >= 0.99"), (
        note
    )  # as Python's, from its noise
    captions = page.eval_on_selector_all(
        "#classes-images figcaption", "cs => cs.map(c => c.textContent)"
    )
    assert all(re.search(r"p = \d\.\d{3}", caption) for caption in captions), captions
    assert painted(page, "#classes-images figure:nth-child(4) canvas") > 2
    assert painted(page, "#classes-plot") > 5
    assert page.locator("#classes-legend li").count() == 10
    fits(page, "#classes-images figure, #classes-view button, #classes-view input", width)
    page.screenshot(path=str(ARTIFACTS / f"panels-classes-{name}.png"), full_page=True)


def check_model_switch(page: Page) -> None:
    """The standard network (no batch norm): its layers, its units' arithmetic, its attack."""
    page.select_option("#model-select", "standard")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Ready')")
    settle(page)
    page.click("#tab-inside")
    page.wait_for_selector("#inside-arithmetic")
    layers = page.eval_on_selector_all("#inside-layer option", "os => os.map(o => o.value)")
    assert layers == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]
    page.select_option("#inside-layer", "conv2")
    arithmetic_adds_up(page)
    assert "batch norm" not in page.text_content("#inside-arithmetic")
    page.click("#tab-attack")
    page.select_option("#attack-method", "fgsm")
    page.click("#attack-run")
    page.wait_for_selector("#attack-result:not(:empty)", timeout=20_000)
    page.click("#tab-classes")
    assert "standard network" in page.text_content("#classes-note")
    assert page.locator("#classes-images figure").count() == 0  # the old network's are gone


@pytest.mark.parametrize("name", sorted(VIEWPORTS))
def test_every_control_of_the_panels(browser, web_server, name):
    """Inside, Attack and Classes: a test digit, a drawing and nothing; laptop and phone."""
    viewport = VIEWPORTS[name]
    ARTIFACTS.mkdir(exist_ok=True)
    watched = open_lab(browser, web_server, viewport)
    page = watched.page
    try:
        page.click("#tab-draw")
        page.click("#clear")
        settle(page)
        page.click("#tab-inside")
        assert "Draw a digit" in page.text_content("#inside-note")
        page.click("#inside-fc-show")
        assert "Draw a digit first" in page.text_content("#inside-unit")
        assert page.locator("#inside-filters canvas").count() == 32  # filters need no input
        page.click("#tab-attack")
        page.click("#attack-run")
        assert "Draw a digit" in page.text_content("#attack-note")
        assert page.text_content("#attack-result") == ""

        page.click("#tab-draw")
        page.click("#random-digit")
        settle(page)
        check_inside(page, viewport["width"], f"digit-{name}")
        check_attack(page, viewport["width"], f"digit-{name}")
        check_classes(page, viewport["width"], name)

        draw_one(page)
        check_inside(page, viewport["width"], f"drawing-{name}")
        assert page.text_content("#inside-note") == "Your drawing."
        check_attack(page, viewport["width"], f"drawing-{name}")
        check_model_switch(page)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= viewport["width"] + 1, overflow
        watched.clean()
    finally:
        page.close()


def browser_image(page: Page, index: int) -> list[float]:
    return page.evaluate("(i) => Array.from(window.cnnvizLab.lab.digits.image(i))", index)


def as_tensor(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).reshape(1, 1, 28, 28)


def close(a, b) -> bool:
    return bool(
        np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max() <= TOLERANCE
    )


@pytest.mark.parametrize("model_id", ["standard", "batchnorm"])
def test_unit_computation_equals_python(lab_page, model_id):
    """Every term of conv1, conv2, fc1 and fc2 units on 20 bundled digits, within 1e-4."""
    model = pretrained(variant=VARIANTS[model_id])
    for i in range(DIGITS):
        x = browser_image(lab_page, i)
        layer = ("conv1", "conv2", "fc1", "fc2")[i % 4]
        unit = (7 * i + 3) % (10 if layer == "fc2" else 32)
        size = {"conv1": 28, "conv2": 14}.get(layer)
        position = None if size is None else [(5 * i) % size, (11 * i + 4) % size]
        got = lab_page.evaluate(
            "([m, x, l, u, p]) => window.cnnvizLab.unit(m, x, l, u, p)",
            [model_id, x, layer, unit, position],
        )
        want = unit_computation(
            model, as_tensor(x), layer, unit, None if position is None else tuple(position)
        )
        assert got["source"] == want.source and got["receptiveField"] == list(want.receptive_field)
        assert got["padding"] == want.padding.flatten().tolist()
        for key, value in [
            ("inputs", want.inputs),
            ("weights", want.weights),
            ("products", want.products),
            ("bias", want.bias),
            ("total", want.total),
            ("forwardValue", want.forward_value),
            ("normalised", want.normalised),
            ("output", want.output),
        ]:
            assert close(got[key], np.asarray(value).flatten()), (i, layer, key)
        if want.batch_norm is None:
            assert got["batchNorm"] is None
        else:
            norm = want.batch_norm
            assert close(
                [got["batchNorm"][k] for k in ("mean", "variance", "eps", "weight", "bias")],
                [norm.mean, norm.variance, norm.eps, norm.weight, norm.bias],
            )
        assert (got["relu"] is None) == (want.relu is None)
        if want.relu is not None:
            assert close(got["relu"], want.relu)
        if want.pool is None:
            assert got["pool"] is None
        else:
            assert got["pool"]["kept"] == list(want.pool.kept)
            assert got["pool"]["position"] == list(want.pool.position)
            assert close(got["pool"]["window"], want.pool.window.flatten())
            assert close(got["pool"]["value"], want.pool.value)
        indices, values = want.pushes()
        assert got["pushes"]["indices"] == indices.tolist() and close(
            got["pushes"]["values"], values
        )


def undetermined(x: torch.Tensor, label: int, model) -> torch.Tensor:
    """Pixels whose cross-entropy gradient's sign the network does not determine.

    Where the gradient is within float rounding of 0 (below 1e-6 of the true logit's own
    gradient: a robust network has many such pixels), and where the library's own two
    gradients (autograd, and the attack step's fast path :mod:`cnnviz.fast.cnn_gradient`)
    disagree in sign, as a ReLU or a max pooling sees values within rounding of each other.
    """
    candidate = x.clone().requires_grad_(True)
    logits = model.logits(candidate)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([label]), reduction="sum")
    gradient, logit_gradient = (
        torch.autograd.grad(value, candidate, retain_graph=True)[0]
        for value in (loss, logits[0, label])
    )
    _, fast = cnn_gradient.cnn_loss_gradient(model, x, torch.tensor([label]))
    rounding = gradient.abs() <= 1e-6 * float(logit_gradient.abs().max())
    return rounding | (torch.sign(gradient) != torch.sign(fast))


def sign_flips(got: list[float], want: torch.Tensor, step: float, free: torch.Tensor) -> int:
    """Pixels outside ``free`` where the browser's step differs from Python's by more than 1e-4.

    A pixel may differ only by its step's sign (at most ``2 * step`` in model space).
    """
    difference = (torch.tensor(got).reshape(want.shape) - want).abs()
    assert float(difference.max()) <= 2 * step + TOLERANCE, float(difference.max())
    return int(((difference > TOLERANCE) & ~free).sum())


@pytest.mark.parametrize("model_id", ["batchnorm", "robust"])
def test_fgsm_and_one_pgd_step_equal_python(lab_page, model_id):
    """FGSM and one PGD step from the same random start, on 20 bundled digits, within 1e-4.

    Except for sign flips of pixels whose gradient sign the network does not determine
    (:func:`undetermined`), and at most 1 in 1,000 other pixels: a max pooling window whose
    values ONNX Runtime Web rounds to a different maximum than torch.
    """
    model = pretrained(variant=VARIANTS[model_id])
    generator = torch.Generator().manual_seed(0)
    labels = lab_page.evaluate(
        f"Array.from({{length: {DIGITS}}}, (_, i) => window.cnnvizLab.lab.digits.label(i))"
    )
    flips = 0
    for i in range(DIGITS):
        x = browser_image(lab_page, i)
        image = as_tensor(x)
        noise = torch.rand(1, 1, 28, 28, generator=generator) * 2 - 1
        got = lab_page.evaluate(
            "([m, x, y, n]) => window.cnnvizLab.pgdStep(m, x, y, 0.3, 0.01, n)",
            [model_id, x, labels[i], noise.flatten().tolist()],
        )
        want = pgd(model, image, [labels[i]], eps=0.3, steps=1, step_size=0.01, noise=noise)
        start = (image + noise * 0.6).clamp(-1, 1)
        flips += sign_flips(got["images"], want.images, 0.02, undetermined(start, labels[i], model))
        assert got["prediction"] == int(want.predictions[0])
        eps = 0.05 + 0.01 * i
        got = lab_page.evaluate(
            "([m, x, y, e]) => window.cnnvizLab.fgsm(m, x, y, e)", [model_id, x, labels[i], eps]
        )
        want = fgsm(model, image, [labels[i]], eps=eps)
        flips += sign_flips(
            got["images"], want.images, 2 * eps, undetermined(image, labels[i], model)
        )
        assert got["success"] == bool(want.success[0])
        change = (torch.tensor(got["images"]) - image.flatten()) / 2  # pixel units of [-1, 1]
        assert abs(got["linf"] - float(change.abs().max())) <= TOLERANCE
        assert abs(got["l2"] - float(change.norm())) <= TOLERANCE
    print(
        f"{model_id}: {flips} pixel(s) of {2 * DIGITS * 784} flipped outside the undetermined ones"
    )
    assert flips <= 2 * DIGITS * 784 / 1000, flips


@pytest.mark.parametrize("model_id", ["standard", "batchnorm", "robust"])
def test_class_images_reach_the_threshold_as_in_python(lab_page, model_id):
    """From Python's start noise: the same first step; p >= 0.99 for every class, as in Python."""
    model = pretrained(variant=VARIANTS[model_id])
    start = (torch.randn(10, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 0.1).clamp(
        -1, 1
    )
    first = lab_page.evaluate(
        "([m, s]) => window.cnnvizLab.classImages(m, {start: s, steps: 1})",
        [model_id, start.flatten().tolist()],
    )
    want = class_visualisation(model, start=start, steps=1)
    assert close(first["images"], want.images.flatten())
    assert close(first["logitHistory"], want.logit_history)
    python = class_visualisation(model, start=start)
    browser = lab_page.evaluate(
        "([m, s]) => window.cnnvizLab.classImages(m, {start: s})",
        [model_id, start.flatten().tolist()],
    )
    assert python.success.all() and all(browser["success"])
    assert all(p >= 0.99 for p in browser["probabilities"])
    # The same climb in another float order: the steps agree up to rounding's drift over the
    # climb (a few steps; 3 or a fifth of the steps, whichever is more).
    python_steps = python.steps.numpy()
    drift = np.abs(np.array(browser["steps"]) - python_steps)
    assert (drift <= np.maximum(3, python_steps / 5)).all(), (browser["steps"], python_steps)
