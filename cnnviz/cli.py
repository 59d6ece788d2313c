"""The ``cnnviz`` command: ``train``, ``evaluate``, ``info``, ``figures``, ``report``, ``demo``,
``export-web``."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from cnnviz import __version__
from cnnviz.core.runtime import retain_freed_memory
from cnnviz.data.idx import IDXError
from cnnviz.data.mnist import DatasetNotFoundError, Splits, load_splits
from cnnviz.models.checkpoint import (
    CheckpointError,
    load_checkpoint,
    pretrained_metadata,
    pretrained_path,
    save_checkpoint,
)
from cnnviz.models.cnn import CNN
from cnnviz.models.summary import format_summary
from cnnviz.training.device import resolve_device
from cnnviz.training.evaluation import evaluate
from cnnviz.training.loop import train
from cnnviz.training.recipe import RECIPES

VARIANTS = {"bn": (True,), "nobn": (False,), "both": (True, False)}


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` and ``--dataset``, shared by the commands that read data."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with the four IDX files (default: $CNNVIZ_DATA, then ~/.cache/cnnviz; "
        "MNIST is downloaded there if missing)",
    )
    parser.add_argument(
        "--dataset",
        choices=("mnist", "idx"),
        default="mnist",
        help="'mnist' (checksummed, downloadable) or 'idx': any IDX data set with MNIST's "
        "file names, such as Fashion-MNIST or KMNIST (default: mnist)",
    )


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device``, shared by the commands that run a model."""
    parser.add_argument(
        "--device",
        default=None,
        help="where to run: cpu, cuda, cuda:1, ... (default: cuda when available, else cpu)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cnnviz`` command."""
    parser = argparse.ArgumentParser(
        prog="cnnviz", description="See what a convolutional network sees."
    )
    parser.add_argument("--version", action="version", version=f"cnnviz {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    trainer = commands.add_parser("train", help="train the CNN and save weights + history")
    trainer.add_argument("--variant", choices=sorted(VARIANTS), default="both")
    trainer.add_argument("--recipe", choices=sorted(RECIPES), default="fast")
    trainer.add_argument("--epochs", type=int, default=None, help="override the recipe's")
    trainer.add_argument("--seed", type=int, default=0)
    trainer.add_argument(
        "--out-dir",
        type=Path,
        default=Path("runs"),
        help="where cnn_<variant>.safetensors and its .history.json go (default: runs)",
    )
    trainer.add_argument("--tensorboard", type=Path, default=None, help="TensorBoard log folder")
    trainer.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_data_options(trainer)
    add_device_option(trainer)

    evaluator = commands.add_parser("evaluate", help="test loss and accuracy of weights")
    evaluator.add_argument("--variant", choices=sorted(VARIANTS), default="both")
    evaluator.add_argument(
        "--weights", type=Path, nargs="+", default=None, help="checkpoints (default: shipped)"
    )
    evaluator.add_argument("--json", action="store_true", help="print JSON")
    add_data_options(evaluator)
    add_device_option(evaluator)

    info = commands.add_parser("info", help="layer table and shipped weights")
    info.add_argument("--variant", choices=sorted(VARIANTS), default="both")

    demo = commands.add_parser("demo", help="launch the app (needs the app extra: gradio)")
    demo.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1 (this machine)")
    demo.add_argument("--port", type=int, default=7860)
    demo.add_argument(
        "--no-lab",
        action="store_true",
        help="the server answers every stroke (no in-browser Draw view; as CNNVIZ_LAB=0)",
    )
    demo.add_argument(
        "--model",
        default=None,
        metavar="MODULE:FACTORY",
        help="serve the app on your classifier: FACTORY() in MODULE (or in a file.py) builds "
        "it (e.g. mynet:Net)",
    )
    demo.add_argument("--weights", type=Path, default=None, help="its weights (.safetensors, .pt)")
    demo.add_argument(
        "--images",
        type=Path,
        default=None,
        help="a folder of your pictures to pick from (subfolders named as classes, if you like)",
    )
    demo.add_argument(
        "--class-names", default=None, help="comma-separated class names (default: 0, 1, ...)"
    )
    demo.add_argument(
        "--input-shape",
        default=None,
        metavar="C,H,W",
        help="one image's shape for --model (default: the model's input_shape, else 1,28,28)",
    )

    figures = commands.add_parser("figures", help="write the report's figures as PNG files")
    figures.add_argument("--out", type=Path, default=Path("figures"), help="default: figures")
    figures.add_argument("--dpi", type=int, default=110)
    figures.add_argument(
        "--attack-samples",
        type=int,
        default=100,
        help="test digits for the robustness curves (default: 100; PGD-40 at 7 budgets)",
    )
    add_data_options(figures)

    report = commands.add_parser(
        "report", help="every number of the report beside ours (test, layers, attacks)"
    )
    report.add_argument("--json", action="store_true", help="print JSON")
    report.add_argument(
        "--unseen-digits",
        type=int,
        default=200,
        help="test digits the learned and universal noises are added to (default: 200)",
    )
    report.add_argument(
        "--attack-digits", type=int, default=100, help="test digits for FGSM/PGD (default: 100)"
    )
    add_data_options(report)

    web = commands.add_parser(
        "export-web", help="write the browser edition: a static site (needs the web extra)"
    )
    web.add_argument("out", type=Path, help="folder to write (OUT/index.html is the page)")
    web.add_argument(
        "--model",
        default=None,
        metavar="MODULE:FACTORY",
        help="export your classifier instead of the shipped networks: FACTORY() in MODULE "
        "(or in path/to/file.py) builds it (e.g. mynet:Net)",
    )
    web.add_argument("--weights", type=Path, default=None, help="its weights (.safetensors, .pt)")
    web.add_argument(
        "--class-names", default=None, help="comma-separated class names (default: 0, 1, ...)"
    )
    web.add_argument(
        "--input-shape",
        default=None,
        metavar="C,H,W",
        help="one image's shape for --model (default: the model's input_shape, else 1,28,28)",
    )
    web.add_argument(
        "--images",
        type=Path,
        default=None,
        metavar="DIR",
        help="a folder of pictures for --model, the lab's sample instead of MNIST digits "
        "(subfolders named after classes give their true labels)",
    )
    web.add_argument("--app-url", default=None, help="link to the full Gradio app")
    return parser


def check_cnn_data(data: Splits) -> None:
    """Refuse data the report's CNN cannot take (it needs 1x28x28 images)."""
    shape = tuple(data.test_x.shape[1:])
    if shape != (1, 28, 28):
        raise ValueError(
            f"the report's CNN takes 1x28x28 images; this data set has "
            f"{'x'.join(map(str, shape))} images (train other models with cnnviz.train)"
        )


def run_train(args: argparse.Namespace) -> int:
    """``cnnviz train``."""
    data = load_splits(args.data_dir, dataset=args.dataset)
    check_cnn_data(data)
    device = resolve_device(args.device)
    for batchnorm in VARIANTS[args.variant]:
        tensorboard = args.tensorboard
        if tensorboard is not None and args.variant == "both":
            tensorboard = tensorboard / ("bn" if batchnorm else "nobn")
        model, history = train(
            functools.partial(CNN, batchnorm=batchnorm, num_classes=data.num_classes),
            data,
            args.recipe,
            epochs=args.epochs,
            seed=args.seed,
            device=device,
            progress=not args.no_progress,
            tensorboard_dir=tensorboard,
        )
        robust = "_robust" if RECIPES[args.recipe].adversarial_eps > 0 else ""
        out = save_checkpoint(
            model, args.out_dir / f"cnn_{model.variant}{robust}.safetensors", history=history
        )
        print(
            f"{model.variant}: test loss {history.test_loss:.4f}, accuracy "
            f"{history.test_acc:.2f} % ({history.samples_per_second:.0f} samples/s on "
            f"{device}) -> {out}"
        )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """``cnnviz evaluate``."""
    paths = args.weights or [pretrained_path(bn) for bn in VARIANTS[args.variant]]
    data = load_splits(args.data_dir, dataset=args.dataset)
    check_cnn_data(data)
    device = resolve_device(args.device)
    results = []
    for path in paths:
        model, _ = load_checkpoint(path)
        loss, accuracy = evaluate(model.to(device), data.test_x, data.test_y)
        results.append(
            {"weights": str(path), "variant": model.variant, "loss": loss, "accuracy": accuracy}
        )
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for row in results:
            print(
                f"{row['variant']:<5} test loss {row['loss']:.4f}  accuracy "
                f"{row['accuracy']:.2f} %  ({row['weights']})"
            )
    return 0


def run_info(args: argparse.Namespace) -> int:
    """``cnnviz info``."""
    for batchnorm in VARIANTS[args.variant]:
        print(format_summary(CNN(batchnorm=batchnorm)))
        meta = pretrained_metadata(batchnorm)
        print(
            f"shipped weights: {pretrained_path(batchnorm).name}, recipe {meta.get('recipe')}, "
            f"{meta.get('epochs')} epochs, seed {meta.get('seed')}, "
            f"test accuracy {float(meta.get('test_accuracy', 'nan')):.2f} %\n"
        )
    return 0


def run_figures(args: argparse.Namespace) -> int:
    """``cnnviz figures``."""
    from cnnviz.report.figures import report_figures

    data = load_splits(args.data_dir, dataset=args.dataset)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = tqdm(
        report_figures(data, args.attack_samples), desc="figures", unit="figure", file=sys.stderr
    )
    for stem, make in figures:
        path = args.out / f"{stem}.png"
        make().savefig(path, dpi=args.dpi)
        figures.write(str(path), file=sys.stdout)
    return 0


def run_report(args: argparse.Namespace) -> int:
    """``cnnviz report``: :func:`cnnviz.report.numbers.compute_report`, as text or JSON."""
    from cnnviz.report.numbers import compute_report
    from cnnviz.report.table import format_report

    data = load_splits(args.data_dir, dataset=args.dataset)
    with tqdm(total=7, desc="report", unit="section", file=sys.stderr) as bar:

        def advance(section: str) -> None:
            bar.set_postfix_str(section)
            bar.update(1)

        report = compute_report(
            data,
            unseen_digits=args.unseen_digits,
            attack_digits=args.attack_digits,
            progress=advance,
        )
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0


#: What ``cnnviz demo`` says when the app's extra is not installed.
APP_EXTRA_MISSING = 'the app needs gradio: install the extra with pip install "cnnviz[app]"'


def run_demo(args: argparse.Namespace) -> int:
    """``cnnviz demo``: serve the packaged app (:func:`cnnviz.app.main`), or with ``--model``
    the app on that model (:func:`cnnviz.app.launch`), until interrupted.

    The model and its pictures are loaded and checked before any server starts: a bad
    one raises a ``ValueError`` (one line from :func:`main`, exit status 2).
    """
    try:
        from cnnviz.app import main as serve_app
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != "gradio":
            raise
        print(f"cnnviz demo: error: {APP_EXTRA_MISSING}", file=sys.stderr)
        return 2
    options = {"--weights": args.weights, "--images": args.images}
    options |= {"--class-names": args.class_names, "--input-shape": args.input_shape}
    if args.model is None:
        given = [flag for flag, value in options.items() if value is not None]
        if given:
            verb = "needs" if len(given) == 1 else "need"
            raise ValueError(f"{' and '.join(given)} {verb} --model MODULE:FACTORY (your model)")
        if args.no_lab:
            os.environ["CNNVIZ_LAB"] = "0"  # read by cnnviz.app.lab_site
        serve_app(host=args.host, port=args.port)
        return 0
    from cnnviz.app import launch
    from cnnviz.data.image_folder import load_image_folder
    from cnnviz.models.user_model import load_user_model

    spec = load_user_model(
        args.model,
        weights=args.weights,
        class_names=args.class_names,
        input_shape=args.input_shape,
    )
    images = None
    if args.images is not None:
        images = load_image_folder(
            args.images, shape=spec.input_shape, bounds=spec.bounds, classes=spec.classes
        )
    launch(spec, images=images, host=args.host, port=args.port)
    return 0


#: What ``cnnviz export-web`` says when the web extra is not installed.
WEB_EXTRA_MISSING = 'exporting needs onnx and onnxscript: pip install "cnnviz[web]"'


def run_export_web(args: argparse.Namespace) -> int:
    """``cnnviz export-web``: :func:`cnnviz.web.command.export_web`."""
    try:
        from cnnviz.web.command import export_web
    except ModuleNotFoundError as error:  # pragma: no cover - the extra is installed in CI
        print(f"cnnviz export-web: error: {WEB_EXTRA_MISSING} ({error.name})", file=sys.stderr)
        return 2
    return export_web(args)


COMMANDS = {
    "train": run_train,
    "evaluate": run_evaluate,
    "info": run_info,
    "figures": run_figures,
    "report": run_report,
    "demo": run_demo,
    "export-web": run_export_web,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cnnviz`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    retain_freed_memory()
    try:
        return COMMANDS[args.command](args)
    except (DatasetNotFoundError, IDXError, CheckpointError, ValueError) as error:
        print(f"cnnviz {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
