"""The built documentation, served on 127.0.0.1 and read in a real browser.

``make test`` (which ``.ci/run`` calls) builds the site, every example executed, before
the tests; ``make docs`` builds it alone. Under CI a missing build is a failure.

The pages are read as a person reads them: at a 1280 px wide window, looking at the
text size of every figure as displayed, at whether code is cut off, and at whether each
number a sentence quotes is one the example printed.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image
from playwright.sync_api import Frame, Page

from tests.conftest import serve_directory
from tests.web.test_web_browser import DIGITS, draw_with_mouse, settled

ROOT = Path(__file__).parents[2]
SITE = ROOT / "docs" / "_build" / "html"
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("plot_*.py"))
WINDOW = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
MIN_TEXT_PX = 9.0  # smallest readable text on a projected page, as displayed
SMALLEST_TEXT_KEY = "cnnviz-smallest-text-px"  # written by docs/_ext/figure_scraper.py

#: Numbers a page's prose may quote without its example printing them, and why. Keep it
#: to definitions and to the report's own results.
QUOTED_WITHOUT_PRINTING = {
    "plot_02_training": {"98.45", "98.97"},  # the report's test accuracies (R4)
    "plot_06_occlusion_saliency": {"0.8"},  # a definition: noise 0.4 of [0, 1] in [-1, 1]
    "plot_07_class_visualisation": {"0.1"},  # the report's start noise, N(0, 0.1)
}


def asserted_numbers(example: str) -> set[float]:
    """The numbers in the example's ``assert`` statements: prose may quote a threshold
    the page checks (a run that does not show it fails the docs build)."""
    tree = ast.parse((ROOT / "examples" / f"{example}.py").read_text(encoding="utf-8"))
    checks = (node.test for node in ast.walk(tree) if isinstance(node, ast.Assert))
    return {
        float(leaf.value)
        for check in checks
        for leaf in ast.walk(check)
        if isinstance(leaf, ast.Constant) and type(leaf.value) in (int, float)
    }


#: A decimal number, or any number followed by a percent sign.
PROSE_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+|\d+(?=\s?%))(?!\w|\.\d)")
ANY_NUMBER = re.compile(r"\d+(?:\.\d+)?")

#: The pages that embed the live lab (``.. lab::``, docs/_ext/lab_embed.py) and the view
#: each opens: six lecture notes and the lab's own page.
LIVE_LAB = {
    "auto_examples/plot_05_activations.html": "inside",
    "auto_examples/plot_06_occlusion_saliency.html": "draw",
    "auto_examples/plot_07_class_visualisation.html": "classes",
    "auto_examples/plot_10_robustness.html": "attack",
    "auto_examples/plot_11_drawings.html": "draw",
    "auto_examples/plot_14_inside_a_neuron.html": "inside",
    "lab.html": "draw",
}
LAB_START = 30_000  # ms: ONNX Runtime and one network on a busy 2-core machine


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
    """Open a page at 1280 px (once per path); returns it with its failed and
    off-machine requests."""
    pages = {}

    def open_page(path: str):
        if path in pages:
            return pages[path]
        page = browser.new_page(viewport=WINDOW)
        failures: list[str] = []
        page.on("requestfailed", lambda request: failures.append(request.url))
        page.on(
            "request",
            lambda request: (
                failures.append(f"outside: {request.url}")
                if urlparse(request.url).hostname not in (None, "127.0.0.1")
                else None
            ),
        )
        page.on(
            "response",
            lambda response: (
                failures.append(f"{response.status} {response.url}")
                if response.status >= 400
                else None
            ),
        )
        page.goto(site + path, wait_until="networkidle")
        pages[path] = page, failures
        return pages[path]

    yield open_page
    for page, _ in pages.values():
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


@pytest.mark.parametrize("example", EXAMPLES)
def test_figure_text_is_readable_at_1280_px(visit, example):
    """The smallest text of every figure, scaled as the browser shows the image."""
    page, _ = visit(f"auto_examples/{example}.html")
    images = page.locator("img.sphx-glr-single-img, img.sphx-glr-multi-img").evaluate_all(
        "images => images.map(img => [img.getAttribute('src'), img.clientWidth, img.naturalWidth])"
    )
    assert images
    too_small = {}
    for src, shown, natural in images:
        png = Image.open(SITE / "auto_examples" / src)
        smallest = float(png.text[SMALLEST_TEXT_KEY]) * shown / natural
        if smallest < MIN_TEXT_PX:
            too_small[Path(src).name] = f"{smallest:.1f} px (shown {shown} of {natural} px)"
    assert not too_small, too_small


@pytest.mark.parametrize("example", EXAMPLES)
def test_code_and_output_are_not_cut_off(visit, example):
    page, _ = visit(f"auto_examples/{example}.html")
    cut = page.locator(".bd-article pre").evaluate_all(
        "blocks => blocks.filter(b => b.scrollWidth > b.clientWidth + 1)"
        ".map(b => b.textContent.split('\\n').reduce((a, l) => l.length > a.length ? l : a))"
    )
    assert cut == [], cut  # the longest line of each block that scrolls sideways


@pytest.mark.parametrize("example", EXAMPLES)
def test_prose_numbers_are_printed_by_the_example(visit, example):
    """Every decimal or percentage a sentence quotes appears in the page's printed output,
    or in a check the example runs (an ``assert``).

    Prose is the page's paragraphs, list items and headings, without inline code (which
    names parameters, e.g. ``eps=0.3``); output is the ``sphx-glr-script-out`` blocks.
    Numbers compare by value, so "0.3" matches a printed "0.30".
    """
    page, _ = visit(f"auto_examples/{example}.html")
    prose = page.evaluate(
        """() => [...document.querySelectorAll(
                '.bd-article p, .bd-article li, .bd-article h1, .bd-article h2')]
            .filter(e => !e.closest(
                '.sphx-glr-script-out, .sphx-glr-footer, .sphx-glr-timing, .admonition'))
            .map(e => { const c = e.cloneNode(true);
                        c.querySelectorAll('code').forEach(x => x.remove());
                        return c.textContent; })
            .join('\\n')"""
    )
    printed = "\n".join(page.locator(".sphx-glr-script-out pre").all_inner_texts())
    values = {float(number) for number in ANY_NUMBER.findall(printed)}
    values |= asserted_numbers(example)
    allowed = QUOTED_WITHOUT_PRINTING.get(example, set())
    assert len(prose) > 500 and printed  # the selectors found the page's text
    quoted = set(PROSE_NUMBER.findall(prose))
    unprinted = sorted(n for n in quoted if float(n) not in values and n not in allowed)
    assert unprinted == [], f"quoted in prose but never printed: {unprinted}"


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_pages_link_to_previous_and_next(visit, example):
    page, _ = visit(f"auto_examples/{example}.html")
    for link in ("a.left-prev", "a.right-next"):
        target = page.locator(f".prev-next-area {link}")
        assert target.count() == 1, link
        assert target.get_attribute("href")


class ResourceLinks(HTMLParser):
    """Collects the URLs a page loads by itself: scripts, stylesheets, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video") and named.get("src"):
            self.urls.append(named["src"])
        if tag == "link" and named.get("href") and named.get("rel") != "canonical":
            self.urls.append(named["href"])


