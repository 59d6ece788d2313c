"""A teacher's own classifier, loaded and checked once: ``--model MODULE:FACTORY`` or a module.

:func:`load_user_model` builds the model a factory returns (``"mynet:Net"`` imports
``mynet``; ``"path/to/mynet.py:Net"`` runs that file), loads its weights safely
(safetensors from :func:`~cnnviz.models.checkpoint.save_checkpoint`, or a ``torch.save``
state dict read with ``weights_only=True``), works out its input shape, bounds and class
names, and runs it once on black images. :func:`user_model` does the same checks for a
module built in Python. Either gives a :class:`UserModel`, or a :class:`ModelLoadError` of
one sentence that says what is wrong and what to pass.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cnnviz.core.classifier import class_scores, input_bounds
from cnnviz.models.checkpoint import load_checkpoint

#: The input shape of a model that declares none, an MNIST digit's.
DEFAULT_SHAPE = (1, 28, 28)
#: The largest picture side cnnviz feeds a model (its maps and gradients stay small).
MAX_SIDE = 512


class ModelLoadError(ValueError):
    """A model that cannot be imported, built, loaded or run, in one sentence.

    Examples
    --------
    >>> load_user_model("no_such_module_here:Net")
    Traceback (most recent call last):
    ...
    cnnviz.models.user_model.ModelLoadError: cannot import no_such_module_here: No module named ...
    """


@dataclass(frozen=True)
class UserModel:
    """A teacher's classifier with everything cnnviz needs to show it.

    Attributes
    ----------
    model
        The network, in eval mode, float32, on the CPU; maps ``(N, *input_shape)``
        images to ``(N, len(classes))`` scores.
    input_shape
        One image's shape ``(C, H, W)``; ``C`` is 1 (grey) or 3 (colour).
    bounds
        ``(black, white)``: the values a black and a white pixel have in the model's input.
    classes
        One name per score.
    name
        A short label: the factory's name (``"build"``) or the module's class name.
    origin
        Where it came from, e.g. ``"teachernet:build with net.safetensors"``.

    Examples
    --------
    >>> spec = load_user_model("cnnviz.models.cnn:CNN")
    >>> spec.input_shape, spec.bounds, spec.classes[:3], spec.name, spec.drawable
    ((1, 28, 28), (-1.0, 1.0), ('0', '1', '2'), 'CNN', True)
    """

    model: nn.Module
    input_shape: tuple[int, int, int]
    bounds: tuple[float, float]
    classes: tuple[str, ...]
    name: str
    origin: str

    @property
    def drawable(self) -> bool:
        """Whether it reads 1x28x28 digits (then a sketchpad with MNIST preparation fits).

        Examples
        --------
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
        >>> user_model(net, input_shape=(3, 8, 8)).drawable
        False
        """
        return self.input_shape == DEFAULT_SHAPE


def parse_shape(text: str, *, what: str = "--input-shape") -> tuple[int, int, int]:
    """``"3,32,32"`` or ``"[3, 32, 32]"`` as ``(3, 32, 32)``; else a ``ModelLoadError``.

    Examples
    --------
    >>> parse_shape("[3, 32, 32]")
    (3, 32, 32)
    >>> parse_shape("32x32")
    Traceback (most recent call last):
    ...
    cnnviz.models.user_model.ModelLoadError: --input-shape must be C,H,W (e.g. 1,28,28), not '32x32'
    """
    try:
        values = tuple(int(part) for part in text.strip("[]() ").split(","))
    except ValueError:
        raise ModelLoadError(f"{what} must be C,H,W (e.g. 1,28,28), not {text!r}") from None
    if len(values) != 3:
        raise ModelLoadError(f"{what} must be three sizes C,H,W (e.g. 1,28,28), not {text!r}")
    return values


def _checked_shape(shape: Sequence[int], what: str) -> tuple[int, int, int]:
    """``shape`` as three ints: 1 or 3 channels, sides 1..MAX_SIDE."""
    try:
        values = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise ModelLoadError(f"{what} must be three sizes C,H,W, not {shape!r}") from None
    if len(values) != 3:
        raise ModelLoadError(f"{what} must be three sizes C,H,W, not {list(values)}")
    channels, height, width = values
    if channels not in (1, 3):
        raise ModelLoadError(
            f"{what} {list(values)} has {channels} channels; cnnviz shows grey (1) or colour (3) "
            "pictures"
        )
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise ModelLoadError(f"{what} {list(values)}: H and W must be between 1 and {MAX_SIDE}")
    return values


def _detail(error: BaseException) -> str:
    """The first line of an error's message, or its type's name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _shortened(message: str, *, keep: int = 3) -> str:
    """A checkpoint error with at most ``keep`` keys per list and ``keep`` shape differences.

    ``"missing keys ['a', 'b', 'c', 'd']; shape differences x: ...; y: ...; z: ...; w: ..."``
    keeps the first ``keep`` of each and says how many more there are.
    """

    def fewer(match: re.Match) -> str:
        items = match.group(1).split(", ")
        more = f", and {len(items) - keep} more" if len(items) > keep else ""
        return "[" + ", ".join(items[:keep]) + more + "]"

    message = re.sub(r"\[([^\[\]]*)\]", fewer, message)
    head, found, shapes = message.partition("shape differences ")
    differences = shapes.split("; ")
    if found and len(differences) > keep:
        shapes = "; ".join(differences[:keep]) + f"; and {len(differences) - keep} more"
    return head + found + shapes


