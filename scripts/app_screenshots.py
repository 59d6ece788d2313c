"""Screenshots of the running app for the docs and the README, made so they cannot go stale.

``python scripts/app_screenshots.py`` starts the app of this checkout on 127.0.0.1 (a free
port), draws a 7 on the Draw tab with the mouse in headless chromium, waits for the
prediction, and saves what a laptop (1366x768) and a phone (390x844) show to
``docs/_static/app.png`` and ``docs/_static/app-phone.png``. Beside them it writes
``docs/_static/app_screenshots.json``: the SHA-256 of the files that define the app's
page (:data:`LAYOUT`). ``tests/test_docs_site.py`` recomputes that hash and fails when a
layout file changed after the screenshots were made: run this script again then. The
server and the browser are stopped at the end, also on failure.

The same for the app on a teacher's own model (docs/your_model.rst), served as the page
says from a folder holding the trained weights (docs/teacher/trained.py: trained once per
machine) and the generated pictures: ``app-own-net.png`` (``--model teachernet:build``, a
7 drawn) and ``app-own-colour.png`` (``--model teachernet:colour`` with the pictures, a
cat's picture clicked), at the laptop's size.

Options: ``--out DIR`` (default ``docs/_static``), ``--check`` (exit 1 if stale, take
nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout: its cnnviz, and the tests' server helper

from tests.app.test_app import served_command  # noqa: E402

OUT = ROOT / "docs" / "_static"
RECORD = "app_screenshots.json"
#: The files that define what the app's page looks like (globs under the checkout).
LAYOUT = (
    "cnnviz/app/tabs.py",
    "cnnviz/app/components.py",
    "cnnviz/app/page.py",
    "cnnviz/app/page.js",
    "cnnviz/app/words.py",
    "cnnviz/app/lab_site.py",
    "cnnviz/app/*.css",
    "cnnviz/web/static/**/*.html",
    "cnnviz/web/static/**/*.css",
    "cnnviz/app/own/*.py",
)
LAPTOP = {"width": 1366, "height": 768}
#: File name -> viewport of each screenshot of the report's app.
SHOTS = {
    "app.png": LAPTOP,
    "app-phone.png": {"width": 390, "height": 844},
}
#: File name -> the ``cnnviz demo`` options of each screenshot of a teacher's model
#: (docs/your_model.rst), taken at the laptop's size.
OWN_SHOTS = {
    "app-own-net.png": ("--model", "teachernet:build", "--weights", "net.safetensors"),
    "app-own-colour.png": (
        *("--model", "teachernet:colour", "--weights", "colour.safetensors"),
        *("--images", "pictures", "--class-names", "cat,dog,car,ship,tree"),
    ),
}
TEACHER = ROOT / "docs" / "teacher"
CAT = 40  # the gallery's first cat: the folder is sorted (car, cat, dog, ship, tree)
#: Height (CSS px) of a screenshot: the page below the viewport too, up to this height,
#: so the laptop shot shows the Draw tab's outputs under the sketchpad.
SHOT_HEIGHT = 1100
CHROMIUM = Path(os.environ.get("CNNVIZ_CHROMIUM", "/usr/bin/chromium"))
READ_MS = 90_000  # from the first stroke to a prediction on screen
#: A 7 in fractions of the sketchpad's side (x, y), drawn as one stroke.
SEVEN = [(0.36, 0.3), (0.5, 0.3), (0.64, 0.3), (0.56, 0.5), (0.47, 0.72)]


def layout_files(root: Path = ROOT) -> list[Path]:
    """The existing files matched by :data:`LAYOUT`, sorted, relative to ``root``."""
    found = {path for pattern in LAYOUT for path in root.glob(pattern) if path.is_file()}
    return sorted(path.relative_to(root) for path in found)


def layout_hash(root: Path = ROOT) -> str:
    """SHA-256 over the names and contents of :func:`layout_files` (hex)."""
    digest = hashlib.sha256()
    for path in layout_files(root):
        digest.update(path.as_posix().encode() + b"\0" + (root / path).read_bytes() + b"\0")
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_app(log: Path, options: tuple[str, ...] = (), cwd: Path = ROOT) -> Iterator[str]:
    """The app of this checkout (``cnnviz demo`` with ``options``, run in ``cwd``) on
    127.0.0.1; yields its URL, stops it at the end."""
    port = free_port()
    argv = ["-m", "cnnviz.cli", "demo", *options, "--host", "127.0.0.1", "--port", str(port)]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), str(TEACHER)])}
    with served_command(argv, env, log, port, cwd=cwd) as url:
        yield url


def drawing_surface(page):
    """``(frame, canvas locator, kind)`` of the Draw tab's sketchpad.

    The Draw tab either embeds the browser lab (an iframe whose ``#sketchpad`` is a
    canvas) or shows Gradio's sketchpad (``#sketchpad canvas``); whichever is on the page.
    """
    deadline = time.monotonic() + READ_MS / 1000
    while time.monotonic() < deadline:  # bounded: the page may still be building
        for frame in page.frames[1:]:
            lab = frame.locator("canvas#sketchpad")
            if lab.count() and lab.first.is_visible():
                frame.wait_for_function("document.body.dataset.ready === 'true'", timeout=READ_MS)
                return frame, lab.first, "lab"
        gradio = page.locator("#sketchpad canvas")
        if gradio.count() and gradio.last.is_visible():
            return page, gradio.last, "gradio"
        page.wait_for_timeout(500)
    raise RuntimeError("no sketchpad on the Draw tab (neither the lab's nor Gradio's)")


def draw_seven(page) -> None:
    """Draw :data:`SEVEN` with the mouse and wait until the page reads it as a 7 (the
    captions of the screenshots say so)."""
    frame, canvas, kind = drawing_surface(page)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in SEVEN]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=8)
    page.mouse.up()
    if kind == "lab":
        frame.evaluate("window.cnnvizLab.idle()")
        frame.wait_for_function(
            "/^7: /.test(document.querySelector('#prediction').textContent.trim())",
            timeout=READ_MS,
        )
    else:
        page.wait_for_function(
            "/reads 7/.test(document.querySelector('#message')?.textContent ?? '')",
            timeout=READ_MS,
        )
    # A Gradio page never goes network-idle (its event stream stays open): wait for images.
    page.wait_for_function("[...document.images].every(image => image.complete)")
    page.wait_for_timeout(2000)  # the last outputs painted


def pick_cat(page) -> None:
    """Click the first cat of the teacher's gallery and wait until the page says the model
    reads a cat (the caption of the screenshot says so)."""
    page.locator("#pictures .thumbnail-item").nth(CAT).click(timeout=READ_MS)
    page.wait_for_function(
        "/The model reads cat/.test(document.querySelector('#message')?.textContent ?? '')",
        timeout=READ_MS,
    )
    # The gallery's pictures load lazily (those out of sight never complete): wait for
    # the outputs' images only.
    page.wait_for_function(
        "[...document.querySelectorAll('#seen img, #occluded img, #salient img')]"
        ".every(image => image.complete && image.naturalWidth > 0)",
        timeout=READ_MS,
    )
    page.wait_for_timeout(2000)  # the last outputs painted


def shoot(browser, url: str, path: Path, viewport: dict, act) -> None:
    """Open ``url`` at ``viewport``, ``act`` on the page, save its top (down to
    :data:`SHOT_HEIGHT`) to ``path``."""
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(url, wait_until="load")
        act(page)
        page.evaluate("window.scrollTo(0, 0)")
        height = page.evaluate("document.documentElement.scrollHeight")
        clip = {"x": 0, "y": 0, "width": viewport["width"]}
        clip["height"] = max(viewport["height"], min(height, SHOT_HEIGHT))
        page.screenshot(path=str(path), full_page=True, clip=clip)
        print(f"wrote {path} ({viewport['width']}x{viewport['height']})")
    finally:
        page.close()


def teacher_folder(folder: Path) -> Path:
    """``folder`` as the teacher of docs/your_model.rst has it: ``net.safetensors``,
    ``colour.safetensors`` (trained once per machine) and ``pictures/``."""
    sys.path.insert(0, str(TEACHER))
    import teachernet
    import trained

    pictures = teachernet.make_pictures(folder / "pictures")
    shutil.copy(trained.net_weights(), folder / "net.safetensors")
    shutil.copy(trained.colour_weights(pictures), folder / "colour.safetensors")
    return folder


def take(out: Path) -> dict:
    """Serve the app, take every shot of :data:`SHOTS`, then serve it on each teacher's
    model and take :data:`OWN_SHOTS`, into ``out``; the record written."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    log = out / ".app_screenshots.log"
    try:
        with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"]
            )
            try:
                with served_app(log) as url:
                    for name, viewport in SHOTS.items():
                        shoot(browser, url, out / name, viewport, draw_seven)
                teacher = teacher_folder(Path(folder))
                for name, options in OWN_SHOTS.items():
                    act = pick_cat if "--images" in options else draw_seven
                    with served_app(log, options, cwd=teacher) as url:
                        shoot(browser, url, out / name, LAPTOP, act)
            finally:
                browser.close()
    finally:
        log.unlink(missing_ok=True)
    record = {
        "layout_sha256": layout_hash(),
        "layout_files": [path.as_posix() for path in layout_files()],
        "shots": SHOTS | dict.fromkeys(OWN_SHOTS, LAPTOP),
        "made_by": "python scripts/app_screenshots.py",
    }
    (out / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return record


def stale(out: Path = OUT) -> str | None:
    """Why the screenshots in ``out`` do not show the current layout, or ``None``."""
    record_path = out / RECORD
    if not record_path.is_file():
        return f"{record_path} is missing"
    record = json.loads(record_path.read_text())
    missing = [name for name in record.get("shots", SHOTS) if not (out / name).is_file()]
    if missing:
        return f"screenshots missing: {missing}"
    if record.get("layout_sha256") != layout_hash():
        return "the app's layout changed since the screenshots were made"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if stale; take nothing")
    args = parser.parse_args(argv)
    if args.check:
        reason = stale(args.out)
        print(reason or "the screenshots show the current layout")
        return 1 if reason else 0
    take(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
