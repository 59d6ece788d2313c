"""The report's CNN (R2) and its layer table (R7)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

#: Layers shown in the layer table, with the report's names.
SUMMARY_LAYERS = ("conv1", "pool1", "conv2", "pool2", "fc1", "fc2")

#: The report's neuron counts (section 2.2.2). Its conv2 figure equals conv1's output size
#: (32 x 28 x 28); conv2 really outputs 32 x 14 x 14 = 6272 values. Kept for comparison.
REPORT_NEURONS = {"conv1": 25088, "conv2": 25088, "fc1": 500, "fc2": 10}


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode inside the block, then restore its previous mode.

    A model already in eval mode is not touched, so concurrent users of an eval-mode
    model (the app's threads) never race on its mode.
    """
    was_training = model.training
    if was_training:
        model.eval()
    try:
        yield model
    finally:
        if was_training:
            model.train()


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

    ``weights``/``biases`` count trainable parameters (batch-norm affine parameters are
    counted on the norm's own row, absent for the report's layers); ``neurons`` is the
    number of output values of a conv or linear layer (0 for pooling).
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


def layer_summary(model: CNN) -> list[LayerInfo]:
    """Input/output shapes, parameter and neuron counts per layer (the report's 2.2.2).

    Shapes exclude the batch axis. Computed from a forward pass of one zero image with
    hooks, so it describes the model as built, not as documented.
    """
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def recorder(name: str):
        def hook(_module, inputs, output):
            shapes[name] = (tuple(inputs[0].shape[1:]), tuple(output.shape[1:]))

        return hook

    modules = dict(model.named_modules())
    handles = [modules[name].register_forward_hook(recorder(name)) for name in SUMMARY_LAYERS]
    try:
        with eval_mode(model), torch.no_grad():
            model.logits(torch.zeros(1, 1, 28, 28))
    finally:
        for handle in handles:
            handle.remove()
    rows = []
    for name in SUMMARY_LAYERS:
        module = modules[name]
        weight = getattr(module, "weight", None)
        bias = getattr(module, "bias", None)
        is_neural = isinstance(module, nn.Conv2d | nn.Linear)
        inputs, outputs = shapes[name]
        rows.append(
            LayerInfo(
                name=name,
                kind=type(module).__name__,
                input_shape=inputs,
                output_shape=outputs,
                weights=weight.numel() if weight is not None else 0,
                biases=bias.numel() if bias is not None else 0,
                neurons=int(torch.Size(outputs).numel()) if is_neural else 0,
            )
        )
    return rows


def totals(rows: list[LayerInfo]) -> dict[str, int]:
    """Parameter and neuron totals of the conv and fully connected layers."""
    conv = [row for row in rows if row.kind == "Conv2d"]
    fc = [row for row in rows if row.kind == "Linear"]
    return {
        "conv_parameters": sum(row.parameters for row in conv),
        "fc_parameters": sum(row.parameters for row in fc),
        "conv_neurons": sum(row.neurons for row in conv),
        "fc_neurons": sum(row.neurons for row in fc),
    }


def format_summary(model: CNN) -> str:
    """The layer table as text, with the report's neuron counts beside ours."""
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
