"""``cnnviz export-web``: the shipped networks, or a teacher's classifier, as a static site.

``cnnviz export-web OUT`` exports the three shipped networks; ``--model MODULE:FACTORY
--weights FILE`` exports the classifier ``FACTORY()`` builds instead (any model that
``torch.onnx`` exports), named by ``--class-names``; ``--images DIR`` makes the teacher's
pictures the lab's sample in place of MNIST's digits. Every failure is one line.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time

from cnnviz.data.image_folder import load_image_folder
from cnnviz.models.user_model import ModelLoadError, UserModel, load_user_model
from cnnviz.web.export import WebModel, classifier_model, default_graph_cache
from cnnviz.web.runtime import RuntimeUnavailableError
from cnnviz.web.site import export_site

#: The modules exporting needs (the ``web`` extra).
WEB_EXTRA = ("onnx", "onnxscript", "onnxruntime")


def teacher_model(user: UserModel) -> WebModel:
    """The :class:`~cnnviz.web.export.WebModel` of a checked teacher's classifier.

    Examples
    --------
    >>> loaded = load_user_model("cnnviz.models.cnn:CNN", class_names=list("abcdefghij"))
    >>> spec = teacher_model(loaded)
    >>> spec.id, spec.kind, spec.classes[:3], spec.outputs
    ('cnn', 'classifier', ('a', 'b', 'c'), ('conv1', 'conv2'))
    """
    return classifier_model(
        user.name.lower(),
        user.model,
        input_shape=user.input_shape,
        bounds=user.bounds,
        classes=user.classes,
        label=user.name,
        description=f"your classifier ({user.origin})",
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
    >>> from pathlib import Path
    >>> args = argparse.Namespace(out=Path(tempfile.mkdtemp()), model="nomodule:Net",
    ...                           weights=None, class_names=None, input_shape=None,
    ...                           images=None, app_url=None)
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
        pictures = None
        if args.model is not None:
            user = load_user_model(
                args.model,
                weights=args.weights,
                class_names=args.class_names,
                input_shape=args.input_shape,
            )
            models = [teacher_model(user)]
            if args.images is not None:
                pictures = load_image_folder(
                    args.images, shape=user.input_shape, bounds=(0.0, 1.0), classes=user.classes
                )
        elif any(getattr(args, name) is not None for name in ("weights", "class_names", "images")):
            raise ModelLoadError(
                "--weights, --class-names and --images need --model MODULE:FACTORY"
            )
        result = export_site(
            args.out,
            models=models,
            app_url=args.app_url,
            pictures=pictures,
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
