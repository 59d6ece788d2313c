"""Training speed: the ``fast`` recipe against the report's way of feeding the same model.

Measures, in one process on the same data:

* (a) ``cnnviz.training.loop`` with the ``fast`` recipe (in-memory tensors, batch 128, one-cycle
  SGD, shifts), its schedule compressed into ``--fast-epochs`` epochs;
* (b) the report's pipeline: a ``DataLoader`` whose dataset turns each sample into a PIL
  image, then a tensor, then normalises it (torchvision's ``ToTensor`` + ``Normalize``,
  written out here since torchvision is not a dependency), batch 64, SGD lr 0.01
  momentum 0.5.

For each: training throughput (samples/s) and the training wall time until the test
accuracy first reaches ``--target`` (the report's 98.45 %), checked every
``--eval-every`` steps (evaluation time excluded). The first line names the CPU kind
(AVX-512 with native bf16, or not) and the precision the ``fast`` recipe resolved to,
since both change the numbers several-fold. Run::

    python benchmarks/train_speed.py            # MNIST found as the library finds it
    python benchmarks/train_speed.py --data-dir DIR
    CNNVIZ_PRECISION=fp32 python benchmarks/train_speed.py   # the path of a CPU without bf16

The report-style run (b) may need several epochs to touch the target (its test accuracy
climbs slowly and checks every 25 steps cost a full test pass each), so it prints one
line per epoch and stops at ``--baseline-budget`` seconds of wall time, saying so, with
the throughput measured until then: it always ends with both parts printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import time

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, SubsetRandomSampler

from cnnviz.data.mnist import load_raw, make_splits, split_indices
from cnnviz.models.cnn import CNN
from cnnviz.training.device import resolve_device, resolve_precision
from cnnviz.training.evaluation import evaluate
from cnnviz.training.loop import train
from cnnviz.training.recipe import get_recipe


def cpu_kind() -> str:
    """The CPU's model name and the vector extensions that set the training speed."""
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    if {"avx512_bf16", "amx_bf16"} & flags:
        kind = "AVX-512 with native bf16"
    elif "avx512f" in flags:
        kind = "AVX-512 without bf16"
    elif "avx2" in flags:
        kind = "AVX2, no bf16"
    else:
        kind = "no AVX2/AVX-512 flags seen"
    return f"{model} ({kind})"