def _import_module(location: str) -> object:
    """The module ``location`` names: a dotted module name, or a path to a ``.py`` file."""
    if location.endswith(".py") or "/" in location or os.sep in location:
        path = Path(location).expanduser().resolve()
        if path.suffix != ".py" or not path.is_file():
            raise ModelLoadError(f"--model names {location}, which is not a Python file")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))  # its own helpers import, as for `python file`
        sys.modules[path.stem] = module  # classes and dataclasses defined in it need this
        try:
            spec.loader.exec_module(module)
        except Exception as error:  # running the teacher's file: any error is theirs
            del sys.modules[path.stem]
            raise ModelLoadError(
                f"cannot run {location}: {type(error).__name__}: {_detail(error)}"
            ) from None
        return module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the current folder is importable, as for `python -m`
    try:
        return importlib.import_module(location)
    except Exception as error:  # an import runs the teacher's code: any error is theirs
        raise ModelLoadError(f"cannot import {location}: {_detail(error)}") from None


def load_factory(spec: str) -> nn.Module:
    """The module ``FACTORY()`` returns, for ``spec`` ``"MODULE:FACTORY"`` or ``"file.py:FACTORY"``.

    Examples
    --------
    >>> type(load_factory("cnnviz.models.cnn:CNN")).__name__
    'CNN'
    >>> load_factory("cnnviz.models.summary")
    Traceback (most recent call last):
    ...
    cnnviz.models.user_model.ModelLoadError: --model must be MODULE:FACTORY or ...
    """
    location, _, factory_name = spec.rpartition(":")
    if not location or not factory_name.isidentifier():
        raise ModelLoadError(
            f"--model must be MODULE:FACTORY or path/to/file.py:FACTORY (e.g. mynet:Net), "
            f"not {spec!r}"
        )
    module = _import_module(location)
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ModelLoadError(f"{location} has no callable {factory_name}")
    try:
        model = factory()
    except Exception as error:
        raise ModelLoadError(f"{spec}() failed: {type(error).__name__}: {_detail(error)}") from None
    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"{spec}() returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _names(class_names: str | Sequence[str] | None, model: nn.Module) -> tuple[str, ...] | None:
    """The given class names (a comma-separated string or a sequence), else the model's."""
    if class_names is None:
        class_names = getattr(model, "classes", None) or getattr(model, "class_names", None)
        if class_names is None:
            return None
    if isinstance(class_names, str):
        class_names = class_names.split(",")
    try:
        names = tuple(str(name).strip() for name in class_names)
    except TypeError:
        raise ModelLoadError(f"class names must be a list of names, not {class_names!r}") from None
    if not all(names):
        raise ModelLoadError(f"class names must not be empty: {list(names)}")
    if len(set(names)) != len(names):
        raise ModelLoadError(f"class names must differ from each other: {list(names)}")
    return names


