"""Live training in the app, through its API as a client uses it (``gradio_client``).

Starts ``demo/app.py`` on 127.0.0.1 (as deployed), then:

1. ``/train``: the ``fast`` recipe with batch norm, 1 epoch (the tab's defaults): seconds
   from the request to the first update whose validation accuracy reached 98 %, the
   interval between updates (p50, p95), and the final summary;
2. ``/race``: batch norm against none, the same settings: seconds until both finished,
   and each one's time to 98 % validation accuracy;
3. Stop, in this process (the Stop button calls the same ``LiveRun.stop``): a ``fast``
   run stopped after 5 s, five times: how long until training stopped (the step under
   way finishes), and until the test accuracy of what it learned was ready.

Targets (issue "Train it yourself"): 98 % within 20 s, updates at least once a second,
the race within 45 s, with the full MNIST present. Run::

    python benchmarks/app_training.py
"""

from __future__ import annotations

import itertools
import re
import socket
import statistics
import time

import torch
from app_latency import start_app  # the app started as deployed, bounded wait
from gradio_client import Client

from cnnviz.app import train_handlers
from cnnviz.models.cnn import CNN
from cnnviz.training.live import LiveRun

VALIDATION = re.compile(r"validation (\d+\.\d+) %")


def streamed(client: Client, api_name: str, *args) -> tuple[list[float], list[tuple]]:
    """Submit, then each output's arrival (seconds from submitting) and the outputs."""
    started = time.perf_counter()
    job = client.submit(*args, api_name=api_name)
    times, outputs = [], []
    for output in job:
        times.append(time.perf_counter() - started)
        outputs.append(output)
    return times, outputs


def intervals(times: list[float]) -> str:
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    p95 = gaps[min(len(gaps) - 1, round(0.95 * (len(gaps) - 1)))]
    return f"{len(times)} updates, interval p50 {statistics.median(gaps):.2f} s, p95 {p95:.2f} s"


def stop_latency(repeats: int = 5) -> None:
    """Seconds from ``stop()`` to the training thread's last step and to its end."""
    train_handlers.warm_up()
    data, _ = train_handlers.live_data()
    recipe = train_handlers.live_recipe("fast", 1, 0.1, 128)
    stopped, finished = [], []
    for _ in range(repeats):
        run = LiveRun.start(CNN(), data, recipe, threads=train_handlers.TRAIN_THREADS)
        time.sleep(5)
        asked = time.monotonic()
        run.stop()
        run.wait()
        stopped.append(run.started + run.wall[-1] - asked)
        finished.append(time.monotonic() - asked)
    print(
        f"Stop: training stopped {max(stopped) * 1000:.0f} ms after the request at most "
        f"(of {repeats}); the test accuracy was ready after {statistics.median(finished):.2f} s "
        f"(median; max {max(finished):.2f} s)"
    )


def main() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_app(port)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        times, outputs = streamed(client, "/train", "fast", True, 1, 0.1, 128)
        reached = next(
            (
                t
                for t, out in zip(times, outputs, strict=True)
                if (m := VALIDATION.search(out[2] or "")) and float(m.group(1)) >= 98.0
            ),
            None,
        )
        summary = outputs[-1][3]
        print(f"/train fast, batch norm, 1 epoch: {intervals(times)}")
        print(f"  98 % validation seen by the client after {reached} s (target <= 20 s)")
        print(f"  summary: {summary}")
        times, outputs = streamed(client, "/race", "fast", 1, 0.1, 128)
        print(
            f"/race fast, 1 epoch: both finished after {times[-1]:.1f} s (target <= 45 s); "
            f"{intervals(times)}"
        )
        for name, result in outputs[-1][2].items():
            print(f"  {name}: {result}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    torch.set_num_threads(1)  # as the app does
    stop_latency()


if __name__ == "__main__":
    main()
