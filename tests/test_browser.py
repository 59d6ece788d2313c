"""The app in a real browser: draw with the mouse, read the prediction, visit every tab.

Uses Debian's chromium through Playwright (the ``browser`` fixture); screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
TABS = ["Inside", "Class images", "Targeted attack", "FGSM / PGD", "Noise transfer"]


@pytest.fixture(scope="module")
def page(app_url, browser) -> Iterator[Page]:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(app_url, wait_until="networkidle")
    yield page
    page.close()


def draw(page: Page, strokes: list[list[tuple[float, float]]]) -> None:
    """Pick the brush, then drag the mouse along each stroke (offsets from the centre)."""
    pad = page.locator("#sketchpad")
    pad.get_by_role("button", name="Brush").click()
    box = pad.locator("canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for stroke in strokes:
        page.mouse.move(cx + stroke[0][0], cy + stroke[0][1])
        page.mouse.down()
        for dx, dy in stroke[1:]:
            page.mouse.move(cx + dx, cy + dy, steps=15)
        page.mouse.up()


def clear(page: Page) -> None:
    page.locator("#sketchpad").get_by_role("button", name="Clear canvas").click()
    expect(page.locator("#message")).to_contain_text("Pick the brush", timeout=10_000)


@pytest.mark.parametrize(
    ("digit", "strokes"),
    [
        ("1", [[(0, -100), (0, 100)]]),
        ("7", [[(-80, -100), (80, -100), (-20, 110)]]),
    ],
)
def test_drawn_digits_are_predicted(page, digit, strokes):
    clear(page)
    draw(page, strokes)
    expect(page.locator("#message")).to_contain_text(f"reads {digit}", timeout=15_000)
    prediction = page.locator("#prediction")
    expect(prediction).to_contain_text(digit)
    page.screenshot(path=str(ARTIFACTS / f"draw_{digit}.png"))


def test_every_tab_opens_and_shows_its_controls(page):
    for tab in TABS:
        page.get_by_role("tab", name=tab).click()
        panel = page.get_by_role("tabpanel")
        expect(panel).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / f"tab_{tab.split()[0].lower()}.png"), full_page=True)
    page.get_by_role("tab", name="Inside").click()
    expect(page.get_by_text("conv1 filters (shared colour scale)")).to_be_visible()
    expect(page.get_by_text("conv1: 32 maps of 28x28")).to_be_visible(timeout=10_000)
    expect(page.locator("#feature-maps img").first).to_be_visible(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "tab_inside.png"), full_page=True)


def test_attack_buttons_work_in_the_browser(page):
    page.get_by_role("tab", name="Targeted attack").click()
    page.get_by_role("button", name="Attack my drawing").first.click()
    expect(page.get_by_text("Success: p(8)")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "targeted_attack.png"), full_page=True)
    page.get_by_role("tab", name="Class images").click()
    page.get_by_role("button", name="Grow from noise").click()
    expect(page.get_by_text("step ", exact=False).first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "class_images.png"), full_page=True)
