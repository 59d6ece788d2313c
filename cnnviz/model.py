"""The report's CNN (R2), and the layer table (R7) of it or any other classifier."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.classifier import class_scores, model_placement

#: The report's neuron counts (section 2.2.2). Its conv2 figure equals conv1's output size
#: (32 x 28 x 28); conv2 really outputs 32 x 14 x 14 = 6272 values. Kept for comparison.
REPORT_NEURONS = {"conv1": 25088, "conv2": 25088, "fc1": 500, "fc2": 10}


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


class CNN(nn.Module):
    """The assignment's MNIST network, with or without batch normalisation.

    ``conv1`` (1->32, 3x3, pad 1) -> ReLU -> maxpool 2 -> ``conv2`` (32->32, 3x3, pad 1)
    -> [``conv2_bn``] -> ReLU -> maxpool 2 -> flatten (1568) -> ``fc1`` (1568->500) ->
    [``fc1_bn``] -> ReLU -> ``fc2`` (500->10).

    Every step is a named submodule (``relu1``, ``pool1``, ...) so forward hooks can
    capture any intermediate activation.

    Parameters
    ----------
    batchnorm
        Insert ``BatchNorm2d`` after ``conv2`` and ``BatchNorm1d`` after ``fc1``.
    num_classes
        Size of the output layer (10 for MNIST and its look-alikes).

    Notes
    -----
    Input: ``float32 (N, 1, 28, 28)`` in the model's space [-1, 1]. :meth:`forward`
    returns log-probabilities ``(N, num_classes)``, :meth:`logits` the pre-softmax scores.

    Examples
    --------
    >>> CNN(batchnorm=True).eval().logits(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    input_bounds = (-1.0, 1.0)  # black and white pixels (see cnnviz.classifier)

    def __init__(self, batchnorm: bool = False, num_classes: int = 10) -> None:
        super().__init__()
        self.batchnorm = batchnorm
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 32, kernel_size=3, padding=1)
        self.conv2_bn = nn.BatchNorm2d(32) if batchnorm else nn.Identity()
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(32 * 7 * 7, 500)
        self.fc1_bn = nn.BatchNorm1d(500) if batchnorm else nn.Identity()
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(500, num_classes)

    @property
    def variant(self) -> str:
        """``"bn"`` or ``"nobn"``."""
        return "bn" if self.batchnorm else "nobn"

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-softmax class scores ``(N, num_classes)`` for inputs ``(N, 1, 28, 28)``."""
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2_bn(self.conv2(x))))
        x = self.relu3(self.fc1_bn(self.fc1(self.flatten(x))))
        return self.fc2(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities ``(N, num_classes)``, as the report's ``log_softmax`` output."""
        return F.log_softmax(self.logits(x), dim=1)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(N, num_classes)`` in [0, 1], in eval mode, no gradients.

        The model's train/eval mode is restored afterwards.
        """
        with eval_mode(self):
            return F.softmax(self.logits(x), dim=1)


@dataclass(frozen=True)
class LayerInfo:
    """One row of the layer table.

    ``weights``/``biases`` count the layer's own trainable parameters (0 for pooling;
    normalisation layers have no row); ``neurons`` is the number of output values of a
    conv or linear layer (0 for pooling). Shapes exclude the batch axis.

    Examples
    --------
    >>> conv1 = layer_summary(CNN())[0]
    >>> conv1.name, conv1.output_shape, conv1.weights, conv1.biases, conv1.parameters
    ('conv1', (32, 28, 28), 288, 32, 320)
    """

    name: str
    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    weights: int
    biases: int
    neurons: int

    @property
    def parameters(self) -> int:
        """``weights + biases``."""
        return self.weights + self.biases


class _Call(NamedTuple):
    """What a module saw on its first call of a forward pass (batch axis kept on output)."""

    input_shape: tuple[int, ...]
    output: torch.Tensor


def _check_layer_names(model: nn.Module, names: Sequence[str]) -> None:
    """Raise ``ValueError`` naming some valid layers if a name is not in ``named_modules()``."""
    valid = [name for name, _ in model.named_modules() if name]
    unknown = sorted(set(names) - set(valid))
    if unknown:
        shown = ", ".join(valid[:12]) + (", ..." if len(valid) > 12 else "")
        raise ValueError(f"unknown layers {unknown}; the model's layers are {shown}")


def _recorded_outputs(
    model: nn.Module, images: torch.Tensor, names: Sequence[str]
) -> dict[str, _Call]:
    """One forward pass in eval mode without gradients, recording the named modules.

    Returns the first call of each named module that ran, in the order they ran; outputs
    are detached copies (safe from later in-place ops). The hooks record only this
    thread's forward pass (concurrent callers on a shared model do not mix) and are
    removed before returning, also when the forward pass raises.
    """
    _check_layer_names(model, names)
    modules = dict(model.named_modules())
    owner = threading.get_ident()
    calls: dict[str, _Call] = {}

    def recorder(name: str):
        def hook(_module, inputs, output):
            if threading.get_ident() != owner or name in calls:
                return
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"layer {name!r} returns {type(output).__name__}, not a tensor")
            first = inputs[0] if inputs else None
            shape = tuple(first.shape[1:]) if isinstance(first, torch.Tensor) else ()
            calls[name] = _Call(shape, output.detach().clone())

        return hook

    handles = []
    try:
        for name in names:
            handles.append(modules[name].register_forward_hook(recorder(name)))
        with eval_mode(model), torch.no_grad():
            class_scores(model, images)
    finally:
        for handle in handles:
            handle.remove()
    return calls


#: Layer kinds with a row in the layer table: convolutions, fully connected, pooling.
_TABLE_KINDS = (
    nn.Conv2d,
    nn.Linear,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveAvgPool2d,
    nn.LPPool2d,
    nn.FractionalMaxPool2d,
)


def _probe(model: nn.Module, input_shape: Sequence[int] | None) -> torch.Tensor:
    """One zero image ``(1, C, H, W)`` on the model's device and dtype."""
    if input_shape is None:
        if not isinstance(model, CNN):
            raise ValueError(
                f"input_shape (C, H, W) is required for {type(model).__name__}; "
                "only the report's CNN defaults to (1, 28, 28)"
            )
        input_shape = (1, 28, 28)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), not {tuple(input_shape)}")
    device, dtype = model_placement(model)
    return torch.zeros(1, *input_shape, device=device, dtype=dtype)


