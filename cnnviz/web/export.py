"""One classifier into a site's ``models/<id>/``: graphs, one weights file, a manifest entry.

``weights.bin`` holds every floating-point tensor of the model's ``state_dict`` as raw
little-endian float32, one after the other; ``forward.onnx``, ``logits.onnx`` (the forward
pass with the logits as its only output, which ONNX Runtime can fuse: batches run on it) and
``gradient.onnx`` (see :mod:`cnnviz.web.graphs`) read their initializers from it as ONNX
external data, so a
browser downloads the weights once, and the page's unit view reads conv/fc weights and
batch-norm statistics straight from it at the byte offsets listed in the manifest
(``params``). Every exported graph is checked against torch with ONNX Runtime before it
is written.

Exporting takes seconds per graph, so the graphs are cached in the user cache, keyed by
the weights, the model's code and the exporter's versions.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnnviz import __version__
from cnnviz.data.mnist import default_cache_dir
from cnnviz.models.cnn import CNN
from cnnviz.web.graphs import (
    FORWARD_INPUTS,
    GRADIENT_INPUTS,
    GRADIENT_OUTPUTS,
    PREFIX,
    ForwardGraph,
    GradientGraph,
    GraphExportError,
    to_onnx,
)

WEIGHTS_FILE = "weights.bin"
FORWARD_FILE = "forward.onnx"
LOGITS_FILE = "logits.onnx"
GRADIENT_FILE = "gradient.onnx"
HISTORY_FILE = "history.json"
#: Names the graphs' format in the cache key; the exporter's code is in it too.
GRAPH_FORMAT = "cnnviz-web-graphs/3"
#: The modules whose code makes the graphs (a change to them remakes cached graphs).
EXPORTER_SOURCES = ("graphs.py", "export.py")
#: How far ONNX Runtime may be from torch on the check inputs before a graph is refused.
CHECK_TOLERANCE = 1e-3


@dataclass(frozen=True)
class WebModel:
    """A classifier to put on the site, and how the site presents it.

    Attributes
    ----------
    id
        Folder name and manifest id (``"standard"``, ``"batchnorm"``, ...).
    model
        The classifier (eval mode, float32 on the CPU is used).
    label, description
        Shown in the model switch.
    kind
        ``"report-cnn"`` (all views) or ``"classifier"`` (generic views).
    input_shape
        ``(C, H, W)`` of one image.
    bounds
        Values of a black and a white pixel in the model's input space.
    classes
        Class names, one per logit.
    outputs
        Named modules whose outputs the forward graph also returns.
    history
        A training history JSON file to ship, or ``None``.

    Examples
    --------
    >>> spec = report_cnn_model("demo", CNN(batchnorm=False), label="demo", description="")
    >>> spec.outputs
    ('conv1', 'relu1', 'pool1', 'conv2', 'relu2', 'pool2', 'fc1', 'relu3')
    """

    id: str
    model: nn.Module
    label: str
    description: str
    kind: str
    input_shape: tuple[int, int, int]
    bounds: tuple[float, float]
    classes: tuple[str, ...]
    outputs: tuple[str, ...]
    history: Path | None = None


#: The report CNN's modules whose outputs the forward graph returns, in order.
REPORT_OUTPUTS = (
    "conv1", "relu1", "pool1", "conv2", "conv2_bn", "relu2", "pool2", "fc1", "fc1_bn", "relu3",
)  # fmt: skip


def report_cnn_model(
    id: str, model: CNN, *, label: str, description: str, history: Path | None = None
) -> WebModel:
    """The :class:`WebModel` of a report CNN (``*_bn`` outputs if it has BN).

    Examples
    --------
    >>> report_cnn_model("bn", CNN(batchnorm=True), label="bn", description="").outputs[4]
    'conv2_bn'
    """
    return WebModel(
        id=id,
        model=model,
        label=label,
        description=description,
        kind="report-cnn",
        input_shape=(1, 28, 28),
        bounds=tuple(float(b) for b in model.input_bounds),
        classes=tuple(str(k) for k in range(model.fc2.out_features)),
        outputs=tuple(n for n in REPORT_OUTPUTS if model.batchnorm or not n.endswith("_bn")),
        history=history,
    )


def classifier_model(
    id: str,
    model: nn.Module,
    *,
    input_shape: Sequence[int],
    bounds: Sequence[float],
    classes: Sequence[str],
    label: str,
    description: str,
) -> WebModel:
    """A :class:`WebModel` of any classifier: logits and its convs' outputs.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    >>> spec = classifier_model("net", net, input_shape=(1, 4, 4), bounds=(0, 1),
    ...                         classes="abc", label="net", description="")
    >>> spec.kind, spec.outputs, spec.classes
    ('classifier', ('0',), ('a', 'b', 'c'))
    """
    return WebModel(
        id=id,
        model=model,
        label=label,
        description=description,
        kind="classifier",
        input_shape=tuple(int(n) for n in input_shape),
        bounds=(float(bounds[0]), float(bounds[1])),
        classes=tuple(str(name) for name in classes),
        outputs=tuple(name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)),
    )


@dataclass(frozen=True)
class Slot:
    """Where one tensor sits in ``weights.bin``.

    Examples
    --------
    >>> Slot(offset=8, shape=(2, 3)).length
    24
    """

    offset: int
    shape: tuple[int, ...]

    @property
    def length(self) -> int:
        """Bytes (float32)."""
        return 4 * int(np.prod(self.shape, dtype=np.int64))


def weights_layout(state: dict[str, torch.Tensor]) -> tuple[bytes, dict[str, Slot]]:
    """The floating-point tensors of ``state`` as one float32 blob, and where each sits.

    Examples
    --------
    >>> blob, slots = weights_layout({"a": torch.ones(2), "n": torch.tensor(3), "b": torch.ones(1)})
    >>> len(blob), slots["b"], "n" in slots
    (12, Slot(offset=8, shape=(1,)), False)
    """
    chunks, slots, offset = [], {}, 0
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            continue
        data = tensor.detach().cpu().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        slots[name] = Slot(offset, tuple(tensor.shape))
        chunks.append(data)
        offset += len(data)
    return b"".join(chunks), slots


def manifest_params(model: nn.Module, slots: dict[str, Slot]) -> dict[str, object]:
    """``params`` of a manifest entry: name -> offset and shape, plus each batch norm's eps.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    >>> params = manifest_params(model, weights_layout(model.state_dict())[1])
    >>> params["0.bias"], params["1.eps"]
    ({'offset': 16, 'shape': [2]}, 1e-05)
    """
    params: dict[str, object] = {
        name: {"offset": slot.offset, "shape": list(slot.shape)} for name, slot in slots.items()
    }
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params[f"{name}.eps"] = float(module.eps)
    return params


def _externalize(proto, slots: dict[str, Slot], state: dict[str, torch.Tensor]) -> None:
    """Point the initializers that are model tensors at ``weights.bin``.

    Each such initializer must equal the state tensor it names (a transposed or folded
    copy would not be the bytes in ``weights.bin``), else
    :class:`~cnnviz.web.graphs.GraphExportError`.
    """
    from onnx import TensorProto, numpy_helper

    for tensor in proto.graph.initializer:
        name = tensor.name.removeprefix(PREFIX)
        slot = slots.get(name) if tensor.name.startswith(PREFIX) else None
        if slot is None:
            continue
        value = numpy_helper.to_array(tensor)
        expected = state[name].detach().cpu().to(torch.float32).numpy()
        if value.dtype != np.float32 or not np.array_equal(value, expected):
            raise GraphExportError(f"initializer {tensor.name} is not the tensor {name}")
        tensor.ClearField("raw_data")
        tensor.ClearField("float_data")
        tensor.data_location = TensorProto.EXTERNAL
        del tensor.external_data[:]
        for key, value in (("location", WEIGHTS_FILE), ("offset", slot.offset),
                           ("length", slot.length)):  # fmt: skip
            entry = tensor.external_data.add()
            entry.key, entry.value = key, str(value)


def _strip_metadata(proto) -> None:
    """Drop the exporter's per-node stack traces and doc strings (most of a graph's bytes)."""
    for node in proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    proto.graph.doc_string = ""


@dataclass(frozen=True)
class _Graphs:
    """The serialised graphs of one model (weights external) and what they return."""

    forward: bytes
    logits: bytes
    gradient: bytes | None
    outputs: dict[str, list[int]]
    notes: dict[str, str]


def _output_shapes(spec: WebModel, outputs: Sequence[str]) -> dict[str, list[int]]:
    """Per-image shapes of the forward graph's outputs (one eager pass on a black image)."""
    black = torch.full((1, *spec.input_shape), spec.bounds[0])
    with torch.no_grad():
        values = ForwardGraph(spec.model, outputs)(black)
    return {
        name: list(value.shape[1:])
        for name, value in zip(("logits", *outputs), values, strict=True)
    }


