"""The report's CNN (R2), and the layer table (R7) of it or any other classifier."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnviz.core.classifier import model_placement
from cnnviz.core.hooks import _recorded_outputs
from cnnviz.models.cnn import CNN
from cnnviz.report.presets import REPORT_NEURONS


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
        A classifier (see :mod:`cnnviz.core.classifier`).
    input_shape
        ``(C, H, W)`` of one input image; defaults to ``(1, 28, 28)`` for the report's
        :class:`~cnnviz.models.cnn.CNN` and is required for any other model.

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
        The report's :class:`~cnnviz.models.cnn.CNN` (its mode is left alone).

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
