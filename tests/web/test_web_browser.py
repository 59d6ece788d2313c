"""The browser edition's lab page (``cnnviz export-web``), driven in Chromium as a student uses it.

The built site is served on 127.0.0.1 (``web_server``); the page computes everything with
ONNX Runtime Web. Checked: the page contract (``#sketchpad``, ``#clear``, ``#prediction``),
digits 0-9 drawn with the mouse (and with a finger on a phone) read right by every network,
every control, no console error, no request leaving the site; and the browser agrees with
the Python library on the same inputs (predictions on all bundled digits, occlusion,
saliency, drawing preparation). A broken copy of the site says what is wrong. Screenshots
go to ``test-artifacts/``.
"""

from __future__ import annotations

import base64
import itertools
import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
import torch
from playwright.sync_api import Frame, Page, expect

from cnnviz.data.drawing import prepare_drawing
from cnnviz.data.sample_digits import read_test_sample
from cnnviz.inspect.occlusion import occlusion
from cnnviz.inspect.saliency import saliency
from cnnviz.models.checkpoint import pretrained
from tests.conftest import serve_directory

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
VARIANTS = {"standard": "nobn", "batchnorm": "bn", "robust": "robust"}  # site id -> shipped
START = 30_000  # ms: ONNX Runtime and one network on a busy 2-core machine
PREDICTION = re.compile(r"^(\d): \d{1,3}\.\d %$")

Stroke = list[tuple[float, float]]


def arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float) -> Stroke:
    """Points along an ellipse from angle ``start`` to ``stop`` (degrees, y pointing down)."""
    angles = [math.radians(start + (stop - start) * i / 24) for i in range(25)]
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in angles]