class PerSampleMNIST(Dataset):
    """The report's dataset: each item goes uint8 -> PIL -> float tensor -> normalised."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        picture = Image.fromarray(self.images[index], mode="L")
        tensor = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0).unsqueeze(0)
        return (tensor - 0.5) / 0.5, int(self.labels[index])


def run_baseline(raw, test_x, test_y, *, target, eval_every, max_epochs, budget, seed, device):
    """Train the report's way until ``target`` test accuracy, ``max_epochs`` or ``budget``
    seconds of wall time (training and checks), whichever comes first; one line per
    epoch. Returns a result dict."""
    torch.manual_seed(seed)
    model = CNN(batchnorm=False).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    train_idx, _ = split_indices(len(raw.train_labels), 0.1, seed=0)
    loader = DataLoader(
        PerSampleMNIST(raw.train_images, raw.train_labels),
        batch_size=64,
        sampler=SubsetRandomSampler(
            train_idx.tolist(), generator=torch.Generator().manual_seed(seed)
        ),
    )
    seconds, samples, step, reached = 0.0, 0, 0, None
    accuracy, out_of_time = 0.0, False
    wall_start = time.perf_counter()
    for epoch in range(max_epochs):
        started = time.perf_counter()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            model.train()
            loss = F.nll_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            samples += len(y)
            if step % eval_every == 0:
                seconds += time.perf_counter() - started
                accuracy = evaluate(model, test_x, test_y)[1]
                out_of_time = time.perf_counter() - wall_start > budget
                if accuracy >= target or out_of_time:
                    reached = seconds if accuracy >= target else None
                    break
                started = time.perf_counter()
        else:
            seconds += time.perf_counter() - started
            print(
                f"    (b) epoch {epoch + 1}: last check {accuracy:.2f} %, "
                f"{seconds:.0f} s of training, {time.perf_counter() - wall_start:.0f} s wall",
                flush=True,
            )
            continue
        break
    return {
        "samples_per_second": samples / seconds,
        "seconds_to_target": reached,
        "epochs_to_target": samples / len(train_idx) if reached is not None else None,
        "final_accuracy": accuracy,
        "stopped": f"the {budget:.0f} s budget" if out_of_time and reached is None else None,
    }


def run_fast(splits, *, target, eval_every, epochs, seed, device):
    """``cnnviz.train`` with the fast recipe, validating on the test set to time the target."""
    probe = dataclasses.replace(splits, val_x=splits.test_x, val_y=splits.test_y)
    recipe = dataclasses.replace(get_recipe("fast", epochs=epochs), val_every=eval_every)
    _, history = train(
        functools.partial(CNN, batchnorm=False),
        probe,
        recipe,
        seed=seed,
        device=device,
        progress=False,
        callbacks=[lambda p: p.measured and p.val_acc >= target],
    )
    reached = history.val_acc[-1] >= target
    steps_per_epoch = -(-len(splits.train_x) // recipe.batch_size)
    return {
        "samples_per_second": history.samples_per_second,
        "seconds_to_target": history.val_seconds[-1] if reached else None,
        "epochs_to_target": history.val_step[-1] / steps_per_epoch if reached else None,
        "final_accuracy": history.val_acc[-1],
        "stopped": None,
    }


def describe(name: str, result: dict) -> str:
    reached = result["seconds_to_target"]
    when = (
        f"{reached:7.1f} s ({result['epochs_to_target']:.2f} epochs)"
        if reached is not None
        else f"not reached (last {result['final_accuracy']:.2f} %"
        + (f", stopped at {result['stopped']})" if result["stopped"] else ")")
    )
    return f"{name:<34} {result['samples_per_second']:8.0f} samples/s   to target: {when}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--target", type=float, default=98.45)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--fast-epochs", type=int, default=1)
    parser.add_argument("--baseline-epochs", type=int, default=10)
    parser.add_argument(
        "--baseline-budget",
        type=float,
        default=600.0,
        help="wall-time seconds after which (b) stops and reports what it measured",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)

    raw = load_raw(args.data_dir)
    splits = make_splits(raw)
    precision = resolve_precision(get_recipe("fast").precision, device)
    print(f"CPU: {cpu_kind()}")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}, "
        f"fast recipe in {precision}, target {args.target} %",
        flush=True,
    )
    fast = run_fast(
        splits,
        target=args.target,
        eval_every=args.eval_every,
        epochs=args.fast_epochs,
        seed=args.seed,
        device=device,
    )
    print(describe(f"(a) fast recipe ({args.fast_epochs}-epoch schedule)", fast), flush=True)
    baseline = run_baseline(
        raw,
        splits.test_x,
        splits.test_y,
        target=args.target,
        eval_every=args.eval_every,
        max_epochs=args.baseline_epochs,
        budget=args.baseline_budget,
        seed=args.seed,
        device=device,
    )
    print(describe("(b) report-style DataLoader", baseline))
    speedup = fast["samples_per_second"] / baseline["samples_per_second"]
    print(f"throughput ratio (a)/(b): {speedup:.1f}x")
    if fast["seconds_to_target"] and baseline["seconds_to_target"]:
        ratio = baseline["seconds_to_target"] / fast["seconds_to_target"]
        print(f"time-to-{args.target} % ratio (b)/(a): {ratio:.1f}x")
    else:
        print(f"time-to-{args.target} % ratio: not measured, a run did not reach the target")


if __name__ == "__main__":
    main()
