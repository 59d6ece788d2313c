"""Occlusion speed: full maps of a 5x5 grey patch at stride 1, on two models.

Compares, in one process on the same image:

* the report's CNN (shipped weights), 28x28, 576 positions:
  ``cnnviz.inspect.occlusion.occlusion`` (which takes the exact incremental path of
  ``cnnviz.fast.occlusion``), the generic path (the same CNN as a plain classifier, full
  forward passes in batches), and the report's way: a Python loop, one
  copied-and-patched image per forward pass;
* a foreign classifier (``ColourNet`` of the tests, 3x32x32, 784 positions): the generic
  path and the loop.

Prints the median of ``--repeats`` runs of each (alternating) and their ratios. Like the
app and the ``cnnviz`` command, the process first keeps freed memory mapped
(:func:`cnnviz.core.runtime.retain_freed_memory`); ``--default-malloc`` skips that, to show
glibc's default. Run::

    python benchmarks/occlusion_speed.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from cnnviz.core.classifier import class_scores
from cnnviz.core.runtime import retain_freed_memory
from cnnviz.inspect.occlusion import occlusion
from cnnviz.models.checkpoint import pretrained

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.foreign_models import ColourNet, colour_images

PATCH = 5


def occlusion_loop(model, image, target, value):
    """One forward pass per patch position (stride 1), as the report's code did."""
    _, height, width = image.shape
    probabilities = torch.empty(height - PATCH + 1, width - PATCH + 1)
    with torch.no_grad():
        for top in range(height - PATCH + 1):
            for left in range(width - PATCH + 1):
                occluded = image.clone()
                occluded[:, top : top + PATCH, left : left + PATCH] = value
                scores = class_scores(model, occluded[None])
                probabilities[top, left] = torch.softmax(scores, 1)[0, target]
    return probabilities


def interleaved_medians(functions, repeats: int) -> list[float]:
    """Median seconds of each of ``functions``, timed alternately.

    Alternating keeps a slow spell of a shared machine from landing on one side only.
    """
    for function in functions:  # warm-up
        function()
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(repeats):
        for function, spent in zip(functions, times, strict=True):
            started = time.perf_counter()
            function()
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) for spent in times]


def compare(title: str, runs: dict, repeats: int) -> None:
    """Time ``runs`` (label -> function returning a probability map); print ms and ratios."""
    medians = interleaved_medians(list(runs.values()), repeats)
    maps = [run() for run in runs.values()]
    same = all(torch.allclose(maps[0], other, atol=1e-5) for other in maps[1:])
    print(f"{title} (same map: {same})")
    for label, median in zip(runs, medians, strict=True):
        print(f"  {label:28} {median * 1000:8.1f} ms  ({median / medians[0]:5.1f}x the first)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batchnorm", action="store_true", help="use the batch-norm model")
    parser.add_argument("--default-malloc", action="store_true", help="leave malloc as it is")
    args = parser.parse_args()
    retained = not args.default_malloc and retain_freed_memory()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"freed memory retained: {retained}"
    )
    model = pretrained(batchnorm=args.batchnorm)
    plain = nn.Sequential(model).eval()  # no .logits: the generic path, same probabilities
    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    compare(
        "report CNN, 1x28x28, 576 positions",
        {
            "incremental path (auto)": lambda: occlusion(model, image, 3, patch=PATCH).probability,
            "generic path": lambda: occlusion(plain, image, 3, patch=PATCH, value=0.0).probability,
            "loop of single passes": lambda: occlusion_loop(model, image, 3, 0.0),
        },
        args.repeats,
    )
    net, colour = ColourNet().eval(), colour_images(1)[0]
    compare(
        "ColourNet, 3x32x32, 784 positions",
        {
            "generic path": lambda: occlusion(net, colour, 3, patch=PATCH).probability,
            "loop of single passes": lambda: occlusion_loop(net, colour, 3, 0.5),
        },
        args.repeats,
    )


if __name__ == "__main__":
    main()