def line(*corners: tuple[float, float]) -> Stroke:
    """Points along straight segments through ``corners``, 8 per segment."""
    points = [corners[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(corners):
        points += [(x0 + (x1 - x0) * i / 8, y0 + (y1 - y0) * i / 8) for i in range(1, 9)]
    return points


# Handwriting-like digits in the sketchpad's pixels (392 x 392), one list of strokes each.
DIGITS: dict[int, list[Stroke]] = {
    0: [arc(196, 196, 78, 120, -100, 265)],
    1: [line((180, 95), (205, 70), (200, 325))],
    2: [arc(196, 140, 70, 65, 190, 380) + line((262, 160), (130, 320), (285, 318))[1:]],
    3: [arc(190, 130, 62, 58, 200, 450) + arc(190, 252, 72, 66, -90, 150)[1:]],
    4: [line((160, 70), (125, 225), (285, 225)), line((240, 110), (240, 335))],
    5: [line((275, 78), (155, 78), (145, 180)) + arc(192, 248, 75, 70, -125, 150)[1:]],
    6: [line((255, 72), (170, 150), (130, 250)) + arc(192, 258, 62, 60, 180, 540)[1:]],
    7: [line((110, 82), (290, 82), (175, 330))],
    8: [arc(196, 132, 55, 58, 90, 450), arc(196, 262, 68, 64, -90, 270)],
    9: [arc(200, 140, 62, 58, 0, 360), line((262, 140), (252, 330))],
}


def moved(strokes: list[Stroke], scale: float, dx: float, dy: float) -> list[Stroke]:
    """The strokes scaled about the canvas centre, then shifted."""
    return [
        [(196 + (x - 196) * scale + dx, 196 + (y - 196) * scale + dy) for x, y in stroke]
        for stroke in strokes
    ]


# Twenty recorded drawings: the ten digits, and ten smaller, shifted or squeezed ones.
DRAWINGS = list(DIGITS.values()) + [
    moved(DIGITS[d], scale, dx, dy)
    for d, scale, dx, dy in [
        (0, 0.4, -90, -80),
        (1, 0.5, 100, 60),
        (2, 0.7, 30, -40),
        (3, 0.3, 0, 120),
        (4, 1.1, 5, 0),
        (5, 0.55, -100, 100),
        (6, 0.25, 120, -120),
        (7, 0.8, -20, 30),
        (8, 0.45, 90, 90),
        (9, 0.6, -60, 0),
    ]
]


class Recorder:
    """Console errors, uncaught page errors and every request URL of one page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

    def assert_clean(self, base: str) -> None:
        assert self.errors == []
        outside = [u for u in self.requests if not (u.startswith(base) or u.startswith("data:"))]
        assert outside == [], "requests left the site"
        assert any(u.endswith(".wasm") for u in self.requests)  # the recorder saw the page


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread while Chromium computes beside it (two threads fight for the cores:
    the library's occlusion of one digit took 1-2 s instead of 20-80 ms here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def base(web_server) -> str:
    """The site's root URL, ending in a slash."""
    return str(web_server).rstrip("/") + "/"


def open_lab(
    browser, url: str, viewport: dict, *, address: str = "index.html", **options
) -> tuple[Page, Recorder]:
    """A new page on the lab at ``url + address``, started (ONNX Runtime and a network loaded)."""
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    recorder = Recorder(page)
    page.goto(url + address)
    page.wait_for_function("document.body.dataset.ready === 'true'", timeout=START)
    return page, recorder


@pytest.fixture(scope="module")
def laptop(browser, base) -> Iterator[tuple[Page, Recorder]]:
    ARTIFACTS.mkdir(exist_ok=True)
    page, recorder = open_lab(browser, base, LAPTOP)
    yield page, recorder
    page.context.close()


@pytest.fixture(scope="module")
def phone(browser, base) -> Iterator[tuple[Page, Recorder]]:
    ARTIFACTS.mkdir(exist_ok=True)
    page, recorder = open_lab(browser, base, PHONE, has_touch=True, is_mobile=True)
    yield page, recorder
    page.context.close()


def on_screen(
    page: Page, strokes: list[Stroke], *, frame: Frame | None = None
) -> list[list[tuple[float, float]]]:
    """The strokes (sketchpad pixels) in page coordinates of the canvas as it is shown.

    ``frame``: where the sketchpad lives (an embedded lab's iframe); the page by default.
    Bounding boxes are in the top page's coordinates either way.
    """
    where = frame or page
    where.locator("#sketchpad").scroll_into_view_if_needed()
    box = where.locator("#sketchpad").bounding_box()
    side = where.eval_on_selector("#sketchpad", "c => c.width")
    scale = box["width"] / side
    return [[(box["x"] + x * scale, box["y"] + y * scale) for x, y in s] for s in strokes]


def draw_with_mouse(page: Page, strokes: list[Stroke], *, frame: Frame | None = None) -> None:
    """Draw ``strokes`` with the page's mouse on the sketchpad (in ``frame`` if given)."""
    for stroke in on_screen(page, strokes, frame=frame):
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*point)
        page.mouse.up()


def draw_with_finger(page: Page, strokes: list[Stroke]) -> None:
    """Real touch events (Chrome DevTools Protocol), which the page sees as touch pointers."""
    cdp = page.context.new_cdp_session(page)
    for stroke in on_screen(page, strokes):
        for kind, (x, y) in [("touchStart", stroke[0])] + [("touchMove", p) for p in stroke[1:]]:
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def settled(page: Page) -> str:
    """The prediction text once the page has finished computing."""
    page.evaluate("window.cnnvizLab.idle()")
    return page.text_content("#prediction").strip()


def read_digit(page: Page) -> int:
    text = settled(page)
    match = PREDICTION.match(text)
    assert match, f"prediction text {text!r} does not name a digit"
    return int(match.group(1))


def choose_model(page: Page, model_id: str) -> None:
    """Pick a network in the switch; its manifest description shows beside it."""
    page.select_option("#model-select", model_id)
    expect(page.locator("#model-select")).to_be_enabled(timeout=START)
    expect(page.locator("#status")).to_contain_text("Ready", timeout=START)
    entry = page.evaluate("id => window.cnnvizLab.lab.models.find((m) => m.id === id)", model_id)
    assert page.text_content("#model-description") == entry["description"]
    assert page.evaluate("window.cnnvizLab.lab.model.id") == model_id
    assert entry["label"] in page.text_content("#status")


# --- The page as a student uses it -----------------------------------------------------


def test_page_contract(laptop, base):
    page, recorder = laptop
    assert page.eval_on_selector("#sketchpad", "e => e.tagName") == "CANVAS"
    assert page.eval_on_selector("#clear", "e => e.tagName") == "BUTTON"
    assert page.text_content("#prediction").strip() == "Draw a digit to start."
    assert page.get_attribute("#sketchpad", "role") == "img"
    assert page.eval_on_selector("#sketchpad", "e => getComputedStyle(e).touchAction") == "none"
    assert page.locator("#error").is_hidden()
    for view in ["inside-view", "attack-view", "classes-view"]:
        assert page.locator(f"#{view}").count() == 1
    # batches run on the exported logits-only graph (logits.onnx), strokes on the full one
    page.wait_for_function(
        "(s => s.logits !== s.forward)(window.cnnvizLab.lab.sessions())", timeout=START
    )
    outputs = page.evaluate("window.cnnvizLab.lab.sessions().logits.outputNames")
    assert outputs == ["logits"]
    default = page.evaluate("window.cnnvizLab.lab.model")
    assert default["logits"] == f"models/{default['id']}/logits.onnx"
    assert base + default["logits"] in recorder.requests
    assert len(page.evaluate("window.cnnvizLab.lab.sessions().forward.outputNames")) > 1
    manifest = page.evaluate("window.cnnvizLab.lab.manifest")
    link = page.locator("#app-link")
    if manifest["app_url"] is None:
        assert link.is_hidden()
    else:
        assert link.get_attribute("href") == manifest["app_url"]
    page.focus("#tab-draw")  # the tabs answer the arrow keys
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-inside", "aria-selected") == "true"
    assert page.locator("#inside-view").is_visible() and page.locator("#draw-view").is_hidden()
    page.keyboard.press("ArrowLeft")
    assert page.locator("#draw-view").is_visible()
    recorder.assert_clean(base)


def test_drawn_digits_are_read_right_by_every_network(laptop, base):
    page, recorder = laptop
    models = page.eval_on_selector_all("#model-select option", "os => os.map(o => o.value)")
    assert sorted(models) == sorted(VARIANTS)
    readings = {}
    for digit, strokes in DIGITS.items():  # with the mouse, on the default network
        page.click("#clear")
        draw_with_mouse(page, strokes)
        readings["batchnorm", digit] = read_digit(page)
    page.screenshot(path=ARTIFACTS / "web-laptop-drawn-9.png", full_page=True)
    for model_id in set(models) - {"batchnorm"}:  # the same strokes replayed, other networks
        choose_model(page, model_id)
        for digit, strokes in DIGITS.items():
            page.click("#clear")
            page.evaluate("s => window.cnnvizLab.replay(s)", strokes)
            readings[model_id, digit] = read_digit(page)
        page.screenshot(path=ARTIFACTS / f"web-laptop-{model_id}-9.png", full_page=True)
    assert readings == {key: key[1] for key in readings}
    choose_model(page, "batchnorm")
    recorder.assert_clean(base)


def test_prediction_updates_while_drawing(laptop):
    """Mid-stroke (mouse still down) the prediction already shows, once per frame."""
    page, _ = laptop
    page.click("#clear")
    assert settled(page) == "Draw a digit to start."
    stroke = on_screen(page, DIGITS[7])[0]
    page.mouse.move(*stroke[0])
    page.mouse.down()
    for point in stroke[1:]:
        page.mouse.move(*point)
    page.wait_for_timeout(100)  # a few frames, still drawing
    assert PREDICTION.match(settled(page))
    page.mouse.up()
    assert read_digit(page) == 7


def test_clear_random_digit_and_keyboard(laptop, base):
    page, recorder = laptop
    draw_with_mouse(page, DIGITS[8])
    read_digit(page)
    page.click("#clear")
    assert settled(page) == "Draw a digit to start."
    assert page.eval_on_selector("#top3", "e => e.children.length") == 0
    page.focus("#clear")
    page.keyboard.press("Tab")  # the next control is the random digit
    assert page.evaluate("document.activeElement.id") == "random-digit"
    page.keyboard.press("Enter")
    read_digit(page)
    truth = page.text_content("#truth")
    match = re.search(r"true label: (\d)", truth)
    assert match, truth
    index = page.evaluate("window.cnnvizLab.view.state.digitIndex")
    label = page.evaluate(f"window.cnnvizLab.lab.digits.label({index})")
    assert int(match.group(1)) == label
    assert page.eval_on_selector("#top3", "e => e.children.length") == 3
    page.screenshot(path=ARTIFACTS / "web-laptop-random-digit.png", full_page=True)
    draw_with_mouse(page, [line((20, 20), (60, 60))])  # drawing over it: the label goes
    settled(page)
    assert page.text_content("#truth").strip() == ""
    recorder.assert_clean(base)


def test_sliders_change_the_occlusion_map(laptop, base):
    page, recorder = laptop
    page.click("#clear")
    draw_with_mouse(page, DIGITS[2])
    read_digit(page)
    assert page.eval_on_selector("#occlusion-map", "c => [c.width, c.height]") == [13, 13]
    assert "5 x 5" in page.text_content("#occlusion-help")
    page.fill("#patch", "9")
    settled(page)
    assert "9 x 9" in page.text_content("#occlusion-help")
    assert page.eval_on_selector("#occlusion-map", "c => c.width") == 11  # ceil(19 / 2) + 1
    page.fill("#stride", "7")
    settled(page)
    assert page.text_content("#stride-value") == "7"
    assert page.eval_on_selector("#occlusion-map", "c => c.width") == 4  # ceil(19 / 7) + 1
    page.fill("#patch", "3")  # the stride follows the patch down
    settled(page)
    assert page.text_content("#stride-value") == "3"
    assert page.eval_on_selector("#occlusion-map", "c => c.width") == 10
    help_text = page.text_content("#saliency-help")
    assert re.search(r"Largest: \d", help_text), help_text
    page.fill("#patch", "5")
    page.fill("#stride", "2")
    settled(page)
    page.screenshot(path=ARTIFACTS / "web-laptop-maps.png", full_page=True)
    recorder.assert_clean(base)


def boxes(page: Page, *selectors: str) -> list[dict]:
    """Bounding boxes (page coordinates, scrolled to the top) of ``selectors``."""
    page.evaluate("window.scrollTo(0, 0)")
    return [page.locator(selector).bounding_box() for selector in selectors]


def test_draw_view_fits_a_laptop_screen(laptop):
    """On 1366 x 768 the whole Draw view (a test digit with its label, both maps) is on screen
    without scrolling; occlusion and saliency sit side by side."""
    page, _ = laptop
    page.click("#tab-draw")
    page.click("#random-digit")
    read_digit(page)
    view, truth, occluded, salient = boxes(
        page, "#draw-view", "#truth", "#occlusion-map", "#saliency-map"
    )
    assert view["y"] + view["height"] <= LAPTOP["height"]
    assert truth["y"] + truth["height"] <= LAPTOP["height"] and truth["height"] > 0
    assert salient["y"] == occluded["y"] and salient["x"] > occluded["x"] + occluded["width"]
    assert salient["x"] + salient["width"] <= LAPTOP["width"]
    assert min(occluded["width"], salient["width"]) >= 140  # still readable
    page.screenshot(path=ARTIFACTS / "web-laptop-fits.png")


def test_phone_touch_drawing_and_layout(phone, base):
    page, recorder = phone
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the page scrolls sideways on a phone"
    pad = page.locator("#sketchpad").bounding_box()
    assert pad["width"] >= 300 and pad["x"] >= 0 and pad["x"] + pad["width"] <= PHONE["width"]
    draw_with_finger(page, DIGITS[4])
    assert read_digit(page) == 4
    pad, top3, occluded, salient = boxes(
        page, "#sketchpad", "#top3", "#occlusion-map", "#saliency-map"
    )
    assert pad["y"] + pad["height"] < top3["y"]  # stacked: the prediction below the pad
    assert salient["y"] > occluded["y"] + occluded["height"]  # the maps stacked too
    assert min(occluded["width"], salient["width"]) >= 140
    page.screenshot(path=ARTIFACTS / "web-phone-4.png", full_page=True)
    page.wait_for_timeout(600)  # a finger moves to the button (Chromium drops quicker taps)
    page.tap("#clear")
    expect(page.locator("#prediction")).to_have_text("Draw a digit to start.")
    page.tap("#random-digit")
    expect(page.locator("#truth")).to_contain_text("true label")
    read_digit(page)
    recorder.assert_clean(base)


# --- The address: view, network, test digit, embed mode ---------------------------------


def address_of(page: Page) -> dict[str, str]:
    """The query parameters of the page's address now."""
    return dict(parse_qsl(urlsplit(page.url).query))


def test_address_opens_a_view_a_network_and_a_test_digit(browser, base):
    page, recorder = open_lab(
        browser, base, LAPTOP, address="index.html?view=inside&model=robust&digit=17"
    )
    assert page.get_attribute("#tab-inside", "aria-selected") == "true"
    assert page.locator("#inside-view").is_visible() and page.locator("#draw-view").is_hidden()
    assert page.input_value("#model-select") == "robust"
    assert page.evaluate("window.cnnvizLab.lab.model.id") == "robust"
    settled(page)
    state = page.evaluate("(s => [s.source, s.digitIndex])(window.cnnvizLab.view.state)")
    assert state == ["digit", 17]
    label = page.evaluate("window.cnnvizLab.lab.digits.label(17)")
    index = page.evaluate("window.cnnvizLab.lab.digits.index(17)")
    assert f"Test digit #{index} " in page.text_content("#truth")
    assert f"true label: {label}" in page.text_content("#truth")
    assert page.text_content("#inside-note").startswith("Test digit #17")  # the maps show it
    assert page.locator("#inside-maps .map-cell").count() == 32
    assert page.locator("#address-note").is_hidden()
    page.screenshot(path=ARTIFACTS / "web-address-inside-robust-17.png")
    # the address follows the student: tab, network, then the drawing replaces the digit
    page.click("#tab-attack")
    assert address_of(page) == {"view": "attack", "model": "robust", "digit": "17"}
    choose_model(page, "standard")
    settled(page)
    assert address_of(page) == {"view": "attack", "model": "standard", "digit": "17"}
    page.click("#tab-draw")
    assert "true label" in page.text_content("#truth")  # the digit is still shown
    draw_with_mouse(page, [line((20, 20), (60, 60))])  # a stroke over the digit
    settled(page)
    assert address_of(page) == {"view": "draw", "model": "standard"}
    page.click("#clear")
    draw_with_mouse(page, DIGITS[3])
    assert read_digit(page) == 3
    recorder.assert_clean(base)
    page.context.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_embed_mode_hides_the_page_header_and_still_draws(browser, base, viewport):
    address = "index.html?view=draw&embed=1"
    page, recorder = open_lab(browser, base, viewport, address=address)
    for hidden in ["header.top h1", ".intro", "footer"]:
        assert page.locator(hidden).is_hidden(), hidden
    for shown in ["#model-select", "#tab-draw", "#tab-inside", "#sketchpad", "#clear"]:
        assert page.locator(shown).is_visible(), shown
    assert page.locator("#sketchpad").bounding_box()["x"] <= 8  # no outer margin
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    if page.evaluate("window.cnnvizLab.lab.manifest.app_url"):
        assert page.get_attribute("#app-link", "target") == "_top"
    draw_with_mouse(page, DIGITS[7])
    assert read_digit(page) == 7
    page.click("#tab-inside")
    assert page.url == base + address  # embedded: the address stays as the host page set it
    name = "laptop" if viewport is LAPTOP else "phone"
    page.screenshot(path=ARTIFACTS / f"web-embed-{name}.png")
    recorder.assert_clean(base)
    page.context.close()


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("view=sideways&model=nope&digit=1000", ['view "sideways"', 'network "nope"', '"1000"']),
        ("digit=2.5", ['digit "2.5"']),
    ],
)
def test_bad_address_values_are_ignored_with_a_note(browser, base, query, named):
    page, recorder = open_lab(browser, base, LAPTOP, address=f"index.html?{query}")
    note = page.locator("#address-note")
    assert note.is_visible()
    text = note.text_content()
    assert text.startswith("Ignored in the address:") and "\n" not in text
    for words in named:
        assert words in text
    assert page.get_attribute("#tab-draw", "aria-selected") == "true"
    default = page.evaluate("window.cnnvizLab.lab.manifest.default_model")
    assert page.evaluate("window.cnnvizLab.lab.model.id") == default
    assert settled(page) == "Draw a digit to start."
    draw_with_mouse(page, DIGITS[1])
    assert read_digit(page) == 1
    recorder.assert_clean(base)
    page.context.close()