def test_no_page_loads_anything_from_another_host(site):
    """Every built page, the execution-time pages included, works offline."""
    outside = {}
    pages = sorted(SITE.rglob("*.html"))
    assert len(pages) > len(EXAMPLES)
    for html in pages:
        parser = ResourceLinks()
        parser.feed(html.read_text(encoding="utf-8"))
        hosts = [url for url in parser.urls if urlparse(url).hostname not in (None, "127.0.0.1")]
        if hosts:
            outside[str(html.relative_to(SITE))] = hosts
    assert outside == {}


@pytest.mark.parametrize(
    "api_page",
    [
        "cnnviz.inspect.occlusion.occlusion",
        "cnnviz.attacks.targeted.targeted_attack",
        "cnnviz.plots.plot_filters",
    ],
)
def test_api_pages_have_mini_galleries(visit, api_page):
    page, failures = visit(f"generated/{api_page}.html")
    assert failures == []
    assert page.locator(".sphx-glr-thumbcontainer").count() >= 1


def test_report_page_table_is_filled(visit):
    page, failures = visit("reproducing.html")
    assert failures == []
    rows = page.locator("table").last.locator("tbody tr").all_inner_texts()
    assert len(rows) >= 12  # test results, layers, and the attacks' numbers
    assert any("98.45 %" in row and "99." in row for row in rows)  # report beside ours
    assert any("784500" in row for row in rows)