def _checked(
    model: nn.Module,
    *,
    input_shape: Sequence[int],
    bounds: Sequence[float] | None,
    class_names: str | Sequence[str] | None,
    name: str,
    origin: str,
) -> UserModel:
    """Run ``model`` on two black images and check it returns one finite score per class."""
    model = model.float().cpu().eval()
    shape = _checked_shape(input_shape, "the input shape")
    try:
        low, high = input_bounds(model, bounds)
    except (TypeError, ValueError) as error:
        raise ModelLoadError(f"{origin}: {error}") from None
    try:
        with torch.no_grad():
            scores = class_scores(model, torch.full((2, *shape), low))
    except Exception as error:  # the teacher's forward: any error is theirs
        raise ModelLoadError(
            f"{origin} fails on images of shape {list(shape)} (--input-shape C,H,W sets it): "
            f"{_detail(error)}"
        ) from None
    if not torch.isfinite(scores).all():
        raise ModelLoadError(f"{origin} returns scores that are not finite (NaN or inf)")
    count = scores.shape[1]
    classes = _names(class_names, model) or tuple(str(k) for k in range(count))
    if len(classes) != count:
        raise ModelLoadError(
            f"{origin} returns {count} scores per image, but {len(classes)} class names were given"
        )
    return UserModel(
        model=model,
        input_shape=shape,
        bounds=(low, high),
        classes=classes,
        name=name,
        origin=origin,
    )


