"""The app in lab mode: its Draw view is the in-browser lab, in an iframe (``/lab``).

One app server (``python demo/app.py`` with ``CNNVIZ_LAB_SITE`` naming the ``web_site``
fixture's folder) and one browser. Checked as a student uses it, on a 1366x768 laptop
and a 390x844 phone: a drawn 7 is read in the widget, twenty strokes send no request to
the server, the app's model switch changes the widget's network, the attacks and the
Inside tab run on the drawn digit when pressed or opened, Clear leaves nothing stale,
the iframe is as tall as its content (no inner scrollbar), no console error.
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from playwright.sync_api import Frame, Page, expect

from cnnviz.app import handlers, lab_site, session_models, train_handlers
from cnnviz.app.handlers import STALE
from cnnviz.app.inputs import EMPTY_HINT, read_sketch
from cnnviz.cli import main
from cnnviz.data.sample_digits import read_test_sample
from tests.app.test_app import served_app
from tests.web.test_web_browser import (
    DIGITS,
    LAPTOP,
    PHONE,
    START,
    Recorder,
    draw_with_mouse,
    settled,
)

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
SLOW = 90_000  # ms: an attack on a busy 2-core machine
# Twenty short strokes across the sketchpad (its pixels, 392 x 392).
STROKES = [[(40 + 16 * i, 60), (60 + 16 * i, 330)] for i in range(20)]


@pytest.fixture(scope="module")
def app_url(web_site: Path, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("app-lab") / "server.log"
    with served_app(log, None, lab=web_site) as url:
        for _ in range(60):  # the lab is mounted just after the page answers
            if "the Draw view runs in the browser" in log.read_text():
                break
            time.sleep(0.5)
        assert "the Draw view runs in the browser" in log.read_text()
        yield url


def open_app(browser, url: str, viewport: dict, **options) -> tuple[Page, Frame, Recorder]:
    """The app on ``viewport``, its Draw widget started (ONNX Runtime and a network loaded)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_context(viewport=viewport, **options).new_page()
    recorder = Recorder(page)
    page.goto(url)
    # attached, not visible: a link may open another tab first (the widget loads anyway)
    frame = page.wait_for_selector("#lab-frame", state="attached", timeout=START).content_frame()
    frame.wait_for_function("document.body.dataset.ready === 'true'", timeout=START)
    return page, frame, recorder


@pytest.fixture(scope="module")
def laptop(browser, app_url) -> Iterator[tuple[Page, Frame, Recorder]]:
    page, frame, recorder = open_app(browser, app_url, LAPTOP)
    yield page, frame, recorder
    page.context.close()


def draw_seven(page: Page, frame: Frame) -> None:
    """An empty sketchpad, then a 7 drawn with the mouse; the widget reads it."""
    page.get_by_role("tab", name="Draw").click()
    frame.locator("#clear").click()
    draw_with_mouse(page, DIGITS[7], frame=frame)
    assert settled(frame).startswith("7: ")


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def expect_fits(page: Page, frame: Frame) -> None:
    """The iframe is as tall as the lab's content: no element below its bottom edge, no
    inner scrollbar (it would take width), nothing wider than the iframe."""
    page.wait_for_function(
        """() => {
            const frame = document.querySelector('#lab-frame');
            const inner = frame.contentDocument;
            const shown = [...inner.body.querySelectorAll('*')].filter((e) => e.offsetParent);
            const bottom = Math.max(...shown.map((e) => e.getBoundingClientRect().bottom));
            const right = Math.max(...shown.map((e) => e.getBoundingClientRect().right));
            return bottom <= frame.clientHeight + 1 && right <= frame.clientWidth + 1
                && inner.documentElement.clientWidth === frame.clientWidth;
        }""",
        timeout=START,
    )
    assert frame.locator("#saliency-map").is_visible()


def test_a_drawing_is_answered_in_the_browser_with_no_request(laptop, app_url):
    page, frame, recorder = laptop
    draw_seven(page, frame)
    expect(frame.locator("#seen-help")).to_be_visible()
    expect(frame.locator("#occlusion-help")).to_contain_text("Probability of 7")
    expect(frame.locator("#saliency-help")).to_contain_text("logit(7)")
    assert frame.locator("#model-select").is_hidden()  # the app's switch stands for it
    expect_fits(page, frame)
    page.screenshot(path=str(ARTIFACTS / "app_lab_laptop.png"))
    frame.locator("#clear").click()
    settled(frame)
    before = len(recorder.requests)
    draw_with_mouse(page, STROKES, frame=frame)
    assert settled(frame).startswith(tuple(f"{d}: " for d in range(10)))
    page.wait_for_timeout(500)  # a request the last stroke would cause
    assert recorder.requests[before:] == []
    assert recorder.errors == []