def lab_in(page: Page) -> Frame:
    """The page's embedded lab, scrolled into view and started."""
    frame_element = page.locator("figure.cnnviz-lab iframe")
    assert frame_element.count() == 1
    frame_element.scroll_into_view_if_needed()
    frame = frame_element.element_handle().content_frame()
    frame.wait_for_function("document.body.dataset.ready === 'true'", timeout=LAB_START)
    return frame


@pytest.mark.parametrize("path", sorted(LIVE_LAB))
def test_live_lab_opens_its_view_in_the_page(visit, path):
    """The lab runs inside the page, on the page's view, from the site's files."""
    page, failures = visit(path)
    frame = lab_in(page)
    assert frame.locator(f"#{LIVE_LAB[path]}-view").is_visible()
    assert frame.locator("header.top h1").is_hidden()  # embedded: no page header
    assert failures == []


def test_a_digit_drawn_in_the_lecture_notes_is_read(visit):
    """A reader draws a 7 right in the occlusion page and sees it read, with its maps."""
    page, failures = visit("auto_examples/plot_06_occlusion_saliency.html")
    frame = lab_in(page)
    draw_with_mouse(page, DIGITS[7], frame=frame)
    assert settled(frame).startswith("7: ")
    assert "Lowest" in frame.text_content("#occlusion-help")
    assert failures == []


#: A gallery figure's caption: where it comes from in the report, then what it shows.
CAPTION = re.compile(r"^(Report Fig (\d+(?:, \d+)*(?: and \d+)?)|Beyond the report)\. \S")


def report_figures_named(text: str) -> set[int]:
    """The report figure numbers a text names: "Fig 6", "Fig 14 and 15", "Fig 1, 2, 4 and 5"."""
    found = set()
    for numbers in re.findall(r"Fig (\d+(?:(?:, | and )\d+)*)", text):
        found |= {int(n) for n in re.findall(r"\d+", numbers)}
    return found


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_figure_has_alt_text_and_a_caption_naming_its_report_figure(visit, example):
    """Each gallery image has its own alt text and a caption under it that says which of
    the report's figures it re-creates (or that it goes beyond the report); every report
    figure a section heading promises has a figure captioned with it."""
    page, _ = visit(f"auto_examples/{example}.html")
    figures = page.locator(
        ".bd-article img.sphx-glr-single-img, .bd-article img.sphx-glr-multi-img"
    )
    described = page.locator(".bd-article figure.cnnviz-figure").evaluate_all(
        """all => all.map(f => [f.querySelector('img').alt, f.querySelector('figcaption')
            ? f.querySelector('figcaption').innerText.trim() : ''])"""
    )
    assert figures.count() == len(described) > 0
    captions = []
    for alt, caption in described:
        assert len(alt) > 40 and not alt.startswith(example[5:]), alt  # not the file name
        assert CAPTION.match(caption), caption
        captions.append(caption)
    headings = " ".join(page.locator(".bd-article h1, .bd-article h2").all_inner_texts())
    captioned = report_figures_named(" ".join(captions))
    assert report_figures_named(headings) <= captioned, (headings, captions)