def load_user_model(
    spec: str,
    *,
    weights: str | Path | None = None,
    class_names: str | Sequence[str] | None = None,
    input_shape: str | Sequence[int] | None = None,
    bounds: Sequence[float] | None = None,
) -> UserModel:
    """Build, load and check the classifier of ``--model MODULE:FACTORY``.

    Parameters
    ----------
    spec
        ``"MODULE:FACTORY"`` (``MODULE`` importable, the current folder included) or
        ``"path/to/file.py:FACTORY"``; ``FACTORY()`` returns the ``nn.Module``.
    weights
        A ``.safetensors`` checkpoint (:func:`~cnnviz.models.checkpoint.save_checkpoint`) or a
        ``.pt``/``.pth`` state dict saved with ``torch.save`` (read with
        ``weights_only=True``), or ``None`` to keep the factory's weights.
    class_names
        One name per score (a sequence, or a comma-separated string); default the
        model's ``classes`` or ``class_names`` attribute, else ``"0"``, ``"1"``, ...
    input_shape
        ``(C, H, W)`` (or ``"C,H,W"``), C 1 or 3, sides at most :data:`MAX_SIDE`; default
        the checkpoint's ``input_shape`` metadata, else the model's ``input_shape``
        attribute, else ``(1, 28, 28)``.
    bounds
        ``(black, white)`` in the model's input; default the checkpoint's
        ``input_bounds`` metadata, else :func:`~cnnviz.core.classifier.input_bounds` of the model
        (its ``input_bounds`` attribute, else ``(0, 1)``).

    Returns
    -------
    UserModel
        Checked: the model returns ``(2, K)`` finite scores on two black images of the
        input shape, and there are ``K`` class names.

    Raises
    ------
    ModelLoadError
        One sentence: an unknown module or file, no such factory, a factory that fails
        or returns no module, weights that do not fit, a model that fails on the input
        shape or does not return one score per class, the wrong number of class names.

    Examples
    --------
    >>> spec = load_user_model("cnnviz.models.cnn:CNN", class_names=list("abcdefghij"))
    >>> spec.classes[:3], spec.origin, spec.model.training
    (('a', 'b', 'c'), 'cnnviz.models.cnn:CNN', False)
    >>> load_user_model("cnnviz.models.cnn:CNN", class_names=["cat", "dog"])
    Traceback (most recent call last):
    ...
    cnnviz.models.user_model.ModelLoadError: cnnviz.models.cnn:CNN returns 10 scores per image, ...
    """
    model = load_factory(spec)
    metadata: dict[str, str] = {}
    origin = spec
    if weights is not None:
        try:
            model, metadata = load_checkpoint(weights, model=model)
        except ValueError as error:  # CheckpointError: missing, unsafe, or does not fit
            detail, kind = _detail(error), type(model).__name__
            if kind != spec.rpartition(":")[2]:  # name the model as the teacher wrote it
                fit = "weights do not fit "
                detail = detail.replace(f"{fit}{kind}:", f"{fit}{spec}'s model:", 1)
            raise ModelLoadError(_shortened(detail)) from None
        origin = f"{spec} with {Path(weights).name}"
    if isinstance(input_shape, str):
        input_shape = parse_shape(input_shape)
    elif input_shape is None and "input_shape" in metadata:
        input_shape = parse_shape(metadata["input_shape"], what="the checkpoint's input_shape")
    if input_shape is None:
        input_shape = getattr(model, "input_shape", DEFAULT_SHAPE)
    if bounds is None and "input_bounds" in metadata:
        try:
            bounds = tuple(json.loads(metadata["input_bounds"]))
        except (json.JSONDecodeError, TypeError):
            raise ModelLoadError(
                f"{weights}: its input_bounds metadata is not [low, high]: "
                f"{metadata['input_bounds']!r}"
            ) from None
    return _checked(
        model,
        input_shape=input_shape,
        bounds=bounds,
        class_names=class_names,
        name=spec.rpartition(":")[2],
        origin=origin,
    )


def user_model(
    model: nn.Module,
    *,
    input_shape: Sequence[int] | None = None,
    class_names: str | Sequence[str] | None = None,
    bounds: Sequence[float] | None = None,
    name: str | None = None,
) -> UserModel:
    """Check a classifier built in Python, as :func:`load_user_model` does.

    Parameters
    ----------
    model
        Any ``nn.Module`` mapping ``(N, C, H, W)`` images to ``(N, K)`` scores; it is put
        in eval mode, float32, on the CPU (in place).
    input_shape, class_names, bounds
        As for :func:`load_user_model` (default the model's ``input_shape``, ``classes``
        or ``class_names``, ``input_bounds`` attributes; else ``(1, 28, 28)``, ``"0"``,
        ... and ``(0, 1)``).
    name
        A short label; default the model's class name.

    Returns
    -------
    UserModel

    Raises
    ------
    ModelLoadError
        Not a module, a wrong input shape, wrong class names, or scores not ``(N, K)``.

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    ...                     nn.Linear(4, 2))
    >>> spec = user_model(net, input_shape=(3, 32, 32), class_names=["cat", "dog"])
    >>> spec.name, spec.origin, spec.classes, spec.bounds
    ('Sequential', 'Sequential (from Python)', ('cat', 'dog'), (0.0, 1.0))
    >>> user_model(net)
    Traceback (most recent call last):
    ...
    cnnviz.models.user_model.ModelLoadError: Sequential (from Python) fails on images of shape ...
    """
    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"expected a torch.nn.Module, not {type(model).__name__}")
    label = name or type(model).__name__
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    return _checked(
        model,
        input_shape=DEFAULT_SHAPE if shape is None else shape,
        bounds=bounds,
        class_names=class_names,
        name=label,
        origin=f"{label} (from Python)",
    )
