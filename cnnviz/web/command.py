"""``cnnviz export-web``: the shipped networks, or a teacher's classifier, as a static site.

``cnnviz export-web OUT`` exports the three shipped networks; ``--model MODULE:FACTORY
--weights FILE`` exports the classifier ``FACTORY()`` builds instead (any model that
``torch.onnx`` exports), named by ``--class-names``. Every failure is one line.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from cnnviz.checkpoint import load_checkpoint
from cnnviz.classifier import class_scores, input_bounds
from cnnviz.web.export import WebModel, classifier_model, default_graph_cache
from cnnviz.web.runtime import RuntimeUnavailableError
from cnnviz.web.site import export_site

#: The modules exporting needs (the ``web`` extra).
WEB_EXTRA = ("onnx", "onnxscript", "onnxruntime")


class ModelLoadError(ValueError):
    """A ``--model MODULE:FACTORY`` that cannot be imported, built or run.

    Examples
    --------
    >>> load_factory("no_such_module_here:Net")
    Traceback (most recent call last):
    ...
    cnnviz.web.command.ModelLoadError: cannot import no_such_module_here: No module named ...
    """


def load_factory(spec: str) -> nn.Module:
    """Import ``MODULE`` and call ``FACTORY()`` from a ``MODULE:FACTORY`` string.

    The current folder is importable, as for ``python -m``.

    Examples
    --------
    >>> type(load_factory("cnnviz.model:CNN")).__name__
    'CNN'
    >>> load_factory("cnnviz.model")
    Traceback (most recent call last):
    ...
    cnnviz.web.command.ModelLoadError: --model must be MODULE:FACTORY (...), not 'cnnviz.model'
    """
    module_name, _, factory_name = spec.partition(":")
    if not module_name or not factory_name:
        raise ModelLoadError(f"--model must be MODULE:FACTORY (e.g. mynet:Net), not {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # an import runs the teacher's code: any error is theirs
        raise ModelLoadError(f"cannot import {module_name}: {error}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ModelLoadError(f"{module_name} has no callable {factory_name}")
    try:
        model = factory()
    except Exception as error:
        raise ModelLoadError(f"{spec}() failed: {type(error).__name__}: {error}") from None
    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"{spec}() returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _parse_ints(text: str, what: str) -> tuple[int, ...]:
    """``"1,28,28"`` -> ``(1, 28, 28)``, or a :class:`ModelLoadError` naming ``what``."""
    try:
        values = tuple(int(part) for part in text.strip("[]() ").split(","))
    except ValueError:
        raise ModelLoadError(f"{what} must be C,H,W (e.g. 1,28,28), not {text!r}") from None
    if len(values) != 3 or min(values) < 1:
        raise ModelLoadError(f"{what} must be three positive sizes C,H,W, not {text!r}")
    return values


def teacher_model(
    spec: str,
    *,
    weights: Path | None = None,
    class_names: Sequence[str] | None = None,
    input_shape: Sequence[int] | None = None,
) -> WebModel:
    """The :class:`~cnnviz.web.export.WebModel` of ``--model MODULE:FACTORY`` and its options.

    The input shape is ``input_shape``, else the checkpoint's ``input_shape`` metadata,
    else the model's ``input_shape`` attribute, else MNIST's ``(1, 28, 28)``; the bounds
    are the checkpoint's or the model's (:func:`cnnviz.input_bounds`). The model is run
    once on black images to check it returns one score per class.

    Examples
    --------
    >>> spec = teacher_model("cnnviz.model:CNN", class_names="abcdefghij")
    >>> spec.id, spec.kind, spec.classes[:3], spec.outputs
    ('cnn', 'classifier', ('a', 'b', 'c'), ('conv1', 'conv2'))
    >>> teacher_model("cnnviz.model:CNN", class_names="ab")
    Traceback (most recent call last):
    ...
    cnnviz.web.command.ModelLoadError: cnnviz.model:CNN returns 10 scores per image, but 2 class ...
    """
    model = load_factory(spec)
    metadata: dict[str, str] = {}
    if weights is not None:
        model, metadata = load_checkpoint(weights, model=model)
    model = model.float().cpu().eval()
    if input_shape is None and "input_shape" in metadata:
        input_shape = _parse_ints(metadata["input_shape"], "the checkpoint's input_shape")
    if input_shape is None:
        input_shape = getattr(model, "input_shape", (1, 28, 28))
    shape = tuple(int(n) for n in input_shape)
    bounds = input_bounds(model)
    if "input_bounds" in metadata:
        bounds = tuple(float(b) for b in metadata["input_bounds"].strip("[]").split(","))
    try:
        with torch.no_grad():
            scores = class_scores(model, torch.full((2, *shape), bounds[0]))
    except Exception as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelLoadError(
            f"{spec} fails on images of shape {list(shape)} (--input-shape C,H,W sets it): {detail}"
        ) from None
    count = scores.shape[1]
    classes = list(class_names) if class_names else [str(k) for k in range(count)]
    if len(classes) != count:
        raise ModelLoadError(
            f"{spec} returns {count} scores per image, but {len(classes)} class names were given"
        )
    name = spec.partition(":")[2]
    origin = spec if weights is None else f"{spec} with {Path(weights).name}"
    return classifier_model(
        name.lower(),
        model,
        input_shape=shape,
        bounds=bounds,
        classes=classes,
        label=name,
        description=f"your classifier ({origin})",
    )


def missing_extra() -> list[str]:
    """The modules of the ``web`` extra that are not installed.

    Examples
    --------
    >>> missing_extra()
    []
    """
    return [name for name in WEB_EXTRA if importlib.util.find_spec(name) is None]


def _say(message: str) -> None:
    """A progress line on stderr."""
    print(f"export-web: {message}", file=sys.stderr, flush=True)


def export_web(args: argparse.Namespace) -> int:
    """Run ``cnnviz export-web`` with parsed ``args``; returns the exit status.

    Examples
    --------
    >>> import tempfile
    >>> args = argparse.Namespace(out=Path(tempfile.mkdtemp()), model="nomodule:Net",
    ...                           weights=None, class_names=None, input_shape=None,
    ...                           app_url=None)
    >>> export_web(args)
    2
    """
    missing = missing_extra()
    if missing:
        print(
            f'cnnviz export-web: error: needs {", ".join(missing)}: pip install "cnnviz[web]"',
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    try:
        models = None
        if args.model is not None:
            shape = None
            if args.input_shape is not None:
                shape = _parse_ints(args.input_shape, "--input-shape")
            names = args.class_names.split(",") if args.class_names else None
            models = [
                teacher_model(
                    args.model, weights=args.weights, class_names=names, input_shape=shape
                )
            ]
        elif args.weights is not None or args.class_names is not None:
            raise ModelLoadError("--weights and --class-names need --model MODULE:FACTORY")
        result = export_site(
            args.out,
            models=models,
            app_url=args.app_url,
            cache=default_graph_cache(),
            progress=_say,
        )
    except (ValueError, RuntimeUnavailableError, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"cnnviz export-web: error: {message}", file=sys.stderr)
        return 2
    if not result.index.is_file():
        print(
            "cnnviz export-web: error: the package has no front end (cnnviz/web/static/index.html)",
            file=sys.stderr,
        )
        return 2
    for key, (raw, packed) in result.sizes().items():
        _say(f"{key}: {raw / 1e6:.2f} MB, {packed / 1e6:.2f} MB gzipped")
    for model in result.models:
        for what, note in model.entry["notes"].items():
            _say(f"{model.entry['id']}: {what}: {note}")
    _say(f"done in {time.perf_counter() - started:.1f} s; open {result.index}")
    return 0