def test_a_tap_on_a_phone_opens_a_figure_at_full_size(site, browser):
    """On a 390 px phone a wide figure is shown shrunk; tapping it opens the PNG itself."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(site + "auto_examples/plot_04_filters.html", wait_until="load")
        image = page.locator("figure.cnnviz-figure img").last
        image.scroll_into_view_if_needed()
        shown, natural = image.evaluate("img => [img.clientWidth, img.naturalWidth]")
        assert shown < PHONE["width"] < natural  # shrunk to the screen
        hint = page.locator("figure.cnnviz-figure figcaption p").last.evaluate(
            "p => getComputedStyle(p, '::after').content"
        )
        assert "Tap the figure" in hint  # the caption says so on a narrow screen
        page.screenshot(path=str(SITE.parents[1] / "_build" / "phone_figure.png"))
        with page.expect_navigation():
            image.tap()
        assert page.url.endswith(".png")
        opened = page.evaluate("document.images[0].naturalWidth")
        assert opened == natural
    finally:
        context.close()


def screenshot_script():
    """scripts/app_screenshots.py as a module."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import app_screenshots
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return app_screenshots


def test_app_screenshots_show_the_current_layout():
    """docs/_static/app.png and app-phone.png were made from the app's current layout.

    ``python scripts/app_screenshots.py`` makes them and records a hash of the files that
    define the app's page; any change to those files makes this test fail until it runs.
    """
    app_screenshots = screenshot_script()
    reason = app_screenshots.stale()
    assert reason is None, f"{reason}: run python scripts/app_screenshots.py"
    shown = {"README.md": ROOT / "README.md", "index": ROOT / "docs" / "index.rst"}
    for name, path in shown.items():
        assert "_static/app.png" in path.read_text(), name  # the pictures people see


def test_the_layout_hash_follows_the_layout_files(tmp_path):
    """Changing any layout file changes the recorded hash (so the test above can fail)."""
    app_screenshots = screenshot_script()
    files = app_screenshots.layout_files()
    assert {"cnnviz/app/tabs.py", "cnnviz/app/page.js"} <= {f.as_posix() for f in files}
    for path in files:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes((ROOT / path).read_bytes())
    before = app_screenshots.layout_hash(tmp_path)
    assert before == app_screenshots.layout_hash()
    (tmp_path / "cnnviz/app/page.js").write_text("// changed\n", encoding="utf-8")
    assert app_screenshots.layout_hash(tmp_path) != before


def test_the_screenshot_script_takes_every_shot_of_the_running_app(tmp_path):
    """The script itself works: it serves the app, draws a 7 until it is read as 7 (it
    raises otherwise), serves it on the teacher's two models of docs/your_model.rst (a 7
    drawn for the Net, a cat picked for the colour CNN, each read right), and writes
    every shot and a record of the current layout."""
    app_screenshots = screenshot_script()
    script = ROOT / "scripts" / "app_screenshots.py"  # its own process: its own Playwright
    done = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    record = json.loads((tmp_path / app_screenshots.RECORD).read_text())
    assert record["layout_sha256"] == app_screenshots.layout_hash()
    assert set(record["shots"]) == {*app_screenshots.SHOTS, *app_screenshots.OWN_SHOTS}
    for name, viewport in record["shots"].items():
        with Image.open(tmp_path / name) as shot:
            assert shot.width == viewport["width"] and shot.height >= viewport["height"]
            grey = shot.convert("L")
            assert min(grey.getdata()) < 40 and max(grey.getdata()) > 215  # not blank
    assert app_screenshots.stale(tmp_path) is None


def test_your_model_page_shows_teachernet_whole_and_uncut(visit):
    """The teacher's page prints teachernet.py in full, shows the app on both its models,
    and no code block of it scrolls sideways at 1280 px (teachernet.py keeps to
    docs/teacher/ruff.toml's line length)."""
    page, failures = visit("your_model.html")
    assert failures == []
    listing = page.locator(".bd-article pre").last.text_content()
    source = (ROOT / "docs" / "teacher" / "teachernet.py").read_text(encoding="utf-8")
    assert listing.strip() == source.strip()
    for shot in ("app-own-net.png", "app-own-colour.png"):  # scripts/app_screenshots.py
        picture = page.locator(f"img[src$='{shot}']")
        assert picture.evaluate("img => img.naturalWidth") > 0
        assert "teachernet:" in picture.get_attribute("alt")
    cut = page.locator(".bd-article pre").evaluate_all(
        "blocks => blocks.filter(b => b.scrollWidth > b.clientWidth + 1)"
        ".map(b => b.textContent.slice(0, 60))"
    )
    assert cut == [], cut
