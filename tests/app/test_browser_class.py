"""The app in a class's hands (issue 28): the sequences a student's tour broke, replayed.

Draw then Random then Clear, several times; type into number boxes character by
character; a phone and a laptop; a link that opens a state; Train as a Space visitor,
once where the app can download MNIST (a local mirror on 127.0.0.1 serving the real
files) and once offline. One server per case for the whole module.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from cnnviz.data.sample_digits import read_test_sample
from tests.app.test_app import served_app
from tests.app.test_browser import (
    ARTIFACTS,
    ONE,
    QUICK,
    SEVEN,
    SLOW,
    clear,
    draw,
    expect_images_loaded,
    expect_no_error,
    expect_read_as,
    expect_seen,
    open_page,
    record_texts,
    tab,
)
from tests.conftest import free_port, serve_directory

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
DOT = [[(0, 0), (4, 4)]]


@pytest.fixture(scope="module", params=["fetch", "offline"])
def site(request, tmp_path_factory, mnist_dir) -> Iterator[tuple[str, str]]:
    """``(url, case)``: the app started with no MNIST, where it can download it (from a
    local mirror of the real files) or where it cannot (a closed port)."""
    log = tmp_path_factory.mktemp(request.param) / "server.log"
    if request.param == "fetch":
        with serve_directory(mnist_dir) as mirror, served_app(log, None, f"{mirror}/") as url:
            yield url, request.param
    else:
        with served_app(log, None, f"http://127.0.0.1:{free_port()}/") as url:
            yield url, request.param


def ink_on_canvas(page: Page) -> int:
    """Dark pixels on the sketchpad's canvas as a person sees it (a screenshot)."""
    png = page.locator("#sketchpad canvas").first.screenshot()
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return int((grey[:, 60:] < 80).sum())  # the tool bar on the left is not ink


def expect_canvas_settled(page: Page) -> None:
    """No spinner over the sketchpad: its status tracker is hidden."""
    tracker = page.locator("#sketchpad [data-testid=status-tracker]")
    expect(tracker).to_have_class(re.compile(r"\bhide\b"), timeout=QUICK)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_random_after_a_drawing_shows_the_digit_and_clear_forgets_its_label(
    site, browser, viewport
):
    """Jammed on half the pages before: 8 tries (2 per page, 2 viewports, 2 servers)."""
    page = open_page(browser, site[0], **viewport)
    truth = page.locator("#truth")
    for round_ in range(2):
        draw(page, ONE)
        expect_read_as(page, "1")
        page.locator("#random-digit").click()
        expect(truth).to_contain_text("true label", timeout=QUICK)
        expect_canvas_settled(page)
        # the digit is drawn, not a blank canvas (0): the faintest test digits (10 to 15
        # strong pixels, e.g. #2689) still give over 1,000 dark screen pixels
        assert ink_on_canvas(page) > 500, round_
        expect(page.locator("#message")).to_contain_text("reads", timeout=QUICK)
        clear(page)  # Clear works: no spinner in the way
        expect(truth).not_to_contain_text("true label")  # the loaded digit's label goes too
        assert ink_on_canvas(page) < 200, round_
    draw(page, SEVEN)  # a fresh drawing after Clear: no stale label beside its prediction
    expect_read_as(page, "7")
    expect(truth).not_to_contain_text("true label")
    expect_no_error(page)
    page.close()


@pytest.mark.parametrize("site", ["offline"], indirect=True)  # typing is data-independent
def test_typed_numbers_apply_once_or_are_visibly_corrected(site, browser):
    page = open_page(browser, site[0], **LAPTOP)
    draw(page, SEVEN)
    expect_read_as(page, "7")
    message = page.locator("#message")
    patch = page.get_by_label("number input for Occlusion patch (px)")
    patch.select_text()
    record_texts(page, "#message")
    patch.press_sequentially("12", delay=150)  # 1 is out of range: nothing sent yet
    page.wait_for_timeout(800)
    assert page.evaluate("window.seenTexts['#message'].every(t => !t.includes('must be'))")
    expect(message).to_contain_text("A 5x5 grey patch")
    patch.press("Enter")
    expect(message).to_contain_text("A 12x12 grey patch", timeout=QUICK)
    note = page.locator("#draw-pictures ~ * .cnnviz-corrected, .cnnviz-corrected").first
    for typed, shown, sentence in (("99", "14", "99 became 14"), ("", "14", "kept 14")):
        patch.fill("")
        patch.press_sequentially(typed, delay=100)
        patch.press("Tab")  # leaving the box commits it
        expect(patch).to_have_value(shown)
        expect(note).to_contain_text(sentence)
        expect(note).to_have_count(1)  # one sentence, not one per keystroke
    expect(message).to_contain_text("A 14x14 grey patch", timeout=QUICK)
    expect(page.locator("#prediction")).to_contain_text("7")  # the last result stays
    assert page.locator(".error, [data-testid=error]").count() == 0  # no red Error badge
    tab(page, "Train")
    epochs = page.locator("#train-epochs input[type=number]")
    lr = page.locator("#train-lr input[type=number]")
    for box, typed, shown in ((epochs, "1.5", "2"), (epochs, "-5", "1"), (lr, "0.7", "0.5")):
        box.fill("")
        box.press_sequentially(typed, delay=80)
        box.press("Enter")
        expect(box).to_have_value(shown)
    lr.fill("")
    lr.press("Tab")
    expect(lr).to_have_value("0.5")  # empty: the last good value is kept, and said
    expect(page.locator("#train-lr .cnnviz-corrected")).to_contain_text("kept 0.5")
    page.locator("#train-recipe").get_by_label("report").check()
    expect(lr).to_have_value("0.01")  # the report's learning rate
    expect_no_error(page)
    page.close()


