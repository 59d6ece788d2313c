"""App latency and errors under load, through the API as real clients use it.

Starts ``demo/app.py`` as its own process on 127.0.0.1 (as it is deployed), then:

1. ``/draw`` (prediction + occlusion + saliency, the app's default patch and stride) from
   one client, one request at a time;
2. ``--clients`` clients at once sending different drawings (the p95 target);
3. 16 clients at once sending the *same* drawing, then 16 sending different ones
   (the error target: identical outputs used to be served truncated);
4. ``--clients`` clients pressing "Grow from noise" together: how long each waits, and
   the queue position the app reports while they wait.

Draw requests go through Gradio's REST API in plain HTTP, as a browser's fetch does:
upload the drawing, call ``/draw``, read the event stream, decode the three pictures
(PNG data URIs inside the response); a request is timed from upload to the last decode.
(``gradio_client`` costs about 2.5x the server's CPU per request, which on 2 shared cores
would measure the client.)
The class-image phase uses ``gradio_client`` to read the queue position. Prints p50/p95
latency and the error count of each phase::

    python benchmarks/app_latency.py
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from gradio_client import Client
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from cnnviz.app.tabs import PATCH, STRIDE  # noqa: E402  (the defaults students get)

STARTUP_SECONDS = 120
BURST = 16


def random_drawings(count: int, folder: Path, seed: int = 0) -> list[Path]:
    """``count`` canvases with a few random thick strokes each, saved as PNG."""
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        canvas = Image.new("RGB", (392, 392), "white")
        points = [tuple(p) for p in rng.integers(60, 330, size=(int(rng.integers(2, 5)), 2))]
        ImageDraw.Draw(canvas).line(points, fill="black", width=26)
        path = folder / f"drawing{index}.png"
        canvas.save(path)
        paths.append(path)
    return paths


def upload(base: str, path: Path) -> dict:
    """POST a PNG to ``/gradio_api/upload`` as the browser does; its ``FileData`` dict."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"'
        "\r\nContent-Type: image/png\r\n\r\n"
    )
    body = head.encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"{base}/gradio_api/upload",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        server_path = json.load(response)[0]
    return {"path": server_path, "meta": {"_type": "gradio.FileData"}}


def inline_png(html: str) -> bytes:
    """The PNG of the one ``<img src="data:image/png;base64,...">`` in ``html``."""
    return base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1))


def call(base: str, api_name: str, data: list, session: str) -> list:
    """One event through Gradio's REST API (``/gradio_api/call``): its output values.

    ``session`` plays the browser tab's session hash: one per client, kept across its
    requests, as a student's page keeps it.
    """
    request = urllib.request.Request(
        f"{base}/gradio_api/call/{api_name}",
        data=json.dumps({"data": data, "session_hash": session}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        event = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{base}/gradio_api/call/{api_name}/{event}", timeout=60) as sse:
        lines = sse.read().decode().splitlines()
    if "event: complete" not in lines:
        raise RuntimeError(f"/{api_name} did not complete: {lines[:4]}")
    return json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))


def timed_draw(base: str, path: Path, session: str = "client-0") -> float | None:
    """Seconds for one Draw update, upload to the last picture decoded, or ``None`` on failure.

    Plain HTTP (what a browser's fetch does), so the measuring client costs the shared
    CPU little: ``gradio_client`` spends about 2.5x the server's CPU per request.
    """
    started = time.perf_counter()
    try:
        drawing = {"background": None, "layers": [], "composite": upload(base, path), "id": None}
        _, *pictures = call(base, "draw", [drawing, "batch norm", PATCH, STRIDE], session)[:4]
        for picture in pictures:
            Image.open(io.BytesIO(inline_png(picture))).load()
    except Exception:  # every failure counts as an error, whatever it is
        return None
    return time.perf_counter() - started


def timed_class_images(client: Client) -> tuple[float | None, int]:
    """Seconds until all ten class images arrive, and the worst queue position reported."""
    started = time.perf_counter()
    job = client.submit("batch norm", "all", api_name="/class_images")
    worst = 0
    while not job.done():
        worst = max(worst, int(job.status().rank or 0))
        time.sleep(0.1)
    try:
        job.result()
    except Exception:
        return None, worst
    return time.perf_counter() - started, worst


def summary(name: str, latencies: list[float | None]) -> str:
    ok = sorted(t for t in latencies if t is not None)
    errors = len(latencies) - len(ok)
    if not ok:
        return f"{name}: all {errors} requests failed"
    p95 = ok[min(len(ok) - 1, round(0.95 * (len(ok) - 1)))]
    return (
        f"{name:<34} n={len(latencies):4d}  p50 {statistics.median(ok) * 1000:7.1f} ms  "
        f"p95 {p95 * 1000:7.1f} ms  errors {errors}"
    )


def start_app(port: int) -> subprocess.Popen:
    """``demo/app.py`` on 127.0.0.1:``port``, once it answers (bounded wait)."""
    environment = os.environ | {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    # the app, not a background download of MNIST, is measured (set it to measure both)
    environment.setdefault("CNNVIZ_MNIST_MIRRORS", "")
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "demo" / "app.py")],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"the app did not start within {STARTUP_SECONDS} s")


def at_once(base: str, clients: int, paths: list[Path]) -> list[float | None]:
    """Draw requests for ``paths`` from ``clients`` threads, all busy at once.

    Each thread is one student: one session, one request at a time.
    """
    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(
            pool.map(lambda path: timed_draw(base, path, f"client-{threading.get_ident()}"), paths)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with socket.socket() as probe:  # a free port on this machine
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_app(port)
    url = f"http://127.0.0.1:{port}/"
    try:
        with tempfile.TemporaryDirectory() as folder:
            drawings = random_drawings(args.requests, Path(folder))
            base = url.rstrip("/")
            for path in drawings[:5]:  # warm-up
                timed_draw(base, path)
            print(summary("sequential (1 client)", [timed_draw(base, p) for p in drawings]))
            print(summary(f"{args.clients} clients at once", at_once(base, args.clients, drawings)))
            same = at_once(base, BURST, [drawings[0]] * (BURST * 4))
            print(summary(f"{BURST} clients, identical drawings", same))
            different = at_once(base, BURST, drawings[: BURST * 4])
            print(summary(f"{BURST} clients, different drawings", different))
            clients = [Client(url, verbose=False) for _ in range(args.clients)]
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                grown = list(pool.map(timed_class_images, clients[: args.clients]))
            print(summary(f"{args.clients} clients grow class images", [t for t, _ in grown]))
            print(f"{'':<34} largest queue position reported: {max(r for _, r in grown)}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