def test_the_model_switch_changes_the_widgets_network(laptop):
    page, frame, recorder = laptop
    draw_seven(page, frame)
    for name, lab_id in [("robust", "robust"), ("no batch norm", "standard")]:
        page.locator("#model").get_by_text(name, exact=True).click()
        frame.wait_for_function("id => window.cnnvizLab.lab.model.id === id", arg=lab_id)
        expect(frame.locator("#status")).to_contain_text(f"Ready: the {lab_id} network")
        assert settled(frame).startswith("7: ")
    # "your model" (trained in the Train tab: a token the lab does not know) stays on the
    # server: the widget keeps its network and says so
    page.evaluate("window.cnnvizWidget.model('a-session-token')")
    expect(page.locator(".lab-own-model")).to_be_visible()
    note, widget = page.locator(".lab-own-model").bounding_box(), page.locator("#lab-frame")
    assert note["y"] + note["height"] <= widget.bounding_box()["y"]  # read before the widget
    assert frame.evaluate("window.cnnvizLab.lab.model.id") == "standard"
    page.locator("#model").get_by_text("batch norm", exact=True).click()
    frame.wait_for_function("window.cnnvizLab.lab.model.id === 'batchnorm'")
    expect(page.locator(".lab-own-model")).to_be_hidden()
    assert recorder.errors == []


def test_attacks_and_the_inside_tab_use_the_drawn_digit(laptop):
    page, frame, recorder = laptop
    draw_seven(page, frame)
    tab(page, "FGSM/PGD")
    summary = page.locator("#gradient-summary")
    expect(summary).to_contain_text(STALE.strip("*")[:20])  # cleared in the browser
    for method in ("FGSM", "PGD-40"):
        page.get_by_test_id(f"{method}-radio-label").click()
        page.locator("#gradient").click()
        expect(summary).to_contain_text(f"{method} with budget", timeout=SLOW)
        expect(summary).to_contain_text("read as 7 ->")
    tab(page, "Targeted")
    page.locator("#targeted").click()
    expect(page.locator("#targeted-summary")).to_contain_text("p(8) =", timeout=SLOW)
    panel = page.locator("#targeted-image").locator("xpath=..")  # its row: before, after
    tops = panel.locator('[data-testid="label-output-value"]').all_text_contents()
    assert [top.strip() for top in tops] == ["7", "8"]  # the drawn 7, made to read as 8
    tab(page, "Inside")
    expect(page.locator("#maps-note")).to_contain_text("conv1: 32 maps of 28x28", timeout=SLOW)
    expect(page.locator("#feature-maps img").first).to_be_visible()
    toolbar = re.compile("download|full|share", re.IGNORECASE)  # it covered the label on phones
    assert page.locator("#unit-map").get_by_role("button", name=toolbar).count() == 0
    tab(page, "Draw")
    assert settled(frame).startswith("7: ")  # the widget kept its drawing meanwhile
    assert recorder.errors == []


def test_clear_then_attack_says_there_is_no_drawing(laptop):
    page, frame, recorder = laptop
    draw_seven(page, frame)
    frame.locator("#clear").click()
    assert settled(frame) == "Draw a digit to start."
    tab(page, "FGSM/PGD")
    summary = page.locator("#gradient-summary")
    expect(summary).to_contain_text("Cleared")
    page.locator("#gradient").click()
    expect(summary).to_contain_text(EMPTY_HINT, timeout=SLOW)
    assert page.locator("#gradient-image img").count() == 0
    tab(page, "Inside")
    expect(page.locator("#maps-note")).to_contain_text(re.compile("Draw a digit"), timeout=SLOW)
    assert page.locator('[data-testid="toast-body"]').count() == 0
    assert recorder.errors == []
    tab(page, "Draw")


def test_phone_draws_in_the_widget_and_it_fits(browser, app_url):
    page, frame, recorder = open_app(browser, app_url, PHONE, has_touch=True, is_mobile=True)
    try:
        draw_with_mouse(page, DIGITS[7], frame=frame)
        assert settled(frame).startswith("7: ")
        expect_fits(page, frame)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the page scrolls sideways"
        page.screenshot(path=str(ARTIFACTS / "app_lab_phone.png"), full_page=True)
        assert recorder.errors == []
    finally:
        page.context.close()


def test_no_lab_asks_for_the_servers_sketchpad(monkeypatch):
    """``cnnviz demo --no-lab`` sets ``CNNVIZ_LAB=0``, which :mod:`cnnviz.app.lab_site` reads
    (a stand-in app: no server)."""
    monkeypatch.setenv("CNNVIZ_LAB", "1")
    calls = []
    app = types.ModuleType("cnnviz.app")
    app.main = lambda **kwargs: calls.append(os.environ["CNNVIZ_LAB"])
    monkeypatch.setitem(sys.modules, "cnnviz.app", app)
    assert main(["demo", "--no-lab"]) == 0
    assert calls == ["0"] and not lab_site.wanted() and lab_site.lab_site() is None


