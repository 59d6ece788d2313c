"""Inside one neuron: the exact computation behind a single value, for any model.

CNN Explainer's formula view, as data: for one unit of any model's ``Conv2d`` or
``Linear`` layer (:func:`unit_layers`; the report CNN's ``conv1``, ``conv2``, ``fc1``,
``fc2``), :func:`unit_computation` returns the values the layer received, its weights,
their products and the bias, with the value the forward pass computed there. For the
report's CNN on a digit it also returns batch norm with its running statistics, the ReLU
and which value 2x2 max pooling kept. The terms can be checked to add up to the forward
pass's value.
:func:`receptive_field` gives the pixels of the 28x28 input a unit can see (3, 4, 8 and
10 pixels wide for interior units of conv1, pool1, conv2 and pool2).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.core.classifier import check_images, class_scores, model_placement
from cnnviz.core.hooks import eval_mode
from cnnviz.inspect.layers import activations
from cnnviz.models.cnn import CNN, IMAGE_SIZE, SAME_GEOMETRY, SPATIAL_LAYERS

#: The layers whose units :func:`unit_computation` opens, in forward order.
UNIT_LAYERS = ("conv1", "conv2", "fc1", "fc2")


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
    name = SAME_GEOMETRY.get(layer, layer)
    names = [step[0] for step in SPATIAL_LAYERS]
    if name not in names:
        raise ValueError(
            f"receptive fields are for {names + sorted(SAME_GEOMETRY)} of the report's CNN, "
            f"not {layer!r}"
        )
    chain = SPATIAL_LAYERS[: names.index(name) + 1]
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
        The layer's name: ``"conv1"``, ``"conv2"``, ``"fc1"`` or ``"fc2"`` of the
        report's CNN, any nested name of another model's ``Conv2d`` or ``Linear``.
    unit
        Output channel (convolutions) or neuron (fully connected).
    position
        ``(row, col)`` in the layer's output map; ``None`` for fully connected units.
    source
        What the inputs are: ``"image"`` (the model's input itself), for the report's
        CNN ``"pool1"`` (after ReLU), ``"pool2"`` (after ReLU, flattened) or ``"relu3"``
        (fc1 after batch norm and ReLU); for other models ``"input"`` (what the layer
        received).
    inputs, weights
        Convolutions: ``(C_in / groups, kh, kw)``, the input window of the unit's group
        of channels (with the layer's stride and dilation; where it hangs over the border,
        the padding: zeros, or what the layer's ``padding_mode`` puts there) and the
        kernel; fully connected: ``(n_in,)``. float64.
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
        ``(top, bottom, left, right)`` of the input image this unit sees (half-open):
        for other models than the report's, every pixel it depends on, found by letting
        not-a-number through the model from each side (the whole image for a model that
        stops it).

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
        if self.position is None:
            return "input x weight"
        return f"sum of a channel's {self.inputs[0].size} products"

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
def _report_unit(
    model: CNN,
    image: torch.Tensor,
    layer: str,
    unit: int,
    position: tuple[int, int] | None,
) -> UnitComputation:
    """A unit of the report's CNN, with the batch norm, ReLU and pooling that follow it."""
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


def unit_layers(model: nn.Module) -> tuple[str, ...]:
    """Every ``Conv2d`` and ``Linear``: the layers :func:`unit_computation` opens.

    Parameters
    ----------
    model
        Any model.

    Returns
    -------
    tuple of str
        Their names in ``model.named_modules()`` (nested ones too, ``"blocks.0.conv"``), in
        the order the model defines them (the forward order of a sequential model). The
        report's CNN gives :data:`UNIT_LAYERS`.

    Examples
    --------
    >>> unit_layers(CNN()) == UNIT_LAYERS
    True
    >>> net = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), nn.Flatten(),
    ...                     nn.Linear(16, 2))
    >>> unit_layers(net)
    ('0.0', '2')
    """
    return tuple(
        name for name, module in model.named_modules() if isinstance(module, nn.Conv2d | nn.Linear)
    )


class _Stop(Exception):
    """Ends a forward pass once the hooked layer has run (the rest is not needed)."""


