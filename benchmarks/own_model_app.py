"""How long each tab of the app takes on a teacher's model (``cnnviz demo --model``).

Times the app's own handlers (:mod:`cnnviz.app.own.handlers`,
:mod:`cnnviz.app.own.inside_handlers`: what a button press runs on the server, without the
HTTP round trip) on one image, with one torch thread as the app runs them, for three models
served the same way:

* the report's CNN (shipped weights) as a teacher's model: the baseline of the ratios;
* pytorch/examples' MNIST ``Net`` (``docs/teacher/teachernet.py:build``, trained weights
  from the per-machine cache, trained once if missing; needs MNIST) on a test digit;
* the teacher's colour CNN (``teachernet.py:colour``) on a generated picture.

Prints, per action, the median of ``--repeats`` runs in ms and its ratio to the report's
CNN::

    python benchmarks/own_model_app.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

import cnnviz
from cnnviz.app.own import handlers, inside_handlers
from cnnviz.core.classifier import from_pixels, to_pixels
from cnnviz.models.user_model import UserModel, load_user_model, user_model

TEACHER = Path(__file__).resolve().parents[1] / "docs" / "teacher"
sys.path.insert(0, str(TEACHER))
import teachernet  # noqa: E402  (the docs' teacher module)
import trained  # noqa: E402


def median_ms(action: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``action`` after one warm-up, in ms."""
    action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def actions(spec: UserModel, image) -> dict[str, Callable[[], object]]:
    """The button presses of each tab on ``image`` (numpy ``(1, C, H, W)``, model space)."""
    first_conv = inside_handlers.layer_choices(spec)[0][1]
    _, _, height, width = image.shape
    last = inside_handlers.linear_layers(spec)[-1]
    return {
        "Look: prediction, occlusion, saliency": lambda: handlers.look(spec, image, 5, 2),
        "Inside: feature maps of the first layer": lambda: inside_handlers.feature_maps(
            spec, image, first_conv
        ),
        "Inside: open a unit of it": lambda: inside_handlers.open_unit(
            spec, image, first_conv, 0, width // 2, height // 2
        ),
        "Inside: a class's output unit": lambda: inside_handlers.linear_unit(spec, image, last, 0),
        "Classes: grow every class": lambda: handlers.grow_class_images(spec, "all"),
        "Targeted: to class 1": lambda: handlers.targeted(spec, image, "1", 1.0, 100),
        "FGSM/PGD: PGD-40": lambda: handlers.gradient_attack(spec, image, "PGD-40", 0.1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the app serves
    digit = to_pixels(cnnviz.load_test_digits().x[:1], (-1.0, 1.0))  # a test digit in [0, 1]
    report = user_model(cnnviz.pretrained(), name="report CNN")
    net = load_user_model(f"{TEACHER / 'teachernet.py'}:build", weights=trained.net_weights())
    with tempfile.TemporaryDirectory() as folder:
        teachernet.make_pictures(folder)  # the defaults the cached weights were trained on
        colour = load_user_model(
            f"{TEACHER / 'teachernet.py'}:colour",
            weights=trained.colour_weights(folder),
            class_names=",".join(teachernet.CLASSES),
        )
        pictures = cnnviz.load_image_folder(folder, shape=colour.input_shape, bounds=colour.bounds)
    subjects = {
        "report CNN": (report, from_pixels(digit, report.bounds).numpy()),
        "Net": (net, from_pixels(digit, net.bounds).numpy()),
        "colour CNN": (colour, pictures.images[:1].numpy()),
    }
    timings = {
        name: {what: median_ms(run, args.repeats) for what, run in actions(*subject).items()}
        for name, subject in subjects.items()
    }
    print(f"median of {args.repeats} runs, ms (ratio to the report CNN); torch {torch.__version__}")
    print(f"{'action':42s}" + "".join(f"{name:>22s}" for name in subjects))
    for what, base in timings["report CNN"].items():
        cells = [
            f"{timings[name][what]:10.1f} ({timings[name][what] / base:4.1f}x)" for name in subjects
        ]
        print(f"{what:42s}" + "".join(f"{cell:>22s}" for cell in cells))


if __name__ == "__main__":
    main()