# --- The browser and the Python library on the same inputs -----------------------------


@pytest.fixture(scope="module")
def digits():
    return read_test_sample()  # the site's digits, whether or not MNIST is here


@pytest.mark.parametrize("model_id", sorted(VARIANTS))
def test_all_bundled_digits_agree_with_python(laptop, digits, model_id):
    page, _ = laptop
    count = page.evaluate("window.cnnvizLab.lab.digits.count")
    assert count == len(digits.y) == 1000
    probs = []
    for start in range(0, count, 250):
        probs += page.evaluate(
            "([m, s, n]) => window.cnnvizLab.probabilities(m, s, n)", [model_id, start, 250]
        )
    browser_probs = np.array(probs).reshape(count, -1)
    with torch.no_grad():
        python_probs = pretrained(variant=VARIANTS[model_id]).predict_proba(digits.x).numpy()
    assert (browser_probs.argmax(1) == python_probs.argmax(1)).all()
    assert np.abs(browser_probs - python_probs).max() < 1e-4
    assert (python_probs.argmax(1) == digits.y.numpy()).mean() > 0.95  # real digits, read


def pooling_winners(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per 2x2 max-pooling window of ``(C, H, W)`` maps: which of its 4 values wins, and the gap
    between its two largest values (``(C, H/2, W/2)`` each)."""
    c, h, w = maps.shape
    windows = maps.reshape(c, h // 2, 2, w // 2, 2).transpose(0, 1, 3, 2, 4)
    windows = windows.reshape(c, h // 2, w // 2, 4)
    top2 = np.sort(windows, axis=-1)[..., -2:]
    return windows.argmax(-1), top2[..., 1] - top2[..., 0]


def near_tie_pixels(net, x: torch.Tensor, browser_outputs: dict) -> np.ndarray:
    """``(28, 28)`` bool: input pixels whose gradient may route differently in the browser.

    Max pooling sends the gradient to its window's largest value. Where the browser (wasm
    convolution, another summation order) and torch pick different winners, the top two
    values must be within rounding (asserted), and only pixels in the receptive field of
    the units involved may differ: conv1 rows ``2i - 1 .. 2i + 2`` for a pool1 window,
    ``4i - 3 .. 4i + 6`` for a pool2 window (same for columns).
    """
    with torch.no_grad():
        relu1 = net.relu1(net.conv1(x[None]))
        relu2 = net.relu2(net.conv2_bn(net.conv2(net.pool1(relu1))))
    mask = np.zeros((28, 28), bool)
    for name, ours, (lo, hi) in [("relu1", relu1, (-1, 3)), ("relu2", relu2, (-3, 7))]:
        ours = ours[0].numpy()
        theirs = np.frombuffer(base64.b64decode(browser_outputs[name]), "<f4").reshape(ours.shape)
        assert np.abs(theirs - ours).max() < 1e-4
        winner, gap = pooling_winners(ours)
        active = ours.reshape(ours.shape[0], winner.shape[1], 2, winner.shape[2], 2).max((2, 4)) > 0
        flipped = (winner != pooling_winners(theirs)[0]) & active
        assert (gap[flipped] < 1e-5).all(), "a pooling winner differs without a near-tie"
        stride = 2 if name == "relu1" else 4
        for _, i, j in zip(*np.nonzero(flipped), strict=True):
            rows = slice(max(0, stride * i + lo), stride * i + hi)
            cols = slice(max(0, stride * j + lo), stride * j + hi)
            mask[rows, cols] = True
    return mask


@pytest.mark.parametrize("model_id", sorted(VARIANTS))
def test_occlusion_and_saliency_agree_with_python(laptop, digits, model_id):
    """Occlusion within 1e-4 everywhere; saliency within 1e-4 except where a pooling near-tie
    (top two values within float rounding) routes the gradient to the neighbour."""
    page, _ = laptop
    net = pretrained(variant=VARIANTS[model_id])
    exact_digits = 0
    for i in range(0, 1000, 50):  # 20 digits
        x = digits.x[i]
        target = int(net.predict_proba(x[None]).argmax())
        ours = occlusion(net, x, target, patch=5, stride=2)
        theirs = page.evaluate(
            "([m, x, t]) => window.cnnvizLab.occlusion(m, x, t, 5, 2)",
            [model_id, x.flatten().tolist(), target],
        )
        assert (theirs["ny"], theirs["nx"]) == tuple(ours.probability.shape)
        probability = np.array(theirs["probability"]).reshape(theirs["ny"], theirs["nx"])
        assert np.abs(probability - ours.probability.numpy()).max() < 1e-4
        attribution = np.array(theirs["attribution"]).reshape(28, 28)
        assert np.abs(attribution - ours.attribution.numpy()).max() < 1e-4
        salient = page.evaluate(
            "([m, x, t]) => window.cnnvizLab.saliency(m, x, t)",
            [model_id, x.flatten().tolist(), target],
        )
        expected = saliency(net, x[None], target)[0, 0].numpy()
        assert expected.max() > 1e-3  # a real map, not zeros on both sides
        outputs = page.evaluate(
            "([m, x]) => window.cnnvizLab.forward(m, x, 1)", [model_id, x.flatten().tolist()]
        )["outputs"]
        ties = near_tie_pixels(net, x, outputs)
        wrong = np.abs(np.array(salient).reshape(28, 28) - expected) > 1e-4
        assert not (wrong & ~ties).any()
        exact_digits += not wrong.any()
    assert exact_digits >= 10  # near-ties are the exception (7 of 20 digits, robust network)


def canvas_after(page: Page, strokes: list[Stroke]) -> tuple[np.ndarray, np.ndarray, bool]:
    """The sketchpad's RGBA pixels after drawing ``strokes``, and the page's preparation."""
    page.click("#clear")
    page.evaluate("s => window.cnnvizLab.replay(s)", strokes)
    canvas = page.evaluate("window.cnnvizLab.canvasPixels()")
    rgba = np.frombuffer(base64.b64decode(canvas["rgba"]), dtype=np.uint8)
    rgba = rgba.reshape(canvas["height"], canvas["width"], 4)
    again = page.evaluate(  # the prepare hook on the same bytes gives the same
        "([p, w, h]) => window.cnnvizLab.prepare(p, w, h)",
        [canvas["rgba"], canvas["width"], canvas["height"]],
    )
    assert again["pixels"] == canvas["pixels"] and again["empty"] == canvas["empty"]
    return rgba, np.array(canvas["pixels"]).reshape(28, 28), canvas["empty"]


def test_preparation_matches_python_on_recorded_drawings(laptop):
    page, _ = laptop
    worst = 0.0
    for strokes in DRAWINGS:
        rgba, pixels, empty = canvas_after(page, strokes)
        assert not empty
        expected = prepare_drawing(rgba)
        assert not expected.empty
        worst = max(worst, float(np.abs(pixels - expected.pixels).max()))
        seen = page.evaluate("Array.from(window.cnnvizLab.view.state.pixels)")
        assert np.abs(np.array(seen).reshape(28, 28) - pixels).max() == 0  # the page uses it
    assert worst <= 1 / 255
    rgba, pixels, empty = canvas_after(page, [[(100, 100)]])  # one dot: too little ink?
    assert empty == prepare_drawing(rgba).empty
    assert (rgba[..., :3] < 128).any()  # the dot was drawn
    rgba, pixels, empty = canvas_after(page, [])
    assert empty and prepare_drawing(rgba).empty and not pixels.any()


# --- A broken site says so -------------------------------------------------------------


def break_site(site: Path, copy: Path, how: str) -> Path:
    shutil.copytree(site, copy)
    if how == "corrupt-wasm":
        (copy / "ort" / "ort-wasm-simd-threaded.wasm").write_bytes(b"not webassembly")
    elif how == "missing-model":
        default = __import__("json").loads((copy / "manifest.json").read_text())["default_model"]
        (copy / "models" / default / "forward.onnx").unlink()
    return copy


@pytest.mark.parametrize("how", ["corrupt-wasm", "missing-model", "no-webassembly"])
def test_a_broken_site_says_what_is_wrong(browser, web_site, tmp_path, how):
    folder = break_site(Path(web_site), tmp_path / "site", how)
    with serve_directory(folder) as url:
        context = browser.new_context(viewport=LAPTOP)
        if how == "no-webassembly":
            context.add_init_script("delete globalThis.WebAssembly")
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url + "/index.html")
        error = page.locator("#error")
        expect(error).to_be_visible(timeout=START)
        text = error.text_content()
        expected = {
            "corrupt-wasm": "ONNX Runtime",
            "missing-model": "forward.onnx",
            "no-webassembly": "WebAssembly",
        }[how]
        assert expected in text
        assert page.text_content("#status") == "The lab could not start."
        assert page.locator("#random-digit").is_disabled()
        page.screenshot(path=ARTIFACTS / f"web-broken-{how}.png")
        assert all(u.startswith(url) or u.startswith("data:") for u in requests)
        context.close()


def test_a_missing_network_leaves_the_others_working(browser, web_site, tmp_path):
    folder = break_site(Path(web_site), tmp_path / "site", "intact")
    (folder / "models" / "robust" / "weights.bin").unlink()
    with serve_directory(folder) as url:
        page, _ = open_lab(browser, url + "/", LAPTOP)
        page.select_option("#model-select", "robust")
        expect(page.locator("#error")).to_contain_text("robust", timeout=START)
        assert "weights.bin" in page.text_content("#error")
        expect(page.locator("#model-select")).to_be_enabled()
        assert page.input_value("#model-select") == "batchnorm"
        draw_with_mouse(page, DIGITS[7])
        assert read_digit(page) == 7
        page.screenshot(path=ARTIFACTS / "web-broken-robust.png")
        page.context.close()
