"""The app in a real browser, as a student uses it: with MNIST on the machine and without.

Draws with the mouse (never picking the brush first), presses every button in every tab
and checks what a person sees: a prediction, images that loaded, sizes and
probabilities in the text, attack results cleared when the drawing changes, no error
toast. Also a 390x844 phone. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.app.test_app import probabilities_in, served_app

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
ONE = [[(0, -100), (0, 100)]]
SEVEN = [[(-80, -100), (80, -100), (-20, 110)]]
SLOW = 60_000  # ms: attacks and class images on a busy 2-core machine
QUICK = 20_000


@pytest.fixture(scope="module", params=["data", "no-data"])
def site(request, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """``(url, name)`` of the app served with MNIST, or with no data anywhere."""
    data = request.getfixturevalue("mnist_dir") if request.param == "data" else None
    log = tmp_path_factory.mktemp(request.param) / "server.log"
    with served_app(log, data) as url:
        yield url, request.param


def open_page(browser, url: str, **viewport) -> Page:
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 1000})
    page.goto(url, wait_until="load")
    return page


@pytest.fixture
def page(site, browser) -> Iterator[Page]:
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_page(browser, site[0])
    yield page
    page.close()


def draw(page: Page, strokes: list[list[tuple[float, float]]]) -> None:
    """Drag the mouse along each stroke (offsets from the canvas centre), no tool picked."""
    brush = page.locator('#sketchpad button[aria-label="Brush"]')
    expect(brush).to_have_class(re.compile("highlight"), timeout=QUICK)  # active by itself
    box = page.locator("#sketchpad canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for stroke in strokes:
        page.mouse.move(cx + stroke[0][0], cy + stroke[0][1])
        page.mouse.down()
        for dx, dy in stroke[1:]:
            page.mouse.move(cx + dx, cy + dy, steps=5)
        page.mouse.up()


def clear(page: Page) -> None:
    page.locator("#sketchpad").get_by_role("button", name="Clear canvas").click()
    expect(page.locator("#message")).to_contain_text("Draw a digit", timeout=QUICK)


def expect_read_as(page: Page, digit: str) -> None:
    expect(page.locator("#message")).to_contain_text(f"reads {digit}", timeout=QUICK)
    expect(page.locator("#verdict")).to_contain_text(f"Prediction: {digit}")
    expect(page.locator("#prediction")).to_contain_text(digit)


def expect_images_loaded(page: Page, selector: str, at_least: int = 1) -> None:
    """Every ``<img>`` under ``selector`` has arrived and decoded (naturalWidth > 0)."""
    images = page.locator(f"{selector} img")
    expect(images.nth(at_least - 1)).to_be_visible(timeout=SLOW)
    for image in images.all():  # lazy images load once on screen
        image.scroll_into_view_if_needed()
    page.wait_for_function(
        "s => [...document.querySelectorAll(s + ' img')].every(i => i.complete)", arg=selector
    )
    widths = images.evaluate_all("(all) => all.map(i => i.naturalWidth)")
    assert len(widths) >= at_least and min(widths) > 0, (selector, widths)


def expect_no_error(page: Page) -> None:
    assert page.locator('[data-testid="toast-body"]').count() == 0


def record_texts(page: Page, selector: str) -> None:
    """Keep every text the element shows from now on (a short run may show one briefly)."""
    page.evaluate(
        """s => {
            const element = document.querySelector(s);
            const seen = ((window.seenTexts ??= {})[s] = [element.textContent]);
            new MutationObserver(() => seen.push(element.textContent)).observe(
                element, {subtree: true, childList: true, characterData: true});
        }""",
        selector,
    )


def expect_seen(page: Page, selector: str, pattern: str, timeout: int = QUICK) -> None:
    """The element recorded by :func:`record_texts` has shown a text matching ``pattern``."""
    page.wait_for_function(
        "([s, p]) => window.seenTexts[s].some(text => new RegExp(p).test(text))",
        arg=[selector, pattern],
        timeout=timeout,
    )


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def shot(page: Page, site: tuple[str, str], name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{site[1]}_{name}.png"), full_page=True)


def test_brush_is_active_at_open_and_after_clear(page, site):
    draw(page, ONE)
    expect_read_as(page, "1")
    for picture in ("#seen", "#occluded", "#salient"):
        expect_images_loaded(page, picture)
    expect(page.locator("#message")).to_contain_text("colour scale 0-100 %")
    shot(page, site, "draw_1")
    clear(page)
    draw(page, SEVEN)
    expect_read_as(page, "7")
    patch = page.get_by_label("number input for Occlusion patch (px)")
    patch.fill("9")
    patch.press("Enter")  # a typed value applies
    expect(page.locator("#message")).to_contain_text("A 9x9 grey patch", timeout=QUICK)
    shot(page, site, "draw_7")
    expect_no_error(page)


def test_random_digit_shows_prediction_and_keeps_its_label(page, site):
    page.locator("#random-digit").click()
    source = "the MNIST test set" if site[1] == "data" else "a bundled sample of 1,000"
    truth = page.locator("#truth")
    expect(truth).to_contain_text(source, timeout=QUICK)
    expect(page.locator("#message")).to_contain_text("reads", timeout=QUICK)
    expect(page.locator("#verdict")).to_contain_text("Prediction:")
    expect_images_loaded(page, "#seen")
    label = re.search(r"true label: (\d)", truth.inner_text()).group(1)
    draw(page, ONE)  # the student draws over the digit: the label stays, said to be its own
    expect(page.locator("#message")).to_contain_text("reads", timeout=QUICK)
    expect(truth).to_contain_text(f"true label: {label} (the label of the loaded digit")
    expect_no_error(page)


def test_inside_tab_layers_and_galleries(page, site):
    draw(page, SEVEN)
    expect_read_as(page, "7")
    tab(page, "Inside")
    expect(page.locator("#maps-note")).to_contain_text("conv1: 32 maps of 28x28", timeout=QUICK)
    expect_images_loaded(page, "#feature-maps", at_least=32)
    gallery = page.locator("#feature-maps").bounding_box()
    last = page.locator("#feature-maps img").nth(31).bounding_box()
    assert last["y"] + last["height"] <= gallery["y"] + gallery["height"] + 1  # not clipped
    page.get_by_label("no batch norm").check()
    expect(page.locator("#message")).to_contain_text("reads 7", timeout=QUICK)
    page.get_by_label("Layer", exact=True).click()
    options = page.get_by_role("option").all_inner_texts()
    assert "pool2" in options and "conv2_bn" not in options
    page.get_by_role("option", name="pool2").click()
    expect(page.locator("#maps-note")).to_contain_text("pool2: 32 maps of 7x7", timeout=QUICK)
    shot(page, site, "tab_inside")
    expect_no_error(page)


def click_at(page: Page, selector: str, x: float, y: float) -> None:
    """Click the image under ``selector`` at fractions ``x``, ``y`` of its width and height."""
    image = page.locator(f"{selector} img")
    image.scroll_into_view_if_needed()
    box = image.bounding_box()
    page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])


def test_inside_a_neuron_a_unit_a_pooled_unit_and_a_class(page, site):
    draw(page, SEVEN)
    expect_read_as(page, "7")
    tab(page, "Inside")
    expect_images_loaded(page, "#feature-maps", at_least=32)
    page.locator("#feature-maps img").nth(5).click()  # open channel 5
    note = page.locator("#unit-note")
    expect(note).to_contain_text("conv1 channel 5: 28x28 values", timeout=QUICK)
    expect_images_loaded(page, "#unit-map")
    click_at(page, "#unit-map", 0.52, 0.41)  # pixel (x 146, y 115) of 280: unit (11, 14)
    expect(note).to_contain_text("conv1[5, 11, 14]", timeout=QUICK)
    expect(note).to_contain_text("the forward pass")
    expect(note).to_contain_text("it sees rows 10-12, columns 13-15 of the drawing")
    view = page.locator("#unit-figure")
    expect(view).to_contain_text("conv1[5, 11, 14] sees")
    expect(view.locator("table")).to_have_count(4)  # window, kernel, products, pooling
    expect(view.locator("td")).to_have_count(3 * 9 + 4)
    expect(view).to_contain_text("rows 10-12, columns 13-15")
    expect_images_loaded(page, "#unit-figure")  # the drawing, the field outlined on it
    shot(page, site, "tab_inside_unit")
    page.get_by_label("Layer", exact=True).click()
    page.get_by_role("option", name="pool2").click()
    expect(note).to_contain_text("pool2 channel 5: 7x7 values", timeout=QUICK)
    click_at(page, "#unit-map", 0.5, 0.5)  # pooled unit (3, 3): opens the conv2 unit kept
    expect(note).to_contain_text(re.compile(r"conv2\[5, [67], [67]\]"), timeout=QUICK)
    expect(note).to_contain_text("max pooling kept")
    expect(view.locator(".pushes > div").first).to_contain_text("pool1 channel")
    expect(view.locator("td.kept")).to_have_count(1)
    page.locator('#prediction [data-testid="7-confidence-set"]').click()  # the row of 7
    expect(note).to_contain_text("Logit of class 7", timeout=QUICK)
    expect(view).to_contain_text("class 7 (fc2) sees")
    expect(view.locator(".pushes > div").first).to_contain_text("fc1 ")
    expect(page.get_by_role("tab", name="Inside")).to_have_attribute("aria-selected", "true")
    expect_no_error(page)


def test_what_a_channel_looks_for(page, site):
    draw(page, SEVEN)
    expect_read_as(page, "7")
    tab(page, "Inside")
    expect_images_loaded(page, "#feature-maps", at_least=32)
    page.locator("#channel-look").click()
    source = "the MNIST test set" if site[1] == "data" else "a bundled sample"
    looked = page.locator("#channel-note")
    expect(looked).to_contain_text(source, timeout=SLOW)
    expect(looked).to_contain_text("plain ascent")
    expect_images_loaded(page, "#channel-examples", at_least=8)
    expect_images_loaded(page, "#channel-plain")
    expect_images_loaded(page, "#channel-readable")
    shot(page, site, "tab_inside_channel")
    expect_no_error(page)


def test_readable_class_images(page, site):
    tab(page, "Classes")
    page.locator("#grow-readable").click()
    status = page.locator("#readable-status")
    expect(status).to_contain_text("10 of 10 read as their class at p >= 0.9", timeout=SLOW)
    expect_images_loaded(page, "#readable-images", at_least=10)
    captions = page.locator("#readable-images").get_by_text(re.compile(r"p = ")).all_inner_texts()
    assert len(captions) == 10 and min(probabilities_in(captions)) >= 0.9, captions
    shot(page, site, "tab_classes_readable")
    expect_no_error(page)


def test_the_robust_network_is_a_choice_of_the_model_switch(page):
    draw(page, SEVEN)
    expect_read_as(page, "7")
    page.get_by_label("robust").check()
    expect(page.locator("#message")).to_contain_text("reads 7", timeout=QUICK)
    expect_no_error(page)


def test_class_images_all_and_one(page, site):
    tab(page, "Classes")
    page.get_by_role("button", name="Grow from noise").click()
    expect(page.locator("#class-status")).to_contain_text("10 of 10 reached", timeout=SLOW)
    expect_images_loaded(page, "#class-sure", at_least=10)
    captions = page.locator("#class-sure").get_by_text(re.compile(r"p = ")).all_inner_texts()
    assert len(captions) == 10 and min(probabilities_in(captions)) >= 0.99, captions
    expect(page.locator("#class-failed")).to_be_hidden()
    expect_images_loaded(page, "#class-curve")
    shot(page, site, "tab_classes")
    page.get_by_label("Class", exact=True).click()
    page.get_by_role("option", name="3", exact=True).click()
    page.get_by_role("button", name="Grow from noise").click()
    expect(page.locator("#class-status")).to_contain_text("1 of 1 reached", timeout=SLOW)
    image = page.locator("#class-sure img")
    expect(image).to_have_count(1)
    box = image.bounding_box()
    width = page.locator("#class-sure").bounding_box()["width"]
    assert 150 < box["width"] < width / 3 and abs(box["height"] - box["width"]) < 10, box
    shot(page, site, "tab_classes_one")
    expect_no_error(page)


ATTACKS = [("Targeted", "targeted", "Success: p(8)"), ("FGSM/PGD", "gradient", "FGSM with budget")]


def test_attack_results_show_sizes_and_clear_when_the_drawing_changes(page, site):
    draw(page, SEVEN)
    expect_read_as(page, "7")
    for name, prefix, done in ATTACKS:
        tab(page, name)
        page.locator(f"#{prefix}").click()
        summary = page.locator(f"#{prefix}-summary")
        expect(summary).to_contain_text(done, timeout=SLOW)
        expect(summary).to_contain_text(re.compile(r"\(L-inf\) 0\.\d{3}, L2 size \d+\.\d{3}"))
        expect_images_loaded(page, f"#{prefix}-image")
        expect_images_loaded(page, f"#{prefix}-change")
        shot(page, site, f"tab_{prefix}")
    assert "invisible" not in page.content()
    draw(page, [[(60, -60), (60, 60)]])  # the drawing changes: both old results go
    for name, prefix, _ in ATTACKS:
        tab(page, name)
        stale = "Cleared: the drawing or the model changed"
        expect(page.locator(f"#{prefix}-summary")).to_contain_text(stale, timeout=QUICK)
        expect(page.locator(f"#{prefix}-image img")).to_have_count(0)
    expect_no_error(page)


def test_noise_transfer(page, site):
    tab(page, "Transfer")
    page.get_by_role("button", name="Learn noise and transfer it").click()
    source = "the MNIST test set" if site[1] == "data" else "a bundled sample"
    expect(page.locator("#transfer-note")).to_contain_text(source, timeout=SLOW)
    expect_images_loaded(page, "#transfer")
    shot(page, site, "tab_transfer")
    expect_no_error(page)


@pytest.mark.parametrize("site", ["no-data"], indirect=True)  # layout is data-independent
def test_phone_sees_the_prediction_while_drawing_and_every_tab(site, browser):
    page = open_page(browser, site[0], width=390, height=844)
    draw(page, ONE)
    expect(page.locator("#verdict")).to_contain_text("Prediction: 1", timeout=QUICK)
    verdict = page.locator("#verdict").bounding_box()
    canvas = page.locator("#sketchpad canvas").first.bounding_box()
    assert verdict["y"] >= 0 and canvas["y"] + canvas["height"] <= 844  # both on screen
    page.screenshot(path=str(ARTIFACTS / "phone_draw.png"))
    for name in ["Draw", "Inside", "Classes", "Targeted", "FGSM/PGD", "Transfer", "Train"]:
        button = page.get_by_role("tab", name=name)
        expect(button).to_be_visible()  # no tab hides behind a menu
        button.click()
        expect(button).to_have_attribute("aria-selected", "true")
        slug = name.split("/")[0].lower()
        page.screenshot(path=str(ARTIFACTS / f"phone_tab_{slug}.png"), full_page=True)
    page.close()


def test_train_your_own_model_use_it_and_race_it(page, site, browser):
    tab(page, "Train")
    record_texts(page, "#train-status")
    page.locator("#train").click()
    status = page.locator("#train-status")
    expect_seen(page, "#train-status", "images/s")  # live, while training
    expect(page.locator("#train-curves svg.curves polyline").first).to_be_visible()
    expect_images_loaded(page, "#train-filters")
    # the first validation (800 sample digits may be done by then)
    expect(status).to_contain_text(re.compile("validation|Done: test"), timeout=SLOW)
    page.locator("#stop-training").click()
    expect(status).to_contain_text(re.compile("(Stopped|Done): test accuracy"), timeout=SLOW)
    expect(status).to_contain_text("the report: 98.97 %")
    source = "the full MNIST" if site[1] == "data" else "800 to train on"
    expect(status).to_contain_text(source)
    expect(status).to_contain_text(re.compile(r"it (did not reach|reached) 98 % validation"))
    expect(page.locator("#train-curves")).to_contain_text("batch norm: validation")
    shot(page, site, "tab_train")
    other = open_page(browser, site[0])  # another student's session
    try:
        expect(other.get_by_label("robust")).to_be_visible(timeout=QUICK)
        assert other.get_by_label("your model").count() == 0
    finally:
        other.close()
    page.get_by_label("your model").check()
    tab(page, "Draw")
    draw(page, SEVEN)
    expect(page.locator("#message")).to_contain_text("The network reads", timeout=QUICK)
    expect_no_error(page)
    tab(page, "Train")
    page.locator("#race").click()
    # 800 sample digits train in seconds: the race may be over before Stop is pressed
    expect(status).to_contain_text(re.compile("no batch norm: (step|test)"), timeout=QUICK)
    page.locator("#stop-training").click()  # training ends after its step; the test set
    expect(status).to_contain_text("no batch norm: test", timeout=SLOW)  # is then measured
    expect(status).to_contain_text("chance alone moves such a gap")  # the race's lesson
    expect_no_error(page)


def test_two_sessions_train_at_once_a_third_waits_in_a_visible_queue(site, browser):
    pages = [open_page(browser, site[0]) for _ in range(3)]
    try:
        for student in pages:
            tab(student, "Train")
            if site[1] == "no-data":  # 800 digits: the longest run the controls allow
                student.locator("#train-recipe").get_by_label("report").check()
                for control, value in (("#train-epochs", "3"), ("#train-batch", "16")):
                    field = student.locator(f"{control} input[type=number]")
                    field.fill(value)
                    field.press("Enter")
            record_texts(student, "#train-status")
            record_texts(student, "#train-curves")
        for student in pages:
            student.locator("#train").click()
        first, second, third = pages
        for student in (first, second):
            expect_seen(student, "#train-status", "images/s")
        expect_seen(third, "#train-curves", r"queue: \d+/\d+")
        if site[1] == "data":  # runs of seconds: the queue is still on screen
            shot(third, site, "tab_train_queued")
        ended = "Stopped" if site[1] == "data" else "(Stopped|Done)"  # 800 digits: ~1 s
        for student in (first, second):
            student.locator("#stop-training").click()
        for student in (first, second):
            expect(student.locator("#train-status")).to_contain_text(
                re.compile("(Stopped|Done): test accuracy"), timeout=SLOW
            )
        expect_seen(third, "#train-status", "images/s", timeout=SLOW)
        third.locator("#stop-training").click()
        expect(third.locator("#train-status")).to_contain_text(re.compile(ended), timeout=SLOW)
        tokens = [s.get_by_label("your model").get_attribute("value") for s in pages]
        assert len(set(tokens)) == 3 and all(t.startswith("yours-") for t in tokens), tokens
        for student in pages:
            expect_no_error(student)
    finally:
        for student in pages:
            student.close()
