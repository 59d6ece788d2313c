"""A classifier as ONNX graphs: its forward pass and its input gradient, any batch size.

Two graphs per model, both exported with ``torch.onnx.export(..., dynamo=True)``
(opset 18, batch axis ``N`` dynamic), whose weights are the model's own parameters and
buffers (initializers named ``model.<state-dict name>``):

* **forward**: ``x (N, C, H, W)`` -> ``logits (N, K)`` (pre-softmax, as
  :func:`~cnnviz.core.classifier.class_scores`) and the outputs of the named modules,
  recorded by hooks.
* **gradient**: ``x``, ``logit_weights (N, K)``, ``lse_weight (N,)`` -> ``logits`` and
  ``grad (N, C, H, W)``, the input gradient of
  ``sum_n (sum_k logit_weights[n, k] * logits[n, k] + lse_weight[n] * logsumexp_k logits[n])``.
  ``torch.export`` cannot trace ``torch.autograd.grad`` itself, so the gradient function is
  first traced by ``make_fx`` into plain ATen operations, with the backward kernels that
  ONNX lacks decomposed into forward ones (:data:`BACKWARD_DECOMPOSITIONS`): a
  convolution's input gradient is a transposed convolution, max pooling's routes each
  window's gradient to the index its forward pass picked (so ties go where torch sends
  them). The traced graph is then exported like any module. This works for any model
  built of convolutions, linear layers, pooling, batch norm and pointwise activations.

A window whose two largest values differ by a rounding error (real digits have some,
1 to 2 ulp apart) is a near-tie: which value wins depends on how the runtime rounds the
convolution before it, so ONNX Runtime Web (wasm) may send that window's gradient to
its neighbour where torch does not. Everywhere else the graphs agree with autograd to
float rounding.

``onnx`` and ``onnxscript`` (the ``web`` extra) are imported when a graph is exported.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call

from cnnviz.core.classifier import class_scores

OPSET = 18
#: Prefix of the initializer names in both graphs, before the state-dict name.
PREFIX = "model."
FORWARD_INPUTS = ("x",)
GRADIENT_INPUTS = ("x", "logit_weights", "lse_weight")
GRADIENT_OUTPUTS = ("logits", "grad")

_aten = torch.ops.aten


class GraphExportError(ValueError):
    """A model's graph could not be exported to ONNX.

    Examples
    --------
    >>> raise GraphExportError("no gradient")
    Traceback (most recent call last):
    ...
    cnnviz.web.graphs.GraphExportError: no gradient
    """


def _transposed_padding(inputs, grad, kernel, stride, padding, dilation) -> list[int]:
    """The output padding that makes a transposed convolution of ``grad`` as big as ``inputs``."""
    return [
        inputs.shape[-len(kernel) + axis]
        - ((grad.shape[-len(kernel) + axis] - 1) * stride[axis] - 2 * padding[axis]
           + dilation[axis] * (kernel[axis] - 1) + 1)
        for axis in range(len(kernel))
    ]  # fmt: skip


def _convolution_input_gradient(
    grad, inputs, weight, bias_sizes, stride, padding, dilation, transposed, output_padding,
    groups, output_mask,
):  # fmt: skip
    """``aten.convolution_backward`` for the input only: the transposed convolution."""
    if transposed or output_mask[1] or output_mask[2]:
        raise NotImplementedError("only the input gradient of a plain convolution is exported")
    kernel = weight.shape[2:]
    extra = _transposed_padding(inputs, grad, kernel, stride, padding, dilation)
    transpose = True
    unconvolved = _aten.convolution(
        grad, weight, None, stride, padding, dilation, transpose, extra, groups
    )
    return unconvolved, None, None


def _max_pool_input_gradient(
    grad, inputs, kernel_size, stride, padding, dilation, ceil_mode, indices
):
    """``aten.max_pool2d_with_indices_backward``: each window's gradient to its winner."""
    routed = torch.zeros_like(inputs).flatten(-2)
    routed = routed.scatter_add(-1, indices.flatten(-2), grad.flatten(-2))
    return routed.view_as(inputs)


def _window_mean_gradient(grad, inputs, kernel, stride, padding, divisor):
    """Input gradient of a mean over 2-D windows that all hold ``divisor`` counted values."""
    channels = inputs.shape[-3]
    weight = torch.full((channels, 1, *kernel), 1.0 / divisor, dtype=grad.dtype)
    extra = _transposed_padding(inputs, grad, kernel, stride, padding, (1, 1))
    transpose = True
    return _aten.convolution(
        grad, weight, None, list(stride), list(padding), [1, 1], transpose, extra, channels
    )


