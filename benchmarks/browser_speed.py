"""How fast the browser lab answers, in headless Chromium on this machine.

Builds the site (``cnnviz export-web``, graphs from the user's cache) or takes ``--site``,
serves it on 127.0.0.1 and measures, through the page's own code (``window.cnnvizLab``):

1. a stroke's update while drawing: the sketchpad gets one more segment, then the page
   prepares the canvas (MNIST-style), runs the network once (prediction and every feature
   map), shows the prediction, timed until the page's tasks are done, plus the time the open
   panel's redraw takes in the next animation frame (Draw: none; Inside: its feature maps;
   the wait for the frame itself is not counted). Target p95 <= 16 ms (one frame);
2. the Draw view's full update: the same, plus the occlusion map (5x5 patch, stride 2, one
   batched run) and the saliency map. Target p95 <= 60 ms;
3. PGD-40 on a drawing (<= 300 ms) and ten class images (<= 3 s), through the panels' hooks;
4. page interactive (network loaded, first prediction possible) from a local server,
   fresh browser context each time (<= 2 s);
5. the first view's bytes, gzip-compressed as a static host serves them (<= 8 MB).

Prints one line per number::

    python benchmarks/browser_speed.py [--site DIR] [--strokes 5] [--loads 5]
"""

from __future__ import annotations

import argparse
import gzip
import math
import statistics
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conftest import CHROMIUM, CHROMIUM_FLAGS, serve_directory  # noqa: E402

from tests.web.test_web_browser import DIGITS, START  # noqa: E402

# One stroke at a time, point by point: segment, then the page's update, timed to the
# end of the tasks it queues (a message-channel round trip runs after all microtasks).
STROKE_JS = """
async ([strokes, withMaps]) => {
  const hooks = window.cnnvizLab;
  const pad = hooks.view.pad;
  const settle = () => new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = resolve;
    channel.port2.postMessage(0);
  });
  const times = [];
  pad.clear();
  hooks.view.forgetDigit();
  for (const points of strokes) {
    pad.dot(points[0]);
    for (let i = 1; i < points.length; i += 1) {
      pad.segment(points[i - 1], points[i]);
      const start = performance.now();
      await hooks.update();
      if (withMaps) await hooks.maps();
      await settle();
      const update = performance.now() - start;
      times.push(update + (await hooks.drawn()));
    }
  }
  return times;
}
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def summary(name: str, values: list[float], target: str) -> None:
    print(
        f"{name}: p50 {statistics.median(values):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
        f"max {max(values):.1f} ms over {len(values)} ({target})"
    )


def build_site(folder: Path) -> Path:
    from cnnviz.web.export import default_graph_cache
    from cnnviz.web.site import export_site

    export_site(folder, cache=default_graph_cache(), progress_bar=False)
    return folder


def open_lab(browser, url: str):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url + "/index.html")
    page.wait_for_function("document.body.dataset.ready === 'true'", timeout=START)
    return page, requests


def first_view_bytes(site: Path, requests: list[str]) -> tuple[int, int]:
    """Raw and gzip-compressed size of every site file the first view fetched."""
    raw = packed = 0
    for path in {urlparse(u).path for u in requests if u.startswith("http")}:
        file = site / path.lstrip("/")
        if file.is_file():
            data = file.read_bytes()
            raw += len(data)
            packed += len(gzip.compress(data, compresslevel=6))
    return raw, packed


def measure(site: Path, args) -> None:
    with serve_directory(site) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        interactive, ready = [], []
        for _ in range(args.loads):
            page, requests = open_lab(browser, url)
            interactive.append(page.evaluate("window.cnnvizLab.interactiveAt"))
            ready.append(page.evaluate("window.cnnvizLab.readyAt"))
            page.context.close()
        raw, packed = first_view_bytes(site, requests)
        print(
            f"page interactive (Draw view answers): median {statistics.median(interactive):.0f} ms,"
            " "
            f"max {max(interactive):.0f} ms over {len(ready)} loads (target <= 2000 ms); "
            f"every panel mounted: median {statistics.median(ready):.0f} ms"
        )
        print(
            f"first view: {len(set(requests))} requests, {raw / 1e6:.2f} MB, "
            f"{packed / 1e6:.2f} MB gzipped (target <= 8 MB compressed)"
        )

        page, _ = open_lab(browser, url)
        strokes = [[list(p) for p in s] for d in DIGITS.values() for s in d][: args.strokes * 2]
        page.evaluate(STROKE_JS, [strokes[:2], False])  # warm-up
        summary("stroke update, Draw view", page.evaluate(STROKE_JS, [strokes, False]), "<= 16")
        page.click("#tab-inside")
        page.evaluate(STROKE_JS, [strokes[:2], False])
        summary(
            "stroke update, Inside view (feature maps drawn)",
            page.evaluate(STROKE_JS, [strokes, False]),
            "<= 16",
        )
        page.click("#tab-draw")
        summary(
            "Draw view with occlusion (5x5, stride 2) and saliency",
            page.evaluate(STROKE_JS, [strokes, True]),
            "<= 60",
        )

        hooks = page.evaluate("Object.keys(window.cnnvizLab)")
        model = page.evaluate("window.cnnvizLab.lab.model.id")
        x = page.evaluate("Array.from(window.cnnvizLab.lab.digits.image(0))")
        label = page.evaluate("window.cnnvizLab.lab.digits.label(0)")
        if "pgd" in hooks:
            pgd = "([m, x, y]) => window.cnnvizLab.pgd(m, x, y, {})"
            times = [page.evaluate(pgd, [model, x, label])["ms"] for _ in range(5)]
            summary("PGD-40 on one digit", times, "<= 300")
        else:
            print("PGD-40: no pgd hook on this site")
        if "classImages" in hooks:
            times = [
                page.evaluate("m => window.cnnvizLab.classImages(m, {})", model)["ms"]
                for _ in range(3)
            ]
            summary("ten class images", times, "<= 3000")
        else:
            print("class images: no classImages hook on this site")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, help="a built site (default: export one now)")
    parser.add_argument("--strokes", type=int, default=5, help="digits drawn per measurement")
    parser.add_argument("--loads", type=int, default=5, help="fresh page loads timed")
    args = parser.parse_args()
    if args.site:
        measure(args.site, args)
        return
    with tempfile.TemporaryDirectory() as folder:
        measure(build_site(Path(folder)), args)


if __name__ == "__main__":
    main()