def _layer_call(
    model: nn.Module, module: nn.Module, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first input and the output of ``module``'s first call in ``model(images)``.

    The forward pass runs in eval mode without gradients and stops after the module (the
    hook is removed before returning, and records only this thread's pass).
    """
    owner = threading.get_ident()
    seen: list[torch.Tensor] = []

    def hook(_module, inputs, output):
        if threading.get_ident() != owner or seen:
            return
        if not inputs or not isinstance(inputs[0], torch.Tensor):
            raise ValueError("the layer was called without a tensor as its first argument")
        seen.extend([inputs[0].detach().clone(), output.detach().clone()])
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        with eval_mode(model), torch.no_grad():
            class_scores(model, images)
    except _Stop:
        pass
    finally:
        handle.remove()
    if not seen:
        raise ValueError("the layer did not run in the model's forward pass")
    return seen[0], seen[1]


def _field_in_image(
    model: nn.Module, module: nn.Module, image: torch.Tensor, index: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """The rows and columns of ``image`` ``(1, C, H, W)`` that output ``index`` depends on.

    Not-a-number spreads through every sum, product, maximum and ReLU, so a unit is NaN
    exactly when its field meets NaN pixels. Covering the image with NaN from one side, a
    few more rows (or columns) each time, the first cover that reaches the unit gives the
    field's edge on that side: a bisection, the four sides in one batch of four, about
    ``log2(max(H, W))`` short forward passes. The whole image when the model does not let
    NaN through.
    """
    _, _, height, width = image.shape
    rows = torch.arange(height, device=image.device)[:, None].expand(height, width)
    cols = torch.arange(width, device=image.device)[None, :].expand(height, width)

    def reached(covers: list[int]) -> list[bool]:
        """For each side, whether NaN on its first ``cover + 1`` rows or columns reaches."""
        masks = torch.stack(
            [
                rows <= covers[0],
                rows >= height - 1 - covers[1],
                cols <= covers[2],
                cols >= width - 1 - covers[3],
            ]
        )
        probes = image.repeat(4, 1, 1, 1)
        probes[masks[:, None].expand_as(probes)] = float("nan")
        _, output = _layer_call(model, module, probes)
        return output[(slice(None), *index)].isnan().tolist()

    sizes = (height, height, width, width)
    low, high = [0] * 4, [size - 1 for size in sizes]
    if not all(reached(high)):
        return 0, height, 0, width
    for _ in range(max(sizes).bit_length()):  # bisection: the smallest cover that reaches
        middle = [(a + b) // 2 for a, b in zip(low, high, strict=True)]
        for side, hit in enumerate(reached(middle)):
            if hit:
                high[side] = middle[side]
            else:
                low[side] = min(middle[side] + 1, high[side])
    return low[0], height - low[1], low[2], width - low[3]


def _conv_window(
    conv: nn.Conv2d, maps: torch.Tensor, unit: int, row: int, col: int
) -> tuple[np.ndarray, np.ndarray]:
    """The values ``conv``'s ``unit`` at ``(row, col)`` multiplies, and where they are padding.

    ``maps`` ``(C_in, H, W)`` is the convolution's input; the window is
    ``(C_in / groups, kh, kw)`` from the unit's group of channels, with the layer's stride,
    dilation and padding (zeros, or the values its ``padding_mode`` makes).
    """
    per_group = conv.in_channels // conv.groups
    group = unit // (conv.out_channels // conv.groups)
    channels = maps[group * per_group : (group + 1) * per_group][None].double()
    sides = tuple(conv._reversed_padding_repeated_twice)  # (left, right, top, bottom)
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    padded = torch.nn.functional.pad(channels, sides, mode=mode)[0].numpy()
    inside = np.pad(np.ones(maps.shape[1:], dtype=bool), (sides[2:], sides[:2]))
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    rows = row * sh + dh * np.arange(kh)
    cols = col * sw + dw * np.arange(kw)
    window = padded[:, rows[:, None], cols[None, :]]
    outside = ~inside[rows[:, None], cols[None, :]]
    return window, np.broadcast_to(outside, window.shape).copy()


def _any_unit(
    model: nn.Module,
    image: torch.Tensor,
    layer: str,
    unit: int,
    position: tuple[int, int] | None,
) -> UnitComputation:
    """A unit of any model's ``Conv2d`` or ``Linear``, read from the module's own input."""
    layers = unit_layers(model)
    if not layers:
        raise ValueError(
            f"{type(model).__name__} has no Conv2d or Linear layer to open (unit computations "
            "are for those layers, as conv1, conv2, fc1 and fc2 of the report's CNN)"
        )
    if layer not in layers:
        raise ValueError(
            f"{layer!r} is not a Conv2d or Linear layer of the model; "
            f"its layers with units are {', '.join(layers)}"
        )
    image = check_images(image if image.ndim == 4 else image[None], "image")
    if image.shape[0] != 1:
        raise ValueError(f"need one image, got a batch of {image.shape[0]}")
    module = dict(model.named_modules())[layer]
    device, dtype = model_placement(model)
    image = image.to(device, dtype)
    seen, output = _layer_call(model, module, image)
    count = output.shape[1]
    if not 0 <= unit < count:
        raise ValueError(f"{layer} has units 0 to {count - 1}, not {unit}")
    weights = module.weight[unit].detach().double().cpu().numpy()
    bias = 0.0 if module.bias is None else float(module.bias[unit].detach())
    source = "image" if seen.shape == image.shape and torch.equal(seen, image) else "input"
    if isinstance(module, nn.Linear):
        if seen.ndim != 2:
            raise ValueError(
                f"{layer} is applied to a {tuple(seen.shape[1:])} tensor; units open "
                "Linear layers on flat vectors"
            )
        index: tuple[int, ...] = (unit,)
        inputs = seen[0].double().cpu().numpy()
        padding = np.zeros(inputs.shape, dtype=bool)
    else:
        height, width = output.shape[2:]
        if position is None:
            raise ValueError(f"a {layer} unit needs its (row, col) position")
        row, col = (int(value) for value in position)
        if not (0 <= row < height and 0 <= col < width):
            raise ValueError(
                f"{layer} positions are rows 0 to {height - 1} and columns 0 to {width - 1}, "
                f"not {(row, col)}"
            )
        position, index = (row, col), (unit, row, col)
        inputs, padding = _conv_window(module, seen[0].cpu(), unit, row, col)
    return UnitComputation(
        layer=layer,
        unit=unit,
        position=position if isinstance(module, nn.Conv2d) else None,
        source=source,
        inputs=inputs,
        weights=weights,
        padding=padding,
        bias=bias,
        forward_value=float(output[(0, *index)]),
        batch_norm=None,
        relu=None,
        pool=None,
        receptive_field=_field_in_image(model, module, image, index),
    )


def unit_computation(
    model: nn.Module,
    image: torch.Tensor,
    layer: str,
    unit: int,
    position: tuple[int, int] | None = None,
) -> UnitComputation:
    """The exact computation of one unit of a ``Conv2d`` or ``Linear`` layer on one image.

    Parameters
    ----------
    model
        Any classifier (see :mod:`cnnviz.core.classifier`), run in eval mode, left as it was.
        For the report's :class:`~cnnviz.models.cnn.CNN` (either variant) the terms go on
        through the batch norm, ReLU and max pooling that follow the unit.
    image
        ``(C, H, W)`` (or ``(1, C, H, W)``) in the model's input space: ``(1, 28, 28)``
        in [-1, 1] for the report's CNN.
    layer
        A name from :func:`unit_layers` (nested ones too, ``"blocks.0.conv"``).
    unit
        Output channel (convolutions) or neuron (fully connected; the class for the last).
    position
        ``(row, col)`` in the output map, for convolutions (report: conv1 0-27, conv2
        0-13).

    Returns
    -------
    UnitComputation
        ``inputs`` are what the layer itself received in the forward pass (captured with a
        hook): for a convolution the window its stride, dilation and padding give, from
        its group of input channels. Its ``total`` equals ``forward_value`` to float
        rounding (1e-5). Any other model's units stop at the layer (no batch norm, ReLU
        or pooling terms).

    Raises
    ------
    ValueError
        For a layer that is not a ``Conv2d`` or ``Linear`` of the model (the message
        lists those that are), a unit or position outside the layer, a missing position.

    Examples
    --------
    >>> import cnnviz
    >>> model, image = cnnviz.pretrained(), cnnviz.load_test_digits().x[0]
    >>> terms = unit_computation(model, image, "fc2", 7)
    >>> terms.inputs.shape, round(terms.total - terms.forward_value, 5) == 0
    ((500,), True)
    >>> net = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), nn.ReLU())
    >>> terms = unit_computation(net, torch.rand(4, 8, 8), "0", 5, (0, 3))
    >>> terms.inputs.shape, terms.padding[0, 0].tolist(), terms.receptive_field
    ((2, 3, 3), [True, True, True], (0, 2, 5, 8))
    >>> abs(terms.total - terms.forward_value) < 1e-5
    True
    """
    if isinstance(model, CNN):
        return _report_unit(model, image, layer, unit, position)
    return _any_unit(model, image, layer, unit, position)
