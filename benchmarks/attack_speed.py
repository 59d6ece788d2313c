"""Attack speed: batched against one sample at a time (ours, and the report's way).

In one process, with the shipped no-batch-norm model (the report attacked that one):

* the 10-class visualisation (R12) with the report's plain logit steps, all targets in
  one batch vs ten runs of one;
* the 100-pair targeted grid (R13), one batch vs a hundred runs of one;
* PGD-40 (eps 0.1) on ``--pgd-samples`` test digits, batches of 128 vs one at a time;
* the same PGD-40 against torchattacks' ``PGD`` on the same model and digits
  (``pip install --no-deps torchattacks==3.5.1``), and against cnnviz's own ``pgd``
  through autograd (the model wrapped, so the hand-written step of
  :mod:`cnnviz.fast.cnn_gradient` is not taken): the speed-up of that step, same process.

"One at a time" is timed twice for the ascent attacks: the library's own function on
one sample, and the report's loop (per step a second forward pass for the probability,
read through NumPy), with the library's clipping and closeness term so both compute the
same thing. Every run is checked to take the same number of steps as the batched one.

Batching cannot beat the longest sample: an ascent batch still runs ``max(steps)``
dependent steps, so ``sum(steps) / max(steps)`` bounds its speed-up unless a step on a
batch costs less than one step on one sample. That bound is printed too. Run::

    python benchmarks/attack_speed.py           # MNIST found as the library finds it
    python benchmarks/attack_speed.py --data-dir DIR
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.nn import functional as F

from cnnviz.attacks.evaluation import accuracy_under_attack
from cnnviz.attacks.pgd import pgd
from cnnviz.attacks.targeted import all_pairs, targeted_attack
from cnnviz.core.runtime import retain_freed_memory
from cnnviz.data.mnist import first_per_class, load_splits
from cnnviz.models.checkpoint import pretrained
from cnnviz.models.cnn import CNN
from cnnviz.report.presets import REPORT_CLASS_VISUALISATION
from cnnviz.visualise.class_images import class_visualisation


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def report_way(
    model: CNN,
    image: torch.Tensor,
    target: int,
    threshold: float,
    beta: float = 0.0,
    step_size: float = 0.1,
    max_steps: int = 500,
) -> int:
    """The report's loop for one image ``(1, 1, 28, 28)``; returns the steps taken."""
    source = image.detach()
    x = source.clone().requires_grad_(True)
    for step in range(max_steps + 1):
        logits = model.logits(x)
        log_probabilities = model(x)  # the report's second forward pass
        p = np.exp(log_probabilities.detach().numpy())[0, target]
        if p >= threshold or step == max_steps:
            return step
        objective = logits[0, target] - beta * F.mse_loss(x, source)
        (gradient,) = torch.autograd.grad(objective, x)
        x = (x + step_size * gradient).clamp(-1, 1).detach().requires_grad_(True)
    return max_steps


