"""The built documentation, served on 127.0.0.1 and read in a real browser.

``.ci/run`` builds the site (every example executed) before the tests; locally, build it
with the command in docs/getting_started.rst. Under CI a missing build is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import serve_directory

SITE = Path(__file__).parents[1] / "docs" / "_build" / "html"
EXAMPLES = sorted(p.stem for p in (Path(__file__).parents[1] / "examples").glob("plot_*.py"))


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    if not (SITE / "index.html").is_file():
        message = f"docs not built at {SITE}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with serve_directory(SITE) as url:
        yield url + "/"


@pytest.fixture(scope="module")
def visit(site, browser):
    """Open a page; returns it with the list of failed requests it made."""
    pages = []

    def open_page(path: str):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        failures: list[str] = []
        page.on("requestfailed", lambda request: failures.append(request.url))
        page.on(
            "response",
            lambda response: (
                failures.append(f"{response.status} {response.url}")
                if response.status >= 400
                else None
            ),
        )
        page.goto(site + path, wait_until="networkidle")
        pages.append(page)
        return page, failures

    yield open_page
    for page in pages:
        page.close()


def test_landing_page_has_its_picture_and_no_failed_request(visit):
    page, failures = visit("index.html")
    assert failures == []
    picture = page.locator("img[alt^='The cnnviz app']")
    assert picture.evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=str(SITE.parents[1] / "_build" / "landing.png"))


def test_gallery_index_lists_every_example(visit):
    page, failures = visit("auto_examples/index.html")
    assert failures == []
    assert page.locator(".sphx-glr-thumbcontainer").count() == len(EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_page_shows_its_figures(visit, example):
    page, failures = visit(f"auto_examples/{example}.html")
    assert failures == []
    widths = page.locator("img.sphx-glr-single-img").evaluate_all(
        "images => images.map(img => img.naturalWidth)"
    )
    assert widths and all(width > 0 for width in widths), widths
    assert page.locator("a[href$='.ipynb']").count() >= 1  # downloadable as a notebook


@pytest.mark.parametrize(
    "api_page",
    ["cnnviz.occlusion.occlusion", "cnnviz.attacks.targeted_attack", "cnnviz.plots.plot_filters"],
)
def test_api_pages_have_mini_galleries(visit, api_page):
    page, failures = visit(f"generated/{api_page}.html")
    assert failures == []
    assert page.locator(".sphx-glr-thumbcontainer").count() >= 1


def test_report_page_table_is_filled(visit):
    page, failures = visit("reproducing.html")
    assert failures == []
    cells = page.locator("table").last.locator("tbody tr")
    assert cells.count() == 12  # 4 test results, 4 layers, 2 parameter and 2 neuron totals
    text = cells.all_inner_texts()
    assert any("99." in row and "98.45 %" in row for row in text)
    assert any("784500" in row for row in text)
