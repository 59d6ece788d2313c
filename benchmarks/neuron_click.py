"""From a click on a feature-map pixel to that unit's computation on screen.

Two measurements on this machine:

1. in process: :func:`cnnviz.app.inside_handlers.open_unit` (the unit's terms, the figure drawn
   and rendered to pixels) for ``--clicks`` random units of conv1, pool1, relu2 and
   pool2, on a drawn 7;
2. in a real browser (Debian's Chromium through Playwright, ``--chromium``): the app
   started as deployed (``demo/app.py`` on 127.0.0.1), a 7 drawn with the mouse, a
   channel opened, then ``--clicks`` clicks on random pixels of its map. Each is timed
   by the page's own clock until both the sentence and the view name the unit clicked
   (what a student waits for): from the click (the button released, when the browser
   fires ``click``) and from the press (adds Playwright's gap between down and up);
   and by Playwright, from sending the click until it sees the sentence (adds the
   automation's own round trips).

The target is 300 ms on the 2-core CPU (issue "Inside a neuron"). Run::

    python benchmarks/neuron_click.py
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import time

import numpy as np
import torch
from app_latency import start_app  # the app started as deployed, bounded wait
from PIL import Image, ImageDraw

from cnnviz.app import inside_handlers
from cnnviz.data.drawing import prepare_drawing

LAYERS = ("conv1", "pool1", "relu2", "pool2")
#: In the page: when the mouse button went down and up (the click), and the first moment
#: both the sentence and the view name the expected unit (a mutation observer, no polling).
WATCH = """() => {
  const note = document.querySelector('#unit-note');
  const view = document.querySelector('#unit-figure');
  window.cnnvizClick = {};
  document.addEventListener('pointerdown', () => {
    window.cnnvizClick.down = performance.now();
  }, true);
  document.addEventListener('pointerup', () => {
    window.cnnvizClick.up = performance.now();
  }, true);
  const check = () => {
    const click = window.cnnvizClick;
    if (click.down && !click.shown && note.innerText.includes(click.expected)
        && view.innerText.includes(click.expected)) click.shown = performance.now();
  };
  const options = {subtree: true, childList: true, characterData: true};
  new MutationObserver(check).observe(note, options);
  new MutationObserver(check).observe(view, options);
}"""


def seven() -> torch.Tensor:
    """A 7 drawn in black on white, as the model input the app keeps for clicks."""
    canvas = Image.new("RGB", (392, 392), "white")
    ImageDraw.Draw(canvas).line([(100, 90), (290, 90), (170, 320)], fill="black", width=26)
    return prepare_drawing(np.asarray(canvas)).x


def percentiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    p50 = statistics.median(ordered)
    return f"n={len(ordered)}  p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms"


def in_process(clicks: int, rng: random.Random) -> None:
    drawing = seven()
    inside_handlers.open_unit(drawing, "batch norm", "conv1", 0, 10, 10)  # warm up
    for layer in LAYERS:
        times = []
        for _ in range(clicks):
            x, y = (
                rng.randrange(inside_handlers.MAP_HEIGHT),
                rng.randrange(inside_handlers.MAP_HEIGHT),
            )
            started = time.perf_counter()
            inside_handlers.open_unit(drawing, "batch norm", layer, rng.randrange(32), x, y)
            times.append(time.perf_counter() - started)
        print(f"in process, {layer:<6} {percentiles(times)}")


def in_browser(clicks: int, rng: random.Random, chromium: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_app(port)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--headless"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
            page.locator('#sketchpad button[aria-label="Brush"].highlight').wait_for()
            box = page.locator("#sketchpad canvas").first.bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(cx - 80, cy - 100)
            page.mouse.down()
            for dx, dy in ((80, -100), (-20, 110)):
                page.mouse.move(cx + dx, cy + dy, steps=5)
            page.mouse.up()
            page.locator("#message").filter(has_text="reads").wait_for()
            page.get_by_role("tab", name="Inside").click()
            page.locator("#feature-maps img").nth(31).wait_for()
            page.locator("#feature-maps img").nth(5).click()
            note = page.locator("#unit-note")
            note.filter(has_text="conv1 channel 5").wait_for()
            image = page.locator("#unit-map img")
            page.evaluate(WATCH)
            times, pressed, released, missed = [], [], [], 0
            image.scroll_into_view_if_needed()
            for _ in range(clicks):
                frame = image.bounding_box()
                row, col = rng.randrange(2, 26), rng.randrange(2, 26)  # clear of the icons
                expected = f"conv1[5, {row}, {col}]"
                if expected in note.inner_text():
                    continue
                page.evaluate("expected => { window.cnnvizClick = {expected}; }", expected)
                started = time.perf_counter()
                page.mouse.click(
                    frame["x"] + (col + 0.5) / 28 * frame["width"],
                    frame["y"] + (row + 0.5) / 28 * frame["height"],
                )
                try:
                    note.filter(has_text=expected).wait_for(timeout=10_000)
                    page.wait_for_function("() => window.cnnvizClick.shown", timeout=10_000)
                except PlaywrightTimeout:
                    missed += 1  # the click opened another unit, or none, within 10 s
                    continue
                times.append(time.perf_counter() - started)
                clock = page.evaluate("window.cnnvizClick")
                pressed.append((clock["shown"] - clock["down"]) / 1000)
                released.append((clock["shown"] - clock["up"]) / 1000)
            print(f"in the browser, conv1, from the click   {percentiles(released)}")
            print(f"in the browser, conv1, from the press   {percentiles(pressed)}")
            print(f"in the browser, conv1, Playwright     {percentiles(times)}  missed {missed}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=40)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    in_process(args.clicks, rng)
    in_browser(args.clicks, rng, args.chromium)


if __name__ == "__main__":
    main()
