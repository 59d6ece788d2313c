"""Attack speed: batched against one sample at a time (the report's way).

In one process, with the shipped no-batch-norm model (the report attacked that one):

* the 10-class visualisation (R12), all targets in one batch vs ten runs of one;
* the 100-pair targeted grid (R13), one batch vs a hundred runs of one;
* PGD-40 (eps 0.1) on ``--pgd-samples`` test digits, batches of 500 vs one at a time.

Each batched run is checked to give the same result as the one-at-a-time runs. Run::

    python benchmarks/attack_speed.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import time

import torch

from cnnviz.attacks import accuracy_under_attack, all_pairs, class_visualisation, targeted_attack
from cnnviz.checkpoint import pretrained
from cnnviz.data import first_per_class, load_splits


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def report(name: str, batched: float, single: float, same: bool) -> None:
    print(
        f"{name:<34} batched {batched:7.2f} s   one at a time {single:7.2f} s   "
        f"{single / batched:5.1f}x   same result: {same}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--pgd-samples", type=int, default=1000)
    args = parser.parse_args()
    model = pretrained(batchnorm=False)
    data = load_splits(args.data_dir)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    start = (0.1 * torch.randn(10, 1, 28, 28, generator=torch.Generator().manual_seed(0))).clamp(
        -1, 1
    )
    batched, seconds = timed(lambda: class_visualisation(model, range(10), start=start))
    singles, single_seconds = timed(
        lambda: [class_visualisation(model, [k], start=start[k : k + 1]) for k in range(10)]
    )
    same = all(int(s.steps[0]) == int(batched.steps[k]) for k, s in enumerate(singles))
    report("class visualisation (10 classes)", seconds, single_seconds, same)

    images, targets = all_pairs(data.test_x[first_per_class(data.test_y)])
    batched, seconds = timed(lambda: targeted_attack(model, images, targets))
    singles, single_seconds = timed(
        lambda: [targeted_attack(model, images[i : i + 1], targets[i : i + 1]) for i in range(100)]
    )
    same = all(int(s.steps[0]) == int(batched.steps[i]) for i, s in enumerate(singles))
    report("targeted grid (100 pairs)", seconds, single_seconds, same)

    x, y = data.test_x[: args.pgd_samples], data.test_y[: args.pgd_samples]
    accuracy, seconds = timed(
        lambda: accuracy_under_attack(model, x, y, [0.1], attack="pgd", batch_size=500)
    )
    single_accuracy, single_seconds = timed(
        lambda: accuracy_under_attack(model, x, y, [0.1], attack="pgd", batch_size=1)
    )
    same = abs(float(accuracy[0]) - float(single_accuracy[0])) <= 100.0 / len(x)
    report(f"PGD-40 on {len(x)} digits (eps 0.1)", seconds, single_seconds, same)
    print(f"PGD-40 accuracy at eps 0.1: {float(accuracy[0]):.1f} %")


if __name__ == "__main__":
    main()