def test_a_link_opens_a_state_and_the_address_follows_the_student(site, browser):
    index = int(read_test_sample().indices[17])  # a digit every server has
    page = open_page(browser, f"{site[0]}?tab=inside&model=robust&digit={index}", **LAPTOP)
    expect(page.get_by_role("tab", name="Inside")).to_have_attribute(
        "aria-selected", "true", timeout=QUICK
    )
    expect(page.get_by_label("robust")).to_be_checked()
    expect(page.locator("#truth")).to_contain_text(f"Loaded test digit #{index}")
    expect(page.locator("#message")).to_contain_text("reads", timeout=QUICK)
    expect_images_loaded(page, "#feature-maps", at_least=32)

    def address() -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}

    tab(page, "Classes")
    page.get_by_label("no batch norm").check()
    page.wait_for_function("() => location.search.includes('model=nobn')", timeout=QUICK)
    assert address() == {"tab": "classvis", "model": "nobn", "digit": str(index)}
    tab(page, "Draw")
    page.locator("#random-digit").click()
    expect(page.locator("#truth")).not_to_contain_text(f"#{index} ", timeout=QUICK)
    shown = re.search(r"#(\d+)", page.locator("#truth").inner_text()).group(1)
    page.wait_for_function(f"() => location.search.includes('digit={shown}')", timeout=QUICK)
    clear(page)
    page.wait_for_function("() => !location.search.includes('digit=')", timeout=QUICK)
    assert address() == {"tab": "draw", "model": "nobn"}
    page.close()


@pytest.mark.parametrize("site", ["offline"], indirect=True)  # layout is data-independent
def test_phone_and_laptop_layout(site, browser):
    phone = open_page(browser, site[0], **PHONE)
    draw(phone, ONE)
    expect_read_as(phone, "1")
    names = ("seen", "occluded", "salient")
    boxes = [phone.locator(f"#{name} img").bounding_box() for name in names]
    assert all(box["width"] >= 224 for box in boxes), boxes  # readable, not 72 px
    assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"], boxes  # stacked
    phone.screenshot(path=str(ARTIFACTS / "class_phone_draw.png"), full_page=True)
    tab(phone, "Inside")
    expect_images_loaded(phone, "#feature-maps", at_least=32)
    gallery = phone.locator("#feature-maps").bounding_box()
    maps = [phone.locator("#feature-maps img").nth(k).bounding_box() for k in range(32)]
    right = gallery["x"] + gallery["width"] + 1
    assert all(gallery["x"] - 1 <= m["x"] and m["x"] + m["width"] <= right for m in maps)
    assert len({round(m["x"]) for m in maps}) == 4  # four columns, none hidden
    phone.screenshot(path=str(ARTIFACTS / "class_phone_inside.png"), full_page=True)
    phone.close()
    laptop = open_page(browser, site[0], **LAPTOP)
    canvas = laptop.locator("#sketchpad canvas").first
    expect(canvas).to_be_visible(timeout=QUICK)
    before = canvas.bounding_box()["y"]
    draw(laptop, ONE)
    expect_read_as(laptop, "1")
    assert abs(canvas.bounding_box()["y"] - before) < 1  # no jump when the prediction shows
    for name in ("seen", "occluded", "salient"):  # most of each picture above the fold
        box = laptop.locator(f"#{name} img").bounding_box()
        assert box["y"] + 0.6 * box["height"] <= LAPTOP["height"], (name, box)
    laptop.screenshot(path=str(ARTIFACTS / "class_laptop_draw.png"))
    clear(laptop)
    draw(laptop, DOT)  # a dot: the network still answers a digit, and the page says why
    expect(laptop.locator("#message")).to_contain_text("does not look like a digit", timeout=QUICK)
    laptop.close()