def _build_graphs(spec: WebModel, slots, state, progress: Callable[[str], None]) -> _Graphs:
    """Export, externalise and serialise the forward, logits and gradient graphs of ``spec``."""
    example = torch.zeros(2, *spec.input_shape)
    notes = {}
    outputs = spec.outputs
    progress(f"{spec.id}: forward graph")
    try:
        forward = to_onnx(
            ForwardGraph(spec.model, outputs), [example], inputs=FORWARD_INPUTS,
            outputs=("logits", *outputs),
        )  # fmt: skip
    except GraphExportError as error:
        if not outputs or spec.kind == "report-cnn":
            raise
        notes["outputs"] = f"layer outputs not exported ({error}); logits only"
        outputs = ()
        forward = to_onnx(
            ForwardGraph(spec.model, ()), [example], inputs=FORWARD_INPUTS, outputs=("logits",)
        )
    _externalize(forward, slots, state)
    _strip_metadata(forward)
    logits = forward
    if outputs:  # without the layer outputs, ONNX Runtime fuses conv + batch norm + ReLU
        progress(f"{spec.id}: logits-only graph")
        logits = to_onnx(
            ForwardGraph(spec.model, ()), [example], inputs=FORWARD_INPUTS, outputs=("logits",)
        )
        _externalize(logits, slots, state)
        _strip_metadata(logits)
    progress(f"{spec.id}: gradient graph")
    try:
        module = GradientGraph.trace(spec.model, spec.input_shape, classes=len(spec.classes))
        gradient = to_onnx(
            module,
            [example, torch.zeros(2, len(spec.classes)), torch.zeros(2)],
            inputs=GRADIENT_INPUTS,
            outputs=GRADIENT_OUTPUTS,
        )
        _externalize(gradient, slots, state)
        _strip_metadata(gradient)
    except GraphExportError as error:
        notes["gradient"] = str(error)
        gradient = None
    return _Graphs(
        forward=forward.SerializeToString(),
        logits=logits.SerializeToString(),
        gradient=None if gradient is None else gradient.SerializeToString(),
        outputs=_output_shapes(spec, outputs),
        notes=notes,
    )


