"""``cnnviz demo --model teachernet:build --weights net.safetensors`` in a real browser.

pytorch/examples' MNIST ``Net``, trained (the ``teacher_weights`` fixture), served as a
teacher starts it from their folder. A digit drawn with the mouse is read right; every
tab's button is pressed and its visible result read; the same on a phone. Screenshots go
to ``test-artifacts/own_net_*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.app.test_app_own import served_demo
from tests.app.test_browser import (
    ARTIFACTS,
    ONE,
    QUICK,
    SEVEN,
    SLOW,
    draw,
    expect_images_loaded,
    expect_no_error,
    tab,
)

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site(tmp_path_factory, teachernet_dir, teacher_weights) -> Iterator[str]:
    log = tmp_path_factory.mktemp("own-net") / "server.log"
    options = ("--model", "teachernet:build", "--weights", str(teacher_weights))
    with served_demo(log, teachernet_dir, *options) as url:
        yield url


def opened(browser, url: str, viewport: dict) -> Page:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport=viewport)
    page.goto(url, wait_until="load")
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"own_net_{name}.png"), full_page=True)


def expect_read_as(page: Page, digit: str) -> None:
    expect(page.locator("#message")).to_contain_text(f"The model reads {digit} ", timeout=QUICK)
    expect(page.locator("#verdict")).to_contain_text(f"Prediction: {digit}")
    expect(page.locator("#prediction")).to_contain_text(digit)


def test_drawn_digits_are_read_and_every_tab_answers(browser, site):
    page = opened(browser, site, LAPTOP)
    expect(page.locator("h1")).to_contain_text("teachernet:build with")
    expect(page.locator("#message")).to_contain_text("Draw in the box")
    draw(page, ONE)
    expect_read_as(page, "1")
    for picture in ("#seen", "#occluded", "#salient"):
        expect_images_loaded(page, picture)
    shot(page, "draw_1")
    page.locator("#sketchpad").get_by_role("button", name="Clear canvas").click()
    expect(page.locator("#message")).to_contain_text("Draw in the box", timeout=QUICK)
    draw(page, SEVEN)
    expect_read_as(page, "7")
    patch = page.get_by_label("number input for Occlusion patch (px)")
    patch.fill("9")
    patch.press("Enter")
    expect(page.locator("#message")).to_contain_text("A 9x9 grey patch", timeout=QUICK)

    tab(page, "Inside")
    expect(page.locator("#own-inside-maps img")).to_have_count(32, timeout=SLOW)  # conv1
    page.locator("#own-inside-maps img").nth(4).click()
    expect(page.locator("#own-inside-map-note")).to_contain_text("channel 4", timeout=SLOW)
    expect_images_loaded(page, "#own-inside-map")
    channel = page.locator("#own-inside-channel input")  # typed: the page's checks apply
    channel.fill("9")
    channel.press("Enter")
    expect(page.locator("#own-inside-map-note")).to_contain_text("channel 9", timeout=SLOW)
    channel.fill("99")  # conv1 has 32 channels
    channel.press("Enter")
    expect(page.get_by_text("Channel must be from 0 to 31: 99 became 31.")).to_be_visible()
    expect(page.locator("#own-inside-map-note")).to_contain_text("channel 31", timeout=SLOW)
    page.get_by_text("Fully connected units and class scores").click()
    page.locator("#own-inside-fc-open").click()
    expect(page.locator("#own-inside-unit")).to_contain_text("fc2", timeout=SLOW)
    page.get_by_text("What this channel looks for").click()
    page.locator("#own-inside-grow").click()
    expect_images_loaded(page, "#own-inside-grown")
    shot(page, "inside")

    tab(page, "Classes")
    page.get_by_label("Class", exact=True).click()
    page.get_by_role("option", name="3", exact=True).click()
    page.locator("#grow").click()
    expect(page.locator("#class-images")).to_contain_text("3: p = ", timeout=SLOW)
    expect(page.locator("#class-status")).to_contain_text("of 1", timeout=SLOW)
    expect_images_loaded(page, "#class-images")
    shot(page, "classes")

    tab(page, "Targeted")
    page.locator("#targeted").click()
    expect(page.locator("#targeted-summary")).to_contain_text("p(1) = ", timeout=SLOW)
    expect(page.locator("#targeted-summary")).to_contain_text("L-inf")
    expect_images_loaded(page, "#targeted-image")
    expect_images_loaded(page, "#targeted-change")

    tab(page, "FGSM/PGD")
    page.get_by_label("PGD-40").check()
    page.locator("#gradient").click()
    expect(page.locator("#gradient-summary")).to_contain_text("read as 7 -> ", timeout=SLOW)
    expect_images_loaded(page, "#gradient-image")
    shot(page, "gradient")

    for name in ("Transfer", "Train"):
        tab(page, name)
        expect(page.locator(f"#{name.lower()}-note")).to_contain_text(
            f"{name} is for the report's CNN"
        )
    tab(page, "Draw")
    page.locator("#sketchpad").get_by_role("button", name="Clear canvas").click()
    expect(page.locator("#message")).to_contain_text("Draw in the box", timeout=QUICK)
    tab(page, "Targeted")
    expect(page.locator("#targeted-summary")).to_contain_text("Cleared")
    page.locator("#targeted").click()
    expect(page.locator("#targeted-summary")).to_contain_text("Draw in the box", timeout=SLOW)
    expect_no_error(page)
    page.close()


def test_phone_draws_and_reads(browser, site):
    page = opened(browser, site, PHONE)
    draw(page, ONE)
    expect_read_as(page, "1")
    expect_images_loaded(page, "#salient")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    shot(page, "phone")
    expect_no_error(page)
    page.close()
