"""A trained model, trained once per machine: :func:`cached_train` keys a run by its recipe,
data, device and precision."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from cnnviz import __version__
from cnnviz.data.mnist import Splits, default_cache_dir
from cnnviz.models.checkpoint import history_path, load_checkpoint, save_checkpoint
from cnnviz.models.cnn import CNN
from cnnviz.training.device import resolve_device, resolve_precision
from cnnviz.training.history import History
from cnnviz.training.loop import train
from cnnviz.training.recipe import Recipe, get_recipe


def _training_key(recipe: Recipe, data: Splits, device: str | torch.device = "cpu") -> str:
    """12 hex digits naming a training setup: recipe settings, versions, precision and data.

    The precision is the one ``recipe.precision`` resolves to on ``device`` (an ``"auto"`` recipe
    trains in bf16 or fp32, see :func:`~cnnviz.training.device.resolve_precision`). The data enter
    through their shapes, all labels and every 97th training image, so another dataset or split
    gives another key without hashing 170 MB each time.
    """
    precision = resolve_precision(recipe.precision, device)
    versions = f"{recipe!r}|{__version__}|{torch.__version__}|{precision}"
    digest = hashlib.sha256(versions.encode())
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
    device: str | torch.device | None = None,
) -> tuple[CNN, History]:
    """Train the report's CNN once per (variant, recipe, epochs, seed, data), then cached.

    The checkpoint and its history are kept in ``cache_dir`` (default: the user cache,
    ``checkpoints/``), written atomically, and loaded safely on the next call; the gallery
    uses this so that examples share a training run instead of repeating it. The file
    name carries a key of everything else that shapes the result (the recipe's settings,
    the precision it resolves to, the cnnviz and torch versions, the data), so a change to
    any of them trains afresh instead of returning a stale model.

    Parameters
    ----------
    data
        As for :func:`~cnnviz.training.loop.train` (inputs ``(N, 1, 28, 28)`` in [-1, 1]).
    batchnorm
        Which variant of the report's CNN.
    recipe, epochs, seed, progress, device
        As for :func:`~cnnviz.training.loop.train`; the model is returned on ``device``.
    cache_dir
        Folder of the cached checkpoints.

    Returns
    -------
    model, history
        As :func:`~cnnviz.training.loop.train`.

    Examples
    --------
    >>> import tempfile
    >>> from cnnviz.data.mnist import Splits
    >>> x, y = torch.rand(48, 1, 28, 28) * 2 - 1, torch.arange(48) % 10
    >>> data = Splits(x[:32], y[:32], x[32:40], y[32:40], x[40:], y[40:])
    >>> folder = tempfile.mkdtemp()
    >>> model, first = cached_train(data, batchnorm=False, epochs=1, cache_dir=folder)
    >>> model, again = cached_train(data, batchnorm=False, epochs=1, cache_dir=folder)
    >>> again == first, len(list(Path(folder).iterdir()))
    (True, 2)
    """
    chosen = get_recipe(recipe, epochs)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "checkpoints"
    variant = "bn" if batchnorm else "nobn"
    key = _training_key(chosen, data, resolve_device(device))
    path = folder / f"cnn_{variant}-{chosen.name}-{chosen.epochs}ep-seed{seed}-{key}.safetensors"
    if path.is_file() and history_path(path).is_file():
        model = load_checkpoint(path)[0].to(resolve_device(device))
        return model, History.from_json(history_path(path))
    model, history = train(
        lambda: CNN(batchnorm=batchnorm, num_classes=data.num_classes),
        data,
        chosen,
        seed=seed,
        progress=progress,
        device=device,
    )
    save_checkpoint(model, path, history=history)
    return model, history