def test_the_lab_reads_its_site_from_the_environment(monkeypatch, web_site, tmp_path):
    monkeypatch.setenv("CNNVIZ_LAB", "1")
    monkeypatch.setenv("CNNVIZ_LAB_SITE", str(web_site))
    assert lab_site.lab_site() == web_site
    monkeypatch.setenv("CNNVIZ_LAB_SITE", str(tmp_path))  # no exported lab there
    assert lab_site.lab_site() is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("not json", "not JSON"),
        ('{"strokes": []}', 'no "pixels"'),
        (json.dumps({"pixels": [0.5] * 783}), "expected 784 pixel values"),
        (json.dumps({"pixels": [0.5] * 783 + [1.5]}), "finite and in [0, 1]"),
        ('{"pixels": [' + ",".join(["0.5"] * 783 + ["NaN"]) + "]}", "finite and in [0, 1]"),
        (json.dumps({"pixels": ["a"] * 784}), "not numbers"),
    ],
)
def test_a_bad_drawing_from_the_widget_is_refused_with_a_reason(value, why):
    x, message = read_sketch(value)
    assert x is None and message.startswith("Could not read the drawing") and why in message


def test_the_widgets_drawing_is_the_model_input_the_lab_prepared():
    """A test digit's pixels, as the lab sends them, are read as that digit; a cleared or
    untouched widget is an empty drawing."""
    digits = read_test_sample()
    pixels = (digits.x[0, 0] + 1) / 2  # intensities in [0, 1], as the lab's
    x, message = read_sketch(json.dumps({"pixels": pixels.flatten().tolist()}))
    assert message == "" and x.shape == (1, 1, 28, 28)
    assert torch.allclose(x, digits.x[:1], atol=1e-6)
    label = handlers.probabilities(handlers.model("batch norm"), x)
    assert max(label, key=label.get) == str(int(digits.y[0]))
    for empty in ("", json.dumps({"pixels": None}), json.dumps({"pixels": [0] * 784})):
        assert read_sketch(empty) == (None, EMPTY_HINT)


def test_the_lab_is_exported_once_into_the_cache(tmp_path):
    """The first start exports the lab into a folder named after what it is made of; the
    next start finds it there and exports nothing."""
    folder = lab_site.cached_site(tmp_path)
    assert folder == tmp_path / lab_site.site_key() and lab_site.is_site(folder)
    assert json.loads((folder / "manifest.json").read_text())["default_model"] == "batchnorm"
    made = (folder / "manifest.json").stat().st_mtime_ns
    assert lab_site.cached_site(tmp_path) == folder
    assert (folder / "manifest.json").stat().st_mtime_ns == made
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no partial export left


def test_without_the_runtime_the_app_keeps_its_sketchpad(monkeypatch, tmp_path, caplog):
    """No ONNX Runtime Web tarball (offline, empty cache, a registry that does not answer):
    one log line says why, nothing half-made stays in the cache, the app falls back."""
    from tests.conftest import free_port

    monkeypatch.setenv("CNNVIZ_LAB", "1")
    monkeypatch.delenv("CNNVIZ_LAB_SITE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CNNVIZ_NPM_REGISTRY", f"http://127.0.0.1:{free_port()}/")
    assert lab_site.lab_site() is None
    assert "in-browser lab unavailable" in caplog.text
    assert not any(path.name.startswith(lab_site.site_key()) for path in tmp_path.rglob("*"))


def test_a_link_naming_a_test_digit_loads_it_in_the_widget(browser, app_url):
    """``?digit=N`` (an MNIST test index, as the app's links name it) opens that digit in the
    widget when the bundled digits hold it; with ``tab=inside`` that tab shows its maps (it
    opened before the widget had the digit). A digit not bundled: the widget says so, and
    the Inside tab shows no other drawing."""
    digits = read_test_sample()
    index, label = int(digits.indices[5]), int(digits.y[5])
    page, frame, recorder = open_app(browser, f"{app_url}?tab=inside&digit={index}", LAPTOP)
    try:
        expect(frame.locator("#truth")).to_contain_text(f"#{index}", timeout=START)
        expect(frame.locator("#truth")).to_contain_text(f"true label: {label}")
        expect(page.locator("#maps-note")).to_contain_text("conv1: 32 maps", timeout=SLOW)
        expect(page.locator("#feature-maps img").first).to_be_visible()
        assert recorder.errors == []
    finally:
        page.context.close()
    missing = min(set(range(10_000)) - {int(i) for i in digits.indices})
    page, frame, recorder = open_app(browser, f"{app_url}?tab=inside&digit={missing}", LAPTOP)
    try:
        expect(frame.locator("#truth")).to_contain_text(f"#{missing} is not among the")
        expect(page.locator("#maps-note")).to_contain_text("Draw a digit", timeout=SLOW)
        expect(page.locator("#unit-note")).to_contain_text("Draw a digit")
        assert recorder.errors == []
    finally:
        page.context.close()


def test_the_train_status_promises_only_what_your_model_does_in_lab_mode(without_data):
    """After training, the status sends the student to the switch for the Inside and attack
    tabs, not to draw on their model (the lab's Draw view keeps the shipped networks)."""
    train_handlers.live_data.cache_clear()
    try:
        *_, (_, _, status, _, _) = train_handlers.train_live("fast", True, 1, 0.1, 64, "erin")
    finally:
        train_handlers.live_data.cache_clear()
        session_models.forget_session("erin")
    assert status.startswith("Done: test accuracy")
    assert "open its neurons or attack your drawing with it" in status
    assert "draw on it" not in status