def _cache_key(spec: WebModel, weights: bytes) -> str:
    """Hash of everything the graphs depend on: weights, model code, versions, outputs."""
    import onnx
    import onnxscript

    model_type = type(spec.model)
    try:
        source = inspect.getsource(model_type)
    except (OSError, TypeError):
        source = ""
    exporter = "".join(Path(__file__).with_name(name).read_text() for name in EXPORTER_SOURCES)
    digest = hashlib.sha256()
    for part in (
        GRAPH_FORMAT, exporter, torch.__version__, onnx.__version__, onnxscript.__version__,
        f"{model_type.__module__}.{model_type.__qualname__}", source, repr(spec.model),
        json.dumps([spec.input_shape, spec.classes, spec.outputs, spec.kind]),
    ):  # fmt: skip
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(weights)
    return digest.hexdigest()[:32]


def _cached_graphs(spec, weights, slots, state, cache: Path | None, progress) -> _Graphs:
    """:func:`_build_graphs`, or its result from ``cache`` (and stored there when made)."""
    folder = None if cache is None else Path(cache) / _cache_key(spec, weights)
    if folder is not None and (folder / "info.json").is_file():
        info = json.loads((folder / "info.json").read_text())
        gradient = folder / GRADIENT_FILE
        return _Graphs(
            forward=(folder / FORWARD_FILE).read_bytes(),
            logits=(folder / LOGITS_FILE).read_bytes(),
            gradient=gradient.read_bytes() if gradient.is_file() else None,
            outputs=info["outputs"],
            notes=info["notes"],
        )
    graphs = _build_graphs(spec, slots, state, progress)
    if folder is not None:
        staging = folder.with_name(folder.name + ".part")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        (staging / FORWARD_FILE).write_bytes(graphs.forward)
        (staging / LOGITS_FILE).write_bytes(graphs.logits)
        if graphs.gradient is not None:
            (staging / GRADIENT_FILE).write_bytes(graphs.gradient)
        info = {"outputs": graphs.outputs, "notes": graphs.notes}
        (staging / "info.json").write_text(json.dumps(info))
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    return graphs


