"""``cnnviz demo --model teachernet:colour --weights colour.safetensors --images DIR
--class-names cat,dog,car,ship,tree`` in a real browser.

A 3x32x32 CNN with batch norm and adaptive pooling, trained (``colour_weights``), on a
folder of the teacher's pictures (``teacher_pictures``). Pictures picked in the gallery are
read right, with those names; an uploaded one is read; every tab that applies answers,
and Transfer and Train say they are for the report's CNN; the same on a phone. Screenshots go to
``test-artifacts/own_colour_*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.app.test_app_own import served_demo
from tests.app.test_app_own_browser_net import LAPTOP, PHONE, opened
from tests.app.test_browser import (
    ARTIFACTS,
    QUICK,
    SLOW,
    expect_images_loaded,
    expect_no_error,
    tab,
)
from tests.app.test_own_inside import assert_captions_under_pictures

NAMES = ("cat", "dog", "car", "ship", "tree")
READ = re.compile(r"The model reads (cat|dog|car|ship|tree) \(")


@pytest.fixture(scope="module")
def site(tmp_path_factory, teachernet_dir, teacher_pictures, colour_weights) -> Iterator[str]:
    log = tmp_path_factory.mktemp("own-colour") / "server.log"
    options = ("--model", "teachernet:colour", "--weights", str(colour_weights))
    options += ("--images", str(teacher_pictures))
    options += ("--class-names", ",".join(NAMES))
    with served_demo(log, teachernet_dir, *options) as url:
        yield url


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"own_colour_{name}.png"), full_page=True)


def pick(page: Page, index: int) -> None:
    """Click the ``index``-th picture of the teacher's gallery; wait until the model sees it."""
    expect_images_loaded(page, "#pictures", at_least=index + 1)
    seen = page.locator("#seen img")
    before = seen.get_attribute("src") if seen.count() else None
    page.locator("#pictures .thumbnail-item").nth(index).click()
    expect(seen).to_have_attribute("src", re.compile("^data:image/png"), timeout=QUICK)
    if before is not None:
        expect(seen).not_to_have_attribute("src", before, timeout=QUICK)


def expect_pictures_fit(page: Page) -> None:
    """No column of the teacher's pictures hangs off the gallery's edge."""
    widths = page.evaluate(
        "(() => { const g = document.querySelector('#pictures .grid-wrap');"
        " return [g.scrollWidth, g.clientWidth]; })()"
    )
    assert widths[0] <= widths[1], widths


def expect_read(page: Page) -> str:
    """The class the page says the model reads (one of the names), after a new image."""
    expect(page.locator("#message")).to_have_text(READ, timeout=QUICK)
    name = READ.search(page.locator("#message").text_content())[1]
    expect(page.locator("#verdict")).to_contain_text(f"Prediction: {name}")
    expect(page.locator("#prediction")).to_contain_text(name)
    return name


