"""Saving and loading the weights of any model safely, and the pretrained weights shipped.

Checkpoints are safetensors files: tensors and a flat string-to-string metadata table,
nothing executable. ``.pt``/``.pth`` files are read with ``torch.load(weights_only=True)``,
which refuses pickled objects other than tensors and plain containers.

Any model's ``state_dict`` (batch-norm buffers included) can be saved; loading it back
needs the model (``load_checkpoint(path, model=net)``), except for the report's
:class:`~cnnviz.models.cnn.CNN`, which a checkpoint describes well enough to be rebuilt.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from cnnviz import __version__
from cnnviz.models.cnn import CNN
from cnnviz.training.history import History

#: ``format`` of a checkpoint of the report's CNN (rebuilt from the file alone).
FORMAT = "cnnviz-cnn/1"
#: ``format`` of a checkpoint of any other model (loaded into a model you pass).
STATE_FORMAT = "cnnviz-state/1"
WEIGHTS_DIR = Path(__file__).parents[1] / "weights"
#: The shipped weights by variant name. The report's CNN without and with batch norm
#: (``cnnviz train --recipe fast``), and the adversarially trained one with batch norm
#: (``cnnviz train --recipe robust --variant bn``).
PRETRAINED_FILES = {
    "bn": "cnn_bn.safetensors",
    "nobn": "cnn_nobn.safetensors",
    "robust": "cnn_bn_robust.safetensors",
}


class CheckpointError(ValueError):
    """A checkpoint is unreadable, unsafe, or does not fit the model.

    Examples
    --------
    >>> load_checkpoint("no/such/cnn.safetensors")
    Traceback (most recent call last):
    ...
    cnnviz.models.checkpoint.CheckpointError: no/such/cnn.safetensors: no such checkpoint file
    """


def history_path(path: str | Path) -> Path:
    """Where the training history of checkpoint ``path`` is kept: ``NAME.history.json``.

    Examples
    --------
    >>> history_path("runs/cnn_bn.safetensors").as_posix()
    'runs/cnn_bn.history.json'
    """
    path = Path(path)
    return path.with_name(path.name.split(".")[0] + ".history.json")


def _describe(model: nn.Module) -> dict[str, object]:
    """Metadata every checkpoint of ``model`` carries: format, architecture, input range."""
    info: dict[str, object] = {
        "format": FORMAT if isinstance(model, CNN) else STATE_FORMAT,
        "architecture": f"{type(model).__module__}.{type(model).__qualname__}",
        "cnnviz_version": __version__,
    }
    if isinstance(model, CNN):
        info |= {
            "variant": model.variant,
            "num_classes": model.fc2.out_features,
            "input_shape": json.dumps([1, 28, 28]),
        }
    bounds = getattr(model, "input_bounds", None)
    if bounds is not None:
        info["input_bounds"] = json.dumps([float(value) for value in bounds])
    return info


def _history_metadata(history: History) -> dict[str, object]:
    """The recipe, seed and test results of a training run, for the metadata table."""
    return {
        "recipe": history.recipe["name"],
        "epochs": len(history.epoch_steps),
        "seed": history.seed,
        "precision": history.precision,
        "test_loss": history.test_loss,
        "test_accuracy": history.test_acc,
    }


def save_checkpoint(
    model: nn.Module,
    path: str | Path,
    *,
    metadata: Mapping[str, object] | None = None,
    history: History | None = None,
) -> Path:
    """Save ``model``'s ``state_dict`` as safetensors, atomically, with metadata.

    Parameters
    ----------
    model
        Any ``nn.Module``, on any device (the tensors are copied to the CPU).
    path
        Destination (conventionally ``*.safetensors``); parent folders are created.
    metadata
        Extra key/value pairs (e.g. ``{"input_shape": "[3, 32, 32]"}``), stored as
        strings; they override the automatic ones.
    history
        If given, written beside the weights as ``NAME.history.json``, and its recipe,
        seed and test results go into the metadata.

    Returns
    -------
    Path
        The path written. Its metadata always holds ``format``, ``architecture``
        (module and class name), ``cnnviz_version``, ``input_bounds`` when the model
        declares them, and for the report's CNN ``variant``, ``num_classes`` and
        ``input_shape``.

    Examples
    --------
    >>> import tempfile
    >>> from torch import nn
    >>> def make():
    ...     return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    >>> path = save_checkpoint(make(), f"{tempfile.mkdtemp()}/net.safetensors", metadata={"a": 1})
    >>> loaded, meta = load_checkpoint(path, model=make())
    >>> meta["architecture"], meta["a"]
    ('torch.nn.modules.container.Sequential', '1')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = _describe(model)
    if history is not None:
        info |= _history_metadata(history)
    info |= dict(metadata or {})
    state = {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        save_file(state, temporary, metadata={key: str(value) for key, value in info.items()})
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    if history is not None:
        history.to_json(history_path(path))
    return path


def _read_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors (on the CPU) and metadata of a safetensors or weights-only ``.pt`` file."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.suffix in (".pt", ".pth"):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
            raise CheckpointError(
                f"{path}: refused: not a plain tensor checkpoint (weights-only loading "
                f"rejected it: {str(error).splitlines()[0]})"
            ) from None
        if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()
        ):
            raise CheckpointError(f"{path}: expected a state dict of tensors")
        return state, {}
    try:
        return load_file(str(path)), read_metadata(path)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: not a valid safetensors file ({error})") from None


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata table of a safetensors file, without reading its tensors.

    Examples
    --------
    >>> read_metadata(pretrained_path())["format"]
    'cnnviz-cnn/1'
    """
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: not a valid safetensors file ({error})") from None


def _mismatch(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    """What keeps ``state`` from loading strictly into ``model``, or ``None`` if it fits."""
    expected = model.state_dict()
    problems = []
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    shapes = [
        f"{key}: file {tuple(state[key].shape)}, model {tuple(tensor.shape)}"
        for key, tensor in expected.items()
        if key in state and state[key].shape != tensor.shape
    ]
    if shapes:
        problems.append("shape differences " + "; ".join(shapes))
    return "; ".join(problems) or None


def _report_cnn(path: Path, state: Mapping[str, torch.Tensor], metadata: dict[str, str]) -> CNN:
    """The report's CNN a checkpoint describes (variant and classes from metadata or tensors)."""
    if metadata.get("format", FORMAT) != FORMAT:
        architecture = metadata.get("architecture", "an unknown architecture")
        raise CheckpointError(
            f"{path}: holds the weights of {architecture}, not the report's CNN; build that "
            "model and pass it: load_checkpoint(path, model=net)"
        )
    batchnorm = metadata.get("variant", "bn" if "conv2_bn.weight" in state else "nobn") == "bn"
    fc2 = state.get("fc2.weight")
    num_classes = int(metadata.get("num_classes", fc2.shape[0] if fc2 is not None else 10))
    return CNN(batchnorm=batchnorm, num_classes=num_classes)