def default_graph_cache() -> Path:
    """Where exported graphs are cached: ``web-graphs`` in the user cache.

    Examples
    --------
    >>> default_graph_cache().name
    'web-graphs'
    """
    return default_cache_dir() / "web-graphs"


def check_graphs(folder: Path, spec: WebModel, *, tolerance: float = CHECK_TOLERANCE) -> None:
    """Run the written graphs with ONNX Runtime on seeded images; compare with torch.

    Raises :class:`~cnnviz.web.graphs.GraphExportError` if logits or gradients differ by
    more than ``tolerance``. Models that need more than the onnxruntime CPU kernels fail
    here. :func:`export_model` calls it on every model it writes (a full example there).

    Examples
    --------
    Only the graph files a folder holds are checked; an empty folder has none:

    >>> import tempfile
    >>> spec = classifier_model("tiny", nn.Sequential(nn.Flatten(), nn.Linear(4, 2)),
    ...                         input_shape=(1, 2, 2), bounds=(0, 1), classes=("a", "b"),
    ...                         label="tiny", description="a linear model")
    >>> check_graphs(Path(tempfile.mkdtemp()), spec) is None
    True
    """
    import onnxruntime

    generator = torch.Generator().manual_seed(0)
    low, high = spec.bounds
    images = torch.rand(3, *spec.input_shape, generator=generator) * (high - low) + low
    weights = torch.randn(3, len(spec.classes), generator=generator)
    lse = torch.rand(3, generator=generator)
    probe = images.clone().requires_grad_(True)
    logits = ForwardGraph(spec.model, ())(probe)[0]
    objective = (weights * logits).sum() + (lse * torch.logsumexp(logits, 1)).sum()
    (expected_grad,) = torch.autograd.grad(objective, probe)
    expected = {"logits": logits.detach().numpy(), "grad": expected_grad.numpy()}
    feeds = {"x": images.numpy(), "logit_weights": weights.numpy(), "lse_weight": lse.numpy()}
    for file in (FORWARD_FILE, LOGITS_FILE, GRADIENT_FILE):
        if not (folder / file).is_file():
            continue
        session = onnxruntime.InferenceSession(
            str(folder / file), providers=["CPUExecutionProvider"]
        )
        names = [node.name for node in session.get_inputs()]
        results = session.run(None, {name: feeds[name] for name in names})
        got = dict(zip([node.name for node in session.get_outputs()], results, strict=True))
        for name in ("logits", "grad"):
            if name in got:
                error = float(np.abs(got[name] - expected[name]).max())
                if error > tolerance:
                    raise GraphExportError(
                        f"{spec.id}: {file} differs from torch by {error:.2g} in {name}"
                    )


