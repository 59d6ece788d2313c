"""Inside one neuron of the report's CNN: the exact computation behind a single value.

CNN Explainer's formula view, as data: for one unit of ``conv1``, ``conv2``, ``fc1`` or
``fc2`` on an input digit, :func:`unit_computation` returns the input values it reads,
its weights, their element-wise products, the bias, batch norm with its running
statistics, the ReLU and which value 2x2 max pooling kept, together with the value the
model's own forward pass computed there, so the terms can be checked to add up to it.
:func:`receptive_field` gives the pixels of the 28x28 input a unit can see (3, 4, 8 and
10 pixels wide for interior units of conv1, pool1, conv2 and pool2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.classifier import check_images
from cnnviz.layers import activations
from cnnviz.model import CNN

#: The layers whose units :func:`unit_computation` opens, in forward order.
UNIT_LAYERS = ("conv1", "conv2", "fc1", "fc2")

#: ``(name, kernel, stride, padding)`` of the report CNN's spatial layers, in order;
#: ReLU and batch norm keep the geometry of the layer before them.
_GEOMETRY = (("conv1", 3, 1, 1), ("pool1", 2, 2, 0), ("conv2", 3, 1, 1), ("pool2", 2, 2, 0))
_SAME_AS = {"relu1": "conv1", "conv2_bn": "conv2", "relu2": "conv2"}
IMAGE_SIZE = 28


def receptive_field(layer: str, row: int, col: int, clip: bool = True) -> tuple[int, int, int, int]:
    """The input pixels one unit of the report's CNN depends on.

    Parameters
    ----------
    layer
        ``"conv1"``, ``"relu1"``, ``"pool1"``, ``"conv2"``, ``"conv2_bn"``, ``"relu2"`` or
        ``"pool2"``.
    row, col
        The unit's position in that layer's output map (28, 14 or 7 wide).
    clip
        Cut the field to the 28x28 image (units at the border see padding too).

    Returns
    -------
    tuple of int
        ``(top, bottom, left, right)``: rows ``top:bottom`` and columns ``left:right``
        of the input image (half-open).

    Examples
    --------
    >>> [receptive_field(name, 3, 3)[1] - receptive_field(name, 3, 3)[0]
    ...  for name in ("conv1", "pool1", "conv2", "pool2")]
    [3, 4, 8, 10]
    >>> receptive_field("conv1", 0, 0), receptive_field("conv1", 0, 0, clip=False)
    ((0, 2, 0, 2), (-1, 2, -1, 2))
    """
    name = _SAME_AS.get(layer, layer)
    names = [step[0] for step in _GEOMETRY]
    if name not in names:
        raise ValueError(
            f"receptive fields are for {names + sorted(_SAME_AS)} of the report's CNN, "
            f"not {layer!r}"
        )
    chain = _GEOMETRY[: names.index(name) + 1]
    span = []
    for position in (row, col):
        low = high = position
        for _, kernel, stride, padding in reversed(chain):
            low, high = low * stride - padding, high * stride - padding + kernel - 1
        if clip:
            low, high = max(low, 0), min(high, IMAGE_SIZE - 1)
        span.append((low, high + 1))
    (top, bottom), (left, right) = span
    return top, bottom, left, right


@dataclass(frozen=True)
class BatchNormTerms:
    """Eval-mode batch norm of one unit: ``(x - mean) / sqrt(variance + eps) * weight + bias``.

    Examples
    --------
    >>> BatchNormTerms(mean=1.0, variance=3.0, eps=1.0, weight=0.5, bias=0.25).apply(2.0)
    0.5
    """

    mean: float
    variance: float
    eps: float
    weight: float
    bias: float

    def apply(self, x: float) -> float:
        """``x`` normalised with the running statistics, then scaled and shifted."""
        return float((x - self.mean) / np.sqrt(self.variance + self.eps) * self.weight + self.bias)


@dataclass(frozen=True)
class PoolTerms:
    """2x2 max pooling of the window that holds the unit.

    Attributes
    ----------
    window
        ``(2, 2)`` values of the window (after ReLU).
    kept
        ``(row, col)`` in the window of the value kept (the first maximum).
    position
        ``(row, col)`` of the pooled value in the pooled map.
    value
        The pooled value the forward pass computed.

    Examples
    --------
    >>> terms = PoolTerms(np.array([[0.0, 2.0], [1.0, 2.0]]), (0, 1), (3, 4), 2.0)
    >>> terms.unit_was_kept((0, 1)), terms.unit_was_kept((1, 1))
    (True, False)
    """

    window: np.ndarray
    kept: tuple[int, int]
    position: tuple[int, int]
    value: float

    def unit_was_kept(self, offset: tuple[int, int]) -> bool:
        """Whether the unit at ``offset`` in the window is the value kept."""
        return tuple(offset) == tuple(self.kept)


@dataclass(frozen=True)
class UnitComputation:
    """Every term of one unit's value, on one input image.

    Attributes
    ----------
    layer
        ``"conv1"``, ``"conv2"``, ``"fc1"`` or ``"fc2"``.
    unit
        Output channel (convolutions) or neuron (fully connected).
    position
        ``(row, col)`` in the layer's output map; ``None`` for fully connected units.
    source
        What the inputs are: ``"image"``, ``"pool1"`` (after ReLU), ``"pool2"`` (after
        ReLU, flattened) or ``"relu3"`` (fc1 after batch norm and ReLU).
    inputs, weights
        Convolutions: ``(C_in, 3, 3)``, the input window (zero where it hangs over the
        border: the convolution's padding) and the kernel; fully connected: ``(n_in,)``.
        float64.
    padding
        bool, the shape of ``inputs``: where the window lies outside the map.
    bias
        The layer's bias for this unit.
    forward_value
        What the model's forward pass computed for this unit (before batch norm).
    batch_norm
        The batch-norm terms (the batch-norm variant), else ``None``.
    relu
        The value after ReLU as the forward pass computed it; ``None`` for fc2.
    pool
        The max pooling that follows (conv1, conv2), else ``None``.
    receptive_field
        ``(top, bottom, left, right)`` of the input image this unit sees (half-open).

    Examples
    --------
    >>> import cnnviz
    >>> image = cnnviz.load_test_digits().x[0]
    >>> terms = unit_computation(cnnviz.pretrained(), image, "conv2", 5, (7, 6))
    >>> terms.inputs.shape, terms.receptive_field
    ((32, 3, 3), (11, 19, 9, 17))
    >>> abs(terms.total - terms.forward_value) < 1e-5
    True
    """

    layer: str
    unit: int
    position: tuple[int, int] | None
    source: str
    inputs: np.ndarray
    weights: np.ndarray
    padding: np.ndarray
    bias: float
    forward_value: float
    batch_norm: BatchNormTerms | None
    relu: float | None
    pool: PoolTerms | None
    receptive_field: tuple[int, int, int, int]

    @property
    def products(self) -> np.ndarray:
        """``inputs * weights``, element by element (the shape of ``inputs``)."""
        return self.inputs * self.weights

    @property
    def total(self) -> float:
        """The sum of all products plus the bias, the unit's value before batch norm."""
        return float(self.products.sum() + self.bias)

    @property
    def normalised(self) -> float:
        """``total`` after batch norm (``total`` itself without it)."""
        return self.total if self.batch_norm is None else self.batch_norm.apply(self.total)

    @property
    def output(self) -> float:
        """The unit's final value, after batch norm and ReLU (for fc2 its logit)."""
        return self.normalised if self.relu is None else max(self.normalised, 0.0)

    def channel_sums(self) -> np.ndarray:
        """Convolutions: ``(C_in,)`` sum of the products of each input channel."""
        if self.position is None:
            raise ValueError("channel sums are for convolution units")
        return self.products.reshape(len(self.inputs), -1).sum(1)

    def strongest(self, count: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the ``count`` largest positive and negative products, largest first.

        Fully connected units: input neurons; convolutions: input channels (by their
        channel sums).
        """
        values = self._contributions()
        order = np.argsort(values)
        up = order[::-1][:count]
        down = order[:count]
        return up[values[up] > 0], down[values[down] < 0]

    def _contributions(self) -> np.ndarray:
        return self.products if self.position is None else self.channel_sums()

    def pushes(self, count: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """The ``count`` strongest pushes up, then down: indices and their contributions.

        Ordered from the largest push up to the largest push down (as bars are read top
        to bottom); a contribution is a product (fully connected) or a channel sum.
        """
        up, down = self.strongest(count)
        chosen = np.concatenate([up, down[::-1]])
        return chosen, self._contributions()[chosen]

    def push_meaning(self) -> str:
        """What one contribution of :meth:`pushes` is, for an axis label."""
        return "input x weight" if self.position is None else "sum of a channel's 9 products"

    def arithmetic(self) -> str:
        """The unit's value term by term, as lines of monospaced text.

        The sum of the products, the bias, the total beside the forward pass's value,
        batch norm with its running statistics, ReLU and what max pooling kept.
        """
        count = self.products.size - int(self.padding.sum())
        lines = [
            f"sum of {count} products {float(self.products.sum()):+.4f}",
            f"+ bias                 {self.bias:+.4f}",
            f"= {self.layer:<20} {self.total:+.4f}",
            f"  (forward pass:       {self.forward_value:+.4f})",
        ]
        norm = self.batch_norm
        if norm is not None:
            lines += [
                "batch norm, running statistics:",
                f"  ({self.total:.3f} - {norm.mean:.3f})"
                f" / sqrt({norm.variance:.3f} + {norm.eps:g})",
                f"  x {norm.weight:.3f} + {norm.bias:.3f} = {self.normalised:+.4f}",
            ]
        if self.relu is not None:
            lines.append(f"ReLU: max(0, {self.normalised:.4f}) = {self.output:.4f}")
        if self.pool is not None:
            offset = (self.position[0] % 2, self.position[1] % 2)
            kept = "this unit" if self.pool.unit_was_kept(offset) else "another unit"
            lines.append(f"max pool keeps {self.pool.value:.4f} ({kept})")
        return "\n".join(lines)


def _batch_norm_terms(layer: nn.Module, unit: int) -> BatchNormTerms | None:
    """The running statistics and affine parameters of ``unit``, or ``None`` (Identity)."""
    if not isinstance(layer, nn.modules.batchnorm._BatchNorm):
        return None
    return BatchNormTerms(
        mean=float(layer.running_mean[unit]),
        variance=float(layer.running_var[unit]),
        eps=float(layer.eps),
        weight=float(layer.weight[unit]),
        bias=float(layer.bias[unit]),
    )


def _window(maps: torch.Tensor, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
    """The 3x3 window around ``(row, col)`` of ``(C, H, W)`` maps, zero-padded, and its mask."""
    padded = torch.nn.functional.pad(maps, (1, 1, 1, 1)).double().numpy()
    inside = np.pad(np.ones(maps.shape[1:], dtype=bool), 1)
    window = padded[:, row : row + 3, col : col + 3]
    return window, np.broadcast_to(~inside[row : row + 3, col : col + 3], window.shape).copy()


def _pool_terms(after_relu: torch.Tensor, pooled: torch.Tensor, row: int, col: int) -> PoolTerms:
    """The pooling window of ``(H, W)`` ReLU output holding ``(row, col)``."""
    top, left = row - row % 2, col - col % 2
    window = after_relu[top : top + 2, left : left + 2].double().numpy()
    kept = divmod(int(np.argmax(window)), 2)  # the first maximum, as torch keeps
    return PoolTerms(window, kept, (row // 2, col // 2), float(pooled[row // 2, col // 2]))


@torch.no_grad()
def unit_computation(
    model: CNN,
    image: torch.Tensor,
    layer: str,
    unit: int,
    position: tuple[int, int] | None = None,
) -> UnitComputation:
    """The exact computation of one unit of the report's CNN on one image.

    Parameters
    ----------
    model
        The report's :class:`~cnnviz.model.CNN` (either variant); run in eval mode.
    image
        ``(1, 28, 28)`` (or ``(1, 1, 28, 28)``) in the model's space [-1, 1].
    layer
        One of :data:`UNIT_LAYERS`.
    unit
        Output channel (conv1, conv2: 0-31) or neuron (fc1: 0-499, fc2: the class).
    position
        ``(row, col)`` in the output map for convolutions (conv1: 0-27, conv2: 0-13).

    Returns
    -------
    UnitComputation
        Its ``total`` equals ``forward_value`` to float rounding (1e-5).

    Raises
    ------
    ValueError
        For another model, layer, an index or position outside the layer.

    Examples
    --------
    >>> import cnnviz
    >>> model, image = cnnviz.pretrained(), cnnviz.load_test_digits().x[0]
    >>> terms = unit_computation(model, image, "fc2", 7)
    >>> terms.inputs.shape, round(terms.total - terms.forward_value, 5) == 0
    ((500,), True)
    """
    if not isinstance(model, CNN):
        raise ValueError(f"unit computations are for the report's CNN, not {type(model).__name__}")
    if layer not in UNIT_LAYERS:
        raise ValueError(f"layer must be one of {UNIT_LAYERS}, not {layer!r}")
    image = check_images(image if image.ndim == 4 else image[None], "image")
    if tuple(image.shape) != (1, 1, IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"need one 1x28x28 image, got shape {tuple(image.shape)}")
    names = ["conv1", "relu1", "pool1", "conv2", "conv2_bn", "relu2", "pool2"]
    names += ["fc1", "fc1_bn", "relu3", "fc2"]
    maps = {name: value[0].cpu() for name, value in activations(model, image, names).items()}
    module = getattr(model, layer)
    outputs = maps[layer]
    if not 0 <= unit < outputs.shape[0]:
        raise ValueError(f"{layer} has units 0 to {outputs.shape[0] - 1}, not {unit}")
    weights = module.weight[unit].detach().double().cpu().numpy()
    bias = float(module.bias[unit])
    if layer in ("fc1", "fc2"):
        source = {"fc1": "pool2", "fc2": "relu3"}[layer]
        inputs = maps[source].flatten().double().numpy()
        norm = _batch_norm_terms(model.fc1_bn, unit) if layer == "fc1" else None
        return UnitComputation(
            layer=layer,
            unit=unit,
            position=None,
            source=source,
            inputs=inputs,
            weights=weights,
            padding=np.zeros(inputs.shape, dtype=bool),
            bias=bias,
            forward_value=float(outputs[unit]),
            batch_norm=norm,
            relu=float(maps["relu3"][unit]) if layer == "fc1" else None,
            pool=None,
            receptive_field=(0, IMAGE_SIZE, 0, IMAGE_SIZE),
        )
    if position is None:
        raise ValueError(f"a {layer} unit needs its (row, col) position")
    row, col = (int(value) for value in position)
    size = outputs.shape[1]
    if not (0 <= row < size and 0 <= col < size):
        raise ValueError(f"{layer} positions are 0 to {size - 1}, not {(row, col)}")
    source = "image" if layer == "conv1" else "pool1"
    below = image[0].cpu() if layer == "conv1" else maps["pool1"]
    inputs, padding = _window(below, row, col)
    relu, pool = ("relu1", "pool1") if layer == "conv1" else ("relu2", "pool2")
    norm_layer = model.conv2_bn if layer == "conv2" else nn.Identity()
    return UnitComputation(
        layer=layer,
        unit=unit,
        position=(row, col),
        source=source,
        inputs=inputs,
        weights=weights,
        padding=padding,
        bias=bias,
        forward_value=float(outputs[unit, row, col]),
        batch_norm=_batch_norm_terms(norm_layer, unit),
        relu=float(maps[relu][unit, row, col]),
        pool=_pool_terms(maps[relu][unit], maps[pool][unit], row, col),
        receptive_field=receptive_field(layer, row, col),
    )
