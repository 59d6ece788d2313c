"""Occlusion speed: one 28x28 map (5x5 grey patch, stride 1, 576 positions).

Compares, in one process on the same digit and shipped model:

* ``cnnviz.occlusion_maps.occlusion``: all positions in batched forward passes;
* the report's way: a Python loop, one copied-and-patched image per forward pass.

Prints the median of ``--repeats`` runs of each (alternating) and their ratio. Like the app and the
``cnnviz`` command, the process first keeps freed memory mapped
(:func:`cnnviz.runtime.retain_freed_memory`); ``--default-malloc`` skips that, to show
glibc's default. Run::

    python benchmarks/occlusion_speed.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cnnviz.checkpoint import pretrained
from cnnviz.occlusion_maps import occlusion, window_starts
from cnnviz.runtime import retain_freed_memory


def occlusion_loop(model, image, target, patch=5, value=0.0):
    """One forward pass per patch position, as the report's code did."""
    starts = window_starts(28, patch, 1).tolist()
    probabilities = torch.empty(len(starts), len(starts))
    with torch.no_grad():
        for i, top in enumerate(starts):
            for j, left in enumerate(starts):
                occluded = image.clone()
                occluded[:, top : top + patch, left : left + patch] = value
                probabilities[i, j] = torch.softmax(model.logits(occluded[None]), 1)[0, target]
    return probabilities


def interleaved_medians(first, second, repeats: int) -> tuple[float, float]:
    """Median seconds of ``first()`` and of ``second()``, timed alternately.

    Alternating keeps a slow spell of a shared machine from landing on one side only.
    """
    first(), second()  # warm-up
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for function, spent in zip((first, second), times, strict=True):
            started = time.perf_counter()
            function()
            spent.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batchnorm", action="store_true", help="use the batch-norm model")
    parser.add_argument("--default-malloc", action="store_true", help="leave malloc as it is")
    args = parser.parse_args()
    retained = not args.default_malloc and retain_freed_memory()
    model = pretrained(batchnorm=args.batchnorm)
    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    batched, looped = interleaved_medians(
        lambda: occlusion(model, image, 3), lambda: occlusion_loop(model, image, 3), args.repeats
    )
    same = torch.allclose(
        occlusion(model, image, 3).probability, occlusion_loop(model, image, 3), atol=1e-5
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; 576 positions; "
        f"freed memory retained: {retained}"
    )
    print(f"batched occlusion map:      {batched * 1000:8.1f} ms")
    print(f"loop of single passes:      {looped * 1000:8.1f} ms")
    print(f"speed-up: {looped / batched:.1f}x (same map: {same})")


if __name__ == "__main__":
    main()
