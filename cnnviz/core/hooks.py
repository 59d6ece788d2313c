"""Evaluation mode, and the outputs of named layers recorded with forward hooks."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import torch
from torch import nn

from cnnviz.core.classifier import class_scores


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode inside the block, then restore every module's mode.

    Each submodule gets back its own mode (a model in train mode with a frozen, eval-mode
    part keeps it that way). A model whose modules are all in eval mode is not touched,
    so concurrent users of an eval-mode model (the app's threads) never race on its mode.

    Parameters
    ----------
    model
        Any module; yielded as is.

    Examples
    --------
    >>> from cnnviz.models.cnn import CNN
    >>> net = CNN().train()
    >>> with eval_mode(net):
    ...     net.training
    False
    >>> net.training
    True
    """
    training = [module for module in model.modules() if module.training]
    if training:
        model.eval()
    try:
        yield model
    finally:
        for module in training:
            module.training = True  # this module only: train() would recurse


class LayerCall(NamedTuple):
    """What a module saw on its first call of a forward pass, as :func:`recording` keeps it.

    Attributes
    ----------
    input_shape
        Shape of the module's first input without its batch axis (``()`` if none).
    output
        Its output, batch axis kept (a detached copy if a tensor).

    Examples
    --------
    >>> call = LayerCall((3,), torch.zeros(4, 2))
    >>> call.input_shape, tuple(call.output.shape)
    ((3,), (4, 2))
    """

    input_shape: tuple[int, ...]
    output: torch.Tensor | object


def _check_layer_names(model: nn.Module, names: Sequence[str]) -> None:
    """Raise ``ValueError`` naming some valid layers if a name is not in ``named_modules()``."""
    valid = [name for name, _ in model.named_modules() if name]
    unknown = sorted(set(names) - set(valid))
    if unknown:
        shown = ", ".join(valid[:12]) + (", ..." if len(valid) > 12 else "")
        raise ValueError(f"unknown layers {unknown}; the model's layers are {shown}")


@contextmanager
def recording(model: nn.Module, names: Sequence[str]) -> Iterator[dict[str, LayerCall]]:
    """Record the first call of each named module while the block runs a forward pass.

    Yields a dict filled as the modules run, in the order they ran: the input's shape
    without its batch axis, and the output (tensors detached and copied, so later
    in-place operations cannot change them; anything else as returned). Only this
    thread's calls are recorded (concurrent callers on a shared model do not mix); the
    hooks are removed when the block ends, also when it raises.

    Parameters
    ----------
    model
        Any module.
    names
        Names from ``model.named_modules()``.

    Raises
    ------
    ValueError
        If a name is not one of the model's modules.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    >>> with recording(net, ["0"]) as calls:
    ...     _ = net(torch.zeros(4, 3))
    >>> calls["0"].input_shape, tuple(calls["0"].output.shape)
    ((3,), (4, 2))
    """
    _check_layer_names(model, names)
    modules = dict(model.named_modules())
    owner = threading.get_ident()
    calls: dict[str, LayerCall] = {}

    def recorder(name: str):
        def hook(_module, inputs, output):
            if threading.get_ident() != owner or name in calls:
                return
            first = inputs[0] if inputs else None
            shape = tuple(first.shape[1:]) if isinstance(first, torch.Tensor) else ()
            kept = output.detach().clone() if isinstance(output, torch.Tensor) else output
            calls[name] = LayerCall(shape, kept)

        return hook

    handles = [modules[name].register_forward_hook(recorder(name)) for name in names]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def _recorded_outputs(
    model: nn.Module, images: torch.Tensor, names: Sequence[str]
) -> dict[str, LayerCall]:
    """One forward pass in eval mode without gradients, recording the named modules.

    Returns the first call of each named module that ran, in the order they ran (see
    :func:`recording`).

    Raises
    ------
    TypeError
        If a named layer returns something other than a tensor.
    """
    with recording(model, names) as calls, eval_mode(model), torch.no_grad():
        class_scores(model, images)
    for name, call in calls.items():
        if not isinstance(call.output, torch.Tensor):
            kind = type(call.output).__name__
            raise TypeError(f"layer {name!r} returns {kind}, not a tensor")
    return calls
