"""App latency and errors under load, through the API as real clients use it.

Starts ``demo/app.py`` as its own process on 127.0.0.1 (as it is deployed), then:

1. ``/draw`` (prediction + occlusion + saliency, the app's default patch and stride) from
   one client, one request at a time;
2. ``--clients`` clients at once sending different drawings (the p95 target);
3. 16 clients at once sending the *same* drawing, then 16 sending different ones
   (the error target: identical outputs used to be served truncated);
4. ``--clients`` clients pressing "Grow from noise" together: how long each waits, and
   the queue position the app reports while they wait.

Every request downloads its output images, as a browser does. A request is timed from
upload to the last download. Prints p50/p95 latency and the error count of each phase::

    python benchmarks/app_latency.py
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from demo.app import PATCH, STRIDE  # noqa: E402  (the defaults students get)

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


def timed_draw(client: Client, path: Path) -> float | None:
    """Seconds for one Draw update including its image downloads, or ``None`` on failure."""
    payload = {
        "background": handle_file(str(path)),
        "layers": [],
        "composite": handle_file(str(path)),
    }
    started = time.perf_counter()
    try:
        _, seen, occluded, salient, *_ = client.predict(
            payload, "batch norm", PATCH, STRIDE, api_name="/draw"
        )
        for image in (seen, occluded, salient):
            if image is not None:
                Image.open(image).load()
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


def at_once(clients: list[Client], paths: list[Path]) -> list[float | None]:
    """Draw requests for ``paths`` spread over ``clients``, all clients busy at once."""
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        return list(
            pool.map(
                lambda item: timed_draw(clients[item[0] % len(clients)], item[1]), enumerate(paths)
            )
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
            client = Client(url, verbose=False)
            for path in drawings[:5]:  # warm-up
                timed_draw(client, path)
            print(summary("sequential (1 client)", [timed_draw(client, p) for p in drawings]))
            clients = [Client(url, verbose=False) for _ in range(max(args.clients, BURST))]
            print(
                summary(
                    f"{args.clients} clients at once", at_once(clients[: args.clients], drawings)
                )
            )
            same = at_once(clients[:BURST], [drawings[0]] * (BURST * 4))
            print(summary(f"{BURST} clients, identical drawings", same))
            print(
                summary(
                    f"{BURST} clients, different drawings",
                    at_once(clients[:BURST], drawings[: BURST * 4]),
                )
            )
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                grown = list(pool.map(timed_class_images, clients[: args.clients]))
            print(summary(f"{args.clients} clients grow class images", [t for t, _ in grown]))
            print(f"{'':<34} largest queue position reported: {max(r for _, r in grown)}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