def layer_summary(model: nn.Module, input_shape: Sequence[int] | None = None) -> list[LayerInfo]:
    """Input/output shapes, parameter and neuron counts per layer (the report's 2.2.2).

    One row per ``Conv2d``, ``Linear`` and 2-D pooling module (nested ones too, named as
    in ``named_modules()``), in the order the forward pass first calls them; modules the
    forward pass does not call have no row. Measured with hooks on one zero image, so it
    describes the model as built, not as documented. The model's mode and weights are
    left as they were.

    Parameters
    ----------
    model
        A classifier (see :mod:`cnnviz.classifier`).
    input_shape
        ``(C, H, W)`` of one input image; defaults to ``(1, 28, 28)`` for the report's
        :class:`CNN` and is required for any other model.

    Returns
    -------
    list of LayerInfo
        Shapes exclude the batch axis.

    Examples
    --------
    >>> [row.name for row in layer_summary(CNN())]
    ['conv1', 'pool1', 'conv2', 'pool2', 'fc1', 'fc2']
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))
    >>> [(row.name, row.output_shape, row.parameters) for row in layer_summary(net, (3, 6, 6))]
    [('0', (4, 4, 4), 112), ('3', (2,), 130)]
    """
    image = _probe(model, input_shape)
    names = [name for name, module in model.named_modules() if isinstance(module, _TABLE_KINDS)]
    modules = dict(model.named_modules())
    rows = []
    for name, call in _recorded_outputs(model, image, names).items():
        module = modules[name]
        is_neural = isinstance(module, nn.Conv2d | nn.Linear)
        outputs = tuple(call.output.shape[1:])
        rows.append(
            LayerInfo(
                name=name,
                kind=type(module).__name__,
                input_shape=call.input_shape,
                output_shape=outputs,
                weights=module.weight.numel() if is_neural else 0,
                biases=module.bias.numel() if is_neural and module.bias is not None else 0,
                neurons=math.prod(outputs) if is_neural else 0,
            )
        )
    return rows


def totals(rows: list[LayerInfo]) -> dict[str, int]:
    """Parameter and neuron totals of the conv and fully connected layers.

    Parameters
    ----------
    rows
        Rows of :func:`layer_summary`.

    Returns
    -------
    dict
        ``conv_parameters``, ``fc_parameters``, ``conv_neurons``, ``fc_neurons`` (ints).

    Examples
    --------
    >>> totals(layer_summary(CNN()))["fc_parameters"]
    789510
    """
    conv = [row for row in rows if row.kind == "Conv2d"]
    fc = [row for row in rows if row.kind == "Linear"]
    return {
        "conv_parameters": sum(row.parameters for row in conv),
        "fc_parameters": sum(row.parameters for row in fc),
        "conv_neurons": sum(row.neurons for row in conv),
        "fc_neurons": sum(row.neurons for row in fc),
    }


def format_summary(model: CNN) -> str:
    """The report CNN's layer table as text, with the report's neuron counts beside ours.

    Parameters
    ----------
    model
        The report's :class:`CNN` (its mode is left alone).

    Returns
    -------
    str
        One line per layer of :func:`layer_summary`, then the totals.

    Examples
    --------
    >>> print(format_summary(CNN()).splitlines()[2])
    conv1       1x28x28     32x28x28      288     32      320    25088    25088
    """
    rows = layer_summary(model)
    header = (
        f"{'layer':<6} {'input':>12} {'output':>12} {'weights':>8} {'biases':>6} "
        f"{'params':>8} {'neurons':>8} {'report':>8}"
    )
    lines = [f"CNN ({'with' if model.batchnorm else 'without'} batch norm)", header]
    for row in rows:
        report = REPORT_NEURONS.get(row.name)
        lines.append(
            f"{row.name:<6} {'x'.join(map(str, row.input_shape)):>12} "
            f"{'x'.join(map(str, row.output_shape)):>12} {row.weights:>8} {row.biases:>6} "
            f"{row.parameters:>8} {row.neurons or '':>8} {report or '':>8}"
        )
    total = totals(rows)
    norm_params = sum(
        p.numel() for name, p in model.named_parameters() if name.split(".")[0].endswith("_bn")
    )
    lines += [
        f"conv layers: {total['conv_parameters']} parameters, {total['conv_neurons']} neurons "
        f"(report: {REPORT_NEURONS['conv1'] + REPORT_NEURONS['conv2']})",
        f"fc layers:   {total['fc_parameters']} parameters, {total['fc_neurons']} neurons "
        f"(report: {REPORT_NEURONS['fc1'] + REPORT_NEURONS['fc2']})",
        f"batch-norm parameters: {norm_params}",
        "neurons = output values of a layer. The report counts conv2 as 25088 (= conv1's "
        "32x28x28); conv2's output is 32x14x14 = 6272.",
    ]
    return "\n".join(lines)
