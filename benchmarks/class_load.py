"""A class of 30 against the browser edition's static site, on this machine.

The issue measured the Gradio app on one 2-core server answering 30 students who each
draw a stroke a second: p50 1.16 s, p95 2.53 s per stroke, server-bound. The browser
edition answers strokes in each student's browser; its server only hands out files.
This script shows what that means, with numbers:

1. the site (``cnnviz export-web``, graphs from the user's cache, or ``--site DIR``) is
   served by a ``ThreadingHTTPServer`` on 127.0.0.1 in its own process, as
   ``python -m http.server`` serves it (raw bytes, no compression), which reports every
   request: who asked (a header each client sends), the path, the status, the bytes;
2. one headless Chromium page loads the lab and records the files it requests before it
   is interactive (the first view); then 30 students fetch exactly those files at once
   (30 concurrent HTTP clients): load time per student, errors, bytes served (raw, and
   gzip-compressed as a host that compresses would send them);
3. real Chromium pages draw a stroke a second for ``--seconds`` (segment by segment, the
   page's own update after each, then its occlusion and saliency maps at the stroke's
   end, through ``window.cnnvizLab``): alone, and while the class of 30 keeps loading
   the page from the server (wave after wave, far more than a real class), in
   alternating blocks of ``--seconds`` / 4 (the machine's other work then falls on
   both alike), with one page and with ``--pages`` pages. Printed: the page's update
   time per stroke segment and the full answer to a stroke (last update + maps:
   prediction, occlusion and saliency, what the app's ``/draw`` answered), p50/p95, and
   the requests from the drawing pages while drawing, as the server and as the browser
   saw them (must be 0).

``--target app`` (or ``both``, the default) does the same against the Gradio app with its
Draw widget (``python demo/app.py`` in lab mode, the site above served at ``/lab``): the
first view is every file a fresh page fetches until the widget's network answers (the
app's page, Gradio's assets and config, the lab), which the class fetches in waves; the
drawing pages draw inside the widget's iframe, whose drawing goes to the app's page after
every update (a ``postMessage``; the server is asked only when a button is pressed).
Requests while drawing are counted by the browser (the app's server does not report them).

On this 2-core machine the pages, the server and the 30 clients share the CPU; a real
class has one machine per student and the server elsewhere. So by default the server and
the class's clients run on one core and the browser on the other (``--no-pin``: no
pinning); the drawing pages share the browser's core. Exits 1 if any request failed or a
drawing page sent a request while drawing::

    python benchmarks/class_load.py [--site DIR] [--seconds 20] [--pages 5] [--target both]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conftest import CHROMIUM, CHROMIUM_FLAGS, QuietHandler  # noqa: E402

from tests.app.test_app import served_app  # noqa: E402
from tests.app.test_app_lab import open_app  # noqa: E402
from tests.web.test_web_browser import DIGITS, LAPTOP, open_lab  # noqa: E402

CLASS = 30  # students, as in the measurement of the Gradio app
WHO = "X-Cnnviz-Student"  # every client names itself, so the server can tell them apart
TIMEOUT = 60  # s per request
BLOCKS = 4  # each drawing run is split into blocks, alone and with the class alternating

# Draw a stroke a second for `seconds` s, point by point: after each segment the page's
# own update (prepare + network + prediction shown), at the stroke's end (the pen lifts)
# one more update and the Draw view's maps (occlusion, saliency), as the page does.
# Times from the page.
DRAW_JS = """
async ([strokes, seconds]) => {
  const hooks = window.cnnvizLab;
  const view = hooks.view;
  const started = performance.now();
  const updates = [];
  const answers = [];
  for (let k = 0; k < seconds; k += 1) {
    const wait = started + 1000 * k - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const [first, points] = strokes[k % strokes.length];
    if (first) {
      view.pad.clear();
      view.forgetDigit();
    }
    view.pad.active = { id: -1, points }; // the pen is down, as the sketchpad marks it
    view.pad.dot(points[0]);
    let last = await hooks.update();
    for (let i = 1; i < points.length; i += 1) {
      view.pad.segment(points[i - 1], points[i]);
      last = await hooks.update();
      updates.push(last.total);
    }
    view.pad.active = null; // the pen lifts: the page's last update (in the app, its drawing
    last = await hooks.update(); // goes to the app's page), then the maps
    const maps = await hooks.maps();
    answers.push(last.total + maps.total);
  }
  return { updates, answers };
}
"""


@dataclass(frozen=True)
class Served:
    """One request as the server saw it (``at``: ``time.monotonic()``, shared by processes)."""

    at: float
    who: str
    path: str
    status: int
    sent: int


@dataclass(frozen=True)
class Load:
    """One student's fetch of the first view: seconds, and the error or ``""``."""

    seconds: float
    error: str