def compare(name: str, model: CNN, batched, images, targets, run_one, **report_options) -> None:
    """Time ``batched`` (an AscentResult factory) against both one-at-a-time ways."""
    result, seconds = timed(batched)
    pairs = list(zip(images.split(1), targets.tolist(), strict=True))
    ours, ours_seconds = timed(lambda: [int(run_one(x, t).steps[0]) for x, t in pairs])
    theirs, theirs_seconds = timed(
        lambda: [report_way(model, x, t, **report_options) for x, t in pairs]
    )
    steps = result.steps.tolist()
    bound = sum(steps) / max(max(steps), 1)
    print(
        f"{name:<32} batched {seconds:6.2f} s | one at a time: ours {ours_seconds:6.2f} s "
        f"({ours_seconds / seconds:4.1f}x), report's way {theirs_seconds:6.2f} s "
        f"({theirs_seconds / seconds:4.1f}x) | bound sum/max steps {bound:4.1f}x | "
        f"same steps: {ours == steps and theirs == steps}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--pgd-samples", type=int, default=1000)
    args = parser.parse_args()
    retained = retain_freed_memory()
    model = pretrained(batchnorm=False).eval()
    data = load_splits(args.data_dir)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"freed memory retained: {retained}"
    )

    start = (0.1 * torch.randn(10, 1, 28, 28, generator=torch.Generator().manual_seed(0))).clamp(
        -1, 1
    )
    compare(
        "class visualisation (10 classes)",
        model,
        lambda: class_visualisation(model, range(10), start=start, **REPORT_CLASS_VISUALISATION),
        start,
        torch.arange(10),
        lambda x, t: class_visualisation(model, [t], start=x, **REPORT_CLASS_VISUALISATION),
        threshold=0.99,
    )
    images, targets = all_pairs(data.test_x[first_per_class(data.test_y)])
    compare(
        "targeted grid (100 pairs)",
        model,
        lambda: targeted_attack(model, images, targets),
        images,
        targets,
        lambda x, t: targeted_attack(model, x, torch.tensor([t])),
        threshold=0.9,
        beta=1.0,
    )

    x, y = data.test_x[: args.pgd_samples], data.test_y[: args.pgd_samples]
    accuracy, seconds = timed(lambda: accuracy_under_attack(model, x, y, [0.1], attack="pgd"))
    single, single_seconds = timed(
        lambda: accuracy_under_attack(model, x, y, [0.1], attack="pgd", batch_size=1)
    )
    print(
        f"{f'PGD-40 on {len(x)} digits (eps 0.1)':<32} batched {seconds:6.2f} s | "
        f"one at a time {single_seconds:6.2f} s ({single_seconds / seconds:4.1f}x) | "
        f"accuracy {float(accuracy[0]):.1f} % (one at a time {float(single[0]):.1f} %)"
    )

    against_torchattacks(model, x, y)


class _ZeroOneInput(torch.nn.Module):
    """The report's CNN seen from [0, 1] images, as torchattacks expects its models."""

    def __init__(self, model: CNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.logits(images * 2 - 1)


def against_torchattacks(model: CNN, x: torch.Tensor, y: torch.Tensor) -> None:
    """PGD-40 (eps 0.1, step 0.01, random start) by cnnviz and by torchattacks, same inputs.

    torchattacks attacks the batch it is given; it is timed on all digits at once (its
    documented use) and in batches of 128, the batch cnnviz uses by default.
    """
    try:
        import torchattacks
    except ImportError:
        print("torchattacks is not installed: pip install --no-deps torchattacks==3.5.1")
        return
    wrapped = _ZeroOneInput(model).eval()
    pixels = (x + 1) / 2
    attack = torchattacks.PGD(wrapped, eps=0.1, alpha=0.01, steps=40, random_start=True)

    def theirs(batch: int) -> float:
        adversarial = torch.cat(
            [attack(pixels[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]
        )
        with torch.no_grad():
            return 100.0 * (wrapped(adversarial).argmax(1) == y).float().mean().item()

    # warm-up: numba loads (or, the first time on a machine, compiles) cnnviz's kernels
    pgd(model, x[:8], y[:8], eps=0.1, steps=2, step_size=0.01)
    attack(pixels[:8], y[:8])
    ours, ours_seconds = timed(lambda: pgd(model, x, y, eps=0.1, steps=40, step_size=0.01))
    ours_accuracy = 100.0 * (ours.predictions == y).float().mean().item()
    # the wrapper is not the CNN class, so this runs cnnviz's pgd through autograd
    general, general_seconds = timed(
        lambda: pgd(wrapped, pixels, y, eps=0.1, steps=40, step_size=0.01, bounds=(0, 1))
    )
    general_accuracy = 100.0 * (general.predictions == y).float().mean().item()
    whole, whole_seconds = timed(lambda: theirs(len(x)))
    batched, batched_seconds = timed(lambda: theirs(128))
    print(
        f"{f'PGD-40 on {len(x)} digits vs torchattacks':<32} cnnviz {ours_seconds:6.2f} s "
        f"({ours_accuracy:.1f} %) | cnnviz through autograd {general_seconds:6.2f} s "
        f"({general_accuracy:.1f} %, {general_seconds / ours_seconds:4.2f}x) | torchattacks, "
        f"all at once {whole_seconds:6.2f} s ({whole:.1f} %, {whole_seconds / ours_seconds:4.2f}x)"
        f", in batches of 128 {batched_seconds:6.2f} s ({batched:.1f} %, "
        f"{batched_seconds / ours_seconds:4.2f}x); cnnviz is "
        f"{min(whole_seconds, batched_seconds) / ours_seconds:4.2f}x faster than torchattacks' best"
    )


if __name__ == "__main__":
    main()