def _avg_pool_input_gradient(
    grad, inputs, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    """``aten.avg_pool2d_backward`` when every window counts ``kh * kw`` values."""
    kernel = list(kernel_size) * (3 - len(kernel_size))
    stride = list(stride or kernel) * (3 - len(stride or kernel))
    padding = list(padding) * (3 - len(padding))
    if ceil_mode or (any(padding) and not count_include_pad):
        raise NotImplementedError("average pooling with partial windows")
    divisor = divisor_override or kernel[0] * kernel[1]
    return _window_mean_gradient(grad, inputs, kernel, stride, padding, divisor)


def _adaptive_avg_pool_input_gradient(grad, inputs):
    """``aten._adaptive_avg_pool2d_backward`` when the windows tile the input evenly."""
    size, pooled = inputs.shape[-2:], grad.shape[-2:]
    if size[0] % pooled[0] or size[1] % pooled[1]:
        raise NotImplementedError("adaptive average pooling with uneven windows")
    kernel = (size[0] // pooled[0], size[1] // pooled[1])
    return _window_mean_gradient(grad, inputs, kernel, kernel, (0, 0), kernel[0] * kernel[1])


#: Backward kernels rewritten as forward operations that ONNX has.
BACKWARD_DECOMPOSITIONS = {
    _aten.convolution_backward.default: _convolution_input_gradient,
    _aten.max_pool2d_with_indices_backward.default: _max_pool_input_gradient,
    _aten.avg_pool2d_backward.default: _avg_pool_input_gradient,
    _aten._adaptive_avg_pool2d_backward.default: _adaptive_avg_pool_input_gradient,
}


class _Scores(nn.Module):
    """The model's class scores (:func:`~cnnviz.core.classifier.class_scores`), as forward."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return class_scores(self.model, images)


class ForwardGraph(nn.Module):
    """``x -> (logits, *outputs)``: class scores and the named modules' first outputs.

    Parameters
    ----------
    model
        A classifier in eval mode.
    outputs
        Names in ``model.named_modules()`` whose output is returned (a copy, so an
        in-place operation after it does not change it).

    Examples
    --------
    >>> from cnnviz.models.cnn import CNN
    >>> graph = ForwardGraph(CNN().eval(), ["conv1", "pool2"])
    >>> [tuple(t.shape) for t in graph(torch.zeros(2, 1, 28, 28))]
    [(2, 10), (2, 32, 28, 28), (2, 32, 7, 7)]
    """

    def __init__(self, model: nn.Module, outputs: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.outputs = tuple(outputs)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(logits, *outputs)`` of ``images`` ``(N, C, H, W)``."""
        modules = dict(self.model.named_modules())
        seen: dict[str, torch.Tensor] = {}

        def recorder(name: str) -> Callable:
            def hook(_module, _inputs, output):
                if name not in seen:
                    seen[name] = output.clone()

            return hook

        handles = [modules[name].register_forward_hook(recorder(name)) for name in self.outputs]
        try:
            logits = class_scores(self.model, images)
        finally:
            for handle in handles:
                handle.remove()
        missing = [name for name in self.outputs if name not in seen]
        if missing:
            raise GraphExportError(f"the forward pass never calls {missing}")
        return (logits, *(seen[name] for name in self.outputs))


def _objective_gradient(scores: nn.Module) -> Callable:
    """``(state, x, logit_weights, lse_weight) -> (logits, grad)`` through autograd."""

    def gradient(state, images, logit_weights, lse_weight):
        with torch.enable_grad():
            images = images.detach().requires_grad_(True)
            logits = functional_call(scores, state, (images,))
            objective = (logit_weights * logits).sum() + (
                lse_weight * torch.logsumexp(logits, 1)
            ).sum()
            (grad,) = torch.autograd.grad(objective, images)
        return logits.detach(), grad

    return gradient


class GradientGraph(nn.Module):
    """``(x, logit_weights, lse_weight) -> (logits, grad)``, autograd traced into plain ops.

    Built by :meth:`trace`; its ``forward`` holds no autograd call, so ``torch.export``
    (and so ``torch.onnx.export``) takes it. ``grad`` is the input gradient of
    ``sum(logit_weights * logits) + sum(lse_weight * logsumexp(logits, 1))``: with
    ``logit_weights = onehot(c)`` and ``lse_weight = 0`` the saliency of class ``c``, with
    ``-onehot(y)`` and ``1`` the cross-entropy towards ``y``.

    Examples
    --------
    >>> from cnnviz.models.cnn import CNN
    >>> model = CNN(batchnorm=True).eval()
    >>> graph = GradientGraph.trace(model, (1, 28, 28), classes=10)
    >>> x = torch.rand(3, 1, 28, 28) * 2 - 1
    >>> weights, lse = torch.eye(10)[[1, 2, 3]], torch.zeros(3)
    >>> logits, grad = graph(x, weights, lse)
    >>> _ = x.requires_grad_(True)
    >>> model.logits(x)[[0, 1, 2], [1, 2, 3]].sum().backward()
    >>> torch.allclose(grad, x.grad, atol=1e-6)
    True
    """

    def __init__(self, model: nn.Module, traced: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.traced = traced

    @classmethod
    def trace(cls, model: nn.Module, input_shape: Sequence[int], *, classes: int) -> GradientGraph:
        """Trace ``model``'s input gradient (batch size symbolic) into a :class:`GradientGraph`.

        Raises
        ------
        GraphExportError
            If a backward operation cannot be traced or rewritten.
        """
        from torch.fx.experimental.proxy_tensor import make_fx

        scores = _Scores(model)
        state = dict(scores.state_dict(keep_vars=True))
        example = (
            torch.zeros(2, *input_shape),
            torch.zeros(2, classes),
            torch.zeros(2),
        )
        try:
            traced = make_fx(
                _objective_gradient(scores),
                decomposition_table=BACKWARD_DECOMPOSITIONS,
                tracing_mode="symbolic",
            )(state, *example)
        except (RuntimeError, NotImplementedError, TypeError) as error:
            raise GraphExportError(
                f"cannot trace the input gradient: {_first_line(error)}"
            ) from None
        return cls(model, traced)

    def forward(self, images, logit_weights, lse_weight):
        """``(logits (N, K), grad (N, C, H, W))`` for the traced objective."""
        state = self.model.state_dict(keep_vars=True)
        state = {PREFIX + name: value for name, value in state.items()}
        return tuple(self.traced(state, images, logit_weights, lse_weight))


def _first_line(error: BaseException) -> str:
    """The telling line of an error's message (the exporter's run to pages).

    Examples
    --------
    >>> _first_line(RuntimeError("Failed.\\n## Exception summary\\n\\n<class 'X'>: No function"))
    'No function'
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip() or type(error).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "## Exception summary" in lines:
        lines = lines[lines.index("## Exception summary") + 1 :]
    return re.sub(r"^<class '[^']*'>: ", "", lines[0])[:300]


def to_onnx(module: nn.Module, example: Sequence[torch.Tensor], *, inputs: Sequence[str],
            outputs: Sequence[str]):  # fmt: skip
    """``module`` as an ONNX ``ModelProto`` (opset 18, dim 0 of every input dynamic, ``N``).

    The exporter's own messages and warnings are kept off the console; a failure is a
    :class:`GraphExportError` with its first line. The graph is not optimised, so each
    initializer is a parameter or buffer as the module holds it (none folded into a
    transposed copy), which lets one weights file serve several graphs.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 2)).eval()
    >>> proto = to_onnx(net, [torch.zeros(2, 3)], inputs=["x"], outputs=["y"])
    >>> [i.name for i in proto.graph.input], [o.name for o in proto.graph.output]
    (['x'], ['y'])
    >>> proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    'N'
    """
    batch = torch.export.Dim("N")
    quiet = io.StringIO()
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(quiet),
            contextlib.redirect_stderr(quiet),
        ):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module.eval(),
                tuple(example),
                dynamo=True,
                input_names=list(inputs),
                output_names=list(outputs),
                dynamic_shapes=tuple({0: batch} for _ in example),
                opset_version=OPSET,
                optimize=False,
                verbose=False,
            )
    except Exception as error:  # the exporter raises many types; report any as one line
        raise GraphExportError(f"torch.onnx.export failed: {_first_line(error)}") from None
    finally:
        exporter_log.setLevel(level)
    return program.model_proto
