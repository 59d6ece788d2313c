"""Saving and loading weights safely, and the pretrained weights shipped in the package.

Checkpoints are safetensors files: tensors and a flat string-to-string metadata table,
nothing executable. ``.pt``/``.pth`` files are read with ``torch.load(weights_only=True)``,
which refuses pickled objects other than tensors and plain containers.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from cnnviz import __version__
from cnnviz.data import Splits, default_cache_dir
from cnnviz.model import CNN
from cnnviz.training import History, Recipe, get_recipe, train

FORMAT = "cnnviz-cnn/1"
WEIGHTS_DIR = Path(__file__).parent / "weights"


class CheckpointError(ValueError):
    """A checkpoint is unreadable, unsafe, or does not fit the model."""


def history_path(path: str | Path) -> Path:
    """Where the training history of checkpoint ``path`` is kept: ``NAME.history.json``."""
    path = Path(path)
    return path.with_name(path.name.split(".")[0] + ".history.json")


def save_checkpoint(
    model: CNN, path: str | Path, *, history: History | None = None, **metadata: object
) -> Path:
    """Save ``model``'s weights as safetensors, atomically, with metadata.

    Parameters
    ----------
    model
        The network to save.
    path
        Destination (conventionally ``*.safetensors``); parent folders are created.
    history
        If given, written beside the weights as ``NAME.history.json``, and its recipe,
        seed and test results go into the metadata.
    **metadata
        Extra key/value pairs, stored as strings.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "format": FORMAT,
        "variant": model.variant,
        "num_classes": model.fc2.out_features,
        "cnnviz_version": __version__,
    }
    if history is not None:
        info |= {
            "recipe": history.recipe["name"],
            "epochs": len(history.epoch_steps),
            "seed": history.seed,
            "precision": history.precision,
            "test_loss": history.test_loss,
            "test_accuracy": history.test_acc,
        }
    info |= metadata
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
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


def read_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a safetensors or weights-only ``.pt`` file."""
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


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata table of a safetensors file, without reading its tensors."""
    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata() or {}


def load_checkpoint(path: str | Path) -> tuple[CNN, dict[str, str]]:
    """Load a checkpoint written by :func:`~cnnviz.checkpoint.save_checkpoint` (or a state dict).

    The variant (batch norm or not) and the number of classes are read from the
    metadata, or inferred from the tensor names and shapes.

    Returns
    -------
    model, metadata
        The model in eval mode, and the checkpoint's metadata (strings).

    Raises
    ------
    CheckpointError
        Missing file, pickled code, not safetensors, or tensors that do not fit.
    """
    path = Path(path)
    state, metadata = read_state(path)
    batchnorm = metadata.get("variant", "bn" if "conv2_bn.weight" in state else "nobn") == "bn"
    fc2 = state.get("fc2.weight")
    num_classes = int(metadata.get("num_classes", fc2.shape[0] if fc2 is not None else 10))
    model = CNN(batchnorm=batchnorm, num_classes=num_classes)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not fit the CNN: {error}") from None
    return model.eval(), metadata


def pretrained_path(batchnorm: bool = True) -> Path:
    """Path of the shipped weights for one variant."""
    return WEIGHTS_DIR / f"cnn_{'bn' if batchnorm else 'nobn'}.safetensors"


def pretrained(batchnorm: bool = True) -> CNN:
    """The shipped, pretrained CNN (MNIST), in eval mode. Offline, no data needed.

    Produced by ``cnnviz train --recipe fast`` (see the README); its test accuracy is in
    ``pretrained_metadata(batchnorm)["test_accuracy"]``.
    """
    return load_checkpoint(pretrained_path(batchnorm))[0]


def pretrained_metadata(batchnorm: bool = True) -> dict[str, str]:
    """The metadata stored with the shipped weights (recipe, seed, test accuracy, ...)."""
    return read_metadata(pretrained_path(batchnorm))


def pretrained_history(batchnorm: bool = True) -> History:
    """The training history of the shipped weights."""
    return History.from_json(history_path(pretrained_path(batchnorm)))


def training_key(recipe: Recipe, data: Splits) -> str:
    """12 hex digits naming a training setup: recipe settings, versions and data.

    The data enter through their shapes, all labels and every 97th training image, so
    another dataset or split gives another key without hashing 170 MB each time.
    """
    digest = hashlib.sha256(f"{recipe!r}|{__version__}|{torch.__version__}".encode())
    for tensor in (data.train_y, data.val_y, data.test_y, data.train_x[::97]):
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def cached_train(
    data: Splits,
    *,
    batchnorm: bool,
    recipe: str = "fast",
    epochs: int | None = None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> tuple[CNN, History]:
    """:func:`cnnviz.training.train` once per (variant, recipe, epochs, seed, data), then cached.

    The checkpoint and its history are kept in ``cache_dir`` (default: the user cache,
    ``checkpoints/``), written atomically, and loaded safely on the next call; the gallery
    uses this so that examples share a training run instead of repeating it. The file
    name carries a :func:`training_key` of everything else that shapes the result (the
    recipe's settings, the cnnviz and torch versions, the data), so a change to any of
    them trains afresh instead of returning a stale model.

    Returns
    -------
    model, history
        As :func:`cnnviz.training.train`.
    """
    chosen = get_recipe(recipe, epochs)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "checkpoints"
    variant = "bn" if batchnorm else "nobn"
    key = training_key(chosen, data)
    path = folder / f"cnn_{variant}-{chosen.name}-{chosen.epochs}ep-seed{seed}-{key}.safetensors"
    if path.is_file() and history_path(path).is_file():
        return load_checkpoint(path)[0], History.from_json(history_path(path))
    model, history = train(data, batchnorm=batchnorm, recipe=chosen, seed=seed, progress=progress)
    save_checkpoint(model, path, history=history)
    return model, history