def test_picked_pictures_are_read_with_names_and_every_tab_answers(browser, site, tmp_path):
    page = opened(browser, site, LAPTOP)
    expect(page.locator("h1")).to_contain_text("teachernet:colour")
    expect(page.get_by_role("tab", name="Look")).to_be_visible()
    expect(page.locator("#message")).to_contain_text("Pick one of the pictures")
    tab(page, "FGSM/PGD")
    page.locator("#gradient").click()  # no image yet: it says what to do
    expect(page.locator("#gradient-summary")).to_contain_text("Pick one", timeout=SLOW)
    tab(page, "Look")
    pick(page, 0)  # car/car-000.png: the folder is sorted
    assert expect_read(page) == "car"
    expect_pictures_fit(page)
    expect(page.locator("#pictures .thumbnail-item.selected")).to_have_count(1)
    first = page.locator("#pictures .thumbnail-item").first
    expect(first.locator(".caption-label")).to_have_text("car-000")
    assert_captions_under_pictures(page, "#pictures")
    expect(page.locator("#truth")).to_have_text(
        "Picked car/car-000.png. Its true label (its folder): car.", timeout=QUICK
    )
    for picture in ("#seen", "#occluded", "#salient"):
        expect_images_loaded(page, picture)
    expect(page.locator("#seen img")).to_have_attribute("alt", re.compile("32x32 pixels"))
    shot(page, "look")

    seen = page.locator("#seen img").get_attribute("src")
    red = tmp_path / "red.png"
    Image.new("RGB", (64, 48), (220, 30, 40)).save(red)
    page.locator("#upload input[type=file]").set_input_files(str(red))
    expect(page.locator("#seen img")).not_to_have_attribute("src", seen, timeout=QUICK)
    expect_read(page)
    expect(page.locator("#truth")).to_have_text("", timeout=QUICK)  # an upload has none
    expect(page.locator("#pictures .thumbnail-item.selected")).to_have_count(0)
    page.mouse.move(0, 0)  # no thumbnail highlighted by hovering in the shot
    shot(page, "upload")
    pick(page, 3 * 40)  # ship/ship-000.png
    read = expect_read(page)
    assert read == "ship"

    tab(page, "Classes")
    page.get_by_label("Class", exact=True).click()
    page.get_by_role("option", name="ship", exact=True).click()
    page.locator("#grow").click()
    expect(page.locator("#class-images")).to_contain_text("ship: p = ", timeout=SLOW)
    expect_images_loaded(page, "#class-images")
    shot(page, "classes")

    tab(page, "Targeted")
    page.get_by_label("Make it read as").click()
    target = "tree" if read != "tree" else "cat"
    page.get_by_role("option", name=target, exact=True).click()
    page.locator("#targeted").click()
    expect(page.locator("#targeted-summary")).to_contain_text(f"p({target}) = ", timeout=SLOW)
    expect_images_loaded(page, "#targeted-change")

    tab(page, "FGSM/PGD")
    page.locator("#gradient").click()
    expect(page.locator("#gradient-summary")).to_contain_text(f"read as {read} -> ", timeout=SLOW)
    expect_images_loaded(page, "#gradient-image")
    expect_images_loaded(page, "#gradient-change")
    shot(page, "gradient")

    for name in ("Transfer", "Train"):
        tab(page, name)
        expect(page.locator(f"#{name.lower()}-note")).to_contain_text(
            f"{name} is for the report's CNN"
        )
    expect_no_error(page)
    page.close()


def test_phone_picks_and_reads(browser, site):
    page = opened(browser, site, PHONE)
    pick(page, 1)
    expect_read(page)
    expect_pictures_fit(page)
    expect_images_loaded(page, "#occluded")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    shot(page, "phone")
    page.goto(site + "?tab=gradient", wait_until="load")  # a link opens a tab
    expect(page.get_by_role("button", name="Attack the image")).to_be_visible(timeout=QUICK)
    expect_no_error(page)
    page.close()


def test_webcam_photo_is_read(browser, site):
    """Chromium's fake camera (a test pattern) stands in for the webcam."""
    from tests.conftest import CHROMIUM, CHROMIUM_FLAGS

    fake_camera = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    camera = browser.browser_type.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS + fake_camera
    )
    try:
        page = camera.new_context(viewport=LAPTOP, permissions=["camera"]).new_page()
        page.goto(site, wait_until="load")
        page.locator('#upload button[aria-label="Capture from camera"]').click()
        page.get_by_text("Click to Access Webcam").click()
        page.wait_for_function(  # the camera's frames are arriving
            "() => document.querySelector('#upload video')?.videoWidth > 0", timeout=QUICK
        )
        page.locator('#upload button[aria-label="capture photo"]').click()
        expect_read(page)
        expect_images_loaded(page, "#seen")
        expect(page.locator("#truth")).to_have_text("")
        shot(page, "webcam")
        expect_no_error(page)
    finally:
        camera.close()
