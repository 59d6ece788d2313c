"""How robust is a network? Clean accuracy, PGD-40, PGD-100 with 10 restarts, and masking checks.

The evaluation behind the shipped robust weights (issue "A robust network"): on the full
test set without attack, then on the first ``--samples`` test digits:

* PGD-40 at eps 0.3 (pixel units, step 0.01, random start), Madry et al.'s attack;
* PGD-100 with 10 random restarts (an image counts only if it survives all ten);
* FGSM at eps 0.3, which must never beat PGD (else the gradient is masked);
* PGD-40 at eps 0.5 and 0.6, where accuracy must fall towards 0 (else it is masked);
* how many of its ten class images (plain ascent from N(0, 0.1) noise,
  :data:`cnnviz.report.presets.LONG_CLASS_VISUALISATION`) a nearest-class-mean
  template matcher reads as their class (:mod:`cnnviz.visualise.templates`): for the
  default start noise (seed 0, the images the gallery shows) and on average over five
  start noises (seeds 0 to 4), since one draw of noise can move the count by one or two.

``--write`` stores the numbers in the checkpoint's metadata (``robust_*`` keys), which
is how the shipped file got them. Run::

    python benchmarks/robust_eval.py                               # the shipped robust file
    python benchmarks/robust_eval.py --weights runs/cnn_bn_robust.safetensors --write
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from cnnviz.attacks.evaluation import accuracy_under_attack
from cnnviz.data.mnist import load_splits
from cnnviz.models.checkpoint import (
    history_path,
    load_checkpoint,
    pretrained_path,
    read_metadata,
    save_checkpoint,
)
from cnnviz.report.presets import LONG_CLASS_VISUALISATION
from cnnviz.training.evaluation import evaluate
from cnnviz.training.history import History
from cnnviz.visualise.class_images import class_visualisation
from cnnviz.visualise.templates import class_means, template_predictions


def measure(model: torch.nn.Module, data, samples: int) -> dict[str, float]:
    """Every number of the evaluation, in percent."""
    x, y = data.test_x[:samples], data.test_y[:samples]
    numbers = {"robust_clean_test_acc": evaluate(model, data.test_x, data.test_y)[1]}
    runs = {
        "robust_pgd40_eps0.3": dict(attack="pgd", epsilons=[0.3], steps=40, step_size=0.01),
        "robust_pgd100x10_eps0.3": dict(
            attack="pgd", epsilons=[0.3], steps=100, step_size=0.01, restarts=10
        ),
        "robust_fgsm_eps0.3": dict(attack="fgsm", epsilons=[0.3]),
        "robust_pgd40_eps0.5": dict(attack="pgd", epsilons=[0.5], steps=40, step_size=0.025),
        "robust_pgd40_eps0.6": dict(attack="pgd", epsilons=[0.6], steps=40, step_size=0.03),
    }
    for name, options in runs.items():
        started = time.perf_counter()
        epsilons = options.pop("epsilons")
        numbers[name] = accuracy_under_attack(model, x, y, epsilons, **options)[0].item()
        print(f"{name}: {numbers[name]:.1f} % ({time.perf_counter() - started:.0f} s)", flush=True)
    means = class_means(data.train_x, data.train_y)
    counts = []
    for seed in range(5):
        grown = class_visualisation(model, range(10), **LONG_CLASS_VISUALISATION, seed=seed)
        read = template_predictions(means, grown.images)
        counts.append(int((read == torch.arange(10)).sum()))
        print(f"class images from start noise {seed}, the template matcher reads {read.tolist()}")
    numbers["robust_class_images_read"] = float(counts[0])
    numbers["robust_class_images_read_mean5"] = sum(counts) / len(counts)
    print(f"read as their class: {counts} of 10 (start noises 0 to 4)")
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=pretrained_path(variant="robust"))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--write", action="store_true", help="store the numbers in the file")
    args = parser.parse_args()
    torch.manual_seed(0)
    model, metadata = load_checkpoint(args.weights)
    data = load_splits(args.data_dir)
    numbers = measure(model, data, args.samples)
    print(json.dumps({key: round(value, 2) for key, value in numbers.items()}, indent=1))
    checks = {
        "PGD never weaker than FGSM": numbers["robust_pgd40_eps0.3"]
        <= numbers["robust_fgsm_eps0.3"],
        "accuracy falls towards 0 as eps grows (< 10 % at 0.6)": numbers["robust_pgd40_eps0.6"]
        < 10,
    }
    for check, holds in checks.items():
        print(f"{'ok  ' if holds else 'FAIL'} {check}")
    if args.write:
        history = History.from_json(history_path(args.weights))
        extra = {key: f"{value:.2f}" for key, value in numbers.items()}
        extra["robust_samples"] = str(args.samples)
        extra["robust_class_images_read"] = f"{numbers['robust_class_images_read']:.0f}"
        save_checkpoint(model, args.weights, metadata=metadata | extra, history=history)
        print(f"wrote the numbers into {args.weights}: {sorted(read_metadata(args.weights))}")


if __name__ == "__main__":
    main()