def test_train_as_a_space_visitor(site, browser):
    page = open_page(browser, site[0], **LAPTOP)
    if site[1] == "fetch":  # the download from the local mirror ends soon after start
        truth = page.locator("#truth")
        for _ in range(60):
            page.locator("#random-digit").click()
            expect(truth).to_contain_text("Loaded test digit", timeout=QUICK)
            if "the MNIST test set (10,000 digits)" in truth.inner_text():
                break
            page.wait_for_timeout(1000)
        expect(truth).to_contain_text("the MNIST test set (10,000 digits)")
        page.close()
        page = open_page(browser, site[0], **LAPTOP)  # a visitor who comes later
    tab(page, "Train")
    epochs = page.locator("#train-epochs input[type=number]")
    batch = page.locator("#train-batch input[type=number]")
    expected = ("1", "128") if site[1] == "fetch" else ("30", "32")  # a run worth watching
    expect(epochs).to_have_value(expected[0], timeout=QUICK)
    expect(batch).to_have_value(expected[1])
    status = page.locator("#train-status")
    record_texts(page, "#train-status")
    page.locator("#train").click()
    expect_seen(page, "#train-status", r"images/s, \d+ s left")
    running = page.evaluate("window.seenTexts['#train-status'].find(t => / s left/.test(t))")
    assert int(re.search(r"(\d+) s left", running).group(1)) >= 3, running  # seconds to watch
    page.locator("#stop-training").click()
    expect(status).to_contain_text("Stopped: test accuracy", timeout=SLOW)
    if site[1] == "fetch":
        expect(status).to_contain_text("the full MNIST (54,000 training digits)")
    else:
        expect(status).to_contain_text("this server could not download the full MNIST")
        expect(status).not_to_contain_text("$CNNVIZ_DATA")
        words = re.compile(r"it (did not reach|reached) 98 % validation")  # words, no null
        expect(status).to_contain_text(words)
        epochs.fill("6")
        epochs.press("Enter")
        page.locator("#race").click()
        lesson = re.compile(r"ahead by \d+\.\d points on 100 test digits; chance alone .* \+/-")
        expect(status).to_contain_text(lesson, timeout=SLOW)
        expect(status).to_contain_text("The report, on the full MNIST")
    expect(page.locator("#train-curves svg.curves polyline").first).to_be_visible()
    expect_no_error(page)
    page.close()


AXE_VERSION = "4.14.1"


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's ``axe.min.js`` from the npm registry (``npm pack``), kept in a cache folder."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnnviz-tests"
    archive = cache / f"axe-core-{AXE_VERSION}.tgz"
    if not archive.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(cache)],
            check=True,
            capture_output=True,
        )
    with tarfile.open(archive) as packed:
        return packed.extractfile("package/axe.min.js").read().decode()


def serious_violations(page: Page, axe: str) -> list[dict]:
    """axe-core's critical and serious violations on the page as it is now."""
    if not page.evaluate("() => 'axe' in window"):
        page.add_script_tag(content=axe)
    page.wait_for_timeout(300)  # the page's accessibility patches run on the next frame
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .filter(v => ["critical", "serious"].includes(v.impact))
            .map(v => ({rule: v.id, where: v.nodes.map(n => n.target.join(" "))}))"""
    )


@pytest.mark.parametrize("site", ["offline"], indirect=True)  # markup is data-independent
def test_axe_core_finds_no_serious_violation_in_several_states(site, browser, axe_source):
    found = {}
    phone = open_page(browser, site[0], **PHONE)
    expect(phone.locator("#sketchpad canvas").first).to_be_visible(timeout=QUICK)
    found["phone, opened"] = serious_violations(phone, axe_source)
    phone.close()
    page = open_page(browser, site[0], **LAPTOP)
    draw(page, SEVEN)
    expect_read_as(page, "7")
    found["laptop, drawn"] = serious_violations(page, axe_source)
    tab(page, "Inside")
    expect_images_loaded(page, "#feature-maps", at_least=32)
    found["inside"] = serious_violations(page, axe_source)
    tab(page, "Transfer")
    found["transfer"] = serious_violations(page, axe_source)
    tab(page, "Train")
    found["train"] = serious_violations(page, axe_source)
    page.close()
    assert all(violations == [] for violations in found.values()), found


@pytest.mark.parametrize("site", ["offline"], indirect=True)  # keys are data-independent
def test_a_keyboard_reaches_an_input_a_channel_and_a_unit(site, browser):
    page = open_page(browser, site[0], **LAPTOP)
    expect(page.locator("#random-digit")).to_be_visible(timeout=QUICK)
    page.locator("#random-digit").focus()
    page.keyboard.press("Enter")  # an input without a mouse
    expect(page.locator("#message")).to_contain_text("reads", timeout=QUICK)
    page.get_by_role("tab", name="Inside").focus()
    page.keyboard.press("Enter")
    expect_images_loaded(page, "#feature-maps", at_least=32)
    page.locator("#feature-maps .thumbnail-item").nth(5).focus()
    page.keyboard.press("Enter")  # opens channel 5
    note = page.locator("#unit-note")
    expect(note).to_contain_text("conv1 channel 5: 28x28 values", timeout=QUICK)
    expect_images_loaded(page, "#unit-map")
    page.locator("#unit-map button:has(img)").focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowUp"):  # from the centre unit (14, 14)
        page.keyboard.press(key)
    expect(page.locator("#unit-map .cnnviz-unit-mark")).to_be_visible()
    page.keyboard.press("Enter")
    expect(note).to_contain_text("conv1[5, 13, 16]", timeout=QUICK)
    expect(page.locator("#unit-figure")).to_contain_text("conv1[5, 13, 16] sees")
    expect_no_error(page)
    page.close()