@dataclass(frozen=True)
class Run:
    """A drawing run: the pages' times (ms), and what the server and the browser saw.

    ``page_requests``: requests from the drawing pages the server received during the run;
    ``browser_requests``: requests the drawing pages' browser made during the run.
    """

    updates: list[float]
    answers: list[float]
    strokes: int
    page_requests: int
    browser_requests: int
    loads: list[Load]
    served: list[Served]


class CountingHandler(QuietHandler):
    """Serves files as ``python -m http.server`` does and reports each GET to ``records``."""

    records = None  # a multiprocessing queue, set in the server process

    def do_GET(self) -> None:
        self.status, self.sent = 0, 0
        try:
            super().do_GET()
        finally:
            record = Served(
                time.monotonic(), self.headers.get(WHO, "?"), self.path, self.status, self.sent
            )
            self.records.put(record)

    def log_request(self, code="-", size="-") -> None:
        self.status = int(code)

    def copyfile(self, source, outputfile) -> None:
        for chunk in iter(functools.partial(source.read, 1 << 16), b""):
            outputfile.write(chunk)
            self.sent += len(chunk)


def serve(folder: str, records, cores: set[int] | None) -> None:
    """The server process: reports its port to ``records``, then serves until terminated."""
    if cores:
        os.sched_setaffinity(0, cores)
    CountingHandler.records = records
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(CountingHandler, directory=folder)
    )
    records.put(server.server_address[1])
    server.serve_forever()


class Log:
    """The server's reports, collected by a thread of this process."""

    def __init__(self, records) -> None:
        self.served: list[Served] = []
        self.records = records
        self.thread = threading.Thread(target=self.collect, daemon=True)
        self.thread.start()

    def collect(self) -> None:
        for record in iter(self.records.get, None):
            self.served.append(record)

    def between(self, start: float, stop: float) -> list[Served]:
        time.sleep(0.5)  # reports still in the queue arrive
        return [s for s in self.served if start <= s.at <= stop]


def fetch_first_view(base: str, paths: list[str], sizes: dict[str, int], who: str) -> Load:
    """Fetch ``paths`` one after the other as student ``who``, checking every body's size."""
    started = time.perf_counter()
    headers = {WHO: who, "Accept-Encoding": "gzip, deflate, br"}  # as Chromium asks
    for path in paths:
        try:
            request = urllib.request.Request(base + path, headers=headers)
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                body = response.read()
        except OSError as error:
            return Load(time.perf_counter() - started, f"{path}: {error}")
        if path in sizes and len(body) != sizes[path]:
            return Load(
                time.perf_counter() - started, f"{path}: {len(body)} of {sizes[path]} bytes"
            )
    return Load(time.perf_counter() - started, "")


def class_loads(base: str, paths: list[str], sizes: dict[str, int], until: float) -> list[Load]:
    """Waves of the whole class loading the first view at once: one, or until ``until``."""
    loads: list[Load] = []
    with ThreadPoolExecutor(CLASS) as pool:
        for wave in range(10_000):
            students = [f"class-{wave}-{s}" for s in range(CLASS)]
            loads += pool.map(lambda who: fetch_first_view(base, paths, sizes, who), students)
            if time.monotonic() >= until:
                break
    return loads


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def percentiles(values: list[float]) -> str:
    return f"p50 {statistics.median(values):7.1f}  p95 {p95(values):7.1f}"


def failed(loads: list[Load], served: list[Served]) -> list[str]:
    """Every failed fetch and every answer of the server that was not 200 OK."""
    errors = [x.error for x in loads if x.error]
    return errors + [f"{s.path}: HTTP {s.status}" for s in served if s.status != 200]