@dataclass(frozen=True)
class ExportedModel:
    """One model written into a site.

    Attributes
    ----------
    entry
        Its manifest entry (paths relative to the site's root).
    files
        Path (relative to the site) -> size in bytes.

    Examples
    --------
    >>> ExportedModel({"id": "a"}, {"models/a/weights.bin": 12}).total_bytes
    12
    """

    entry: dict
    files: dict[str, int]

    @property
    def total_bytes(self) -> int:
        """Total size of the model's files."""
        return sum(self.files.values())


def export_model(
    spec: WebModel,
    site: Path,
    *,
    cache: Path | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> ExportedModel:
    """Write ``spec`` into ``site/models/<id>/`` and return its manifest entry.

    Parameters
    ----------
    spec
        The model and its presentation.
    site
        The site's root folder.
    cache
        Graph cache folder (see :func:`default_graph_cache`); ``None``: no cache.
    progress
        Called with a short message before each long step.

    Returns
    -------
    ExportedModel

    Raises
    ------
    GraphExportError
        The forward graph cannot be exported, or a graph disagrees with torch.

    Examples
    --------
    >>> import tempfile
    >>> site = Path(tempfile.mkdtemp())
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    ...                     nn.Linear(36, 3))
    >>> spec = classifier_model("tiny", net.eval(), input_shape=(1, 8, 8), bounds=(0, 1),
    ...                         classes="abc", label="tiny", description="untrained")
    >>> exported = export_model(spec, site)
    >>> [name.split("/")[-1] for name in sorted(exported.files)]
    ['forward.onnx', 'gradient.onnx', 'logits.onnx', 'weights.bin']
    >>> exported.entry["params"]["0.bias"], exported.entry["outputs"]
    ({'offset': 144, 'shape': [4]}, {'logits': [3], '0': [4, 6, 6]})
    >>> check_graphs(site / "models" / "tiny", spec)  # ONNX Runtime agrees with torch
    """
    model = spec.model.float().cpu().eval()
    state = model.state_dict()
    weights, slots = weights_layout(state)
    graphs = _cached_graphs(spec, weights, slots, state, cache, progress)
    folder = site / "models" / spec.id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WEIGHTS_FILE).write_bytes(weights)
    (folder / FORWARD_FILE).write_bytes(graphs.forward)
    (folder / LOGITS_FILE).write_bytes(graphs.logits)
    gradient = folder / GRADIENT_FILE
    if graphs.gradient is not None:
        gradient.write_bytes(graphs.gradient)
    else:
        gradient.unlink(missing_ok=True)
    progress(f"{spec.id}: checking the graphs with ONNX Runtime")
    check_graphs(folder, spec)
    history = None
    if spec.history is not None:
        shutil.copyfile(spec.history, folder / HISTORY_FILE)
        history = folder / HISTORY_FILE
    files = {
        path.relative_to(site).as_posix(): path.stat().st_size
        for path in (
            folder / WEIGHTS_FILE,
            folder / FORWARD_FILE,
            folder / LOGITS_FILE,
            gradient,
            history,
        )
        if path is not None and path.is_file()
    }
    relative = f"models/{spec.id}"
    entry = {
        "id": spec.id,
        "label": spec.label,
        "description": spec.description,
        "kind": spec.kind,
        "batchnorm": any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()),
        "input": {"shape": list(spec.input_shape), "bounds": list(spec.bounds)},
        "classes": list(spec.classes),
        "forward": f"{relative}/{FORWARD_FILE}",
        "logits": f"{relative}/{LOGITS_FILE}",
        "gradient": f"{relative}/{GRADIENT_FILE}" if graphs.gradient is not None else None,
        "weights": f"{relative}/{WEIGHTS_FILE}",
        "bytes": sum(size for name, size in files.items() if not name.endswith(HISTORY_FILE)),
        "outputs": graphs.outputs,
        "params": manifest_params(model, slots),
        "history": f"{relative}/{HISTORY_FILE}" if history is not None else None,
        "notes": graphs.notes,
        "exporter": f"cnnviz {__version__}",
    }
    return ExportedModel(entry, files)
