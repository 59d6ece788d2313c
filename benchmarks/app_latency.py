"""App latency: the Draw tab update (prediction + occlusion + saliency) through the API.

Starts the app as its own process on 127.0.0.1 (as it is deployed), then sends
``--requests`` drawings with ``gradio_client``: first one client at a time, then
``--clients`` clients at once. A request is timed from upload to the result's arrival
(its output images are left on the server, as a browser fetches them on its own).
Prints p50/p95 latency and the error count of each phase. Run::

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
STARTUP_SECONDS = 120


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


def timed_request(client: Client, path: Path) -> float | None:
    """Seconds for one Draw update, or ``None`` if it failed."""
    payload = {
        "background": handle_file(str(path)),
        "layers": [],
        "composite": handle_file(str(path)),
    }
    started = time.perf_counter()
    try:
        client.predict(payload, "batch norm", 5, 1, api_name="/draw")
    except Exception:  # every failure counts as an error, whatever it is
        return None
    return time.perf_counter() - started


def summary(name: str, latencies: list[float | None]) -> str:
    ok = sorted(t for t in latencies if t is not None)
    errors = len(latencies) - len(ok)
    if not ok:
        return f"{name}: all {errors} requests failed"
    p95 = ok[min(len(ok) - 1, round(0.95 * (len(ok) - 1)))]
    return (
        f"{name:<26} n={len(latencies):4d}  p50 {statistics.median(ok) * 1000:6.1f} ms  "
        f"p95 {p95 * 1000:6.1f} ms  errors {errors}"
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
            client = Client(url, verbose=False, download_files=False)
            for path in drawings[:5]:  # warm-up
                timed_request(client, path)
            sequential = [timed_request(client, path) for path in drawings]
            print(summary("sequential (1 client)", sequential))
            clients = [
                Client(url, verbose=False, download_files=False) for _ in range(args.clients)
            ]
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                concurrent = list(
                    pool.map(
                        lambda item: timed_request(clients[item[0] % args.clients], item[1]),
                        enumerate(drawings),
                    )
                )
            print(summary(f"{args.clients} clients at once", concurrent))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