def first_view(browser, base: str) -> tuple[list[str], float]:
    """The site paths a fresh page requests until it is interactive, and its ready time."""
    page, recorder = open_lab(browser, base, LAPTOP, extra_http_headers={WHO: "first-view"})
    ready = page.evaluate("window.cnnvizLab.readyAt")
    page.context.close()
    paths = [urlparse(u).path.lstrip("/") for u in recorder.requests if u.startswith(base)]
    return list(dict.fromkeys(paths)), ready


def app_first_view(browser, base: str) -> tuple[list[str], float]:
    """The app's paths a fresh page fetches (GET, answered) until its widget is interactive,
    and the widget's ready time (ms from the iframe's navigation)."""
    page, frame, _ = open_app(browser, base, LAPTOP)
    page.wait_for_timeout(1000)  # the last files of the page's start
    ready = frame.evaluate("window.cnnvizLab.readyAt")
    finished = page.evaluate(
        "performance.getEntriesByType('resource').map((e) => e.name)"
    ) + frame.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
    page.context.close()
    paths = [
        urlparse(u).path.lstrip("/") + (f"?{urlparse(u).query}" if urlparse(u).query else "")
        for u in [base, *finished]
        if u.startswith(base)
    ]
    streams = ("heartbeat", "queue/", "/stream")
    return [p for p in dict.fromkeys(paths) if not any(s in p for s in streams)], ready


def stroke_sequence(offset: int) -> list[tuple[bool, list[list[float]]]]:
    """Every recorded digit's strokes, ``(first stroke of its digit, points)``, rotated."""
    digits = list(DIGITS.values())
    digits = digits[offset % len(digits) :] + digits[: offset % len(digits)]
    return [(i == 0, [list(p) for p in stroke]) for d in digits for i, stroke in enumerate(d)]


def draw_run(pages, log: Log, base: str, paths, sizes, seconds: int, with_class: bool) -> Run:
    """The pages draw a stroke a second for ``seconds`` s, the class loading or not."""
    seen = [len(recorder.requests) for _, recorder in pages]
    start = time.monotonic()
    for i, (page, _) in enumerate(pages):
        page.evaluate(
            f"(args) => {{ window.classRun = ({DRAW_JS})(args); }}",
            [stroke_sequence(3 * i), seconds],
        )
    loads = class_loads(base, paths, sizes, start + seconds) if with_class else []
    results = [page.evaluate("window.classRun") for page, _ in pages]
    served = log.between(start, time.monotonic())
    return Run(
        updates=[t for r in results for t in r["updates"]],
        answers=[t for r in results for t in r["answers"]],
        strokes=sum(len(r["answers"]) for r in results),
        page_requests=sum(not s.who.startswith("class-") for s in served),
        browser_requests=sum(len(r.requests) - n for (_, r), n in zip(pages, seen, strict=True)),
        loads=loads,
        served=served,
    )


def merged(runs: list[Run]) -> Run:
    """The runs as one: every list joined, every count added."""
    return Run(
        **{
            f.name: sum((getattr(r, f.name) for r in runs), start=type(getattr(runs[0], f.name))())
            for f in fields(Run)
        }
    )