def load_checkpoint(
    path: str | Path, model: nn.Module | None = None
) -> tuple[nn.Module, dict[str, str]]:
    """Load a checkpoint written by :func:`save_checkpoint` (or a state dict).

    Parameters
    ----------
    path
        A ``.safetensors`` file, or a ``.pt``/``.pth`` state dict of tensors.
    model
        The model to load the weights into (strictly: every key, every shape), on any
        device. ``None``: build the report's CNN, whose variant and number of classes
        are read from the metadata or inferred from the tensors; any other
        architecture needs its model passed.

    Returns
    -------
    model, metadata
        The model with the weights, in eval mode, and the checkpoint's metadata
        (strings; empty for a ``.pt`` file).

    Raises
    ------
    CheckpointError
        Missing file, pickled code, not safetensors, a checkpoint of another
        architecture without ``model=``, or tensors that do not fit the model (naming
        the missing and unexpected keys and the shape differences).

    Examples
    --------
    >>> import tempfile
    >>> from cnnviz.models.cnn import CNN
    >>> path = save_checkpoint(CNN(batchnorm=True), f"{tempfile.mkdtemp()}/cnn.safetensors")
    >>> model, meta = load_checkpoint(path)
    >>> type(model).__name__, meta["variant"], model.training
    ('CNN', 'bn', False)
    >>> load_checkpoint(path, model=CNN(batchnorm=False))
    Traceback (most recent call last):
    ...
    cnnviz.models.checkpoint.CheckpointError: ...do not fit CNN: unexpected keys ...
    """
    path = Path(path)
    state, metadata = _read_state(path)
    if model is None:
        model = _report_cnn(path, state, metadata)
    problem = _mismatch(model, state)
    if problem is not None:
        raise CheckpointError(f"{path}: weights do not fit {type(model).__name__}: {problem}")
    model.load_state_dict(state, strict=True)
    return model.eval(), metadata


def pretrained_path(batchnorm: bool = True, *, variant: str | None = None) -> Path:
    """Path of the shipped weights for one variant.

    Parameters
    ----------
    batchnorm
        The standard network with (``True``) or without batch norm.
    variant
        A name of :data:`PRETRAINED_FILES` (``"bn"``, ``"nobn"``, ``"robust"``); it
        overrides ``batchnorm``.

    Examples
    --------
    >>> pretrained_path(batchnorm=False).name, pretrained_path(variant="robust").name
    ('cnn_nobn.safetensors', 'cnn_bn_robust.safetensors')
    """
    if variant is None:
        variant = "bn" if batchnorm else "nobn"
    if variant not in PRETRAINED_FILES:
        raise ValueError(f"variant must be one of {sorted(PRETRAINED_FILES)}, not {variant!r}")
    return WEIGHTS_DIR / PRETRAINED_FILES[variant]


def pretrained(batchnorm: bool = True, *, variant: str | None = None) -> CNN:
    """The shipped, pretrained CNN (MNIST), in eval mode on the CPU. Offline, no data needed.

    ``pretrained()`` and ``pretrained(batchnorm=False)`` are the report's network trained
    with ``cnnviz train --recipe fast``; ``pretrained(variant="robust")`` the one
    trained against PGD attacks (``--recipe robust``). Their test accuracy (and the
    robust one's accuracy under attack) is in :func:`pretrained_metadata`.

    Examples
    --------
    >>> model = pretrained()
    >>> model.variant, model.training
    ('bn', False)
    >>> pretrained(variant="robust").variant
    'bn'
    """
    return load_checkpoint(pretrained_path(batchnorm, variant=variant))[0]


def pretrained_history(batchnorm: bool = True, *, variant: str | None = None) -> History:
    """The training history of the shipped weights (recipe, curves, test results).

    Examples
    --------
    >>> history = pretrained_history(batchnorm=False)
    >>> history.variant, history.recipe["name"], history.test_acc > 99
    ('nobn', 'fast', True)
    """
    return History.from_json(history_path(pretrained_path(batchnorm, variant=variant)))


def pretrained_metadata(batchnorm: bool = True, *, variant: str | None = None) -> dict[str, str]:
    """The metadata stored with the shipped weights (recipe, seed, test accuracy, ...).

    Examples
    --------
    >>> pretrained_metadata()["recipe"]
    'fast'
    """
    return read_metadata(pretrained_path(batchnorm, variant=variant))