def measure(site: Path, args) -> int:
    """Serve ``site`` (in a process of its own) or the app with it, run the class, print;
    1 if anything failed."""
    cores = sorted(os.sched_getaffinity(0))
    halves = [set(cores[: len(cores) // 2]), set(cores[len(cores) // 2 :])]
    pinned = halves if args.pin and len(cores) >= 2 else [set(cores), set(cores)]
    failures = []
    if args.target in ("site", "both"):
        failures += measure_site(site, args, cores, pinned)
    if args.target in ("app", "both"):
        failures += measure_app(site, args, cores, pinned)
    for failure in failures[:10]:
        print("FAILED:", failure)
    return 1 if failures else 0


def measure_site(site: Path, args, cores, pinned) -> list[str]:
    """The static site served by its own process: the class, printed; the failures."""
    context = multiprocessing.get_context("spawn")
    records = context.Queue()
    server = context.Process(target=serve, args=(str(site), records, pinned[0]), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{records.get(timeout=120)}/"
        with sync_playwright() as playwright:
            os.sched_setaffinity(0, pinned[1])  # the driver and its browser inherit these cores
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            failures = run_class(site, base, Log(records), browser, args, cores, pinned)
            browser.close()
    finally:
        os.sched_setaffinity(0, set(cores))
        server.terminate()
        server.join(timeout=10)
        records.put(None)
    return failures


class NoLog:
    """The app's server reports no requests: the browser counts them."""

    def between(self, start: float, stop: float) -> list[Served]:
        return []


def measure_app(site: Path, args, cores, pinned) -> list[str]:
    """The Gradio app with its Draw widget (lab mode, ``site`` at ``/lab``): the class,
    printed; the failures."""
    with tempfile.TemporaryDirectory() as folder:
        os.sched_setaffinity(0, pinned[0])  # the app's server inherits these cores
        try:
            with served_app(Path(folder) / "server.log", None, lab=site) as base:
                for _ in range(120):  # the lab is mounted just after the page answers
                    try:
                        urllib.request.urlopen(base + "lab/index.html", timeout=2).close()
                        break
                    except OSError:
                        time.sleep(0.5)
                with sync_playwright() as playwright:
                    os.sched_setaffinity(0, pinned[1])
                    browser = playwright.chromium.launch(
                        executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
                    )
                    failures = run_class(None, base, NoLog(), browser, args, cores, pinned)
                    browser.close()
        finally:
            os.sched_setaffinity(0, set(cores))
    return failures


def fetched(base: str, paths: list[str]) -> dict[str, bytes]:
    """Each path's body, fetched once."""
    bodies = {}
    for path in paths:
        with urllib.request.urlopen(base + path, timeout=TIMEOUT) as response:
            bodies[path] = response.read()
    return bodies


def open_drawing_page(browser, base: str, app: bool, i: int):
    """``(where the lab runs: a page or the app's widget frame, its page's recorder)``."""
    headers = {WHO: f"page-{i}"}
    if app:
        _, frame, recorder = open_app(browser, base, LAPTOP, extra_http_headers=headers)
        return frame, recorder
    return open_lab(browser, base, LAPTOP, extra_http_headers=headers)


def run_class(site: Path | None, base: str, log, browser, args, cores, pinned) -> list[str]:
    """Sections 2 and 3 of the module's description, printed; returns the failures.

    ``site``: the static site's folder, or ``None`` for the app (``base``) with its widget.
    """
    app = site is None
    paths, ready = app_first_view(browser, base) if app else first_view(browser, base)
    files = fetched(base, paths) if app else {p: (site / p).read_bytes() for p in paths}
    sizes = {p: len(b) for p, b in files.items()}
    packed = {p: len(gzip.compress(b, compresslevel=6)) for p, b in files.items()}
    raw_view, gz_view = sum(sizes.values()) / 1e6, sum(packed.values()) / 1e6
    checked = {} if app else sizes  # the app's pages may differ a little from one fetch to the next
    what = "the Gradio app with its Draw widget" if app else f"site {site}"
    print(
        f"\n{what} at {base}: {len(cores)} cores, load average {os.getloadavg()[0]:.1f} "
        "(all work on the machine)"
    )
    print(
        f"first view: {len(paths)} files, {raw_view:.2f} MB raw, {gz_view:.2f} MB gzipped; "
        f"one page interactive after {ready:.0f} ms"
    )

    os.sched_setaffinity(0, set(cores))  # nothing else runs: the class's clients may use all
    start = time.monotonic()
    loads = class_loads(base, paths, checked, start)
    served = log.between(start, time.monotonic())
    failures = failed(loads, served)
    sent = sum(s.sent for s in served) / 1e6
    gz_sent = sum(packed.get(s.path.lstrip("/"), 0) for s in served) / 1e6
    print(f"\n{CLASS} students load the first view at once ({len(paths)} files each, in turn):")
    print(
        f"  load time per student (s): {percentiles([x.seconds for x in loads])}, "
        f"max {max(x.seconds for x in loads):.1f}; errors {len(failures)}"
    )
    if app:  # Gradio does not report its requests: the clients' count
        print(f"  server: {len(loads) * len(paths)} requests, {len(loads) * raw_view:.0f} MB sent")
    else:
        print(
            f"  server: {len(served)} requests, {sent:.0f} MB sent raw "
            f"({gz_sent:.0f} MB if the host gzips)"
        )

    os.sched_setaffinity(0, pinned[1])
    pages = [open_drawing_page(browser, base, app, i) for i in range(args.pages)]
    os.sched_setaffinity(0, pinned[0])  # the class's clients beside the server
    if pinned[0] == pinned[1]:
        where = f"pages, server and class share {len(cores)} cores"
    else:
        where = f"pages share cores {sorted(pinned[1])}, server and class {sorted(pinned[0])}"
    block = max(2, args.seconds // BLOCKS)
    print(
        f"\nstrokes: a stroke a second per page, {BLOCKS} x {block} s alone and as many with the "
        f"class loading, alternated ({where}); ms"
    )
    print(
        f"{'run':24} {'strokes':>7} {'update per segment':>26} {'answer (update + maps)':>26} "
        f"{'requests':>8} {'class loads':>11}"
    )
    rows = {}
    for count in sorted({1, args.pages}):
        blocks = {False: [], True: []}
        for _ in range(BLOCKS):  # alternated, so the machine's other work hits both alike
            for with_class, runs in blocks.items():
                runs.append(draw_run(pages[:count], log, base, paths, checked, block, with_class))
        for with_class, runs in blocks.items():
            run = merged(runs)
            label = f"{count} page{'s' * (count > 1)}, " + (
                "class loads" if with_class else "alone"
            )
            rows[label] = run
            errors = failed(run.loads, run.served)
            failures += errors
            if run.page_requests or run.browser_requests:
                failures.append(f"{label}: a drawing page sent a request while drawing")
            print(
                f"{label:24} {run.strokes:7} {percentiles(run.updates):>26} "
                f"{percentiles(run.answers):>26} "
                f"{'-' if app else run.page_requests:>3} / {run.browser_requests:<2} "
                f"{len(run.loads):>5} ({len(errors)} err)"
            )
    for where, _ in pages:
        (where.page if app else where).context.close()
    print(
        "  requests: from the drawing pages while drawing, seen by the server / by the browser;\n"
        "  class loads: students who fetched the whole first view during the run (failed)"
    )
    alone, loaded = rows["1 page, alone"], rows["1 page, class loads"]
    strokes = sum(run.strokes for run in rows.values())
    requests = sum(max(run.page_requests, run.browser_requests) for run in rows.values())
    served_by = "the app" if app else "the static site"
    print(
        "\nThe Gradio app answered this class's strokes in p50 1.16 s, p95 2.53 s; with "
        f"{served_by} each student's browser answers them (p95 {p95(loaded.answers):.0f} ms "
        f"while the class loads, {p95(alone.answers):.0f} ms alone; updates while drawing p50 "
        f"{statistics.median(loaded.updates):.1f} vs {statistics.median(alone.updates):.1f} ms), "
        f"with {requests} requests to the server in {strokes} strokes: the server hands each "
        f"student {raw_view:.1f} MB once ({gz_view:.1f} MB gzipped)."
    )
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, help="a built site (default: export one now)")
    parser.add_argument("--seconds", type=int, default=20, help="length of each drawing run")
    parser.add_argument("--pages", type=int, default=5, help="drawing pages in the larger runs")
    parser.add_argument(
        "--target",
        choices=["site", "app", "both"],
        default="both",
        help="the static site, the Gradio app with its Draw widget, or both",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="server + class on one half of the cores, the browser on the other",
    )
    args = parser.parse_args()
    if args.site:
        sys.exit(measure(args.site, args))
    from cnnviz.web.export import default_graph_cache
    from cnnviz.web.site import export_site

    with tempfile.TemporaryDirectory() as folder:
        export_site(Path(folder), cache=default_graph_cache(), progress_bar=False)
        sys.exit(measure(Path(folder), args))


if __name__ == "__main__":
    main()
